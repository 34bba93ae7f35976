/**
 * The Extractions page: extractions listed by case or by commune
 * (ListExtractions; a province-wide one is filed under the province), and
 * per commune how many extractions were made for how many cases
 * (ExtractionStats). Extractions are made from a search on the Events
 * page.
 */

import { msOf } from "../alerts/queue";
import { showFailure, type Context } from "../context";
import { h } from "../dom";
import { timeWindow, WindowPicker, windowProblemText } from "../forms/window";
import { ZonePicker } from "../forms/zone";
import type { Extraction, ExtractionStatsResponse } from "../gen/vigil/v1/operations_pb";
import { formatNumber, tr } from "../locale";
import { DETECTION_KINDS, detectionKindName } from "../names";
import { may } from "../roles";
import { formatDateTime, formatShort } from "../time";
import { field, pageHead, Status, th, Words, type Page } from "../ui";

/** ExtractionStats' longest window. */
const MAX_STATS_DAYS = 366;
const LIMIT = 100;

export class ExtractionsPage implements Page {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly caseInput = h("input", { type: "text", autocomplete: "off", maxlength: 64, "data-testid": "extraction-filter-case" });
  private readonly commune: ZonePicker;
  private readonly listButton: HTMLButtonElement;
  private readonly listStatus = new Status("extraction-list-status");
  private readonly listBody = h("tbody");
  private readonly listTable: HTMLTableElement;
  private readonly statsWindow: WindowPicker;
  private readonly statsButton: HTMLButtonElement;
  private readonly statsStatus = new Status();
  private readonly statsBody = h("tbody");
  private readonly statsFoot = h("tfoot");
  private readonly statsTable: HTMLTableElement;
  private extractions: Extraction[] | undefined;
  private stats: ExtractionStatsResponse | undefined;
  private loaded = false;

  constructor(private readonly ctx: Context) {
    this.commune = new ZonePicker(ctx.zones, {
      testid: "extraction-filter-commune",
      villages: false,
      label: "field.commune",
    });
    this.listButton = h("button", { type: "submit", class: "primary", "data-testid": "extraction-list" });
    this.words.text(this.listButton, "action.show");
    this.words.attr(this.caseInput, "placeholder", "extraction.caseFilterPlaceholder");
    const listForm = h(
      "form",
      { class: "search-form", novalidate: true },
      h("div", { class: "form-row" }, field(this.words, "extraction.case", this.caseInput), this.commune.el, this.listButton),
      this.words.text(h("p", { class: "hint" }), "extraction.listHint"),
    );
    listForm.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.list();
    });
    this.listTable = h(
      "table",
      { class: "table extraction-table", hidden: true },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          th(this.words, "extraction.createdAt"),
          th(this.words, "extraction.case"),
          th(this.words, "extraction.reason"),
          th(this.words, "field.commune"),
          th(this.words, "extraction.requester"),
          th(this.words, "extraction.query"),
          th(this.words, "extraction.events", "num"),
          th(this.words, "extraction.manifest"),
        ),
      ),
      this.listBody,
    );
    this.statsWindow = new WindowPicker({
      presets: ["7d", "31d"],
      initial: "31d",
      maxDays: MAX_STATS_DAYS,
      testid: "extraction-stats",
      now: () => ctx.api.now(),
    });
    this.statsButton = h("button", { type: "submit", class: "primary", "data-testid": "extraction-stats-load" });
    this.words.text(this.statsButton, "action.show");
    const statsForm = h("form", { class: "search-form", novalidate: true }, h("div", { class: "form-row" }, this.statsWindow.el, this.statsButton));
    statsForm.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.loadStats();
    });
    this.statsTable = h(
      "table",
      { class: "table stats-table", "data-testid": "extraction-stats", hidden: true },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          th(this.words, "field.commune"),
          th(this.words, "extraction.count", "num"),
          th(this.words, "extraction.cases", "num"),
          th(this.words, "extraction.events", "num"),
        ),
      ),
      this.statsBody,
      this.statsFoot,
    );
    this.el = h(
      "section",
      { class: "extractions-page", "data-testid": "extractions" },
      pageHead(this.words, "nav.extractions"),
      ...(may(ctx.me.role, "create_extraction") ? [this.words.text(h("p", { class: "hint" }), "extraction.fromEvents")] : []),
      this.words.text(h("h2"), "extraction.statsHeading"),
      statsForm,
      this.statsStatus.el,
      this.statsTable,
      this.words.text(h("h2"), "extraction.listHeading"),
      listForm,
      this.listStatus.el,
      this.listTable,
    );
  }

  shown(): void {
    if (!this.loaded) {
      this.loaded = true;
      void this.loadStats();
      // The scope's own filings first (the commune picker starts on the scope).
      void this.commune.ready.then(() => this.list());
    }
  }

  retranslate(): void {
    this.words.apply();
    this.commune.retranslate();
    this.statsWindow.retranslate();
    this.listStatus.retranslate();
    this.statsStatus.retranslate();
    this.showList();
    this.showStats();
  }

  private async list(): Promise<void> {
    const caseId = this.caseInput.value.trim();
    const communeId = this.commune.value;
    this.listStatus.busy();
    this.listButton.disabled = true;
    try {
      const response = await this.ctx.api.extractions.listExtractions({
        filter: caseId ? { case: "caseId", value: caseId } : { case: "communeId", value: communeId || this.ctx.me.zoneId },
        limit: LIMIT,
      });
      this.listStatus.clear();
      this.extractions = response.extractions;
      this.showList();
    } catch (error) {
      showFailure(this.ctx, this.listStatus, error);
    } finally {
      this.listButton.disabled = false;
    }
  }

  private async loadStats(): Promise<void> {
    const read = this.statsWindow.read();
    if ("problem" in read) {
      this.statsStatus.note(() => windowProblemText(read.problem, MAX_STATS_DAYS));
      return;
    }
    this.statsStatus.busy();
    this.statsButton.disabled = true;
    try {
      const [stats] = await Promise.all([
        this.ctx.api.extractions.extractionStats({ window: timeWindow(read.window) }),
        // The communes' names.
        this.ctx.zones.communes().catch(() => []),
      ]);
      this.statsStatus.clear();
      this.stats = stats;
      this.showStats();
    } catch (error) {
      showFailure(this.ctx, this.statsStatus, error);
    } finally {
      this.statsButton.disabled = false;
    }
  }

  private showList(): void {
    const list = this.extractions;
    if (!list) {
      return;
    }
    this.listTable.hidden = false;
    if (list.length === 0) {
      this.listStatus.note(() => tr("extraction.none"));
    }
    this.listBody.replaceChildren(
      ...list.map((e) => {
        const created = msOf(e.createdAt);
        return h(
          "tr",
          { "data-testid": "extraction-row", "data-extraction-id": e.extractionId, "data-case-id": e.caseId },
          h("td", { class: "time" }, created ? formatDateTime(created) : "—"),
          h("td", { class: "mono" }, e.caseId),
          h("td", {}, e.reason),
          h("td", {}, this.ctx.zones.name(e.communeId)),
          h("td", {}, e.requesterName || e.requestedBy),
          h("td", { class: "query" }, this.describeQuery(e)),
          h("td", { class: "num" }, formatNumber(e.eventCount)),
          h("td", { class: "mono", title: e.manifestSha256 }, e.manifestSha256.slice(0, 12)),
        );
      }),
    );
  }

  /** What an extraction asked for, in a line. */
  private describeQuery(e: Extraction): string {
    const q = e.query;
    if (!q) {
      return "";
    }
    const parts: string[] = [];
    if (q.plate) {
      parts.push(`${tr("field.plate")} ${q.plate}${q.fuzzy ? ` ${tr("plate.fuzzy")}` : ""}`);
    }
    if (q.zoneId) {
      parts.push(this.ctx.zones.name(q.zoneId));
    }
    const start = msOf(q.window?.start);
    const end = msOf(q.window?.end);
    if (start && end) {
      parts.push(`${formatShort(start)} → ${formatShort(end)}`);
    }
    const kinds = q.kinds.map(detectionKindName).filter((k): k is (typeof DETECTION_KINDS)[number] => k !== undefined);
    if (kinds.length) {
      parts.push(kinds.map((k) => tr(`detection.${k}`)).join(", "));
    }
    if (q.cameraIds.length) {
      parts.push(q.cameraIds.join(", "));
    }
    return parts.join(" · ");
  }

  private showStats(): void {
    const stats = this.stats;
    if (!stats) {
      return;
    }
    this.statsTable.hidden = false;
    this.statsBody.replaceChildren(
      ...stats.communes.map((c) =>
        h(
          "tr",
          { "data-testid": "extraction-stats-row", "data-zone-id": c.communeId },
          h("td", {}, this.ctx.zones.name(c.communeId)),
          h("td", { class: "num" }, formatNumber(c.extractions)),
          h("td", { class: "num" }, formatNumber(c.cases)),
          h("td", { class: "num" }, formatNumber(c.events)),
        ),
      ),
    );
    this.statsFoot.replaceChildren(
      h(
        "tr",
        {},
        h("th", { scope: "row" }, tr("extraction.total")),
        h("td", { class: "num" }, formatNumber(stats.extractions)),
        h("td", { class: "num" }, formatNumber(stats.cases)),
        h("td", { class: "num" }, formatNumber(stats.events)),
      ),
    );
  }
}
