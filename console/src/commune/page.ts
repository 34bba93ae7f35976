/**
 * One commune's page (`#/commune/<id>`): its name and police unit, its
 * fleet (FleetStatus), its cameras' states (coverage over the last hour,
 * from its map), the live queue's open alerts in it, and its map.
 */

import { placeOf } from "../alerts/present";
import { msOf } from "../alerts/queue";
import { showFailure, type Context } from "../context";
import type { CameraSpot } from "../coverage";
import { h } from "../dom";
import { CameraTable } from "../fleet/cameras";
import type { CommuneFleet, CameraState } from "../gen/vigil/v1/query_pb";
import { formatNumber, tr } from "../locale";
import { MapView } from "../map/view";
import { kindName } from "../names";
import { formatDateTime } from "../time";
import { dd, facts, Status, Words, type Page } from "../ui";

export class CommunePage implements Page {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly status = new Status();
  private readonly heading = h("h1");
  private readonly police = dd();
  private readonly fleetFacts = {
    cameras: dd("num"),
    online: dd("num"),
    offline: dd("num"),
    unknown: dd("num"),
    silent: dd("num"),
    buffered: dd("num"),
    oldest: dd("time"),
  };
  private readonly alertList = h("ul", { class: "commune-alerts" });
  private readonly noAlerts = h("p", { class: "empty" });
  private readonly map: MapView;
  private readonly cameras: CameraTable;
  private fleet: CommuneFleet | undefined;
  private cameraStates: CameraState[] = [];
  private spots: ReadonlyMap<string, CameraSpot> | undefined;
  private unsubscribe: (() => void) | undefined;
  private loaded = false;

  constructor(
    private readonly ctx: Context,
    private readonly zoneId: string,
  ) {
    this.map = new MapView(ctx, zoneId, {
      coverage: true,
      alerts: true,
      onCoverage: (spots) => {
        this.spots = spots;
        this.showFleet();
      },
    });
    this.cameras = new CameraTable(ctx.zones, false, "commune.lastHour");
    const back = this.words.text(h("a", { href: "#/map", class: "back" }), "commune.back");
    const f = this.fleetFacts;
    this.el = h(
      "section",
      { class: "commune-page", "data-testid": "commune", "data-zone-id": zoneId },
      h("header", { class: "page-head" }, this.heading, back),
      this.status.el,
      facts(this.words, [{ key: "commune.police", value: this.police }]),
      this.words.text(h("h2"), "commune.fleet"),
      facts(this.words, [
        { key: "fleet.cameras", value: f.cameras },
        { key: "fleet.now.online", value: f.online },
        { key: "fleet.now.offline", value: f.offline },
        { key: "fleet.now.unknown", value: f.unknown },
        { key: "commune.silentHour", value: f.silent },
        { key: "fleet.buffered", value: f.buffered },
        { key: "fleet.oldestHeartbeat", value: f.oldest },
      ]),
      h(
        "div",
        { class: "commune-grid" },
        h("div", { class: "commune-map" }, this.map.el),
        h(
          "div",
          { class: "commune-side" },
          this.words.text(h("h2"), "commune.openAlerts"),
          this.noAlerts,
          this.alertList,
        ),
      ),
      this.words.text(h("h2"), "commune.cameras"),
      this.cameras.el,
    );
    this.heading.textContent = zoneId;
    this.retranslate();
  }

  shown(): void {
    this.map.watch(true);
    this.unsubscribe ??= this.ctx.alerts.subscribe(() => this.showAlerts());
    this.showAlerts();
    if (!this.loaded) {
      this.loaded = true;
      void this.load();
    }
  }

  hidden(): void {
    this.map.watch(false);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  stop(): void {
    this.hidden();
    this.map.stop();
  }

  retranslate(): void {
    this.words.apply();
    this.status.retranslate();
    this.map.retranslate();
    this.cameras.retranslate();
    this.showFleet();
    this.showAlerts();
  }

  private async load(): Promise<void> {
    this.status.busy();
    try {
      const [zone, fleet] = await Promise.all([
        this.ctx.zones.find(this.zoneId),
        this.ctx.api.query.fleetStatus({ zoneId: this.zoneId, includeCameras: true }),
        // The villages' names, for the camera table.
        this.ctx.zones.children(this.zoneId).catch(() => []),
      ]);
      this.status.clear();
      this.heading.textContent = zone?.name || this.zoneId;
      this.police.textContent = zone?.policeUnit || "—";
      this.fleet = fleet.communes.find((c) => c.communeId === this.zoneId) ?? fleet.communes[0];
      this.cameraStates = fleet.cameras;
      this.showFleet();
    } catch (error) {
      showFailure(this.ctx, this.status, error);
    }
  }

  private showFleet(): void {
    const fleet = this.fleet;
    const f = this.fleetFacts;
    const n = (value: number | bigint | undefined) => (value === undefined ? "…" : formatNumber(value));
    f.cameras.textContent = n(fleet?.cameras);
    f.online.textContent = n(fleet?.online);
    f.offline.textContent = n(fleet?.offline);
    f.unknown.textContent = n(fleet?.unknown);
    f.buffered.textContent = n(fleet?.buffered);
    const oldest = msOf(fleet?.oldestHeartbeat);
    f.oldest.textContent = oldest ? formatDateTime(oldest) : "—";
    const silent = this.spots ? [...this.spots.values()].filter((s) => s.state === "silent").length : undefined;
    f.silent.textContent = n(silent);
    this.cameras.set(this.cameraStates, this.spots);
  }

  /** The open alerts of the live queue in this commune. */
  private showAlerts(): void {
    const alerts = this.ctx.alerts.open().filter((alert) => alert.communeId === this.zoneId);
    this.noAlerts.textContent = tr("alerts.empty");
    this.noAlerts.hidden = alerts.length > 0;
    this.alertList.replaceChildren(
      ...alerts.map((alert) => {
        const raised = msOf(alert.raisedAt);
        return h(
          "li",
          { class: `commune-alert prio-${alert.priority}`, "data-testid": "commune-alert", "data-alert-id": alert.alertId },
          h("span", { class: "alert-priority" }, alert.priority ? `${tr("field.priority")} ${alert.priority}` : "—"),
          " ",
          h("strong", {}, tr(`kind.${kindName(alert.kind)}`)),
          ` · ${placeOf(alert)} · ${alert.cameraId}`,
          raised ? ` · ${formatDateTime(raised)}` : "",
          alert.hit?.plateNormalized ? h("span", { class: "alert-plate" }, ` ${alert.hit.plateNormalized}`) : "",
        );
      }),
    );
  }
}
