/**
 * The language the page speaks now. Views read strings through {@link tr}
 * and re-read them all when the language changes (their `retranslate`).
 */

import type { Problem } from "./errors";
import { translate, type Lang, type MessageKey } from "./i18n";
import { loadLang, saveLang } from "./session";

let current: Lang = loadLang();

/** The current language. */
export function currentLang(): Lang {
  return current;
}

/** Switches the language (kept for the next visit). */
export function setLang(lang: Lang): void {
  current = lang;
  saveLang(lang);
  document.documentElement.lang = lang;
  document.title = tr("app.title");
}

/** `key` in the current language; see {@link translate}. */
export function tr(key: MessageKey, vars?: Readonly<Record<string, string | number>>): string {
  return translate(current, key, vars);
}

/** A failed call in the current language, with the server's reason. */
export function describe(problem: Problem): string {
  const words = tr(problem.key);
  return problem.detail ? `${words}: ${problem.detail}` : words;
}

/** `n` with the current language's digit grouping ("12.345" / "12,345"). */
export function formatNumber(n: number | bigint): string {
  return new Intl.NumberFormat(current === "vi" ? "vi-VN" : "en-GB").format(n);
}
