/**
 * Time windows of the searches, without the DOM: the quick choices
 * ("last hour", "last 7 days"), and whether a window the person typed
 * is one the server takes (start before end, not longer than the call
 * allows).
 */

import type { Period } from "./coverage";
import { DAY_MS, HOUR_MS, ceilMinute } from "./time";

/** Quick choices, by how far back they reach. */
export const PRESETS = {
  "1h": HOUR_MS,
  "6h": 6 * HOUR_MS,
  "24h": DAY_MS,
  "7d": 7 * DAY_MS,
  "31d": 31 * DAY_MS,
} as const;
export type PresetName = keyof typeof PRESETS;

/**
 * The window of `preset` ending now: it ends at the next whole minute
 * (the inputs show minutes), so what happened this minute is in it.
 */
export function presetWindow(preset: PresetName, nowMs: number): Period {
  const endMs = ceilMinute(nowMs + 1);
  return { startMs: endMs - PRESETS[preset], endMs };
}

/** Why a window cannot be sent; the values are dictionary keys. */
export type WindowProblem = "window.missing" | "window.order" | "window.tooLong";

/** What is wrong with the window `startMs`..`endMs` for a call allowing `maxDays`; undefined if nothing. */
export function checkWindow(
  startMs: number | undefined,
  endMs: number | undefined,
  maxDays: number,
): WindowProblem | undefined {
  if (startMs === undefined || endMs === undefined) {
    return "window.missing";
  }
  if (endMs <= startMs) {
    return "window.order";
  }
  if (endMs - startMs > maxDays * DAY_MS) {
    return "window.tooLong";
  }
  return undefined;
}
