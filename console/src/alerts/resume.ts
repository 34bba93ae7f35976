/**
 * Where the live stream resumes after it ended or failed, so that no alert
 * is missed and none is shown twice: from a little before the last record
 * seen (the queue drops what comes again), never later than the server
 * said, and from a fresh listing when the gap is longer than the server
 * replays. Plus the wait between attempts. No I/O here.
 */

import type { Alert } from "../gen/vigil/v1/stream_pb";
import { msOf } from "./queue";

/**
 * How far before the last record seen a reconnect starts: records of
 * several partitions interleave, so one a little older than the last may
 * still be on its way.
 */
export const OVERLAP_MS = 30_000;
/** How far back StreamAlerts' `since` may reach (`MAX_REPLAY` in the API). */
export const MAX_REPLAY_MS = 24 * 3_600_000;
/** Room left under {@link MAX_REPLAY_MS} for the request's way there. */
const REPLAY_MARGIN_MS = 10 * 60_000;

/** What the console knows when it reconnects (epoch ms, server time). */
export interface ResumeInput {
  /** When the listing the queue started from was asked for. */
  readonly listedAtMs: number;
  /** The latest record time seen on the stream, if any. */
  readonly seenMs?: number | undefined;
  /** Where the server said to resume (RESOURCE_EXHAUSTED), if it did. */
  readonly hintMs?: number | undefined;
  readonly nowMs: number;
}

/** How to reconnect: replay from `sinceMs`, or list again first. */
export type ResumePlan = { readonly relist: false; readonly sinceMs: number } | { readonly relist: true };

/**
 * Replay from the later of the listing and the last record seen, less
 * {@link OVERLAP_MS}, and no later than the server's hint; or list again
 * when that is further back than the server replays.
 */
export function resumePlan({ listedAtMs, seenMs, hintMs, nowMs }: ResumeInput): ResumePlan {
  let sinceMs = Math.max(listedAtMs, seenMs ?? listedAtMs) - OVERLAP_MS;
  if (hintMs !== undefined) {
    sinceMs = Math.min(sinceMs, hintMs);
  }
  if (sinceMs < nowMs - MAX_REPLAY_MS + REPLAY_MARGIN_MS) {
    return { relist: true };
  }
  return { relist: false, sinceMs: Math.min(sinceMs, nowMs) };
}

/**
 * A stream record's time: when the move was made for a change, when it was
 * raised otherwise. Both are at or before the record's own timestamp,
 * which is what the server compares `since` with.
 */
export function recordMs(alert: Alert): number {
  return alert.change ? msOf(alert.change.at) : msOf(alert.raisedAt);
}

/**
 * The time a RESOURCE_EXHAUSTED status names to resume from
 * ("… reconnect with since=2026-01-01T00:00:01.500Z to resume …").
 */
export function resumeHintMs(message: string): number | undefined {
  const at = /since=(\S+?Z)\b/.exec(message)?.[1];
  const ms = at === undefined ? NaN : Date.parse(at);
  return Number.isNaN(ms) ? undefined : ms;
}

/** First wait between attempts, doubled per failure up to {@link MAX_BACKOFF_MS}. */
export const FIRST_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 30_000;

/**
 * The wait before reconnect attempt `failures` (0 after the first
 * failure): exponential, capped, with jitter so a room of consoles does
 * not come back at the same instant after a server restart. `random` is in
 * [0, 1); the wait is between half and all of the step.
 */
export function backoffMs(failures: number, random: number): number {
  const step = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(failures, 16));
  return Math.round(step * (0.5 + random / 2));
}
