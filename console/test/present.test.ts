import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { create } from "@bufbuild/protobuf";

import { isHighPriority, placeOf, plateOf, teamOf } from "../src/alerts/present";
import { AlertSchema } from "../src/gen/vigil/v1/stream_pb";
import { raise } from "./fixtures";

describe("what a row says", () => {
  it("names the place below the province, or gives its ids", () => {
    assert.equal(placeOf(raise("a1")), "Bá Thước › Lũng Cao");
    assert.equal(placeOf(create(AlertSchema, { communeId: "th.a", villageId: "th.a.v1" })), "th.a › th.a.v1");
    assert.equal(placeOf(create(AlertSchema, { communeId: "th.a" })), "th.a");
  });

  it("gives the team on duty with the phone when the server sent it", () => {
    assert.equal(teamOf(raise("a1")), "Tổ bảo vệ Lũng Cao · Hà Văn Minh · 0912 345 678");
    const noPhone = create(AlertSchema, { team: { teamName: "Tổ A", onDutyName: "B" } });
    assert.equal(teamOf(noPhone), "Tổ A · B");
    assert.equal(teamOf(create(AlertSchema, {})), "");
  });

  it("gives the plate of a watchlist hit", () => {
    assert.deepEqual(plateOf(raise("a1")), { plate: "36A12345", fuzzy: false });
    assert.equal(plateOf(create(AlertSchema, {})), undefined);
  });

  it("rings for priorities 1 and 2 only", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 5].map((priority) => isHighPriority(raise("a", { priority }))),
      [false, true, true, false, false],
    );
  });
});
