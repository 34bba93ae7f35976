/**
 * The Alerts page: the live queue of the caller's scope. Rows are made
 * once per alert and moved or updated in place as the feed and the
 * person's own moves change them.
 */

import type { Api } from "../api";
import type { Alarm } from "../alarm";
import { h, type View } from "../dom";
import type { Problem } from "../errors";
import type { StoredAlert } from "../gen/vigil/v1/alerting_pb";
import type { WhoAmIResponse } from "../gen/vigil/v1/operations_pb";
import type { Alert } from "../gen/vigil/v1/stream_pb";
import { describe, tr } from "../locale";
import { kindName, outcomeValue } from "../names";
import { alertActions, streamsAlerts, type AlertAction } from "../roles";
import { AlertFeed, type LiveState } from "./feed";
import { isHighPriority, placeOf, plateOf } from "./present";
import { AlertQueue, type Effect } from "./queue";
import { AlertRowView, type Move, type RowHost } from "./row";

/** What the page tells the rest of the console. */
export interface PageHooks {
  /** The token stopped being accepted (expired, revoked). */
  signedOut(problem: Problem): void;
}

/**
 * The open alerts of the live queue, for the other pages (the map rings
 * them, a commune's page lists its own).
 */
export interface OpenAlerts {
  /** The alerts not closed yet. */
  open(): Alert[];
  /** Calls `listener` after each change of the queue; answers how to stop. */
  subscribe(listener: () => void): () => void;
}

/** The live alert queue. */
export class AlertsPage implements View, RowHost, OpenAlerts {
  readonly el: HTMLElement;
  private readonly heading = h("h1");
  private readonly count = h("span", { class: "alert-count" });
  private readonly indicator = h("span", { class: "live", "data-testid": "alerts-live", role: "status" });
  private readonly problemLine = h("p", { class: "page-problem", role: "status", hidden: true });
  private readonly empty = h("p", { class: "empty" });
  private readonly list = h("ol", { class: "alert-list" });
  private readonly queue = new AlertQueue();
  private readonly rows = new Map<string, AlertRowView>();
  /** Suggestions for the assign inputs, by village. */
  private readonly teams = new Map<string, HTMLDataListElement>();
  private readonly allowed: ReadonlySet<AlertAction>;
  private readonly feed: AlertFeed;
  private readonly listeners = new Set<() => void>();
  private notifyQueued = false;
  private liveState: LiveState = "reconnecting";
  private problem: Problem | undefined;

  constructor(
    private readonly api: Api,
    me: WhoAmIResponse,
    private readonly alarm: Alarm,
    hooks: PageHooks,
  ) {
    this.allowed = alertActions(me.role);
    this.el = h(
      "section",
      { class: "alerts-page" },
      h("header", { class: "page-head" }, this.heading, this.count, this.indicator),
      this.problemLine,
      this.empty,
      this.list,
    );
    this.feed = new AlertFeed(api, streamsAlerts(me.role), {
      listed: (alerts) => this.listed(alerts),
      received: (alert) => this.received(alert),
      status: (state) => {
        this.liveState = state;
        this.showStatus();
      },
      problem: (problem) => {
        this.problem = problem;
        this.showStatus();
      },
      signedOut: (problem) => hooks.signedOut(problem),
    });
    this.retranslate();
  }

  open(): Alert[] {
    return this.queue
      .ordered()
      .filter((row) => row.state !== "closed")
      .map((row) => row.alert);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the feed. */
  start(): void {
    this.feed.start();
  }

  /** Stops the feed; the page is then dropped. */
  stop(): void {
    this.feed.stop();
  }

  retranslate(): void {
    this.heading.textContent = tr("alerts.heading");
    this.showCount();
    this.showStatus();
    this.empty.textContent = tr("alerts.empty");
    for (const row of this.rows.values()) {
      row.retranslate();
    }
  }

  async move(alertId: string, move: Move): Promise<void> {
    const { alert } = await send(this.api, alertId, move);
    if (alert) {
      this.show(this.queue.stored(alert));
    }
  }

  teamList(villageId: string): string {
    const id = `team-${villageId}`;
    if (!this.teams.has(villageId)) {
      const list = h("datalist", { id });
      this.teams.set(villageId, list);
      this.el.append(list);
      void this.api.registry.getTeam({ zoneId: villageId }).then(
        (team) => list.append(...team.members.map((member) => h("option", { value: member.id, label: member.name }))),
        // Suggestions only: the member id can still be typed.
        () => this.teams.delete(villageId),
      );
    }
    return id;
  }

  private listed(alerts: readonly StoredAlert[]): void {
    for (const stored of alerts) {
      this.show(this.queue.stored(stored));
    }
  }

  private received(alert: Alert): void {
    const effect = this.queue.receive(alert);
    this.show(effect);
    if (effect.kind === "added" && isHighPriority(alert)) {
      this.ring(alert);
    }
  }

  /** Puts what `effect` did on screen. */
  private show(effect: Effect): void {
    if (effect.kind === "ignored") {
      return;
    }
    const row = effect.row;
    let view = this.rows.get(row.id);
    if (view) {
      view.update(row);
    } else {
      view = new AlertRowView(row, this.allowed, this);
      this.rows.set(row.id, view);
    }
    if (effect.kind === "added") {
      for (const id of effect.evicted) {
        this.rows.get(id)?.el.remove();
        this.rows.delete(id);
      }
    }
    // In place unless the order changed (a new row, or one closed).
    const next = this.queue.following(row.id);
    const before = next === undefined ? null : (this.rows.get(next)?.el ?? null);
    if (view.el.nextElementSibling !== before || !view.el.isConnected) {
      this.list.insertBefore(view.el, before);
    }
    this.showCount();
    this.changed();
  }

  /** Tells the listeners, once per burst of records (a listing brings hundreds). */
  private changed(): void {
    if (this.notifyQueued || this.listeners.size === 0) {
      return;
    }
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const listener of this.listeners) {
        listener();
      }
    });
  }

  /** The live indicator, and why the feed is not working when it is not. */
  private showStatus(): void {
    this.indicator.dataset.state = this.liveState;
    this.indicator.textContent = tr(`live.${this.liveState}`);
    this.problemLine.textContent = this.problem ? describe(this.problem) : "";
    this.problemLine.hidden = !this.problem;
  }

  private showCount(): void {
    this.count.textContent = tr("alerts.open", { n: this.queue.open });
    this.empty.hidden = this.queue.size > 0;
  }

  private ring(alert: Alert): void {
    const plate = plateOf(alert)?.plate;
    const body = [tr(`kind.${kindName(alert.kind)}`), plate, placeOf(alert)].filter(Boolean).join(" — ");
    this.alarm.ring(tr("notification.title", { priority: alert.priority }), body, alert.alertId);
  }
}

/** Asks the server for `move`; the reply carries the alert as stored after it. */
function send(api: Api, alertId: string, move: Move): Promise<{ alert?: StoredAlert | undefined }> {
  switch (move.action) {
    case "acknowledge":
      return api.alerts.acknowledgeAlert({ alertId });
    case "assign":
      return api.alerts.assignAlert({ alertId, memberId: move.member });
    case "note":
      return api.alerts.addAlertNote({ alertId, note: move.note });
    case "close":
      return api.alerts.closeAlert({ alertId, outcome: outcomeValue(move.outcome) });
  }
}
