/**
 * What the signed-in role may do on an alert, so the console hides what it
 * cannot (the server enforces the same rules: `services/api/src/auth.rs`,
 * `Action::ActOnAlerts`), and which moves an alert's state still admits
 * (`services/lib/alerting`, `Lifecycle::apply`).
 */

import { Role } from "./gen/vigil/v1/operations_pb";
import type { StateName } from "./names";

/** The moves a person makes on an alert. */
export const ALERT_ACTIONS = ["acknowledge", "assign", "note", "close"] as const;
export type AlertAction = (typeof ALERT_ACTIONS)[number];

/**
 * The roles on duty: they read events (so the live alert stream is theirs,
 * `Action::ReadEvents`) and act on alerts (`Action::ActOnAlerts`). An
 * auditor reads stored alerts only.
 */
const ON_DUTY: ReadonlySet<Role> = new Set([Role.PROVINCE_OPERATOR, Role.COMMUNE_POLICE, Role.TEAM_CAPTAIN]);

/** The moves `role` may make on alerts in its scope: all of them or none. */
export function alertActions(role: Role): ReadonlySet<AlertAction> {
  return new Set(ON_DUTY.has(role) ? ALERT_ACTIONS : []);
}

/** Whether `role` may open the live alert stream. */
export function streamsAlerts(role: Role): boolean {
  return ON_DUTY.has(role);
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
