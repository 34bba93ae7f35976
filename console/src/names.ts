/**
 * The API's enums by the lower-case names the server writes in change
 * records, history and audit ("acknowledged", "false_positive"), which are
 * also the console's dictionary keys and `data-state` values.
 */

import { AlertOutcome, AlertState } from "./gen/vigil/v1/alerting_pb";
import { DetectionKind } from "./gen/vigil/v1/detection_pb";
import { Role } from "./gen/vigil/v1/operations_pb";
import { CoverageState } from "./gen/vigil/v1/query_pb";
import { AlertKind, Heartbeat_LinkState } from "./gen/vigil/v1/stream_pb";

/** Alert states in lifecycle order: a state never goes back to an earlier one. */
export const STATES = ["raised", "notified", "escalated", "acknowledged", "closed"] as const;
export type StateName = (typeof STATES)[number];

/** How a closed alert ended. */
export const OUTCOMES = ["confirmed", "false_positive", "no_action", "duplicate"] as const;
export type OutcomeName = (typeof OUTCOMES)[number];

export const KINDS = ["unspecified", "watchlist", "camera_offline", "camera_online"] as const;
export type KindName = (typeof KINDS)[number];

export const ROLES = ["unspecified", "province_operator", "commune_police", "team_captain", "auditor"] as const;
export type RoleName = (typeof ROLES)[number];

/** `name` (any case) if it is one of `names`. */
export function parseName<N extends string>(names: readonly N[], name: string | undefined): N | undefined {
  const lower = name?.toLowerCase();
  return names.find((known) => known === lower);
}

/** A stored alert's state; an unknown value reads as raised. */
export function stateName(state: AlertState): StateName {
  return parseName(STATES, AlertState[state]) ?? "raised";
}

/** A stored alert's outcome, or undefined while it has none. */
export function outcomeName(outcome: AlertOutcome): OutcomeName | undefined {
  return parseName(OUTCOMES, AlertOutcome[outcome]);
}

/** The enum value a CloseAlert request carries for `outcome`. */
export function outcomeValue(outcome: OutcomeName): AlertOutcome {
  const values: Record<OutcomeName, AlertOutcome> = {
    confirmed: AlertOutcome.CONFIRMED,
    false_positive: AlertOutcome.FALSE_POSITIVE,
    no_action: AlertOutcome.NO_ACTION,
    duplicate: AlertOutcome.DUPLICATE,
  };
  return values[outcome];
}

export function kindName(kind: AlertKind): KindName {
  return parseName(KINDS, AlertKind[kind]) ?? "unspecified";
}

export function roleName(role: Role): RoleName {
  return parseName(ROLES, Role[role]) ?? "unspecified";
}

/** What a camera's analytics saw (DetectionKind), unspecified left out. */
export const DETECTION_KINDS = [
  "vehicle",
  "plate",
  "person",
  "intrusion",
  "loitering",
  "fire_smoke",
  "crowd",
  "tamper",
] as const;
export type DetectionKindName = (typeof DETECTION_KINDS)[number];

/** A detection kind's name; undefined for unspecified or unknown values. */
export function detectionKindName(kind: DetectionKind): DetectionKindName | undefined {
  return parseName(DETECTION_KINDS, DetectionKind[kind]);
}

/** The enum value of a detection kind's name. */
export function detectionKindValue(name: DetectionKindName): DetectionKind {
  return DetectionKind[name.toUpperCase() as keyof typeof DetectionKind];
}

/** Whether a camera watched over a window (CoverageState); also its `data-state`. */
export const COVERAGE_STATES = ["covered", "silent", "offline", "unknown"] as const;
export type CoverageName = (typeof COVERAGE_STATES)[number];

/** A coverage state's name; unspecified reads as unknown. */
export function coverageName(state: CoverageState): CoverageName {
  return parseName(COVERAGE_STATES, CoverageState[state]) ?? "unknown";
}

/** An edge link's state as its heartbeat reports it. */
export const LINK_STATES = ["unspecified", "up", "degraded", "down"] as const;
export type LinkName = (typeof LINK_STATES)[number];

export function linkName(state: Heartbeat_LinkState): LinkName {
  return parseName(LINK_STATES, Heartbeat_LinkState[state]) ?? "unspecified";
}
