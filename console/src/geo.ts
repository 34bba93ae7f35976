/**
 * Plane geometry for the map, without the DOM: zone outlines read from
 * GeoJSON text (checked, since it comes from an import), bounding boxes,
 * an equirectangular projection corrected by cos(latitude) (a province is
 * small enough for it), SVG path data, point-in-polygon and the nearest
 * point to the pointer.
 */

/** Longitude, latitude in degrees (GeoJSON's order). */
export type Position = readonly [number, number];
/** A closed ring: the first position repeated last. */
export type Ring = readonly Position[];
/** An outer ring, then its holes. */
export type Polygon = readonly Ring[];

/** A zone's outline: one or more polygons (a Polygon is a MultiPolygon of one). */
export interface Outline {
  readonly polygons: readonly Polygon[];
}

/** Limits on what one outline may hold; a hostile or broken import stops here. */
export interface OutlineLimits {
  /** Characters of the GeoJSON text. */
  readonly maxChars: number;
  /** Positions over all rings. */
  readonly maxPositions: number;
}

export const DEFAULT_LIMITS: OutlineLimits = { maxChars: 2_000_000, maxPositions: 100_000 };

/** Why an outline was not read. */
export type OutlineProblem = "empty" | "syntax" | "type" | "coordinates" | "too_large";

export type OutlineResult = { readonly outline: Outline } | { readonly problem: OutlineProblem };

/**
 * Reads a GeoJSON geometry object ("Polygon" or "MultiPolygon",
 * coordinates [lon, lat]): positions must be finite and on the globe,
 * rings closed with at least four positions (an open ring is closed
 * here), and the whole within `limits`. Extra members (bbox, crs) are
 * ignored; a Feature wrapping the geometry is accepted too.
 */
export function parseOutline(text: string, limits: OutlineLimits = DEFAULT_LIMITS): OutlineResult {
  if (!text.trim()) {
    return { problem: "empty" };
  }
  if (text.length > limits.maxChars) {
    return { problem: "too_large" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: "syntax" };
  }
  if (isObject(value) && value.type === "Feature") {
    value = value.geometry;
  }
  if (!isObject(value) || !Array.isArray(value.coordinates)) {
    return { problem: "type" };
  }
  const budget = { left: limits.maxPositions };
  let polygons: Polygon[] | undefined;
  if (value.type === "Polygon") {
    const polygon = readPolygon(value.coordinates, budget);
    polygons = polygon && [polygon];
  } else if (value.type === "MultiPolygon") {
    polygons = [];
    for (const item of value.coordinates as unknown[]) {
      const polygon = readPolygon(item, budget);
      if (!polygon) {
        polygons = undefined;
        break;
      }
      polygons.push(polygon);
    }
  } else {
    return { problem: "type" };
  }
  if (budget.left < 0) {
    return { problem: "too_large" };
  }
  if (!polygons || polygons.length === 0) {
    return { problem: "coordinates" };
  }
  return { outline: { polygons } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readPolygon(value: unknown, budget: { left: number }): Polygon | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    return undefined;
  }
  const rings: Ring[] = [];
  for (const item of value as unknown[]) {
    const ring = readRing(item, budget);
    if (!ring) {
      return undefined;
    }
    rings.push(ring);
  }
  return rings;
}

function readRing(value: unknown, budget: { left: number }): Ring | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  budget.left -= value.length;
  if (budget.left < 0) {
    return undefined;
  }
  const ring: Position[] = [];
  for (const item of value as unknown[]) {
    if (!Array.isArray(item) || item.length < 2) {
      return undefined;
    }
    const [lon, lat] = item as unknown[];
    if (typeof lon !== "number" || typeof lat !== "number" || !onGlobe(lon, lat)) {
      return undefined;
    }
    ring.push([lon, lat]);
  }
  const first = ring[0];
  const last = ring[ring.length - 1];
  if (first && last && (first[0] !== last[0] || first[1] !== last[1])) {
    ring.push(first);
  }
  return ring.length >= 4 ? ring : undefined;
}

/** Whether `lon`, `lat` are numbers naming a place on Earth. */
export function onGlobe(lon: number, lat: number): boolean {
  return (
    Number.isFinite(lon) &&
    Number.isFinite(lat) &&
    lon >= -180 &&
    lon <= 180 &&
    lat >= -90 &&
    lat <= 90
  );
}

/** A box in degrees. */
export interface BBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

/** Grows boxes point by point. */
export class BBoxBuilder {
  private box: BBox | undefined;

  /** Adds a point; one that is not on the globe (NaN, 200°) is ignored. */
  point(lon: number, lat: number): this {
    if (!onGlobe(lon, lat)) {
      return this;
    }
    const b = this.box;
    if (!b) {
      this.box = { minLon: lon, minLat: lat, maxLon: lon, maxLat: lat };
    } else {
      b.minLon = Math.min(b.minLon, lon);
      b.minLat = Math.min(b.minLat, lat);
      b.maxLon = Math.max(b.maxLon, lon);
      b.maxLat = Math.max(b.maxLat, lat);
    }
    return this;
  }

  outline(outline: Outline): this {
    for (const polygon of outline.polygons) {
      // The outer ring bounds its holes.
      for (const [lon, lat] of polygon[0] ?? []) {
        this.point(lon, lat);
      }
    }
    return this;
  }

  /** The box so far; undefined while empty. */
  get bbox(): BBox | undefined {
    return this.box && { ...this.box };
  }
}

/** The box around `outline`. */
export function bboxOf(outline: Outline): BBox | undefined {
  return new BBoxBuilder().outline(outline).bbox;
}

/**
 * Equirectangular projection onto a drawing `width` units wide: x grows
 * east, y grows south, longitudes shrunk by cos(latitude at the box's
 * middle) so shapes keep their proportions; `margin` units around the box.
 * The height follows from the box's shape (at least `minHeight`).
 */
export class Projection {
  readonly width: number;
  readonly height: number;
  private readonly scale: number;
  private readonly cos: number;
  private readonly x0: number;
  private readonly y0: number;

  constructor(bbox: BBox, width = 1000, margin = 20, minHeight = 200, maxHeight = 2000) {
    this.cos = Math.cos((((bbox.minLat + bbox.maxLat) / 2) * Math.PI) / 180);
    // A box of one point (or a line) still gets a small area.
    const spanX = Math.max((bbox.maxLon - bbox.minLon) * this.cos, 0.005);
    const spanY = Math.max(bbox.maxLat - bbox.minLat, 0.005);
    const inner = width - 2 * margin;
    this.scale = Math.min(inner / spanX, (maxHeight - 2 * margin) / spanY);
    this.width = width;
    this.height = Math.max(minHeight, Math.ceil(spanY * this.scale + 2 * margin));
    // Centred in both directions.
    const midLon = (bbox.minLon + bbox.maxLon) / 2;
    const midLat = (bbox.minLat + bbox.maxLat) / 2;
    this.x0 = width / 2 - midLon * this.cos * this.scale;
    this.y0 = this.height / 2 + midLat * this.scale;
  }

  x(lon: number): number {
    return this.x0 + lon * this.cos * this.scale;
  }

  y(lat: number): number {
    return this.y0 - lat * this.scale;
  }

  /** The degrees at drawing point `x`, `y`. */
  invert(x: number, y: number): Position {
    return [(x - this.x0) / (this.cos * this.scale), (this.y0 - y) / this.scale];
  }
}

/** A coordinate for path data: one decimal is finer than a screen pixel. */
function round(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

/**
 * SVG path data of `outline` under `projection`: one closed subpath per
 * ring (draw with fill-rule evenodd so holes stay open).
 */
export function outlinePath(outline: Outline, projection: Projection): string {
  const parts: string[] = [];
  for (const polygon of outline.polygons) {
    for (const ring of polygon) {
      let d = "";
      let previous = "";
      // The closing position repeats the first: "Z" closes instead.
      for (let i = 0; i < ring.length - 1; i++) {
        const [lon, lat] = ring[i] as Position;
        const point = `${round(projection.x(lon))} ${round(projection.y(lat))}`;
        if (point !== previous) {
          d += `${d ? "L" : "M"}${point}`;
          previous = point;
        }
      }
      if (d) {
        parts.push(`${d}Z`);
      }
    }
  }
  return parts.join("");
}

/**
 * Path data of a filled dot `size` wide at each point: ten thousand dots
 * make one element instead of ten thousand. Squares draw fastest (a tenth
 * of the time of round caps or arcs in Chromium's software renderer, which
 * wall-screen PCs often use), and at a few pixels look like dots; `round`
 * draws circles, for maps with few cameras.
 */
export function dotsPath(points: Iterable<readonly [number, number]>, size: number, shape: "square" | "round"): string {
  const s = round(size);
  const h = size / 2;
  let d = "";
  if (shape === "square") {
    for (const [x, y] of points) {
      d += `M${round(x - h)} ${round(y - h)}h${s}v${s}h-${s}z`;
    }
  } else {
    const r = round(h);
    for (const [x, y] of points) {
      d += `M${round(x - h)} ${round(y)}a${r} ${r} 0 1 0 ${s} 0a${r} ${r} 0 1 0-${s} 0`;
    }
  }
  return d;
}

/** Whether `point` lies inside `ring` (even-odd rule; on the edge may go either way). */
export function inRing(point: Position, ring: Ring): boolean {
  const [x, y] = point;
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as Position;
    const [xj, yj] = ring[j] as Position;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) {
      inside = !inside;
    }
  }
  return inside;
}

/** Whether `point` ([lon, lat]) lies in `outline`: in an outer ring and none of its holes. */
export function contains(outline: Outline, point: Position): boolean {
  return outline.polygons.some(
    (polygon) =>
      polygon.length > 0 && inRing(point, polygon[0] as Ring) && !polygon.slice(1).some((hole) => inRing(point, hole)),
  );
}

/** The index of the point of `xs`, `ys` nearest to `x`, `y` within `radius`; -1 if none. */
export function nearest(xs: ArrayLike<number>, ys: ArrayLike<number>, x: number, y: number, radius: number): number {
  let best = -1;
  let bestD = radius * radius;
  for (let i = 0; i < xs.length; i++) {
    const dx = (xs[i] as number) - x;
    const dy = (ys[i] as number) - y;
    const d = dx * dx + dy * dy;
    if (d <= bestD) {
      best = i;
      bestD = d;
    }
  }
  return best;
}
