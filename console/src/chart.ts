/**
 * Event counts shaped for the charts, without the DOM: CountEvents' cells
 * stacked by hour and kind, totals per commune, a round scale and the
 * bars' rectangles.
 */

import { timestampMs } from "@bufbuild/protobuf/wkt";

import type { HourCount } from "./gen/vigil/v1/query_pb";
import type { Period } from "./coverage";
import { DETECTION_KINDS, detectionKindName, type DetectionKindName } from "./names";
import { HOUR_MS, floorHour } from "./time";

/** A kind as charted: a known detection kind, or "other" for unspecified and unknown values. */
export type ChartKind = DetectionKindName | "other";
const CHART_KINDS: readonly ChartKind[] = [...DETECTION_KINDS, "other"];

/** One cell of CountEvents, plain. */
export interface Cell {
  readonly zoneId: string;
  readonly hourMs: number;
  readonly kind: ChartKind;
  readonly count: number;
}

export function cellsOf(counts: readonly HourCount[]): Cell[] {
  return counts.map((c) => ({
    zoneId: c.zoneId,
    hourMs: c.hour ? timestampMs(c.hour) : 0,
    kind: detectionKindName(c.kind) ?? "other",
    count: Number(c.count),
  }));
}

/** One hour's bar: its count per kind (in the order of `Stacks.kinds`) and total. */
export interface HourStack {
  readonly hourMs: number;
  readonly counts: readonly number[];
  readonly total: number;
}

export interface Stacks {
  /** The kinds that occur, in a fixed order (so colours stay put). */
  readonly kinds: readonly ChartKind[];
  /** Every hour of the window, empty ones included, oldest first. */
  readonly hours: readonly HourStack[];
  /** The largest hour's total. */
  readonly max: number;
  readonly total: number;
}

/** Longest chart: 31 days of hours (CountEvents' limit). */
const MAX_HOURS = 31 * 24 + 1;

/** `cells` summed over zones, per hour of `window` and kind. */
export function stackByHour(cells: readonly Cell[], window: Period): Stacks {
  const present = new Set(cells.filter((c) => c.count > 0).map((c) => c.kind));
  const kinds = CHART_KINDS.filter((kind) => present.has(kind));
  const first = floorHour(window.startMs);
  const count = Math.min(MAX_HOURS, Math.max(0, Math.ceil((window.endMs - first) / HOUR_MS)));
  const grid = Array.from({ length: count }, () => new Array<number>(kinds.length).fill(0));
  for (const cell of cells) {
    const row = grid[Math.floor((cell.hourMs - first) / HOUR_MS)];
    const column = kinds.indexOf(cell.kind);
    if (row && column >= 0) {
      row[column] = (row[column] ?? 0) + cell.count;
    }
  }
  const hours = grid.map((counts, i) => ({
    hourMs: first + i * HOUR_MS,
    counts,
    total: counts.reduce((a, b) => a + b, 0),
  }));
  return {
    kinds,
    hours,
    max: hours.reduce((m, h) => Math.max(m, h.total), 0),
    total: hours.reduce((sum, h) => sum + h.total, 0),
  };
}

/** One zone's events over the window. */
export interface ZoneTotal {
  readonly zoneId: string;
  readonly total: number;
  readonly byKind: ReadonlyMap<ChartKind, number>;
}

/** Totals per zone, largest first (ties by id). */
export function totalsByZone(cells: readonly Cell[]): ZoneTotal[] {
  const zones = new Map<string, { total: number; byKind: Map<ChartKind, number> }>();
  for (const cell of cells) {
    let zone = zones.get(cell.zoneId);
    if (!zone) {
      zone = { total: 0, byKind: new Map() };
      zones.set(cell.zoneId, zone);
    }
    zone.total += cell.count;
    zone.byKind.set(cell.kind, (zone.byKind.get(cell.kind) ?? 0) + cell.count);
  }
  return [...zones.entries()]
    .map(([zoneId, zone]) => ({ zoneId, ...zone }))
    .sort((a, b) => b.total - a.total || a.zoneId.localeCompare(b.zoneId));
}

/** A scale from 0 to a round maximum at or above `max`, with its ticks. */
export function niceScale(max: number, maxTicks = 5): { max: number; ticks: number[] } {
  if (!(max > 0)) {
    return { max: 1, ticks: [0, 1] };
  }
  const rough = max / maxTicks;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const top = Math.round(Math.ceil(max / step) * step * 1e6) / 1e6;
  const ticks: number[] = [];
  for (let t = 0; t <= top + step / 2; t += step) {
    ticks.push(Math.round(t * 1e6) / 1e6);
  }
  return { max: top, ticks };
}

/** A rectangle of the plot, in its units (y grows down). */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A kind's share of an hour's bar. */
export interface Piece extends Rect {
  readonly kindIndex: number;
  readonly count: number;
}

/**
 * The pieces of each hour's bar on a plot `width` × `height`, stacked
 * bottom up in the order of the kinds, scaled to `scaleMax`; hours with no
 * events have no pieces.
 */
export function stackRects(stacks: Stacks, width: number, height: number, scaleMax: number): Piece[][] {
  const n = stacks.hours.length;
  if (n === 0) {
    return [];
  }
  const slot = width / n;
  const gap = slot > 4 ? Math.min(slot * 0.15, 3) : 0;
  const scale = scaleMax > 0 ? height / scaleMax : 0;
  return stacks.hours.map((hour, i) => {
    let top = height;
    const pieces: Piece[] = [];
    hour.counts.forEach((count, kindIndex) => {
      if (count > 0) {
        const h = count * scale;
        top -= h;
        pieces.push({ x: i * slot + gap / 2, y: top, width: slot - gap, height: h, kindIndex, count });
      }
    });
    return pieces;
  });
}
