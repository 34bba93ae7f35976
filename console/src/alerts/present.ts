/**
 * What a row of the queue says, as plain text from the alert: where, which
 * team is on duty, which plate, and whether it is urgent enough to ring.
 */

import type { Alert } from "../gen/vigil/v1/stream_pb";

/** Separates the levels of a place, e.g. "Bá Thước › Lũng Cao". */
const LEVELS = " › ";

/**
 * The commune and village of the alert, by name when the alert carries its
 * zone path (province first, left out: the whole console is one
 * province), else by id; e.g. "Bá Thước › Lũng Cao".
 */
export function placeOf(alert: Alert): string {
  const names = alert.zonePath.length > 1 ? alert.zonePath.slice(1) : [alert.communeId, alert.villageId];
  return names.filter(Boolean).join(LEVELS);
}

/**
 * The responsible team, who is on duty and their phone (the server leaves
 * the phone out for roles that do not dispatch), e.g.
 * "Tổ bảo vệ Lũng Cao · Hà Văn Minh · 0912 345 678".
 */
export function teamOf(alert: Alert): string {
  const team = alert.team;
  return team ? [team.teamName, team.onDutyName, team.onDutyPhone].filter(Boolean).join(" · ") : "";
}

/** The watch-listed plate a watchlist alert is about, if any. */
export function plateOf(alert: Alert): { plate: string; fuzzy: boolean } | undefined {
  const hit = alert.hit;
  return hit?.plateNormalized ? { plate: hit.plateNormalized, fuzzy: hit.fuzzy } : undefined;
}

/**
 * Whether the alert sounds and shows a desktop notification: priority 1
 * or 2 (1 is highest; 0 is unset), the priorities the notifier escalates
 * on its shortest target (`services/lib/notify/src/escalation.rs`).
 */
export function isHighPriority(alert: Alert): boolean {
  return alert.priority === 1 || alert.priority === 2;
}
