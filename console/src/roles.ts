/**
 * What the signed-in role may do, so the console hides what it cannot
 * (the server enforces the same rules: `services/api/src/auth.rs`,
 * `Caller::require`), and which moves an alert's state still admits
 * (`services/lib/alerting`, `Lifecycle::apply`).
 */

import { Role } from "./gen/vigil/v1/operations_pb";
import type { StateName } from "./names";

/** The server's `auth::Action`s: what a call does, for the role check. */
export const ACTIONS = [
  /** Events, counts, coverage, fleet status, live alerts. */
  "read_events",
  /** Zones, teams, cameras, the watchlist. */
  "read_registry",
  "search_plates",
  "manage_watchlist",
  "create_extraction",
  "read_extractions",
  "read_audit",
  /** Stored alerts and their histories. */
  "read_alerts",
  /** Acknowledge, assign, annotate and close alerts. */
  "act_on_alerts",
] as const;
export type Action = (typeof ACTIONS)[number];

/** `Caller::require`'s table. */
const ALLOWED: Readonly<Record<Role, (action: Action) => boolean>> = {
  [Role.PROVINCE_OPERATOR]: (action) => action !== "read_audit",
  [Role.COMMUNE_POLICE]: (action) => action !== "read_audit",
  [Role.TEAM_CAPTAIN]: (action) =>
    ["read_events", "read_registry", "read_alerts", "act_on_alerts"].includes(action),
  [Role.AUDITOR]: (action) => ["read_audit", "read_extractions", "read_registry", "read_alerts"].includes(action),
  [Role.UNSPECIFIED]: () => false,
};

/** Whether `role` may do `action` (an unknown role may do nothing). */
export function may(role: Role, action: Action): boolean {
  return (ALLOWED[role] as ((action: Action) => boolean) | undefined)?.(action) ?? false;
}

/**
 * Whether `role` works at commune level or above: a team captain's scope
 * is one village, so a commune's page (its fleet, its map) lies outside it.
 */
export function seesCommunes(role: Role): boolean {
  return may(role, "read_events") && role !== Role.TEAM_CAPTAIN;
}

/** The moves a person makes on an alert. */
export const ALERT_ACTIONS = ["acknowledge", "assign", "note", "close"] as const;
export type AlertAction = (typeof ALERT_ACTIONS)[number];

/** The moves `role` may make on alerts in its scope: all of them or none. */
export function alertActions(role: Role): ReadonlySet<AlertAction> {
  return new Set(may(role, "act_on_alerts") ? ALERT_ACTIONS : []);
}

/**
 * Whether `role` may open the live alert stream (StreamAlerts is a
 * QueryService call: `Action::ReadEvents`). An auditor reads stored
 * alerts only.
 */
export function streamsAlerts(role: Role): boolean {
  return may(role, "read_events");
}

/**
 * Whether an alert in `state` still admits `action`: acknowledging only
 * before anyone did; a closed alert takes notes only. Closing an alert that
 * is not acknowledged yet stays possible in the console, so the server's
 * refusal ("acknowledge it first") reaches the person in words.
 */
export function admits(state: StateName, action: AlertAction): boolean {
  switch (action) {
    case "acknowledge":
      return state === "raised" || state === "notified" || state === "escalated";
    case "note":
      return true;
    case "assign":
    case "close":
      return state !== "closed";
  }
}
