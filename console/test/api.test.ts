import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Code, ConnectError } from "@connectrpc/connect";

import { clockOffsetMs } from "../src/clock";
import { problemOf } from "../src/errors";

describe("failed calls in words", () => {
  it("say what kind of failure, with the server's reason", () => {
    const why = "already acknowledged by police-a at 2026-12-06T17:31:00Z";
    assert.deepEqual(problemOf(new ConnectError(why, Code.FailedPrecondition)), {
      key: "error.refused",
      detail: why,
      code: Code.FailedPrecondition,
    });
    const token = new ConnectError("unknown or malformed token", Code.Unauthenticated);
    assert.equal(problemOf(token).key, "error.unauthenticated");
    assert.equal(problemOf(new TypeError("Failed to fetch")).key, "error.unavailable");
    assert.equal(problemOf(new ConnectError("boom", Code.DataLoss)).key, "error.server");
  });
});

describe("the server's clock", () => {
  it("is read from the Date header, ignoring sub-second noise", () => {
    const local = Date.parse("2026-12-06T17:30:00.200Z");
    assert.equal(clockOffsetMs("Sun, 06 Dec 2026 17:30:00 GMT", local), 0);
    assert.equal(clockOffsetMs("Sun, 06 Dec 2026 17:35:00 GMT", local), 300_300);
    assert.equal(clockOffsetMs(null, local), undefined);
    assert.equal(clockOffsetMs("garbage", local), undefined);
  });
});
