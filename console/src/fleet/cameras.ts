/**
 * A table of cameras as FleetStatus and Coverage see them: state now,
 * coverage over a window, last heartbeat, edge buffer, link, and (on the
 * Fleet page) the window's offline periods on a timeline. Shared by the
 * Fleet page and a commune's page.
 */

import { msOf } from "../alerts/queue";
import { describePeriod, type CameraSpot, type Period } from "../coverage";
import { h, svg, type View } from "../dom";
import type { CameraState } from "../gen/vigil/v1/query_pb";
import type { MessageKey } from "../i18n";
import { currentLang, formatNumber, tr } from "../locale";
import { coverageName, linkName } from "../names";
import { formatDateTime, formatShort } from "../time";
import { fraction, layoutPeriods, timeTicks } from "../timeline";
import { th, Words } from "../ui";
import type { ZoneDirectory } from "../zones";

/** A camera's state now (FleetStatus): online, offline, or never heard from. */
export type NowName = "online" | "offline" | "unknown";

export function nowName(camera: CameraState): NowName {
  const state = coverageName(camera.state);
  return state === "covered" ? "online" : state === "offline" ? "offline" : "unknown";
}

export class CameraTable implements View {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly body = h("tbody");
  private readonly axis = h("div", { class: "timeline-axis" });
  private cameras: readonly CameraState[] = [];
  private spots: ReadonlyMap<string, CameraSpot> | undefined;
  private window: Period | undefined;

  /**
   * `timelines`: draw each camera's offline periods over the window;
   * `windowKey` heads the coverage column (which window it is).
   */
  constructor(
    private readonly zones: ZoneDirectory,
    private readonly timelines: boolean,
    windowKey: MessageKey = "fleet.inWindow",
  ) {
    const head = h(
      "tr",
      {},
      th(this.words, "field.camera"),
      th(this.words, "field.village"),
      th(this.words, "fleet.now"),
      th(this.words, windowKey),
      th(this.words, "fleet.lastHeartbeat"),
      th(this.words, "fleet.buffer", "num"),
      th(this.words, "fleet.link"),
      ...(timelines ? [h("th", { class: "timeline-head" }, this.axis)] : []),
    );
    this.el = h("table", { class: "table camera-table" }, h("thead", {}, head), this.body);
  }

  /** Shows `cameras`, with their coverage over `window` when known. */
  set(cameras: readonly CameraState[], spots?: ReadonlyMap<string, CameraSpot>, window?: Period): void {
    this.cameras = [...cameras].sort((a, b) => a.cameraId.localeCompare(b.cameraId));
    this.spots = spots;
    this.window = window;
    this.render();
  }

  retranslate(): void {
    this.words.apply();
    this.render();
  }

  private render(): void {
    this.body.replaceChildren(...this.cameras.map((camera) => this.row(camera)));
    this.drawAxis();
  }

  private row(camera: CameraState): HTMLTableRowElement {
    const now = nowName(camera);
    const spot = this.spots?.get(camera.cameraId);
    const heartbeat = msOf(camera.lastHeartbeat);
    const cells: HTMLElement[] = [
      h("td", { class: "mono" }, camera.cameraId),
      h("td", {}, this.zones.name(camera.villageId)),
      h("td", {}, h("span", { class: `badge now-${now}` }, tr(`fleet.now.${now}`))),
      h("td", {}, spot ? h("span", { class: `badge cov-${spot.state}` }, tr(`coverage.${spot.state}`)) : "…"),
      h("td", { class: "time" }, heartbeat ? formatDateTime(heartbeat) : tr("fleet.never")),
      h("td", { class: "num" }, formatNumber(camera.bufferDepth)),
      h("td", {}, tr(`link.${linkName(camera.linkState)}`)),
    ];
    if (this.timelines) {
      cells.push(h("td", { class: "timeline-cell" }, this.timeline(camera.cameraId, spot)));
    }
    return h(
      "tr",
      { "data-testid": "fleet-camera", "data-camera-id": camera.cameraId, "data-state": now },
      ...cells,
    );
  }

  /** The window as a bar: online, with the offline periods marked (all grey when nothing is known). */
  private timeline(cameraId: string, spot: CameraSpot | undefined): SVGSVGElement {
    const window = this.window;
    const known = spot && spot.state !== "unknown";
    const segments = window && spot ? layoutPeriods(spot.offline, window) : [];
    const el = svg(
      "svg",
      {
        class: "timeline",
        viewBox: "0 0 1000 10",
        preserveAspectRatio: "none",
        "data-testid": "fleet-timeline",
        "data-camera-id": cameraId,
        "data-offline": segments.length,
      },
      svg("rect", { class: known ? "tl-on" : "tl-unknown", x: 0, y: 0, width: 1000, height: 10 }),
      ...segments.map((segment) =>
        svg(
          "rect",
          { class: "tl-off", x: segment.left * 1000, y: 0, width: segment.width * 1000, height: 10 },
          svg("title", {}, `${tr("fleet.offline")}: ${describePeriod(currentLang(), segment)}`),
        ),
      ),
    );
    if (spot && spot.state !== "unknown") {
      el.append(svg("title", {}, `${cameraId}: ${tr(`coverage.${spot.state}`)}`));
    }
    return el;
  }

  private drawAxis(): void {
    const window = this.window;
    if (!this.timelines || !window) {
      this.axis.replaceChildren();
      return;
    }
    this.axis.replaceChildren(
      ...timeTicks(window, 6).map((tick) => {
        const at = fraction(tick, window);
        // A label near the end ends at its tick, so it stays in the column.
        const label = h("span", { class: at > 0.9 ? "tick tick-end" : "tick" }, formatShort(tick));
        label.style.left = `${(at * 100).toFixed(2)}%`;
        return label;
      }),
    );
  }
}
