import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Role } from "../src/gen/vigil/v1/operations_pb";
import { ALERT_ACTIONS, admits, alertActions, streamsAlerts } from "../src/roles";

describe("what a role may do", () => {
  it("lets the roles on duty make every move, and an auditor none", () => {
    for (const role of [Role.PROVINCE_OPERATOR, Role.COMMUNE_POLICE, Role.TEAM_CAPTAIN]) {
      assert.deepEqual([...alertActions(role)], [...ALERT_ACTIONS], Role[role]);
      assert.ok(streamsAlerts(role));
    }
    for (const role of [Role.AUDITOR, Role.UNSPECIFIED]) {
      assert.equal(alertActions(role).size, 0, Role[role]);
      assert.ok(!streamsAlerts(role));
    }
  });

  it("follows the lifecycle: acknowledge once, a closed alert takes notes only", () => {
    assert.ok(admits("notified", "acknowledge"));
    assert.ok(admits("escalated", "acknowledge"));
    assert.ok(!admits("acknowledged", "acknowledge"));
    assert.ok(admits("acknowledged", "close"));
    assert.ok(admits("notified", "close"), "the server says why it refuses");
    for (const action of ["acknowledge", "assign", "close"] as const) {
      assert.ok(!admits("closed", action), action);
    }
    assert.ok(admits("closed", "note"));
  });
});
