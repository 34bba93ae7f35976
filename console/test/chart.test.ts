import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import { cellsOf, niceScale, stackByHour, stackRects, totalsByZone } from "../src/chart";
import { DetectionKind } from "../src/gen/vigil/v1/detection_pb";
import { HourCountSchema } from "../src/gen/vigil/v1/query_pb";
import { HOUR_MS } from "../src/time";

const H0 = Date.UTC(2026, 11, 6, 17);
const count = (zoneId: string, hour: number, kind: DetectionKind, n: number) =>
  create(HourCountSchema, { zoneId, hour: timestampFromMs(H0 + hour * HOUR_MS), kind, count: BigInt(n) });

const cells = cellsOf([
  count("th.a", 0, DetectionKind.VEHICLE, 5),
  count("th.a", 0, DetectionKind.PERSON, 2),
  count("th.b", 0, DetectionKind.VEHICLE, 1),
  count("th.b", 2, DetectionKind.PLATE, 4),
  count("th.b", 2, DetectionKind.UNSPECIFIED, 1),
]);

describe("counts for the charts", () => {
  it("stack every hour of the window by kind, summed over communes", () => {
    const stacks = stackByHour(cells, { startMs: H0 + 10 * 60_000, endMs: H0 + 3 * HOUR_MS });
    assert.deepEqual(stacks.kinds, ["vehicle", "plate", "person", "other"]);
    assert.deepEqual(
      stacks.hours.map((h) => [(h.hourMs - H0) / HOUR_MS, ...h.counts]),
      [
        [0, 6, 0, 2, 0],
        [1, 0, 0, 0, 0],
        [2, 0, 4, 0, 1],
      ],
    );
    assert.equal(stacks.max, 8);
    assert.equal(stacks.total, 13);
  });

  it("leave out cells outside the window", () => {
    const stacks = stackByHour(cells, { startMs: H0 + HOUR_MS, endMs: H0 + 2 * HOUR_MS });
    assert.equal(stacks.hours.length, 1);
    assert.equal(stacks.total, 0);
  });

  it("total per commune, largest first", () => {
    const zones = totalsByZone(cells);
    assert.deepEqual(zones.map((z) => [z.zoneId, z.total]), [["th.a", 7], ["th.b", 6]]);
    assert.equal(zones[1]?.byKind.get("plate"), 4);
  });

  it("pick a round scale", () => {
    assert.deepEqual(niceScale(8), { max: 8, ticks: [0, 2, 4, 6, 8] });
    assert.deepEqual(niceScale(9), { max: 10, ticks: [0, 2, 4, 6, 8, 10] });
    assert.deepEqual(niceScale(0), { max: 1, ticks: [0, 1] });
    assert.equal(niceScale(1234).max, 1500);
    assert.equal(niceScale(0.3, 3).max, 0.3);
  });

  it("lay bars bottom up, kinds in order, empty hours without pieces", () => {
    const stacks = stackByHour(cells, { startMs: H0, endMs: H0 + 3 * HOUR_MS });
    const rects = stackRects(stacks, 300, 100, 10);
    assert.equal(rects.length, 3);
    assert.deepEqual(rects[1], []);
    const [vehicle, person] = rects[0] ?? [];
    assert.ok(vehicle && person);
    assert.equal(vehicle.kindIndex, 0);
    assert.ok(Math.abs(vehicle.height - 60) < 1e-9 && Math.abs(vehicle.y - 40) < 1e-9);
    assert.ok(Math.abs(person.y - 20) < 1e-9 && person.kindIndex === 2);
    assert.ok(vehicle.x > 0 && vehicle.x + vehicle.width < 100, "a gap between bars");
  });
});
