/**
 * What the browser keeps: the API token for this tab only
 * (sessionStorage, gone when the tab closes) and the language choice
 * (localStorage). Storage a browser refuses (private modes, policies) is
 * treated as empty.
 */

import { parseLang, type Lang } from "./i18n";

const TOKEN_KEY = "vigil.token";
const LANG_KEY = "vigil.lang";

/** The token this tab signed in with, if any. */
export function loadToken(): string | null {
  return read(() => sessionStorage.getItem(TOKEN_KEY));
}

export function saveToken(token: string): void {
  write(() => sessionStorage.setItem(TOKEN_KEY, token));
}

export function clearToken(): void {
  write(() => sessionStorage.removeItem(TOKEN_KEY));
}

/** The language chosen last, or the default. */
export function loadLang(): Lang {
  return parseLang(read(() => localStorage.getItem(LANG_KEY)));
}

export function saveLang(lang: Lang): void {
  write(() => localStorage.setItem(LANG_KEY, lang));
}

function read(get: () => string | null): string | null {
  try {
    return get();
  } catch {
    return null;
  }
}

function write(set: () => void): void {
  try {
    set();
  } catch {
    // Not kept: the console still works for this page's life.
  }
}
