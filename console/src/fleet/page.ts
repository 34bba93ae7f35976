/**
 * The Fleet page: per commune of the scope, cameras online, offline,
 * never heard from (FleetStatus, now) and silent (Coverage over the
 * chosen window: online throughout, no events), the oldest heartbeat and
 * the detections waiting in edge buffers. A commune opens to its cameras,
 * each with its offline periods over the window on a timeline.
 */

import { SLOW_CALL_MS } from "../api";
import { msOf } from "../alerts/queue";
import { showFailure, type Context } from "../context";
import { spotsById, type CameraSpot, type Period } from "../coverage";
import { h } from "../dom";
import { timeWindow } from "../forms/window";
import type { CommuneFleet } from "../gen/vigil/v1/query_pb";
import { formatNumber, tr } from "../locale";
import { routeHash } from "../nav";
import { seesCommunes } from "../roles";
import { formatDateTime } from "../time";
import { button, field, pageHead, Status, th, Words, type Page } from "../ui";
import { presetWindow, type PresetName } from "../windows";
import { levelOf } from "../zones";
import { CameraTable } from "./cameras";

const WINDOWS: readonly PresetName[] = ["24h", "7d"];

/** One commune's row and, once opened, its cameras. */
interface CommuneRow {
  readonly fleet: CommuneFleet;
  readonly row: HTMLTableRowElement;
  readonly toggle: HTMLButtonElement;
  readonly silent: HTMLElement;
  readonly detail: HTMLTableRowElement;
  readonly status: Status;
  table?: CameraTable;
}

export class FleetPage implements Page {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly status = new Status();
  private readonly coverageStatus = new Status();
  private readonly windowSelect: HTMLSelectElement;
  private readonly summary = h("p", { class: "summary", "data-testid": "fleet-summary" });
  private readonly body = h("tbody");
  private rows: CommuneRow[] = [];
  private spots: ReadonlyMap<string, CameraSpot> | undefined;
  private communeOf = new Map<string, string>();
  private window: Period;
  private loaded = false;
  private generation = 0;

  constructor(private readonly ctx: Context) {
    this.windowSelect = h(
      "select",
      { "data-testid": "fleet-window" },
      ...WINDOWS.map((w) => this.words.text(h("option", { value: w }), `preset.${w}`)),
    );
    this.window = presetWindow("24h", ctx.api.now());
    this.windowSelect.addEventListener("change", () => void this.load());
    const refresh = button(this.words, "action.refresh", "fleet-refresh");
    refresh.addEventListener("click", () => void this.load());
    const head = h(
      "tr",
      {},
      th(this.words, "field.commune"),
      th(this.words, "fleet.cameras", "num"),
      th(this.words, "fleet.now.online", "num"),
      th(this.words, "fleet.now.offline", "num"),
      th(this.words, "fleet.now.unknown", "num"),
      th(this.words, "coverage.silent", "num"),
      th(this.words, "fleet.oldestHeartbeat"),
      th(this.words, "fleet.buffered", "num"),
    );
    this.el = h(
      "section",
      { class: "fleet-page", "data-testid": "fleet" },
      pageHead(this.words, "nav.fleet"),
      h("div", { class: "form-row" }, field(this.words, "fleet.window", this.windowSelect), refresh),
      this.words.text(h("p", { class: "hint" }), "fleet.hint"),
      this.status.el,
      this.summary,
      this.coverageStatus.el,
      h("table", { class: "table fleet-table" }, h("thead", {}, head), this.body),
    );
  }

  shown(): void {
    if (!this.loaded) {
      this.loaded = true;
      void this.load();
    }
  }

  retranslate(): void {
    this.words.apply();
    this.status.retranslate();
    this.coverageStatus.retranslate();
    for (const row of this.rows) {
      row.status.retranslate();
      row.table?.retranslate();
    }
    this.showSummary();
    this.showSilent();
    for (const link of this.body.querySelectorAll(".commune-link")) {
      link.textContent = tr("fleet.communePage");
    }
  }

  private async load(): Promise<void> {
    const generation = ++this.generation;
    this.window = presetWindow(this.windowSelect.value as PresetName, this.ctx.api.now());
    this.spots = undefined;
    this.status.busy();
    this.coverageStatus.busy();
    const coverage = this.loadCoverage(generation);
    try {
      const fleet = await this.ctx.api.query.fleetStatus({ zoneId: "" });
      if (generation !== this.generation) {
        return;
      }
      this.status.clear();
      this.rows = fleet.communes.map((commune) => this.communeRow(commune));
      this.body.replaceChildren(...this.rows.flatMap((row) => [row.row, row.detail]));
      this.showSummary();
      this.showSilent();
      if (this.rows.length === 1 && this.rows[0]) {
        void this.open(this.rows[0]);
      }
    } catch (error) {
      showFailure(this.ctx, this.status, error);
    }
    await coverage;
  }

  /** Coverage of the whole scope over the window: silent counts and the timelines. */
  private async loadCoverage(generation: number): Promise<void> {
    try {
      const [coverage, communeOf] = await Promise.all([
        this.ctx.api.query.coverage({ zoneId: "", window: timeWindow(this.window) }, { timeoutMs: SLOW_CALL_MS }),
        this.villageCommunes(),
      ]);
      if (generation !== this.generation) {
        return;
      }
      this.spots = spotsById(coverage);
      this.communeOf = communeOf;
      this.coverageStatus.clear();
      this.showSilent();
      for (const row of this.rows) {
        if (row.table) {
          void this.open(row, true);
        }
      }
    } catch (error) {
      if (generation === this.generation) {
        showFailure(this.ctx, this.coverageStatus, error);
      }
    }
  }

  /** Village → commune for a province (one commune holds everything below a commune). */
  private async villageCommunes(): Promise<Map<string, string>> {
    const scope = await this.ctx.zones.scope();
    return scope && levelOf(scope) === "province" ? this.ctx.zones.communeOfVillage() : new Map();
  }

  private communeRow(fleet: CommuneFleet): CommuneRow {
    const toggle = h(
      "button",
      { type: "button", class: "toggle", "aria-expanded": "false", "data-testid": "fleet-open" },
      fleet.name || fleet.communeId,
    );
    const oldest = msOf(fleet.oldestHeartbeat);
    const silent = h("td", { class: "num" }, "…");
    const row = h(
      "tr",
      { "data-testid": "fleet-commune", "data-zone-id": fleet.communeId },
      h(
        "td",
        {},
        toggle,
        ...(seesCommunes(this.ctx.me.role)
          ? [
              " ",
              h(
                "a",
                { class: "commune-link", href: routeHash({ page: "commune", zoneId: fleet.communeId }) },
                tr("fleet.communePage"),
              ),
            ]
          : []),
      ),
      h("td", { class: "num" }, formatNumber(fleet.cameras)),
      h("td", { class: "num" }, formatNumber(fleet.online)),
      h("td", { class: `num${fleet.offline ? " bad" : ""}` }, formatNumber(fleet.offline)),
      h("td", { class: "num" }, formatNumber(fleet.unknown)),
      silent,
      h("td", { class: "time" }, oldest ? formatDateTime(oldest) : "—"),
      h("td", { class: "num" }, formatNumber(fleet.buffered)),
    );
    const status = new Status();
    const detail = h("tr", { class: "detail", hidden: true }, h("td", { colspan: 8 }, status.el));
    const entry: CommuneRow = { fleet, row, toggle, silent, detail, status };
    toggle.addEventListener("click", () => {
      if (detail.hidden) {
        void this.open(entry);
      } else {
        detail.hidden = true;
        toggle.setAttribute("aria-expanded", "false");
      }
    });
    return entry;
  }

  /** Opens a commune's cameras (`again`: redraw an open one with new coverage). */
  private async open(entry: CommuneRow, again = false): Promise<void> {
    entry.detail.hidden = false;
    entry.toggle.setAttribute("aria-expanded", "true");
    if (!entry.table) {
      entry.table = new CameraTable(this.ctx.zones, true);
      entry.detail.firstElementChild?.append(entry.table.el);
    }
    if (!again) {
      entry.status.busy();
    }
    try {
      // Below a province the scope itself is asked (a captain may not ask for the commune).
      const scope = await this.ctx.zones.scope();
      const zoneId = scope && levelOf(scope) === "province" ? entry.fleet.communeId : "";
      const [fleet] = await Promise.all([
        this.ctx.api.query.fleetStatus({ zoneId, includeCameras: true }),
        // The villages' names.
        this.ctx.zones.children(entry.fleet.communeId).catch(() => []),
      ]);
      entry.status.clear();
      entry.table.set(fleet.cameras, this.spots, this.window);
    } catch (error) {
      showFailure(this.ctx, entry.status, error);
    }
  }

  private showSummary(): void {
    const total = (pick: (c: CommuneFleet) => number) => this.rows.reduce((sum, r) => sum + pick(r.fleet), 0);
    this.summary.textContent = this.rows.length
      ? tr("fleet.summary", {
          cameras: formatNumber(total((c) => c.cameras)),
          online: formatNumber(total((c) => c.online)),
          offline: formatNumber(total((c) => c.offline)),
          unknown: formatNumber(total((c) => c.unknown)),
        })
      : "";
  }

  /** Silent cameras per commune over the window. */
  private showSilent(): void {
    const spots = this.spots;
    if (!spots) {
      return;
    }
    const single = this.rows.length === 1 ? this.rows[0]?.fleet.communeId : undefined;
    const silent = new Map<string, number>();
    for (const spot of spots.values()) {
      if (spot.state === "silent") {
        const commune = single ?? this.communeOf.get(spot.villageId) ?? "";
        silent.set(commune, (silent.get(commune) ?? 0) + 1);
      }
    }
    for (const row of this.rows) {
      row.silent.textContent = formatNumber(silent.get(row.fleet.communeId) ?? 0);
    }
  }
}
