import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { AlertQueue } from "../src/alerts/queue";
import { AlertOutcome, AlertState } from "../src/gen/vigil/v1/alerting_pb";
import { change, raise, stored } from "./fixtures";

describe("the alert queue", () => {
  it("adds a raised alert as a new row", () => {
    const queue = new AlertQueue();
    const effect = queue.receive(raise("a1"));
    assert.equal(effect.kind, "added");
    assert.equal(queue.size, 1);
    assert.equal(queue.get("a1")?.state, "raised");
    assert.equal(queue.open, 1);
  });

  it("keeps a raise once when it comes again", () => {
    const queue = new AlertQueue();
    queue.receive(raise("a1"));
    queue.receive(change("a1", "acknowledge", "acknowledged", 10));
    assert.deepEqual(queue.receive(raise("a1")), { kind: "ignored", reason: "duplicate" });
    assert.equal(queue.size, 1);
    assert.equal(queue.get("a1")?.state, "acknowledged", "a replayed raise does not reset the state");
  });

  it("applies a move to its row instead of adding one", () => {
    const queue = new AlertQueue();
    queue.receive(raise("a1"));
    const effect = queue.receive(change("a1", "acknowledge", "acknowledged", 5, { actor: "police-a" }));
    assert.equal(effect.kind, "updated");
    assert.equal(queue.size, 1);
    assert.equal(queue.get("a1")?.state, "acknowledged");
    assert.equal(queue.get("a1")?.acknowledgedBy, "police-a");
  });

  it("applies a move once when it comes again", () => {
    const queue = new AlertQueue();
    queue.receive(raise("a1"));
    queue.receive(change("a1", "note", "notified", 5));
    assert.deepEqual(queue.receive(change("a1", "note", "notified", 5)), { kind: "ignored", reason: "duplicate" });
    // The same action at another time is another move.
    assert.equal(queue.receive(change("a1", "note", "notified", 6)).kind, "updated");
  });

  it("never takes a state back when moves come out of order", () => {
    const queue = new AlertQueue();
    queue.receive(raise("a1"));
    queue.receive(change("a1", "close", "closed", 30, { actor: "police-a", detail: "false_positive: a shadow" }));
    queue.receive(change("a1", "notify", "notified", 1));
    queue.receive(change("a1", "acknowledge", "acknowledged", 20, { actor: "police-a" }));
    const row = queue.get("a1");
    assert.equal(row?.state, "closed");
    assert.equal(row?.outcome, "false_positive");
    assert.equal(row?.closedBy, "police-a");
    assert.equal(row?.acknowledgedBy, "police-a", "what the late move says is kept");
  });

  it("keeps the latest assignment whatever order they come in", () => {
    const queue = new AlertQueue();
    queue.receive(raise("a1"));
    queue.receive(change("a1", "assign", "notified", 20, { detail: "m-2" }));
    queue.receive(change("a1", "assign", "notified", 10, { detail: "m-1" }));
    assert.equal(queue.get("a1")?.assignee, "m-2");
  });

  it("ignores moves on alerts it does not hold", () => {
    const queue = new AlertQueue();
    assert.deepEqual(queue.receive(change("zz", "note", "closed", 5)), { kind: "ignored", reason: "unknown" });
    assert.equal(queue.size, 0);
  });

  it("takes listed alerts as they are stored, but not backwards", () => {
    const queue = new AlertQueue();
    assert.equal(queue.stored(stored("a1", AlertState.ACKNOWLEDGED, { acknowledgedBy: "op" })).kind, "added");
    assert.equal(queue.receive(raise("a1")).kind, "ignored", "the stream's replay of a listed alert");
    queue.receive(change("a1", "close", "closed", 40, { detail: "confirmed" }));
    queue.stored(stored("a1", AlertState.ACKNOWLEDGED, { assignee: "m-1" }));
    const row = queue.get("a1");
    assert.equal(row?.state, "closed");
    assert.equal(row?.assignee, "m-1");
    queue.stored(stored("a1", AlertState.CLOSED, { outcome: AlertOutcome.DUPLICATE, closedBy: "op" }));
    assert.equal(queue.get("a1")?.outcome, "duplicate");
  });

  it("orders open before closed, then by priority, then newest first", () => {
    const queue = new AlertQueue();
    queue.receive(raise("low-new", { priority: 4, secondsAfter: 50 }));
    queue.receive(raise("high-old", { priority: 1, secondsAfter: 0 }));
    queue.receive(raise("high-new", { priority: 1, secondsAfter: 10 }));
    queue.receive(raise("unset", { priority: 0, secondsAfter: 60 }));
    queue.receive(raise("closed", { priority: 1, secondsAfter: 70 }));
    queue.receive(change("closed", "close", "closed", 80, { detail: "no_action" }));
    assert.deepEqual(
      queue.ordered().map((row) => row.id),
      ["high-new", "high-old", "low-new", "unset", "closed"],
    );
    assert.equal(queue.following("high-old"), "low-new");
    assert.equal(queue.following("closed"), undefined);
  });

  it("drops closed rows first when full, and does not take their raise back", () => {
    const queue = new AlertQueue(2);
    queue.receive(raise("old", { secondsAfter: 0 }));
    queue.receive(raise("done", { secondsAfter: 10 }));
    queue.receive(change("done", "close", "closed", 20, { detail: "confirmed" }));
    const effect = queue.receive(raise("new", { secondsAfter: 30 }));
    assert.deepEqual(effect.kind === "added" && effect.evicted, ["done"]);
    assert.deepEqual(queue.receive(raise("done", { secondsAfter: 10 })), { kind: "ignored", reason: "duplicate" });
    assert.equal(queue.size, 2);
  });
});
