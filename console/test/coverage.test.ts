import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import { blindSpots, coverageMessage, describePeriod, isThin, spotsById } from "../src/coverage";
import { CoverageResponseSchema, CoverageState } from "../src/gen/vigil/v1/query_pb";
import { T0 } from "./fixtures";

const MIN = 60_000;

/** Coverage of four cameras over [T0, T0 + 1 h): one offline twice, one silent, one covered, one never heard from. */
const coverage = create(CoverageResponseSchema, {
  cameras: [
    { cameraId: "cam-c", villageId: "v1", state: CoverageState.COVERED, events: 12n },
    {
      cameraId: "cam-b",
      villageId: "v1",
      state: CoverageState.OFFLINE,
      offline: [
        { start: timestampFromMs(T0 + 40 * MIN), end: timestampFromMs(T0 + 60 * MIN) },
        { start: timestampFromMs(T0), end: timestampFromMs(T0 + 5 * MIN) },
      ],
    },
    { cameraId: "cam-a", villageId: "v2", state: CoverageState.SILENT },
    { cameraId: "cam-d", villageId: "v2", state: CoverageState.UNKNOWN },
  ],
});

describe("coverage of a search", () => {
  it("is explained when the result is empty or thin, and on its last page", () => {
    assert.ok(isThin(0, false));
    assert.ok(isThin(9, false));
    assert.ok(!isThin(10, false));
    assert.ok(!isThin(3, true), "more pages: not thin");
  });

  it("sorts the cameras into offline, silent and unknown, by id", () => {
    const spots = blindSpots(coverage);
    assert.equal(spots.cameras, 4);
    assert.deepEqual(spots.offline.map((s) => s.cameraId), ["cam-b"]);
    assert.deepEqual(spots.silent.map((s) => s.cameraId), ["cam-a"]);
    assert.deepEqual(spots.unknown.map((s) => s.cameraId), ["cam-d"]);
    assert.deepEqual(spots.offline[0]?.offline.map((p) => (p.startMs - T0) / MIN), [0, 40], "oldest first");
    assert.equal(spotsById(coverage).get("cam-c")?.events, 12);
  });

  it("keeps to the cameras the search named", () => {
    const spots = blindSpots(coverage, ["cam-a", "cam-c"]);
    assert.equal(spots.cameras, 2);
    assert.deepEqual(spots.offline, []);
    assert.deepEqual(spots.silent.map((s) => s.cameraId), ["cam-a"]);
  });

  it("names every offline camera with when it was offline, in both languages", () => {
    const vi = coverageMessage("vi", blindSpots(coverage), 0);
    assert.ok(vi.heading.startsWith("Không có sự kiện nào."), vi.heading);
    assert.ok(vi.heading.includes("1 camera mất kết nối"), vi.heading);
    assert.equal(vi.offline.length, 1);
    // T0 is 00:30 on 07/12 in Vietnam.
    assert.deepEqual(vi.offline[0], {
      cameraId: "cam-b",
      text: "mất kết nối 00:30 07/12 → 00:35 07/12 (5 phút); 01:10 07/12 → 01:30 07/12 (20 phút)",
    });
    assert.deepEqual(vi.silent, [{ cameraId: "cam-a", text: "hoạt động nhưng không ghi nhận sự kiện nào" }]);
    const en = coverageMessage("en", blindSpots(coverage), 3);
    assert.equal(
      en.heading,
      "Only 3 events. In this window, of 4 cameras: 1 offline, 1 silent (online but reporting no events), 1 never heard from.",
    );
    const offlineOnly = coverageMessage("vi", blindSpots(coverage, ["cam-b", "cam-c"]), 0);
    assert.equal(offlineOnly.heading, "Không có sự kiện nào. Trong khoảng thời gian này, trên 2 camera: 1 camera mất kết nối.");
    assert.ok(en.offline[0]?.text.startsWith("offline 00:30 07/12"));
  });

  it("says so when every camera was watching, or there are none", () => {
    const covered = blindSpots(coverage, ["cam-c"]);
    assert.match(coverageMessage("en", covered, 0).heading, /All 1 cameras were watching/);
    assert.match(coverageMessage("vi", blindSpots(create(CoverageResponseSchema, {})), 0).heading, /không có camera/);
  });

  it("spells out long periods in hours and minutes", () => {
    assert.equal(describePeriod("en", { startMs: T0, endMs: T0 + 125 * MIN }), "00:30 07/12 → 02:35 07/12 (2 h 5 min)");
    assert.equal(describePeriod("vi", { startMs: T0, endMs: T0 + 60 * MIN }), "00:30 07/12 → 01:30 07/12 (1 giờ)");
    assert.equal(describePeriod("vi", { startMs: T0, endMs: T0 + 61 * MIN }), "00:30 07/12 → 01:31 07/12 (1 giờ 1 phút)");
  });
});
