import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ceilMinute, formatDateTime, fromLocalInput, hoursMinutes, toLocalInput } from "../src/time";
import { checkWindow, presetWindow } from "../src/windows";
import { T0 } from "./fixtures";

describe("form times in Vietnam's zone", () => {
  it("fill datetime-local inputs in Asia/Ho_Chi_Minh", () => {
    assert.equal(toLocalInput(T0), "2026-12-07T00:30");
    assert.equal(toLocalInput(T0 + 59_999), "2026-12-07T00:30");
  });

  it("read them back whatever the PC's zone", () => {
    const saved = process.env.TZ;
    try {
      for (const zone of ["America/Los_Angeles", "UTC", "Asia/Ho_Chi_Minh"]) {
        process.env.TZ = zone;
        assert.equal(fromLocalInput("2026-12-07T00:30"), T0, zone);
        assert.equal(fromLocalInput("2026-12-07T00:30:15"), T0 + 15_000, zone);
      }
    } finally {
      process.env.TZ = saved;
    }
  });

  it("refuse what is not a date and time", () => {
    for (const value of ["", "2026-12-07", "07/12/2026 00:30", "2026-02-31T10:00", "2026-12-07T24:00", "2026-13-01T00:00"]) {
      assert.equal(fromLocalInput(value), undefined, value);
    }
  });

  it("round and split spans", () => {
    assert.equal(ceilMinute(T0), T0);
    assert.equal(ceilMinute(T0 + 1), T0 + 60_000);
    assert.deepEqual(hoursMinutes(125 * 60_000), { hours: 2, minutes: 5 });
    assert.deepEqual(hoursMinutes(-5), { hours: 0, minutes: 0 });
  });
});

describe("search windows", () => {
  it("end quick choices at the next whole minute", () => {
    const w = presetWindow("1h", T0 + 20_000);
    assert.equal(formatDateTime(w.endMs), "00:31:00 07/12/2026");
    assert.equal(w.endMs - w.startMs, 3_600_000);
    assert.equal(presetWindow("7d", T0).endMs - presetWindow("7d", T0).startMs, 7 * 86_400_000);
    assert.equal(presetWindow("1h", T0).endMs, T0 + 60_000, "a whole minute still includes itself");
  });

  it("say what is wrong with a typed window", () => {
    assert.equal(checkWindow(T0, T0 + 1, 1), undefined);
    assert.equal(checkWindow(undefined, T0, 1), "window.missing");
    assert.equal(checkWindow(T0, T0, 1), "window.order");
    assert.equal(checkWindow(T0, T0 + 86_400_001, 1), "window.tooLong");
    assert.equal(checkWindow(T0, T0 + 86_400_000, 1), undefined);
  });
});
