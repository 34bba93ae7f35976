/**
 * The live alert queue as data: what the server listed, what the stream
 * raised, and the moves made on them since. Every record may come twice
 * (a reconnect replays from a little before the last one seen, and a
 * listing overlaps the stream's replay), and moves may come out of order,
 * so a raise is kept once per alert id, a move once per (alert id, action,
 * time), and a state never goes back in the lifecycle. No DOM: the page
 * renders what {@link AlertQueue} answers.
 */

import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";

import type { StoredAlert } from "../gen/vigil/v1/alerting_pb";
import type { Alert, AlertChange } from "../gen/vigil/v1/stream_pb";
import { OUTCOMES, STATES, outcomeName, parseName, stateName, type OutcomeName, type StateName } from "../names";

/** One alert of the queue, as it stands. */
export interface QueueRow {
  readonly id: string;
  /** The alert as raised (never a change record). */
  alert: Alert;
  state: StateName;
  /** Member id it was handed to; empty if nobody. */
  assignee: string;
  acknowledgedBy: string;
  closedBy: string;
  outcome: OutcomeName | undefined;
}

/** What a record did to the queue. */
export type Effect =
  /** A new row; `evicted` rows were dropped to keep the queue's size. */
  | { readonly kind: "added"; readonly row: QueueRow; readonly evicted: readonly string[] }
  | { readonly kind: "updated"; readonly row: QueueRow }
  /** Seen already, or a move on an alert the queue does not hold. */
  | { readonly kind: "ignored"; readonly reason: "duplicate" | "unknown" };

/** Rows kept at most; closed ones, then the oldest, go first. */
export const MAX_ROWS = 300;

interface Entry {
  row: QueueRow;
  /** Moves applied, by {@link moveKey}. */
  moves: Set<string>;
  /** When the assignee shown was set by a move (ms); 0 if by a listing. */
  assignedAtMs: number;
}

/** The queue of alerts shown on the Alerts page. */
export class AlertQueue {
  private readonly entries = new Map<string, Entry>();
  /** Ids evicted to keep the size: a replay of their raise stays out. */
  private readonly forgotten = new Set<string>();

  constructor(private readonly maxRows = MAX_ROWS) {}

  /** A record of the live stream: a raise, or a move on a held alert. */
  receive(alert: Alert): Effect {
    return alert.change ? this.moved(alert.alertId, alert.change) : this.raised(alert);
  }

  /**
   * An alert as the server stores it (a listing, GetAlert, the reply to a
   * move): it is the truth, except that its state does not take a held
   * alert back in the lifecycle (a move may have been streamed meanwhile).
   */
  stored(stored: StoredAlert): Effect {
    const alert = stored.alert;
    if (!alert) {
      return { kind: "ignored", reason: "unknown" };
    }
    const entry = this.entries.get(alert.alertId);
    const fields = {
      alert,
      assignee: stored.assignee,
      acknowledgedBy: stored.acknowledgedBy,
      closedBy: stored.closedBy,
      outcome: outcomeName(stored.outcome),
    };
    if (!entry) {
      return this.add({ id: alert.alertId, state: stateName(stored.state), ...fields });
    }
    Object.assign(entry.row, fields, { state: later(entry.row.state, stateName(stored.state)) });
    return { kind: "updated", row: entry.row };
  }

  /** The row of `id`, if held. */
  get(id: string): QueueRow | undefined {
    return this.entries.get(id)?.row;
  }

  /** How many rows are held. */
  get size(): number {
    return this.entries.size;
  }

  /** Rows not closed yet. */
  get open(): number {
    let open = 0;
    for (const { row } of this.entries.values()) {
      open += row.state === "closed" ? 0 : 1;
    }
    return open;
  }

  /** The rows in display order (see {@link compareRows}). */
  ordered(): QueueRow[] {
    return [...this.entries.values()].map((entry) => entry.row).sort(compareRows);
  }

  /** The id of the row shown right after `id`, if any. */
  following(id: string): string | undefined {
    const ordered = this.ordered();
    return ordered[ordered.findIndex((row) => row.id === id) + 1]?.id;
  }

  private raised(alert: Alert): Effect {
    if (this.entries.has(alert.alertId) || this.forgotten.has(alert.alertId)) {
      return { kind: "ignored", reason: "duplicate" };
    }
    return this.add({
      id: alert.alertId,
      alert,
      state: "raised",
      assignee: "",
      acknowledgedBy: "",
      closedBy: "",
      outcome: undefined,
    });
  }

  private moved(id: string, change: AlertChange): Effect {
    const entry = this.entries.get(id);
    if (!entry) {
      return { kind: "ignored", reason: "unknown" };
    }
    const key = moveKey(change);
    if (entry.moves.has(key)) {
      return { kind: "ignored", reason: "duplicate" };
    }
    entry.moves.add(key);
    const row = entry.row;
    const state = parseName(STATES, change.state);
    if (state) {
      row.state = later(row.state, state);
    }
    const atMs = msOf(change.at);
    switch (change.action) {
      case "acknowledge":
        // The first acknowledgement stands; a later one was refused.
        row.acknowledgedBy ||= change.actor;
        break;
      case "assign":
        if (atMs >= entry.assignedAtMs) {
          row.assignee = change.detail;
          entry.assignedAtMs = atMs;
        }
        break;
      case "close":
        row.closedBy = change.actor;
        // "confirmed", or "confirmed: <note>".
        row.outcome = parseName(OUTCOMES, change.detail.split(":", 1)[0]);
        break;
    }
    return { kind: "updated", row };
  }

  private add(row: QueueRow): Effect {
    this.entries.set(row.id, { row, moves: new Set(), assignedAtMs: 0 });
    const evicted: string[] = [];
    if (this.entries.size > this.maxRows) {
      const victims = [...this.entries.values()]
        .map((entry) => entry.row)
        .filter((held) => held.id !== row.id)
        .sort(evictionOrder);
      for (const victim of victims.slice(0, this.entries.size - this.maxRows)) {
        this.entries.delete(victim.id);
        this.forgotten.add(victim.id);
        evicted.push(victim.id);
      }
    }
    return { kind: "added", row, evicted };
  }
}

/** Epoch milliseconds of `at`, 0 when unset. */
export function msOf(at: Timestamp | undefined): number {
  return at ? timestampMs(at) : 0;
}

/**
 * Display order: open alerts before closed ones, then by priority (1 is
 * highest; 0, unset, is lowest), then newest first.
 */
export function compareRows(a: QueueRow, b: QueueRow): number {
  return (
    Number(a.state === "closed") - Number(b.state === "closed") ||
    rank(a.alert.priority) - rank(b.alert.priority) ||
    msOf(b.alert.raisedAt) - msOf(a.alert.raisedAt) ||
    a.id.localeCompare(b.id)
  );
}

/** Which rows go first when the queue is full: closed, then the oldest. */
function evictionOrder(a: QueueRow, b: QueueRow): number {
  return (
    Number(b.state === "closed") - Number(a.state === "closed") ||
    msOf(a.alert.raisedAt) - msOf(b.alert.raisedAt)
  );
}

function rank(priority: number): number {
  return priority === 0 ? Number.MAX_SAFE_INTEGER : priority;
}

/** The later of two states in the lifecycle. */
function later(a: StateName, b: StateName): StateName {
  return STATES.indexOf(b) > STATES.indexOf(a) ? b : a;
}

/** A move's identity: alert id is implied, so (action, exact time). */
function moveKey(change: AlertChange): string {
  return `${change.action}@${change.at?.seconds ?? ""}.${change.at?.nanos ?? ""}`;
}
