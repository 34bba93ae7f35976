/**
 * The sign-in form: an API token (`vgl_…`, from `vigilctl token issue`),
 * checked with WhoAmI before the console opens.
 */

import { h, type View } from "./dom";
import { problemOf } from "./errors";
import { describe, tr } from "./locale";

/** The sign-in form. `submit` opens the console or throws why not. */
export class SignIn implements View {
  readonly el: HTMLElement;
  private readonly heading = h("h1");
  private readonly label = h("label", { for: "signin-token" });
  private readonly input = h("input", {
    id: "signin-token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "data-testid": "signin-token",
  });
  private readonly hint = h("p", { class: "hint" });
  private readonly button = h("button", { type: "submit", "data-testid": "signin-submit" });
  private readonly errorLine = h("p", { class: "signin-error", "data-testid": "signin-error", role: "alert" });
  private readonly kept = h("p", { class: "hint" });
  /** The last failure, in words of the current language. */
  private error: (() => string) | undefined;
  private busy = false;

  constructor(private readonly submit: (token: string) => Promise<void>) {
    const form = h(
      "form",
      { class: "signin", novalidate: true },
      this.heading,
      this.label,
      this.input,
      this.hint,
      this.button,
      this.errorLine,
      this.kept,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.attempt(this.input.value.trim());
    });
    this.el = h("section", { class: "signin-page" }, form);
    this.retranslate();
  }

  /** Signs in with `token`, showing why not if it fails. */
  async attempt(token: string): Promise<void> {
    if (this.busy) {
      return;
    }
    this.error = token ? undefined : () => tr("signin.empty");
    if (token) {
      this.busy = true;
      this.retranslate();
      try {
        await this.submit(token);
        this.input.value = "";
      } catch (error) {
        const problem = problemOf(error);
        this.error = () => describe(problem);
      } finally {
        this.busy = false;
      }
    }
    this.retranslate();
  }

  /** Shows the form again, with `why` it is shown if there is a reason. */
  reset(why?: () => string): void {
    this.error = why;
    this.input.value = "";
    this.retranslate();
  }

  focus(): void {
    this.input.focus();
  }

  retranslate(): void {
    this.heading.textContent = tr("signin.heading");
    this.label.textContent = tr("signin.tokenLabel");
    this.input.placeholder = "vgl_…";
    this.hint.textContent = tr("signin.tokenHint");
    this.button.textContent = tr(this.busy ? "signin.checking" : "signin.submit");
    this.button.disabled = this.busy;
    this.errorLine.textContent = this.error?.() ?? "";
    this.kept.textContent = tr("signin.keptForTab");
  }
}
