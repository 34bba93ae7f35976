/**
 * Keeps the queue fed: lists the open alerts of the caller's scope, then
 * follows StreamAlerts from a little before the listing, and whenever the
 * stream ends or fails (network drop, server restart, RESOURCE_EXHAUSTED
 * naming where to resume) reconnects with backoff from where it was (see
 * `resume.ts`). A periodic WhoAmI notices a connection that died without
 * closing, and a token that expired or was revoked.
 */

import { Code } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import type { Api } from "../api";
import { problemOf, type Problem } from "../errors";
import { AlertState, type StoredAlert } from "../gen/vigil/v1/alerting_pb";
import type { Alert } from "../gen/vigil/v1/stream_pb";
import { backoffMs, recordMs, resumeHintMs, resumePlan } from "./resume";

/** Shown by the page's indicator: `off` when the role has no live stream. */
export type LiveState = "live" | "reconnecting" | "off";

/** Where the feed's news goes (the Alerts page). */
export interface FeedSink {
  /** One page of the listing of open alerts. */
  listed(alerts: readonly StoredAlert[]): void;
  /** One record of the live stream (a raise or a move). */
  received(alert: Alert): void;
  status(state: LiveState): void;
  /** Why the last attempt failed; undefined once it works again. */
  problem(problem: Problem | undefined): void;
  /** The token is no longer accepted: the feed has stopped. */
  signedOut(problem: Problem): void;
}

const DAY_MS = 24 * 3_600_000;
/** The listing reaches back this far (ListAlerts allows 31 days). */
const LIST_DAYS = 30;
const PAGE_SIZE = 100;
/** Pages listed at most: the queue keeps 300 rows anyway. */
const MAX_PAGES = 3;
const OPEN_STATES = [AlertState.RAISED, AlertState.NOTIFIED, AlertState.ESCALATED, AlertState.ACKNOWLEDGED];
/** How often an open stream's connection is checked with WhoAmI. */
const CHECK_EVERY_MS = 30_000;
const CHECK_TIMEOUT_MS = 10_000;

/** The live feed of one Alerts page. */
export class AlertFeed {
  private readonly stopped = new AbortController();
  /** When the listing the queue rests on was asked for; undefined: list (again). */
  private listedAtMs: number | undefined;
  private seenMs: number | undefined;
  private hintMs: number | undefined;

  /** `streams`: whether the role may open the live stream at all. */
  constructor(
    private readonly api: Api,
    private readonly streams: boolean,
    private readonly sink: FeedSink,
  ) {}

  /** Starts listing and following; runs until {@link stop}. */
  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped.abort();
  }

  private async run(): Promise<void> {
    let failures = 0;
    const working = () => {
      failures = 0;
      this.sink.problem(undefined);
    };
    while (!this.stopped.signal.aborted) {
      try {
        if (this.listedAtMs === undefined) {
          this.listedAtMs = await this.list();
          this.seenMs = undefined;
          working();
          if (!this.streams) {
            this.sink.status("off");
            return;
          }
        }
        const plan = resumePlan({
          listedAtMs: this.listedAtMs,
          seenMs: this.seenMs,
          hintMs: this.hintMs,
          nowMs: this.api.now(),
        });
        if (plan.relist) {
          this.listedAtMs = undefined;
          continue;
        }
        this.hintMs = undefined;
        await this.follow(plan.sinceMs, working);
        // The server ended the stream (it is shutting down): resume.
      } catch (error) {
        if (this.stopped.signal.aborted) {
          return;
        }
        const problem = problemOf(error);
        if (problem.code === Code.Unauthenticated) {
          this.stopped.abort();
          this.sink.signedOut(problem);
          return;
        }
        if (problem.code === Code.ResourceExhausted) {
          this.hintMs = resumeHintMs(problem.detail);
        }
        if (problem.code === Code.InvalidArgument) {
          // `since` refused (a clock far off): start from a new listing.
          this.listedAtMs = undefined;
        }
        this.sink.problem(problem);
      }
      this.sink.status("reconnecting");
      await sleep(backoffMs(failures++, Math.random()), this.stopped.signal);
    }
  }

  /**
   * Lists the open alerts of the caller's scope, newest first, page by
   * page; answers when the listing was asked for (server time).
   */
  private async list(): Promise<number> {
    const now = this.api.now();
    const window = { start: timestampFromMs(now - LIST_DAYS * DAY_MS), end: timestampFromMs(now + 3_600_000) };
    let pageToken = "";
    for (let page = 0; page < MAX_PAGES; page++) {
      const response = await this.api.alerts.listAlerts(
        { window, states: OPEN_STATES, pageSize: PAGE_SIZE, pageToken },
        { signal: this.stopped.signal },
      );
      this.sink.listed(response.alerts);
      pageToken = response.nextPageToken;
      if (!pageToken) {
        break;
      }
    }
    return now;
  }

  /**
   * Follows the stream from `sinceMs` until it ends or fails. `working` is
   * called once the server answered.
   */
  private async follow(sinceMs: number, working: () => void): Promise<void> {
    const attempt = new AbortController();
    const stop = () => attempt.abort();
    this.stopped.signal.addEventListener("abort", stop);
    const check = setInterval(() => void this.check(attempt), CHECK_EVERY_MS);
    let answered = false;
    const live = () => {
      if (!answered) {
        answered = true;
        working();
        this.sink.status("live");
      }
    };
    try {
      const records = this.api.query.streamAlerts(
        { since: timestampFromMs(sinceMs) },
        { signal: attempt.signal, timeoutMs: 0, onHeader: live },
      );
      for await (const alert of records) {
        live();
        this.seenMs = Math.max(this.seenMs ?? 0, recordMs(alert));
        this.sink.received(alert);
      }
    } finally {
      clearInterval(check);
      this.stopped.signal.removeEventListener("abort", stop);
    }
  }

  /** Ends `attempt` with the reason if the server stopped answering or refuses the token. */
  private async check(attempt: AbortController): Promise<void> {
    try {
      await this.api.registry.whoAmI({}, { signal: attempt.signal, timeoutMs: CHECK_TIMEOUT_MS });
    } catch (error) {
      if (!attempt.signal.aborted) {
        attempt.abort(error);
      }
    }
  }
}

/** Waits `ms`, or less if `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
