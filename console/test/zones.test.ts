import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { create } from "@bufbuild/protobuf";

import { ZoneKind, ZoneSchema } from "../src/gen/vigil/v1/registry_pb";
import { levelOf, mapLimit } from "../src/zones";

describe("the zone directory's helpers", () => {
  it("group zone kinds into levels", () => {
    const level = (kind: ZoneKind) => levelOf(create(ZoneSchema, { kind }));
    assert.equal(level(ZoneKind.PROVINCE), "province");
    assert.equal(level(ZoneKind.COMMUNE), "commune");
    assert.equal(level(ZoneKind.WARD), "commune");
    for (const kind of [ZoneKind.VILLAGE, ZoneKind.HAMLET, ZoneKind.RESIDENTIAL_GROUP]) {
      assert.equal(level(kind), "village");
    }
  });

  it("run calls a few at a time, answers in order", async () => {
    let running = 0;
    let most = 0;
    const results = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, n));
      running--;
      return n * 10;
    });
    assert.deepEqual(results, [50, 10, 40, 20, 30, 0, 60]);
    assert.equal(most, 3);
    assert.deepEqual(await mapLimit([], 3, () => Promise.resolve(1)), []);
  });
});
