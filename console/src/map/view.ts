/**
 * A zone drawn as SVG, with no tile server: its outline and its children's
 * (a province's communes, a commune's villages) from the registry's
 * GeoJSON, its cameras as dots coloured by coverage over the last hour,
 * the live queue's open alerts ringed at their cameras, and optionally a
 * path (a plate's sightings). Ten thousand cameras are a few `<path>`
 * elements, one per state, each dot a small filled square (see `dotsPath`).
 * Wheel zooms, dragging pans, a double click fits the zone again; a click
 * on a commune opens its page.
 */

import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import { SLOW_CALL_MS } from "../api";
import { showFailure, type Context } from "../context";
import { spotsById, type CameraSpot } from "../coverage";
import { h, svg, type View } from "../dom";
import {
  BBoxBuilder,
  Projection,
  dotsPath,
  nearest,
  onGlobe,
  outlinePath,
  type BBox,
  type Outline,
} from "../geo";
import type { CameraState, CoverageResponse } from "../gen/vigil/v1/query_pb";
import type { Camera, Zone } from "../gen/vigil/v1/registry_pb";
import { formatNumber, tr } from "../locale";
import { COVERAGE_STATES, coverageName, type CoverageName } from "../names";
import { seesCommunes } from "../roles";
import { HOUR_MS } from "../time";
import { Status, Words } from "../ui";
import { levelOf } from "../zones";

export interface MapOptions {
  /** Colour the cameras by Coverage over the last hour; else they are drawn plain. */
  readonly coverage: boolean;
  /** Ring the open alerts of the live queue. */
  readonly alerts: boolean;
  /** The zone's own outline opens its page when it is a commune (not on that page itself). */
  readonly linkScope?: boolean;
  /** Told each camera's coverage once it is known (the commune page lists them). */
  readonly onCoverage?: (spots: ReadonlyMap<string, CameraSpot>) => void;
}

/** A point of a drawn path: where, and its label (a sighting's number). */
export interface PathPoint {
  readonly lon: number;
  readonly lat: number;
  readonly label: string;
}

/**
 * How a camera is drawn: its coverage over the last hour; "online" (now,
 * from FleetStatus) until coverage says covered or silent; "pending" before
 * either is known; "plain" when coverage is not asked (the plate's map).
 */
type DotState = CoverageName | "online" | "pending" | "plain";
const DOT_STATES: readonly DotState[] = [...COVERAGE_STATES, "online", "pending", "plain"];
/** Drawn bottom to top: trouble on top. */
const PAINT_ORDER: readonly DotState[] = ["plain", "pending", "unknown", "online", "covered", "silent", "offline"];

/** Coverage is asked again after this long while the map is on screen. */
const COVERAGE_TTL_MS = 5 * 60_000;
/** Pointer distance (screen px) within which a camera is "under" it. */
const HOVER_PX = 8;
const MIN_ZOOM_WIDTH = 10;
/** Dots' size on screen (px); fewer cameras than SPARSE get larger, round dots. */
const DOT_PX = 4;
const SPARSE_DOT_PX = 9;
const SPARSE = 300;

/** The cameras drawn, in parallel arrays (ten thousand objects are not needed). */
interface Dots {
  readonly ids: string[];
  readonly villages: string[];
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  readonly states: DotState[];
}

export class MapView implements View {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly svgEl: SVGSVGElement;
  private readonly zoneLayer = svg("g", { class: "map-zones" });
  private readonly dotLayer = svg("g", { class: "map-cameras" });
  private readonly alertLayer = svg("g", { class: "map-alerts" });
  private readonly pathLayer = svg("g", { class: "map-path" });
  private readonly dotPaths = new Map<DotState, SVGPathElement>();
  private readonly legend = h("ul", { class: "map-legend" });
  private readonly tooltip = h("div", { class: "map-tooltip", hidden: true });
  private readonly status = new Status();
  private projection: Projection | undefined;
  private dots: Dots = { ids: [], villages: [], xs: new Float64Array(), ys: new Float64Array(), states: [] };
  private index = new Map<string, number>();
  private coverageAt = 0;
  private coverageBusy = false;
  private loading: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private path: readonly PathPoint[] = [];
  private view = { x: 0, y: 0, width: 1000, height: 600 };
  private drag: { x: number; y: number; moved: boolean } | undefined;
  /** The dots' size in map units as last drawn. */
  private dotUnits = 1;
  private dotsQueued = false;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly zoneId: string,
    private readonly options: MapOptions,
  ) {
    this.svgEl = svg(
      "svg",
      {
        class: "map",
        "data-testid": "map",
        "data-zone-id": zoneId,
        role: "img",
        viewBox: "0 0 1000 600",
      },
      this.zoneLayer,
      this.dotLayer,
      this.alertLayer,
      this.pathLayer,
    );
    for (const state of PAINT_ORDER) {
      const path = svg("path", { class: `cam cam-${state}`, d: "" });
      this.dotPaths.set(state, path);
      this.dotLayer.append(path);
    }
    this.el = h(
      "div",
      { class: "map-box" },
      this.status.el,
      h("div", { class: "map-frame" }, this.svgEl, this.tooltip),
      this.legend,
    );
    this.words.attr(this.svgEl, "aria-label", "map.label");
    this.listen();
    new ResizeObserver(() => this.resizeDots()).observe(this.svgEl);
  }

  /** Draws the map (once; later calls wait for the same drawing). */
  load(): Promise<void> {
    this.loading ??= this.draw();
    return this.loading;
  }

  /** Asks for coverage again if the last answer is older than a few minutes (or `now`). */
  refreshIfStale(now = false): void {
    if (this.options.coverage && this.projection && (now || Date.now() - this.coverageAt > COVERAGE_TTL_MS)) {
      void this.colour();
    }
  }

  /** Draws `points` joined in order, numbered; none clears the path. */
  showPath(points: readonly PathPoint[]): void {
    this.path = points;
    this.drawPath();
  }

  /** Keeps the colours current while the map is on screen (coverage is asked every few minutes). */
  watch(on: boolean): void {
    clearInterval(this.timer);
    const tick = () => {
      // A drawing that failed (the API restarting) is tried again.
      void this.load();
      this.refreshIfStale();
    };
    this.timer = on ? setInterval(tick, 60_000) : undefined;
    if (on) {
      tick();
    }
  }

  /** Stops following the live queue and the clock. */
  stop(): void {
    this.watch(false);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  retranslate(): void {
    this.words.apply();
    this.status.retranslate();
    this.drawLegend();
  }

  private async draw(): Promise<void> {
    const started = performance.now();
    this.status.busy();
    try {
      const zone = await this.ctx.zones.find(this.zoneId);
      if (!zone) {
        this.status.note(() => tr("map.noZone", { zone: this.zoneId }));
        this.svgEl.dataset.rendered = "1";
        return;
      }
      const level = levelOf(zone);
      // Asked at once: on a province it takes longest (every camera's
      // history), and needs nothing drawn. FleetStatus (one scan) colours
      // the cameras online, offline or unknown meanwhile.
      const coverage = this.options.coverage ? this.askCoverage() : undefined;
      const fleet = this.options.coverage
        ? this.ctx.api.query.fleetStatus({ zoneId: this.zoneId, includeCameras: true })
        : undefined;
      // Until they are awaited below, failures are not unhandled.
      coverage?.catch(() => undefined);
      fleet?.catch(() => undefined);
      const [children, cameras] = await Promise.all([
        level === "village" ? Promise.resolve([]) : this.ctx.zones.children(zone.id),
        this.ctx.zones.cameras(zone.id),
      ]);
      this.drawZones(zone, children, cameras);
      this.placeCameras(cameras);
      this.status.clear();
      if (this.options.alerts) {
        this.unsubscribe ??= this.ctx.alerts.subscribe(() => this.drawAlerts());
        this.drawAlerts();
      }
      this.drawPath();
      void fleet?.then(
        (now) => this.colourNow(now.cameras, started),
        () => undefined,
      );
      if (coverage) {
        await this.colour(coverage);
      }
      this.painted(started);
      this.svgEl.dataset.rendered = "1";
      this.svgEl.dataset.renderMs = String(Math.round(performance.now() - started));
    } catch (error) {
      showFailure(this.ctx, this.status, error);
      this.svgEl.dataset.rendered = "1";
      // A later visit tries again.
      this.loading = undefined;
    }
  }

  /** The outlines, and the projection they (or the cameras) fit. */
  private drawZones(zone: Zone, children: readonly Zone[], cameras: readonly Camera[]): void {
    const outline = this.ctx.zones.outline(zone);
    const outlines: [Zone, Outline][] = children.flatMap((child) => {
      const o = this.ctx.zones.outline(child);
      return o ? [[child, o] as [Zone, Outline]] : [];
    });
    const box = new BBoxBuilder();
    if (outline) {
      box.outline(outline);
    } else {
      outlines.forEach(([, o]) => box.outline(o));
      cameras.forEach((camera) => placed(camera) && box.point(camera.longitude, camera.latitude));
    }
    const bbox: BBox = box.bbox ?? { minLon: 105, minLat: 19.5, maxLon: 106, maxLat: 20.5 };
    const projection = new Projection(bbox);
    this.projection = projection;
    this.view = { x: 0, y: 0, width: projection.width, height: projection.height };
    this.applyView();
    const clickable = seesCommunes(this.ctx.me.role);
    const shapes: SVGElement[] = [];
    if (outline) {
      const link = clickable && levelOf(zone) === "commune" && this.options.linkScope === true;
      shapes.push(this.shape(zone, outline, projection, "zone-scope", link));
    }
    for (const [child, o] of outlines) {
      shapes.push(this.shape(child, o, projection, `zone-${levelOf(child)}`, clickable && levelOf(child) === "commune"));
    }
    this.zoneLayer.replaceChildren(...shapes);
    this.svgEl.dataset.zones = String(outlines.length);
  }

  private shape(zone: Zone, outline: Outline, projection: Projection, className: string, link: boolean): SVGElement {
    const commune = levelOf(zone) === "commune";
    const path = svg(
      "path",
      {
        class: `zone ${className}${link ? " zone-link" : ""}`,
        d: outlinePath(outline, projection),
        "fill-rule": "evenodd",
        "data-testid": commune ? "map-commune" : levelOf(zone) === "village" ? "map-village" : "map-province",
        "data-zone-id": zone.id,
      },
      svg("title", {}, zone.name || zone.id),
    );
    return path;
  }

  /** Projects the cameras with a position; they are drawn "pending" until coloured. */
  private placeCameras(cameras: readonly Camera[]): void {
    const projection = this.projection;
    if (!projection) {
      return;
    }
    const drawn = cameras.filter(placed);
    const dots: Dots = {
      ids: drawn.map((c) => c.id),
      villages: drawn.map((c) => c.zoneId),
      xs: Float64Array.from(drawn, (c) => projection.x(c.longitude)),
      ys: Float64Array.from(drawn, (c) => projection.y(c.latitude)),
      states: drawn.map(() => (this.options.coverage ? "pending" : "plain")),
    };
    this.dots = dots;
    this.index = new Map(dots.ids.map((id, i) => [id, i]));
    this.svgEl.dataset.cameras = String(drawn.length);
    this.drawDots();
  }

  /** Colours the cameras by Coverage over the last hour. */
  private async colour(asked?: Promise<CoverageResponse>): Promise<void> {
    if (this.coverageBusy) {
      return;
    }
    this.coverageBusy = true;
    try {
      const coverage = await (asked ?? this.askCoverage());
      const spots = spotsById(coverage);
      this.dots.ids.forEach((id, i) => {
        this.dots.states[i] = spots.get(id)?.state ?? "unknown";
      });
      this.coverageAt = Date.now();
      this.drawDots();
      this.options.onCoverage?.(spots);
      if (this.status.el.dataset.code) {
        this.status.clear();
      }
    } catch (error) {
      showFailure(this.ctx, this.status, error);
    } finally {
      this.coverageBusy = false;
    }
  }

  /**
   * Colours the cameras by their state now (FleetStatus) until coverage
   * comes: online ones are not yet known to be covered or silent.
   */
  private colourNow(cameras: readonly CameraState[], started: number): void {
    if (this.coverageAt) {
      return;
    }
    const now = new Map(cameras.map((camera) => [camera.cameraId, coverageName(camera.state)]));
    this.dots.ids.forEach((id, i) => {
      const state = now.get(id);
      this.dots.states[i] = state === "covered" ? "online" : (state ?? "unknown");
    });
    this.drawDots();
    this.painted(started);
  }

  /** Notes when the cameras were first drawn in colour (`data-first-paint-ms`). */
  private painted(started: number): void {
    this.svgEl.dataset.firstPaintMs ??= String(Math.round(performance.now() - started));
  }

  /** Coverage of the zone over the last hour. */
  private askCoverage(): Promise<CoverageResponse> {
    const now = this.ctx.api.now();
    return this.ctx.api.query.coverage(
      { zoneId: this.zoneId, window: { start: timestampFromMs(now - HOUR_MS), end: timestampFromMs(now) } },
      { timeoutMs: SLOW_CALL_MS },
    );
  }

  /** The cameras, one path per state; dots keep their size on screen, whatever the zoom. */
  private drawDots(): void {
    const { xs, ys, states } = this.dots;
    const sparse = states.length < SPARSE;
    this.dotUnits = (sparse ? SPARSE_DOT_PX : DOT_PX) * this.unitsPerPx();
    const points = new Map<DotState, [number, number][]>(DOT_STATES.map((s) => [s, []]));
    states.forEach((state, i) => points.get(state)?.push([xs[i] as number, ys[i] as number]));
    for (const [state, list] of points) {
      this.dotPaths.get(state)?.setAttribute("d", dotsPath(list, this.dotUnits, sparse ? "round" : "square"));
    }
    this.drawLegend();
  }

  /** Draws the dots again (next frame) when zoom or size changed theirs by more than a little. */
  private resizeDots(): void {
    if (this.dotsQueued || this.dots.states.length === 0) {
      return;
    }
    const wanted = (this.dots.states.length < SPARSE ? SPARSE_DOT_PX : DOT_PX) * this.unitsPerPx();
    if (Math.abs(wanted / this.dotUnits - 1) < 0.15) {
      return;
    }
    this.dotsQueued = true;
    requestAnimationFrame(() => {
      this.dotsQueued = false;
      this.drawDots();
    });
  }

  private drawLegend(): void {
    const counts = new Map<DotState, number>();
    for (const state of this.dots.states) {
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    const items = DOT_STATES.filter((state) => (counts.get(state) ?? 0) > 0).map((state) =>
      h(
        "li",
        { class: `legend-${state}`, "data-state": state },
        h("span", { class: "swatch" }),
        `${tr(`coverage.${state}`)} (${formatNumber(counts.get(state) ?? 0)})`,
      ),
    );
    if (this.options.alerts) {
      const rings = this.alertLayer.childElementCount;
      items.push(h("li", { class: "legend-alert" }, h("span", { class: "swatch" }), `${tr("map.openAlerts")} (${rings})`));
    }
    this.legend.replaceChildren(...items);
  }

  /** A ring at each camera with open alerts, coloured by the most urgent. */
  private drawAlerts(): void {
    const byCamera = new Map<string, { priority: number; ids: string[] }>();
    for (const alert of this.ctx.alerts.open()) {
      if (!this.index.has(alert.cameraId)) {
        continue;
      }
      const seen = byCamera.get(alert.cameraId);
      const rank = alert.priority || 9;
      if (seen) {
        seen.priority = Math.min(seen.priority, rank);
        seen.ids.push(alert.alertId);
      } else {
        byCamera.set(alert.cameraId, { priority: rank, ids: [alert.alertId] });
      }
    }
    const rings: SVGElement[] = [];
    const unit = this.unit();
    for (const [cameraId, { priority, ids }] of byCamera) {
      const i = this.index.get(cameraId) ?? -1;
      const cx = this.dots.xs[i] ?? 0;
      const cy = this.dots.ys[i] ?? 0;
      rings.push(
        svg(
          "g",
          {
            class: `alert-ring prio-${priority > 3 ? "low" : priority}`,
            "data-testid": "map-alert",
            "data-camera-id": cameraId,
            "data-alert-ids": ids.join(","),
          },
          svg("circle", { class: "ring-pulse", cx, cy, r: 11 * unit }),
          svg("circle", { class: "ring", cx, cy, r: 7 * unit }),
          svg("title", {}, `${cameraId}: ${ids.length}`),
        ),
      );
    }
    this.alertLayer.replaceChildren(...rings);
    this.svgEl.dataset.alerts = String(rings.length);
    this.drawLegend();
  }

  private drawPath(): void {
    const projection = this.projection;
    if (!projection) {
      return;
    }
    const points = this.path.filter((p) => onGlobe(p.lon, p.lat) && !(p.lon === 0 && p.lat === 0));
    if (points.length === 0) {
      this.pathLayer.replaceChildren();
      return;
    }
    const xy = points.map((p) => [projection.x(p.lon), projection.y(p.lat)] as const);
    const d = xy.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`).join("");
    const line = svg("path", { class: "path-line", d, "data-testid": "plate-path", "data-points": points.length });
    const unit = this.unit();
    const marks = xy.map(([x, y], i) =>
      svg(
        "g",
        { class: `path-mark${i === 0 ? " path-first" : i === xy.length - 1 ? " path-last" : ""}` },
        svg("circle", { cx: x, cy: y, r: 11 * unit }),
        svg("text", { x, y, dy: "0.35em", "text-anchor": "middle", "font-size": 13 * unit }, points[i]?.label ?? ""),
      ),
    );
    this.pathLayer.replaceChildren(line, ...marks);
  }

  /** Zoom, pan, hover and clicks. */
  private listen(): void {
    const el = this.svgEl;
    el.addEventListener(
      "wheel",
      (event) => {
        if (!this.projection) {
          return;
        }
        event.preventDefault();
        const [x, y] = this.toMap(event.clientX, event.clientY);
        const factor = event.deltaY < 0 ? 0.8 : 1.25;
        this.zoom(x, y, factor);
      },
      { passive: false },
    );
    el.addEventListener("dblclick", () => {
      if (this.projection) {
        this.view = { x: 0, y: 0, width: this.projection.width, height: this.projection.height };
        this.applyView();
      }
    });
    el.addEventListener("pointerdown", (event) => {
      this.drag = { x: event.clientX, y: event.clientY, moved: false };
    });
    el.addEventListener("pointermove", (event) => {
      const drag = this.drag;
      if (drag && event.buttons === 1) {
        const dx = event.clientX - drag.x;
        const dy = event.clientY - drag.y;
        if (drag.moved || Math.abs(dx) + Math.abs(dy) > 4) {
          if (!drag.moved) {
            el.setPointerCapture(event.pointerId);
          }
          drag.moved = true;
          const perPx = this.unitsPerPx();
          this.view.x -= dx * perPx;
          this.view.y -= dy * perPx;
          drag.x = event.clientX;
          drag.y = event.clientY;
          this.applyView();
        }
        return;
      }
      this.hover(event);
    });
    el.addEventListener("pointerleave", () => (this.tooltip.hidden = true));
    el.addEventListener("pointerup", (event) => {
      const dragged = this.drag?.moved ?? false;
      this.drag = undefined;
      if (dragged) {
        return;
      }
      const target = event.target instanceof Element ? event.target.closest(".zone-link") : null;
      const zoneId = target?.getAttribute("data-zone-id");
      if (zoneId) {
        this.ctx.go({ page: "commune", zoneId });
      }
    });
  }

  private zoom(x: number, y: number, factor: number): void {
    const v = this.view;
    const width = Math.min(Math.max(v.width * factor, MIN_ZOOM_WIDTH), this.projection?.width ?? 1000);
    const f = width / v.width;
    this.view = { x: x - (x - v.x) * f, y: y - (y - v.y) * f, width, height: v.height * f };
    this.applyView();
  }

  private applyView(): void {
    const v = this.view;
    this.svgEl.setAttribute("viewBox", `${v.x.toFixed(2)} ${v.y.toFixed(2)} ${v.width.toFixed(2)} ${v.height.toFixed(2)}`);
    // Dots and lines keep their width on screen (non-scaling strokes);
    // rings and numbers are sized in map units, so they are drawn again.
    if (this.alertLayer.childElementCount > 0) {
      this.drawAlerts();
    }
    if (this.pathLayer.childElementCount > 0) {
      this.drawPath();
    }
    this.resizeDots();
  }

  /** Map units that look as large as one unit does when the whole zone shows. */
  private unit(): number {
    return this.projection ? this.view.width / this.projection.width : 1;
  }

  /** Map units per screen pixel. */
  private unitsPerPx(): number {
    const width = this.svgEl.clientWidth;
    const height = this.svgEl.clientHeight;
    // Not laid out yet (off screen): as if a unit were a pixel at full view.
    if (!width || !height) {
      return this.unit();
    }
    return Math.max(this.view.width / width, this.view.height / height);
  }

  /** Screen point to map units. */
  private toMap(clientX: number, clientY: number): [number, number] {
    const matrix = this.svgEl.getScreenCTM();
    if (!matrix) {
      return [0, 0];
    }
    const point = new DOMPoint(clientX, clientY).matrixTransform(matrix.inverse());
    return [point.x, point.y];
  }

  /** Names the camera under the pointer, if any. */
  private hover(event: PointerEvent): void {
    const [x, y] = this.toMap(event.clientX, event.clientY);
    const i = nearest(this.dots.xs, this.dots.ys, x, y, HOVER_PX * this.unitsPerPx());
    if (i < 0) {
      this.tooltip.hidden = true;
      return;
    }
    const state = this.dots.states[i] ?? "pending";
    const village = this.dots.villages[i] ?? "";
    this.tooltip.textContent = `${this.dots.ids[i] ?? ""} · ${this.ctx.zones.name(village)} · ${tr(`coverage.${state}`)}`;
    const frame = this.svgEl.getBoundingClientRect();
    this.tooltip.style.left = `${event.clientX - frame.left + 12}px`;
    this.tooltip.style.top = `${event.clientY - frame.top + 12}px`;
    this.tooltip.hidden = false;
  }
}

/** Whether the registry gave the camera a position (0, 0 is "not set"). */
function placed(camera: Camera): boolean {
  return onGlobe(camera.longitude, camera.latitude) && !(camera.longitude === 0 && camera.latitude === 0);
}
