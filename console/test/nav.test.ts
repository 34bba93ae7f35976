import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Role } from "../src/gen/vigil/v1/operations_pb";
import { allows, pagesFor, parseRoute, resolve, routeHash } from "../src/nav";
import { ACTIONS, may, seesCommunes } from "../src/roles";

describe("navigation by role", () => {
  it("offers each role the pages whose calls it may make (auth.rs)", () => {
    assert.deepEqual(pagesFor(Role.PROVINCE_OPERATOR), ["alerts", "map", "fleet", "events", "plate", "counts", "extractions"]);
    assert.deepEqual(pagesFor(Role.COMMUNE_POLICE), ["alerts", "map", "fleet", "events", "plate", "counts", "extractions"]);
    assert.deepEqual(pagesFor(Role.TEAM_CAPTAIN), ["alerts", "map", "fleet", "events", "counts"]);
    assert.deepEqual(pagesFor(Role.AUDITOR), ["alerts", "extractions", "audit"]);
    assert.deepEqual(pagesFor(Role.UNSPECIFIED), []);
  });

  it("opens a commune's page to operator and police only", () => {
    const commune = { page: "commune", zoneId: "th.ba-thuoc" } as const;
    assert.ok(allows(Role.PROVINCE_OPERATOR, commune));
    assert.ok(allows(Role.COMMUNE_POLICE, commune));
    assert.ok(!allows(Role.TEAM_CAPTAIN, commune));
    assert.ok(!allows(Role.AUDITOR, commune));
  });

  it("mirrors Caller::require", () => {
    const allowed = (role: Role) => ACTIONS.filter((action) => may(role, action));
    assert.deepEqual(allowed(Role.PROVINCE_OPERATOR), ACTIONS.filter((a) => a !== "read_audit"));
    assert.deepEqual(allowed(Role.TEAM_CAPTAIN), ["read_events", "read_registry", "read_alerts", "act_on_alerts"]);
    assert.deepEqual(allowed(Role.AUDITOR), ["read_registry", "read_extractions", "read_audit", "read_alerts"]);
    assert.deepEqual(allowed(Role.UNSPECIFIED), []);
    assert.deepEqual(allowed(99 as Role), [], "a role the console does not know");
    assert.ok(seesCommunes(Role.COMMUNE_POLICE) && !seesCommunes(Role.TEAM_CAPTAIN) && !seesCommunes(Role.AUDITOR));
  });
});

describe("addresses", () => {
  it("parse hash routes, and write them back", () => {
    assert.deepEqual(parseRoute("#/map"), { page: "map" });
    assert.deepEqual(parseRoute("#map"), { page: "map" });
    assert.deepEqual(parseRoute("#/commune/th.ba-thuoc"), { page: "commune", zoneId: "th.ba-thuoc" });
    assert.equal(parseRoute("#/commune/"), undefined);
    assert.equal(parseRoute("#/commune/a%20b"), undefined);
    assert.equal(parseRoute("#/commune/%E0%A4%A"), undefined);
    assert.equal(parseRoute("#/nowhere"), undefined);
    assert.equal(parseRoute("#/map/extra"), undefined);
    assert.equal(parseRoute(""), undefined);
    for (const hash of ["#/alerts", "#/audit", "#/commune/th.ba-thuoc.v012"]) {
      const route = parseRoute(hash);
      assert.ok(route);
      assert.equal(routeHash(route), hash);
    }
  });

  it("send a role where it may go", () => {
    assert.deepEqual(resolve(Role.AUDITOR, "#/audit"), { page: "audit" });
    assert.deepEqual(resolve(Role.AUDITOR, "#/map"), { page: "alerts" });
    assert.deepEqual(resolve(Role.TEAM_CAPTAIN, "#/plate"), { page: "alerts" });
    assert.deepEqual(resolve(Role.TEAM_CAPTAIN, "#/commune/th.a"), { page: "alerts" });
    assert.deepEqual(resolve(Role.PROVINCE_OPERATOR, "#/commune/th.a"), { page: "commune", zoneId: "th.a" });
    assert.deepEqual(resolve(Role.PROVINCE_OPERATOR, ""), { page: "alerts" });
    assert.deepEqual(resolve(Role.UNSPECIFIED, "#/map"), { page: "alerts" });
  });
});
