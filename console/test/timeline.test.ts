import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { fraction, layoutPeriods, timeTicks } from "../src/timeline";
import { formatShort, HOUR_MS } from "../src/time";
import { T0 } from "./fixtures";

const window = { startMs: T0, endMs: T0 + 10 * HOUR_MS };
const at = (hours: number) => T0 + hours * HOUR_MS;

describe("timelines", () => {
  it("place periods as fractions of the window, clipped and merged", () => {
    const segments = layoutPeriods(
      [
        { startMs: at(-2), endMs: at(1) },
        { startMs: at(4), endMs: at(5) },
        { startMs: at(4.5), endMs: at(6) },
        { startMs: at(6), endMs: at(7) },
        { startMs: at(9), endMs: at(12) },
        { startMs: at(11), endMs: at(12) },
        { startMs: at(3), endMs: at(3) },
      ],
      window,
    );
    assert.deepEqual(
      segments.map((s) => [Number(s.left.toFixed(3)), Number(s.width.toFixed(3))]),
      [
        [0, 0.1],
        [0.4, 0.3],
        [0.9, 0.1],
      ],
    );
  });

  it("keep a short outage visible", () => {
    const [segment] = layoutPeriods([{ startMs: at(10) - 1000, endMs: at(10) }], window, 0.01);
    assert.ok(segment);
    assert.equal(segment.width, 0.01);
    assert.ok(segment.left + segment.width <= 1 + 1e-12, "still inside the window");
    assert.deepEqual(layoutPeriods([{ startMs: at(1), endMs: at(2) }], { startMs: T0, endMs: T0 }), []);
  });

  it("tick at whole hours or midnights of Vietnam's clock", () => {
    // T0 is 00:30 in Vietnam: hourly steps fall on :00.
    const ticks = timeTicks({ startMs: T0, endMs: at(6) }, 8);
    assert.deepEqual(ticks.map(formatShort), ["01:00 07/12", "02:00 07/12", "03:00 07/12", "04:00 07/12", "05:00 07/12", "06:00 07/12"]);
    const week = timeTicks({ startMs: T0, endMs: T0 + 7 * 24 * HOUR_MS }, 8);
    assert.ok(week.every((tick) => formatShort(tick).startsWith("00:00")), week.map(formatShort).join());
    assert.equal(week.length, 7);
    assert.deepEqual(timeTicks({ startMs: T0, endMs: T0 }), []);
  });

  it("clamp positions to the window", () => {
    assert.equal(fraction(at(5), window), 0.5);
    assert.equal(fraction(at(-1), window), 0);
    assert.equal(fraction(at(11), window), 1);
  });
});
