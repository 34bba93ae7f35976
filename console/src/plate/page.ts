/**
 * The Plate page: where a plate has been (PlateTrajectory), drawn on the
 * map as a numbered path through the sightings in time order and listed
 * as a timeline. A search needs a reason (written to the audit log with
 * it): the button stays disabled while the reason is blank, and the form
 * refuses to send without one.
 */

import { msOf } from "../alerts/queue";
import { showFailure, type Context } from "../context";
import type { Period } from "../coverage";
import { h } from "../dom";
import { timeWindow, WindowPicker, windowProblemText } from "../forms/window";
import type { Sighting } from "../gen/vigil/v1/query_pb";
import { formatNumber, tr } from "../locale";
import { MapView } from "../map/view";
import { detectionKindName } from "../names";
import { formatDateTime } from "../time";
import { button, field, pageHead, Status, Words, type Page } from "../ui";

/** PlateTrajectory's longest window (the retention). */
const MAX_DAYS = 93;
const PAGE_SIZE = 500;

interface Search {
  readonly plate: string;
  readonly window: Period;
  readonly fuzzy: boolean;
  readonly reason: string;
}

export class PlatePage implements Page {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly plate = h("input", {
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 32,
    "data-testid": "plate-input",
  });
  private readonly reason = h("input", { type: "text", autocomplete: "off", maxlength: 512, "data-testid": "plate-reason" });
  private readonly fuzzy = h("input", { type: "checkbox", "data-testid": "plate-fuzzy" });
  private readonly window: WindowPicker;
  private readonly searchButton: HTMLButtonElement;
  private readonly reasonHint = h("p", { class: "hint", "data-testid": "plate-reason-hint" });
  private readonly status = new Status("plate-status");
  private readonly summary = h("p", { class: "summary", "data-testid": "plate-summary" });
  private readonly list = h("ol", { class: "sightings" });
  private readonly more: HTMLButtonElement;
  private readonly map: MapView;
  private search: Search | undefined;
  private sightings: Sighting[] = [];
  private normalized = "";
  private pageToken = "";
  private busy = false;

  constructor(private readonly ctx: Context) {
    this.window = new WindowPicker({
      presets: ["24h", "7d", "31d"],
      initial: "7d",
      maxDays: MAX_DAYS,
      testid: "plate",
      now: () => ctx.api.now(),
    });
    this.searchButton = h("button", { type: "submit", class: "primary", "data-testid": "plate-search" });
    this.words.text(this.searchButton, "action.search");
    this.words.attr(this.plate, "placeholder", "plate.placeholder");
    this.words.attr(this.reason, "placeholder", "plate.reasonPlaceholder");
    const form = h(
      "form",
      { class: "search-form", novalidate: true },
      h(
        "div",
        { class: "form-row" },
        field(this.words, "field.plate", this.plate),
        this.window.el,
        h("label", { class: "check" }, this.fuzzy, this.words.text(h("span"), "plate.fuzzyOption")),
      ),
      h("div", { class: "form-row" }, field(this.words, "plate.reason", this.reason, "field wide"), this.searchButton),
      this.reasonHint,
    );
    for (const input of [this.plate, this.reason]) {
      input.addEventListener("input", () => this.refresh());
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.run();
    });
    this.more = button(this.words, "action.more", "plate-more");
    this.more.hidden = true;
    this.more.addEventListener("click", () => void this.page());
    this.map = new MapView(ctx, ctx.me.zoneId, { coverage: false, alerts: false });
    this.el = h(
      "section",
      { class: "plate-page", "data-testid": "plate" },
      pageHead(this.words, "nav.plate"),
      form,
      this.status.el,
      this.summary,
      h(
        "div",
        { class: "plate-grid" },
        h("div", { class: "plate-map" }, this.map.el),
        h("div", { class: "plate-list" }, this.list, this.more),
      ),
    );
    this.refresh();
  }

  shown(): void {
    void this.map.load();
  }

  stop(): void {
    this.map.stop();
  }

  retranslate(): void {
    this.words.apply();
    this.window.retranslate();
    this.status.retranslate();
    this.map.retranslate();
    this.refresh();
    this.showSightings();
  }

  /** The search is possible with a plate and a reason that are not blank. */
  private ready(): boolean {
    return this.plate.value.trim() !== "" && this.reason.value.trim() !== "";
  }

  private refresh(): void {
    const noReason = this.reason.value.trim() === "";
    this.searchButton.disabled = this.busy || !this.ready();
    this.reasonHint.textContent = tr(noReason ? "plate.reasonRequired" : "plate.reasonAudited");
    this.reasonHint.classList.toggle("warn", noReason);
  }

  private async run(): Promise<void> {
    // The button is disabled without a reason; Enter in a field comes here too.
    if (!this.ready() || this.busy) {
      this.refresh();
      return;
    }
    const read = this.window.read();
    if ("problem" in read) {
      this.status.note(() => windowProblemText(read.problem, MAX_DAYS));
      return;
    }
    this.search = {
      plate: this.plate.value.trim(),
      window: read.window,
      fuzzy: this.fuzzy.checked,
      reason: this.reason.value.trim(),
    };
    this.sightings = [];
    this.pageToken = "";
    this.normalized = "";
    this.showSightings();
    await this.page();
  }

  private async page(): Promise<void> {
    const search = this.search;
    if (!search || !search.reason) {
      return;
    }
    this.busy = true;
    this.refresh();
    this.more.disabled = true;
    this.status.busy();
    try {
      const response = await this.ctx.api.query.plateTrajectory({
        plate: search.plate,
        window: timeWindow(search.window),
        fuzzy: search.fuzzy,
        reason: search.reason,
        pageSize: PAGE_SIZE,
        pageToken: this.pageToken,
      });
      this.status.clear();
      this.normalized = response.plateNormalized;
      this.sightings.push(...response.sightings);
      this.sightings.sort((a, b) => msOf(a.capturedAt) - msOf(b.capturedAt));
      this.pageToken = response.nextPageToken;
      this.showSightings();
    } catch (error) {
      showFailure(this.ctx, this.status, error);
    } finally {
      this.busy = false;
      this.more.disabled = false;
      this.refresh();
    }
  }

  private showSightings(): void {
    const search = this.search;
    this.more.hidden = this.pageToken === "";
    this.summary.textContent = search
      ? tr(this.pageToken ? "plate.countMore" : "plate.count", {
          plate: this.normalized || search.plate,
          n: formatNumber(this.sightings.length),
        })
      : "";
    this.list.replaceChildren(
      ...this.sightings.map((s, i) => {
        const at = msOf(s.capturedAt);
        const kind = detectionKindName(s.kind);
        const place = (s.zonePath.length > 1 ? s.zonePath.slice(1) : [s.communeId, s.villageId]).filter(Boolean).join(" › ");
        return h(
          "li",
          { class: `sighting${s.fuzzy ? " fuzzy" : ""}`, "data-testid": "plate-sighting", "data-event-id": s.eventId },
          h("span", { class: "sighting-n" }, String(i + 1)),
          h("time", { class: "time" }, at ? formatDateTime(at) : "—"),
          h("span", { class: "mono" }, s.cameraId),
          h("span", {}, place),
          h("span", { class: "mono plate" }, s.plateText || s.plateNormalized),
          s.fuzzy ? h("span", { class: "badge" }, tr("plate.fuzzyMatch")) : "",
          kind ? h("span", { class: "muted" }, tr(`detection.${kind}`)) : "",
        );
      }),
    );
    this.map.showPath(this.sightings.map((s, i) => ({ lon: s.longitude, lat: s.latitude, label: String(i + 1) })));
  }
}
