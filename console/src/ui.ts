/**
 * Pieces every page uses: words that follow the language switch, a
 * status line for a call (working, or why it failed in words), labelled
 * fields, and what a page is to the shell that shows it.
 */

import { Code } from "@connectrpc/connect";

import { h, type View } from "./dom";
import { problemOf, type Problem } from "./errors";
import type { MessageKey } from "./i18n";
import { describe, tr } from "./locale";

/** Placeholder values of a message. */
export type Vars = Readonly<Record<string, string | number>>;

/**
 * The words of one view: each binding sets some text from the
 * dictionary now and again on every {@link Words.apply}.
 */
export class Words {
  private readonly bindings: (() => void)[] = [];

  /** Runs `fn` now and whenever the language changes. */
  bind(fn: () => void): void {
    fn();
    this.bindings.push(fn);
  }

  /** `el` with `key`'s text, kept in the current language. */
  text<E extends Element>(el: E, key: MessageKey, vars?: Vars): E {
    this.bind(() => (el.textContent = tr(key, vars)));
    return el;
  }

  /** `el` with attribute `name` (placeholder, title, aria-label) set to `key`'s text. */
  attr<E extends Element>(el: E, name: string, key: MessageKey, vars?: Vars): E {
    this.bind(() => el.setAttribute(name, tr(key, vars)));
    return el;
  }

  /** Re-reads every binding in the current language. */
  apply(): void {
    for (const bind of this.bindings) {
      bind();
    }
  }
}

/** What a page's status line says. */
type StatusState =
  | { readonly kind: "idle" }
  | { readonly kind: "busy" }
  | { readonly kind: "problem"; readonly problem: Problem }
  | { readonly kind: "note"; readonly text: () => string };

/** A line under a form: working, done, or why a call failed. */
export class Status implements View {
  readonly el = h("p", { class: "status", role: "status", hidden: true });
  private state: StatusState = { kind: "idle" };

  constructor(testid?: string) {
    if (testid) {
      this.el.dataset.testid = testid;
    }
  }

  busy(): void {
    this.set({ kind: "busy" });
  }

  /** Shows why `error` (whatever a call threw) failed; answers the problem. */
  failed(error: unknown): Problem {
    const problem = problemOf(error);
    this.set({ kind: "problem", problem });
    return problem;
  }

  note(text: () => string): void {
    this.set({ kind: "note", text });
  }

  clear(): void {
    this.set({ kind: "idle" });
  }

  get isBusy(): boolean {
    return this.state.kind === "busy";
  }

  retranslate(): void {
    const s = this.state;
    this.el.hidden = s.kind === "idle";
    this.el.classList.toggle("status-problem", s.kind === "problem");
    this.el.classList.toggle("status-busy", s.kind === "busy");
    if (s.kind === "problem") {
      this.el.dataset.code = Code[s.problem.code];
    } else {
      delete this.el.dataset.code;
    }
    this.el.textContent =
      s.kind === "busy" ? tr("status.loading") : s.kind === "problem" ? describe(s.problem) : s.kind === "note" ? s.text() : "";
  }

  private set(state: StatusState): void {
    this.state = state;
    this.retranslate();
  }
}

/** A `<label>` holding `key`'s text and `control`. */
export function field(words: Words, key: MessageKey, control: HTMLElement, className = "field"): HTMLLabelElement {
  return h("label", { class: className }, words.text(h("span", { class: "field-label" }), key), control);
}

/** A page's heading row: its title, and whatever goes beside it. */
export function pageHead(words: Words, key: MessageKey, ...extra: Node[]): HTMLElement {
  return h("header", { class: "page-head" }, words.text(h("h1"), key), ...extra);
}

/** A `<th>` whose words follow the language. */
export function th(words: Words, key: MessageKey, className?: string): HTMLTableCellElement {
  return words.text(h("th", { scope: "col", class: className }), key);
}

/** A page the shell shows: it may wake when shown and rest when hidden. */
export interface Page extends View {
  /** Now on screen (first time or again). */
  shown?(): void;
  /** Off screen; it may be shown again later. */
  hidden?(): void;
  /** Dropped for good (sign-out). */
  stop?(): void;
}

/** A `<button type="button">` with `key`'s text and a test hook. */
export function button(words: Words, key: MessageKey, testid?: string, className?: string): HTMLButtonElement {
  return words.text(h("button", { type: "button", "data-testid": testid, class: className }), key);
}

/** A labelled value for a row of facts. */
export interface Fact {
  readonly key: MessageKey;
  readonly value: HTMLElement;
}

/** A `<dl>` of facts, labels following the language. */
export function facts(words: Words, list: readonly Fact[], className = "facts"): HTMLDListElement {
  return h(
    "dl",
    { class: className },
    ...list.map((f) => h("div", { class: "fact" }, words.text(h("dt"), f.key), f.value)),
  );
}

/** An empty `<dd>` to fill later. */
export function dd(className?: string, testid?: string): HTMLElement {
  return h("dd", { class: className, "data-testid": testid });
}
