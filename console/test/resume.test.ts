import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  MAX_BACKOFF_MS,
  MAX_REPLAY_MS,
  OVERLAP_MS,
  backoffMs,
  recordMs,
  resumeHintMs,
  resumePlan,
} from "../src/alerts/resume";
import { T0, change, raise } from "./fixtures";

const MINUTE = 60_000;

describe("where the stream resumes", () => {
  it("starts a little before the listing when nothing came since", () => {
    assert.deepEqual(resumePlan({ listedAtMs: T0, nowMs: T0 + MINUTE }), {
      relist: false,
      sinceMs: T0 - OVERLAP_MS,
    });
  });

  it("starts a little before the last record seen", () => {
    const seenMs = T0 + 10 * MINUTE;
    assert.deepEqual(resumePlan({ listedAtMs: T0, seenMs, nowMs: T0 + 11 * MINUTE }), {
      relist: false,
      sinceMs: seenMs - OVERLAP_MS,
    });
  });

  it("never starts after the listing, even if old records came last", () => {
    const plan = resumePlan({ listedAtMs: T0, seenMs: T0 - 5 * MINUTE, nowMs: T0 + MINUTE });
    assert.deepEqual(plan, { relist: false, sinceMs: T0 - OVERLAP_MS });
  });

  it("goes back to where the server said when that is earlier", () => {
    const hintMs = T0 + 2 * MINUTE;
    const plan = resumePlan({ listedAtMs: T0, seenMs: T0 + 10 * MINUTE, hintMs, nowMs: T0 + 11 * MINUTE });
    assert.deepEqual(plan, { relist: false, sinceMs: hintMs });
  });

  it("lists again when the gap is longer than the server replays", () => {
    const nowMs = T0 + MAX_REPLAY_MS;
    assert.deepEqual(resumePlan({ listedAtMs: T0, nowMs }), { relist: true });
    assert.equal(resumePlan({ listedAtMs: T0, seenMs: nowMs - MINUTE, nowMs }).relist, false);
  });

  it("takes a record's time from its move, or from its raise", () => {
    assert.equal(recordMs(raise("a1", { secondsAfter: 3 })), T0 + 3_000);
    assert.equal(recordMs(change("a1", "acknowledge", "acknowledged", 9)), T0 + 9_000);
  });

  it("reads the resume time out of RESOURCE_EXHAUSTED", () => {
    const message =
      "the client fell behind the live alert stream by more than 64 alerts; " +
      "reconnect with since=2026-01-01T00:00:01.500Z to resume (alerts of that instant may repeat)";
    assert.equal(resumeHintMs(message), Date.UTC(2026, 0, 1, 0, 0, 1, 500));
    assert.equal(resumeHintMs("this token already has 4 live alert streams open"), undefined);
    assert.equal(resumeHintMs("since=yesterdayZ"), undefined);
  });

  it("waits longer after each failure, up to a cap, with jitter", () => {
    assert.equal(backoffMs(0, 0), 500);
    assert.equal(backoffMs(0, 0.999_999), 1_000);
    assert.equal(backoffMs(3, 0.999_999), 8_000);
    assert.equal(backoffMs(40, 0.999_999), MAX_BACKOFF_MS);
    for (let failures = 0; failures < 8; failures++) {
      assert.ok(backoffMs(failures, 0) <= backoffMs(failures + 1, 0));
    }
  });
});
