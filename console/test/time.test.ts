import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatDateTime } from "../src/time";

describe("times", () => {
  it("are shown in Vietnam's time", () => {
    assert.equal(formatDateTime(Date.parse("2026-12-06T17:30:00Z")), "00:30:00 07/12/2026");
    assert.equal(formatDateTime(Date.parse("2026-12-06T16:59:59Z")), "23:59:59 06/12/2026");
  });

  it("do not depend on the machine's time zone", () => {
    const saved = process.env.TZ;
    try {
      for (const zone of ["America/Los_Angeles", "Asia/Tokyo", "UTC"]) {
        process.env.TZ = zone;
        assert.equal(formatDateTime(Date.parse("2026-12-06T17:30:00Z")), "00:30:00 07/12/2026", zone);
      }
    } finally {
      process.env.TZ = saved;
    }
  });
});
