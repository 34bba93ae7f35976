/**
 * One alert of the queue on screen, with the moves the role may make on
 * it. The element is made once and updated in place, so a reference to it
 * (or to one of its buttons) stays good while the alert is shown.
 */

import { h } from "../dom";
import { problemOf } from "../errors";
import type { MessageKey } from "../i18n";
import { describe, tr } from "../locale";
import { OUTCOMES, kindName, type OutcomeName } from "../names";
import { admits, type AlertAction } from "../roles";
import { formatDateTime } from "../time";
import { placeOf, plateOf, teamOf } from "./present";
import { msOf, type QueueRow } from "./queue";

/** A move a person asks for on one alert. */
export type Move =
  | { readonly action: "acknowledge" }
  | { readonly action: "assign"; readonly member: string }
  | { readonly action: "note"; readonly note: string }
  | { readonly action: "close"; readonly outcome: OutcomeName };

/** What a row needs from its page. */
export interface RowHost {
  /** Makes `move` on alert `id` and shows the server's answer (throws if refused). */
  move(id: string, move: Move): Promise<void>;
  /** The id of a `<datalist>` of the team responsible for village `villageId`. */
  teamList(villageId: string): string;
}

/** The facts a row lists below its headline. */
type FactName = "place" | "camera" | "team" | "plate" | "assignee" | "acknowledgedBy" | "closedBy" | "outcome";

/** A labelled fact of a row, hidden while empty. */
interface Fact {
  readonly wrap: HTMLElement;
  readonly label: HTMLElement;
  readonly value: HTMLElement;
  readonly key: MessageKey;
}

/** The controls of a row whose role may act on alerts. */
interface Controls {
  readonly bar: HTMLElement;
  readonly ack: HTMLButtonElement;
  readonly assignInput: HTMLInputElement;
  readonly assign: HTMLButtonElement;
  readonly noteInput: HTMLInputElement;
  readonly note: HTMLButtonElement;
  readonly outcome: HTMLSelectElement;
  readonly close: HTMLButtonElement;
}

/** One alert on screen. */
export class AlertRowView {
  readonly el: HTMLLIElement;
  private readonly priority = h("span", { class: "alert-priority" });
  private readonly kind = h("span", { class: "alert-kind" });
  private readonly state = h("span", { class: "alert-state" });
  private readonly raised = h("time", { class: "alert-time" });
  private readonly facts: Record<FactName, Fact>;
  private readonly controls: Controls | undefined;
  private readonly errorLine = h("p", { class: "row-error", "data-testid": "row-error", role: "alert", hidden: true });
  /** The last failure, in words of the current language. */
  private error: (() => string) | undefined;
  private busy = false;

  constructor(
    private row: QueueRow,
    allowed: ReadonlySet<AlertAction>,
    private readonly host: RowHost,
  ) {
    this.facts = {
      place: fact("field.place"),
      camera: fact("field.camera"),
      team: fact("field.team"),
      plate: fact("field.plate", "alert-plate"),
      assignee: fact("field.assignee"),
      acknowledgedBy: fact("field.acknowledgedBy"),
      closedBy: fact("field.closedBy"),
      outcome: fact("field.outcome"),
    };
    this.controls = allowed.size > 0 ? this.makeControls(allowed) : undefined;
    this.el = h(
      "li",
      { class: "alert", "data-testid": "alert-row", "data-alert-id": row.id },
      h("div", { class: "alert-head" }, this.priority, this.kind, this.state, this.raised),
      h("dl", { class: "alert-facts" }, ...Object.values(this.facts).map((f) => f.wrap)),
      ...(this.controls ? [this.controls.bar] : []),
      this.errorLine,
    );
    this.retranslate();
  }

  /** Shows `row` (the same alert, as it stands now). */
  update(row: QueueRow): void {
    this.row = row;
    const alert = row.alert;
    this.el.dataset.state = row.state;
    this.el.dataset.priority = String(alert.priority);
    this.el.className = `alert prio-${alert.priority} state-${row.state}`;
    this.priority.textContent = alert.priority ? `${tr("field.priority")} ${alert.priority}` : "—";
    this.kind.textContent = tr(`kind.${kindName(alert.kind)}`);
    this.state.textContent = tr(`state.${row.state}`);
    const raisedMs = msOf(alert.raisedAt);
    this.raised.textContent = raisedMs ? formatDateTime(raisedMs) : "";
    this.raised.dateTime = raisedMs ? new Date(raisedMs).toISOString() : "";
    const plate = plateOf(alert);
    const values: Record<FactName, string> = {
      place: placeOf(alert),
      camera: alert.cameraId,
      team: teamOf(alert),
      plate: plate ? `${plate.plate}${plate.fuzzy ? ` ${tr("plate.fuzzy")}` : ""}` : "",
      assignee: row.assignee,
      acknowledgedBy: row.acknowledgedBy,
      closedBy: row.closedBy,
      outcome: row.outcome ? tr(`outcome.${row.outcome}`) : "",
    };
    for (const [name, f] of Object.entries(this.facts) as [FactName, Fact][]) {
      f.label.textContent = tr(f.key);
      f.value.textContent = values[name];
      f.wrap.hidden = !values[name];
    }
    this.errorLine.textContent = this.error?.() ?? "";
    this.errorLine.hidden = !this.error;
    this.refreshControls();
  }

  /** Re-reads every word in the current language. */
  retranslate(): void {
    const c = this.controls;
    if (c) {
      c.ack.textContent = tr("action.acknowledge");
      c.assign.textContent = tr("action.assign");
      c.assignInput.placeholder = tr("action.assignPlaceholder");
      c.note.textContent = tr("action.note");
      c.noteInput.placeholder = tr("action.notePlaceholder");
      c.close.textContent = tr("action.close");
      for (const option of c.outcome.options) {
        option.textContent = tr(option.value ? `outcome.${option.value as OutcomeName}` : "outcome.choose");
      }
    }
    this.update(this.row);
  }

  private makeControls(allowed: ReadonlySet<AlertAction>): Controls {
    const button = (testid: string) => h("button", { type: "button", "data-testid": testid });
    const input = (testid: string, attrs: Record<string, string | number>) =>
      h("input", { type: "text", "data-testid": testid, autocomplete: "off", ...attrs });
    const c: Controls = {
      bar: h("div", { class: "alert-actions" }),
      ack: button("ack"),
      assignInput: input("assign-input", { maxlength: 128 }),
      assign: button("assign"),
      noteInput: input("note-input", { maxlength: 512 }),
      note: button("note"),
      outcome: h(
        "select",
        { "data-testid": "outcome" },
        h("option", { value: "" }),
        ...OUTCOMES.map((outcome) => h("option", { value: outcome })),
      ),
      close: button("close"),
    };
    const groups: Record<AlertAction, HTMLElement[]> = {
      acknowledge: [c.ack],
      assign: [c.assignInput, c.assign],
      note: [c.noteInput, c.note],
      close: [c.outcome, c.close],
    };
    for (const [action, elements] of Object.entries(groups) as [AlertAction, HTMLElement[]][]) {
      if (allowed.has(action)) {
        c.bar.append(h("span", { class: `action action-${action}` }, ...elements));
      }
    }
    c.ack.addEventListener("click", () => void this.run({ action: "acknowledge" }));
    c.assign.addEventListener("click", () =>
      void this.run({ action: "assign", member: c.assignInput.value.trim() }, () => (c.assignInput.value = "")),
    );
    c.note.addEventListener("click", () =>
      void this.run({ action: "note", note: c.noteInput.value.trim() }, () => (c.noteInput.value = "")),
    );
    c.close.addEventListener("click", () =>
      void this.run({ action: "close", outcome: c.outcome.value as OutcomeName }, () => (c.outcome.value = "")),
    );
    c.assignInput.addEventListener("focus", () => {
      if (this.row.alert.villageId) {
        c.assignInput.setAttribute("list", this.host.teamList(this.row.alert.villageId));
      }
    });
    for (const [field, submit] of [
      [c.assignInput, c.assign],
      [c.noteInput, c.note],
    ] as const) {
      field.addEventListener("input", () => this.refreshControls());
      field.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !submit.disabled) {
          submit.click();
        }
      });
    }
    c.outcome.addEventListener("change", () => this.refreshControls());
    return c;
  }

  /**
   * Enables what the alert's state admits and the inputs make complete:
   * no close without an outcome, no assignment without a member, no empty
   * note; nothing while a move is on its way.
   */
  private refreshControls(): void {
    const c = this.controls;
    if (!c) {
      return;
    }
    const state = this.row.state;
    const off = (action: AlertAction) => this.busy || !admits(state, action);
    c.ack.disabled = off("acknowledge");
    c.assignInput.disabled = off("assign");
    c.assign.disabled = off("assign") || !c.assignInput.value.trim();
    c.noteInput.disabled = off("note");
    c.note.disabled = off("note") || !c.noteInput.value.trim();
    c.outcome.disabled = off("close");
    c.close.disabled = off("close") || !c.outcome.value;
  }

  /** Makes `move`; `done` clears its input once the server took it. */
  private async run(move: Move, done?: () => void): Promise<void> {
    this.busy = true;
    this.error = undefined;
    this.update(this.row);
    try {
      await this.host.move(this.row.id, move);
      done?.();
    } catch (error) {
      const problem = problemOf(error);
      this.error = () => describe(problem);
    } finally {
      this.busy = false;
      this.update(this.row);
    }
  }
}

/** A fact labelled `key`; `valueClass` styles its value. */
function fact(key: MessageKey, valueClass?: string): Fact {
  const label = h("dt");
  const value = h("dd", { class: valueClass });
  return { wrap: h("div", { class: "fact" }, label, value), label, value, key };
}
