/**
 * The Events page: ListEvents by zone, window, kinds and cameras, newest
 * first, a page at a time ("more"). An empty or thin result is explained:
 * Coverage over the same zone and window names the cameras that were
 * offline (and when) or silent, so "nothing happened" and "nobody was
 * watching" read differently. A search can be turned into an extraction.
 */

import { msOf } from "../alerts/queue";
import { SLOW_CALL_MS } from "../api";
import { showFailure, type Context } from "../context";
import { blindSpots, coverageMessage, isThin, type BlindSpots, type CameraLine, type Period } from "../coverage";
import { h, type View } from "../dom";
import { ExtractionForm, type QueryInit } from "../extractions/create";
import { timeWindow, WindowPicker, windowProblemText } from "../forms/window";
import { ZonePicker } from "../forms/zone";
import type { EnrichedDetection } from "../gen/vigil/v1/stream_pb";
import { currentLang, formatNumber, tr } from "../locale";
import { DETECTION_KINDS, detectionKindName, detectionKindValue, type DetectionKindName } from "../names";
import { may } from "../roles";
import { formatDateTime } from "../time";
import { button, field, pageHead, Status, th, Words, type Page } from "../ui";

/** ListEvents' longest window (the retention), and Coverage's. */
const MAX_LIST_DAYS = 93;
const MAX_COVERAGE_DAYS = 31;
const PAGE_SIZE = 100;
/** Lines of a coverage list shown before the rest folds away. */
const SHOWN_LINES = 30;

/** A search as sent: the same filters page after page. */
interface Search {
  readonly zoneId: string;
  readonly window: Period;
  readonly kinds: readonly DetectionKindName[];
  readonly cameraIds: readonly string[];
}

export class EventsPage implements Page {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly zone: ZonePicker;
  private readonly window: WindowPicker;
  private readonly kinds = new Map<DetectionKindName, HTMLInputElement>();
  private readonly camera = h("input", { type: "text", autocomplete: "off", "data-testid": "events-camera" });
  private readonly searchButton: HTMLButtonElement;
  private readonly status = new Status("events-status");
  private readonly summary = h("p", { class: "summary", "data-testid": "events-summary" });
  private readonly rows = h("tbody");
  private readonly table: HTMLTableElement;
  private readonly more: HTMLButtonElement;
  private readonly coverage = new CoverageBox();
  private readonly extraction: ExtractionForm | undefined;
  private search: Search | undefined;
  private events: EnrichedDetection[] = [];
  private pageToken = "";
  private generation = 0;

  constructor(private readonly ctx: Context) {
    this.zone = new ZonePicker(ctx.zones, { testid: "events-zone", villages: true });
    this.window = new WindowPicker({
      presets: ["1h", "6h", "24h", "7d"],
      initial: "1h",
      maxDays: MAX_LIST_DAYS,
      testid: "events",
      now: () => ctx.api.now(),
    });
    const kindBoxes = DETECTION_KINDS.map((kind) => {
      const box = h("input", { type: "checkbox", value: kind, "data-testid": "events-kind" });
      this.kinds.set(kind, box);
      return h("label", { class: "check" }, box, this.words.text(h("span"), `detection.${kind}`));
    });
    this.searchButton = h("button", { type: "submit", class: "primary", "data-testid": "events-search" });
    this.words.text(this.searchButton, "action.search");
    this.words.attr(this.camera, "placeholder", "events.cameraPlaceholder");
    const form = h(
      "form",
      { class: "search-form", novalidate: true },
      h("div", { class: "form-row" }, this.zone.el, this.window.el),
      h(
        "fieldset",
        { class: "kinds" },
        this.words.text(h("legend"), "events.kinds"),
        ...kindBoxes,
      ),
      h("div", { class: "form-row" }, field(this.words, "field.camera", this.camera), this.searchButton),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.run();
    });
    this.more = button(this.words, "action.more", "events-more");
    this.more.hidden = true;
    this.more.addEventListener("click", () => void this.page());
    this.table = h(
      "table",
      { class: "table events-table", hidden: true },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          th(this.words, "field.time"),
          th(this.words, "field.kind"),
          th(this.words, "field.camera"),
          th(this.words, "field.place"),
          th(this.words, "field.plate"),
          th(this.words, "field.confidence", "num"),
        ),
      ),
      this.rows,
    );
    this.extraction = may(ctx.me.role, "create_extraction")
      ? new ExtractionForm(ctx, () => this.extractionQuery())
      : undefined;
    if (this.extraction) {
      this.extraction.el.hidden = true;
    }
    this.el = h(
      "section",
      { class: "events-page", "data-testid": "events" },
      pageHead(this.words, "nav.events"),
      form,
      this.status.el,
      this.coverage.el,
      this.summary,
      ...(this.extraction ? [this.extraction.el] : []),
      this.table,
      this.more,
    );
  }

  retranslate(): void {
    this.words.apply();
    this.zone.retranslate();
    this.window.retranslate();
    this.status.retranslate();
    this.coverage.retranslate();
    this.extraction?.retranslate();
    this.showRows();
  }

  /** A new search from the form. */
  private async run(): Promise<void> {
    const read = this.window.read();
    if ("problem" in read) {
      this.status.note(() => windowProblemText(read.problem, MAX_LIST_DAYS));
      return;
    }
    this.search = {
      zoneId: this.zone.value,
      window: read.window,
      kinds: [...this.kinds].filter(([, box]) => box.checked).map(([kind]) => kind),
      cameraIds: this.camera.value.split(/[\s,;]+/).filter(Boolean),
    };
    this.events = [];
    this.pageToken = "";
    this.coverage.clear();
    this.table.hidden = true;
    this.summary.textContent = "";
    if (this.extraction) {
      this.extraction.el.hidden = true;
    }
    await this.page(true);
  }

  /** The next page of the search (the first when `first`). */
  private async page(first = false): Promise<void> {
    const search = this.search;
    if (!search) {
      return;
    }
    const generation = first ? ++this.generation : this.generation;
    this.status.busy();
    this.searchButton.disabled = true;
    this.more.disabled = true;
    try {
      const response = await this.ctx.api.query.listEvents({
        zoneId: search.zoneId,
        window: timeWindow(search.window),
        kinds: search.kinds.map(detectionKindValue),
        cameraIds: [...search.cameraIds],
        pageSize: PAGE_SIZE,
        pageToken: this.pageToken,
      });
      if (generation !== this.generation) {
        return;
      }
      this.status.clear();
      this.events.push(...response.events);
      this.pageToken = response.nextPageToken;
      this.showRows();
      if (this.extraction) {
        this.extraction.el.hidden = false;
        this.extraction.refresh();
      }
      if (first && isThin(this.events.length, this.pageToken !== "")) {
        await this.explain(search, this.events.length, generation);
      }
    } catch (error) {
      if (generation === this.generation) {
        showFailure(this.ctx, this.status, error);
      }
    } finally {
      this.searchButton.disabled = false;
      this.more.disabled = false;
    }
  }

  /** Says which cameras of the search were offline or silent over its window. */
  private async explain(search: Search, found: number, generation: number): Promise<void> {
    if (search.window.endMs - search.window.startMs > MAX_COVERAGE_DAYS * 86_400_000) {
      this.coverage.note(() => tr("coverage.windowTooLong", { days: MAX_COVERAGE_DAYS }));
      return;
    }
    this.coverage.busy();
    try {
      const coverage = await this.ctx.api.query.coverage(
        { zoneId: search.zoneId, window: timeWindow(search.window) },
        { timeoutMs: SLOW_CALL_MS },
      );
      if (generation === this.generation) {
        this.coverage.show(blindSpots(coverage, search.cameraIds), found);
      }
    } catch (error) {
      if (generation === this.generation) {
        showFailure(this.ctx, this.coverage.status, error);
      }
    }
  }

  private showRows(): void {
    const search = this.search;
    if (!search) {
      return;
    }
    this.table.hidden = this.events.length === 0;
    this.more.hidden = this.pageToken === "";
    this.summary.textContent = this.pageToken
      ? tr("events.countMore", { n: formatNumber(this.events.length) })
      : tr("events.count", { n: formatNumber(this.events.length) });
    this.rows.replaceChildren(...this.events.map(eventRow));
  }

  /** The search shown, as an extraction's query. */
  private extractionQuery(): QueryInit | undefined {
    const search = this.search;
    return search
      ? {
          zoneId: search.zoneId,
          window: timeWindow(search.window),
          kinds: search.kinds.map(detectionKindValue),
          cameraIds: [...search.cameraIds],
        }
      : undefined;
  }
}

/** One event as a table row. */
function eventRow(event: EnrichedDetection): HTMLTableRowElement {
  const d = event.detection;
  const captured = msOf(d?.capturedAt);
  const kind = d ? detectionKindName(d.kind) : undefined;
  const plate = d?.plate;
  const place = (event.zonePath.length > 1 ? event.zonePath.slice(1) : [event.communeId, event.villageId])
    .filter(Boolean)
    .join(" › ");
  return h(
    "tr",
    { "data-testid": "event-row", "data-event-id": d?.eventId ?? "", class: event.late ? "late" : "" },
    h(
      "td",
      { class: "time" },
      captured ? formatDateTime(captured) : "—",
      event.late ? h("span", { class: "late-mark", title: tr("events.late") }, ` ${tr("events.lateMark")}`) : "",
    ),
    h("td", {}, kind ? tr(`detection.${kind}`) : tr("detection.other")),
    h("td", { class: "mono" }, d?.cameraId ?? ""),
    h("td", {}, place),
    h("td", { class: "mono plate" }, plate?.normalized || plate?.text || "—"),
    h("td", { class: "num" }, d ? `${Math.round(d.confidence * 100)}%` : ""),
  );
}

/** The coverage explanation under a thin result (`events-coverage`). */
class CoverageBox implements View {
  readonly el = h("div", { class: "coverage-box", "data-testid": "events-coverage", role: "note", hidden: true });
  readonly status = new Status();
  private spots: { spots: BlindSpots; found: number } | undefined;
  private text: (() => string) | undefined;

  clear(): void {
    this.spots = undefined;
    this.text = undefined;
    this.status.clear();
    this.render();
  }

  busy(): void {
    this.clear();
    this.status.busy();
    this.render();
  }

  note(text: () => string): void {
    this.clear();
    this.text = text;
    this.render();
  }

  show(spots: BlindSpots, found: number): void {
    this.status.clear();
    this.spots = { spots, found };
    this.render();
  }

  retranslate(): void {
    this.status.retranslate();
    this.render();
  }

  private render(): void {
    const shown = this.spots;
    this.el.hidden = !shown && !this.text && this.status.el.hidden;
    this.el.dataset.offline = shown ? shown.spots.offline.map((s) => s.cameraId).join(",") : "";
    this.el.dataset.silent = shown ? String(shown.spots.silent.length) : "";
    if (!shown) {
      this.el.replaceChildren(this.status.el, ...(this.text ? [h("p", {}, this.text())] : []));
      return;
    }
    const message = coverageMessage(currentLang(), shown.spots, shown.found);
    this.el.replaceChildren(
      this.status.el,
      h("p", { class: "coverage-heading" }, message.heading),
      ...section("coverage.offlineHeading", message.offline, "offline"),
      ...section("coverage.silentHeading", message.silent, "silent"),
      ...section("coverage.unknownHeading", message.unknown, "unknown"),
    );
  }
}

/** A heading and list of lines; past {@link SHOWN_LINES} they fold into a <details> (still in the text). */
function section(
  key: "coverage.offlineHeading" | "coverage.silentHeading" | "coverage.unknownHeading",
  lines: readonly CameraLine[],
  state: string,
): HTMLElement[] {
  if (lines.length === 0) {
    return [];
  }
  const item = (line: CameraLine) =>
    h("li", { "data-camera-id": line.cameraId }, h("span", { class: "mono" }, line.cameraId), ` — ${line.text}`);
  const list = h("ul", { class: `coverage-list cov-${state}` }, ...lines.slice(0, SHOWN_LINES).map(item));
  const rest = lines.slice(SHOWN_LINES);
  const folded = rest.length
    ? [h("details", {}, h("summary", {}, tr("coverage.andMore", { n: rest.length })), h("ul", { class: `coverage-list cov-${state}` }, ...rest.map(item)))]
    : [];
  return [h("h3", {}, `${tr(key)} (${lines.length})`), list, ...folded];
}
