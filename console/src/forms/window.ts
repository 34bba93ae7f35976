/**
 * The time window of a search: a quick choice (last hour, 24 hours, 7
 * days…) or "from"/"to" typed in Vietnam's time (`datetime-local`
 * inputs, read and filled in Asia/Ho_Chi_Minh whatever the PC's zone). A
 * quick choice is taken again from "now" at each search, so "last hour"
 * stays the last hour.
 */

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import type { Period } from "../coverage";
import { h, type View } from "../dom";
import { TimeWindowSchema, type TimeWindow } from "../gen/vigil/v1/query_pb";
import type { MessageKey } from "../i18n";
import { tr } from "../locale";
import { fromLocalInput, toLocalInput } from "../time";
import { field, Words } from "../ui";
import { checkWindow, presetWindow, type PresetName, type WindowProblem } from "../windows";

export interface WindowPickerOptions {
  /** The quick choices offered, shortest first. */
  readonly presets: readonly PresetName[];
  readonly initial: PresetName;
  /** The longest window the call takes, in days. */
  readonly maxDays: number;
  /** Test hooks of the inputs, e.g. "events" gives `events-from`, `events-to`, `events-preset`. */
  readonly testid: string;
  /** Now, in the server's time. */
  readonly now: () => number;
  /** Called when the person changes the window. */
  readonly changed?: () => void;
}

const CUSTOM = "custom";

/** A window picker: preset select, from and to. */
export class WindowPicker implements View {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly preset: HTMLSelectElement;
  private readonly from: HTMLInputElement;
  private readonly to: HTMLInputElement;
  /** What the last quick choice wrote into the inputs. */
  private filled = { from: "", to: "" };

  constructor(private readonly options: WindowPickerOptions) {
    const { testid } = options;
    this.preset = h(
      "select",
      { "data-testid": `${testid}-preset` },
      ...options.presets.map((name) => this.words.text(h("option", { value: name }), `preset.${name}`)),
      this.words.text(h("option", { value: CUSTOM }), "preset.custom"),
    );
    const input = (suffix: string) =>
      h("input", { type: "datetime-local", "data-testid": `${testid}-${suffix}`, required: true, step: 60 });
    this.from = input("from");
    this.to = input("to");
    this.el = h(
      "div",
      { class: "window-picker" },
      field(this.words, "window.preset", this.preset),
      field(this.words, "window.from", this.from),
      field(this.words, "window.to", this.to),
    );
    this.preset.value = options.initial;
    this.fill();
    this.preset.addEventListener("change", () => {
      this.fill();
      options.changed?.();
    });
    for (const el of [this.from, this.to]) {
      el.addEventListener("input", () => {
        this.preset.value = CUSTOM;
        options.changed?.();
      });
    }
  }

  /**
   * The window to search: a quick choice taken from now (the inputs show
   * it), or what was typed; or why it cannot be sent.
   */
  read(): { readonly window: Period } | { readonly problem: WindowProblem } {
    // Values set without an input event (a script, a test) count as typed.
    if (this.from.value !== this.filled.from || this.to.value !== this.filled.to) {
      this.preset.value = CUSTOM;
    }
    this.fill();
    const startMs = fromLocalInput(this.from.value);
    const endMs = fromLocalInput(this.to.value);
    const problem = checkWindow(startMs, endMs, this.options.maxDays);
    return problem || startMs === undefined || endMs === undefined
      ? { problem: problem ?? "window.missing" }
      : { window: { startMs, endMs } };
  }

  /** Shows `window` as typed values. */
  set(window: Period): void {
    this.preset.value = CUSTOM;
    this.from.value = toLocalInput(window.startMs);
    this.to.value = toLocalInput(window.endMs);
  }

  retranslate(): void {
    this.words.apply();
  }

  /** Fills the inputs from the quick choice, if one is chosen. */
  private fill(): void {
    const preset = this.preset.value;
    if (preset !== CUSTOM) {
      const window = presetWindow(preset as PresetName, this.options.now());
      this.from.value = toLocalInput(window.startMs);
      this.to.value = toLocalInput(window.endMs);
      this.filled = { from: this.from.value, to: this.to.value };
    }
  }
}

/** `window` as the API's TimeWindow. */
export function timeWindow(window: Period): TimeWindow {
  return create(TimeWindowSchema, { start: timestampFromMs(window.startMs), end: timestampFromMs(window.endMs) });
}

/** A window problem in words (the longest window named). */
export function windowProblemText(problem: WindowProblem, maxDays: number): string {
  const key: MessageKey = problem;
  return tr(key, { days: maxDays });
}
