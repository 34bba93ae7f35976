/**
 * Time axes without the DOM: where periods (a camera's offline spells)
 * fall along a window, and where the ticks go, at whole hours or days of
 * Vietnam's clock.
 */

import type { Period } from "./coverage";
import { DAY_MS, HOUR_MS, zoneOffsetMs } from "./time";

/** A period placed on an axis: `left` and `width` are fractions of the window (0..1). */
export interface Segment {
  readonly left: number;
  readonly width: number;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * `periods` clipped to `window`, overlapping or touching ones merged, as
 * fractions of the window, oldest first; a segment is at least `minWidth`
 * wide so a short outage stays visible.
 */
export function layoutPeriods(periods: readonly Period[], window: Period, minWidth = 0.003): Segment[] {
  const span = window.endMs - window.startMs;
  if (span <= 0) {
    return [];
  }
  const clipped = periods
    .map((p) => ({ startMs: Math.max(p.startMs, window.startMs), endMs: Math.min(p.endMs, window.endMs) }))
    .filter((p) => p.endMs > p.startMs)
    .sort((a, b) => a.startMs - b.startMs);
  const merged: { startMs: number; endMs: number }[] = [];
  for (const p of clipped) {
    const last = merged[merged.length - 1];
    if (last && p.startMs <= last.endMs) {
      last.endMs = Math.max(last.endMs, p.endMs);
    } else {
      merged.push({ ...p });
    }
  }
  return merged.map((p) => {
    const left = (p.startMs - window.startMs) / span;
    const width = Math.max((p.endMs - p.startMs) / span, minWidth);
    return { left: Math.min(left, 1 - width), width: Math.min(width, 1), startMs: p.startMs, endMs: p.endMs };
  });
}

/** Tick steps, shortest first. */
const STEPS = [HOUR_MS, 2 * HOUR_MS, 3 * HOUR_MS, 6 * HOUR_MS, 12 * HOUR_MS, DAY_MS, 2 * DAY_MS, 7 * DAY_MS];

/**
 * Ticks inside `window` at whole steps of Vietnam's clock (hours, or
 * midnights), the shortest step giving at most `maxTicks`.
 */
export function timeTicks(window: Period, maxTicks = 8): number[] {
  const span = window.endMs - window.startMs;
  if (span <= 0 || maxTicks < 1) {
    return [];
  }
  const step = STEPS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / DAY_MS) * DAY_MS;
  // Steps are aligned on Vietnam's wall clock: shift, round up, shift back.
  const offset = zoneOffsetMs(window.startMs);
  let tick = Math.ceil((window.startMs + offset) / step) * step - offset;
  const ticks: number[] = [];
  while (tick < window.endMs && ticks.length <= maxTicks) {
    ticks.push(tick);
    tick += step;
  }
  return ticks;
}

/** Where `ms` falls along `window`, 0..1 (clamped). */
export function fraction(ms: number, window: Period): number {
  const span = window.endMs - window.startMs;
  return span > 0 ? Math.min(1, Math.max(0, (ms - window.startMs) / span)) : 0;
}
