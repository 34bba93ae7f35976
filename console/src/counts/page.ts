/**
 * The Counts page: CountEvents over a window (a province split per
 * commune), drawn as a stacked bar per hour by kind, and each commune's
 * total as a bar.
 */

import { cellsOf, niceScale, stackByHour, stackRects, totalsByZone, type Cell, type ChartKind } from "../chart";
import { showFailure, type Context } from "../context";
import type { Period } from "../coverage";
import { h, svg } from "../dom";
import { timeWindow, WindowPicker, windowProblemText } from "../forms/window";
import { ZonePicker } from "../forms/zone";
import { formatNumber, tr } from "../locale";
import { formatClock, formatDay, formatShort, HOUR_MS } from "../time";
import { fraction, timeTicks } from "../timeline";
import { pageHead, Status, th, Words, type Page } from "../ui";

/** CountEvents' longest window. */
const MAX_DAYS = 31;

/** The chart's drawing: units of its viewBox. */
const W = 1000;
const H = 320;
const PAD = { left: 56, right: 8, top: 10, bottom: 28 };

export class CountsPage implements Page {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly zone: ZonePicker;
  private readonly window: WindowPicker;
  private readonly loadButton: HTMLButtonElement;
  private readonly status = new Status("counts-status");
  private readonly summary = h("p", { class: "summary", "data-testid": "counts-summary" });
  private readonly chart = svg("svg", {
    class: "chart",
    viewBox: `0 0 ${W} ${H}`,
    "data-testid": "counts-chart",
    role: "img",
  });
  private readonly legend = h("ul", { class: "chart-legend" });
  private readonly rows = h("tbody");
  private readonly table: HTMLTableElement;
  private cells: Cell[] | undefined;
  private shownWindow: Period | undefined;
  private loaded = false;
  private generation = 0;

  constructor(private readonly ctx: Context) {
    this.zone = new ZonePicker(ctx.zones, { testid: "counts-zone", villages: true });
    this.window = new WindowPicker({
      presets: ["24h", "7d", "31d"],
      initial: "24h",
      maxDays: MAX_DAYS,
      testid: "counts",
      now: () => ctx.api.now(),
    });
    this.loadButton = h("button", { type: "submit", class: "primary", "data-testid": "counts-load" });
    this.words.text(this.loadButton, "action.show");
    const form = h(
      "form",
      { class: "search-form", novalidate: true },
      h("div", { class: "form-row" }, this.zone.el, this.window.el, this.loadButton),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.load();
    });
    this.table = h(
      "table",
      { class: "table counts-table", hidden: true },
      h(
        "thead",
        {},
        h("tr", {}, th(this.words, "field.zone"), th(this.words, "counts.total", "num"), th(this.words, "counts.share"), th(this.words, "counts.byKind")),
      ),
      this.rows,
    );
    this.words.attr(this.chart, "aria-label", "counts.chartLabel");
    this.el = h(
      "section",
      { class: "counts-page", "data-testid": "counts" },
      pageHead(this.words, "nav.counts"),
      form,
      this.status.el,
      this.summary,
      h("figure", { class: "chart-box" }, this.chart, this.legend),
      this.words.text(h("h2"), "counts.perZone"),
      this.table,
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
    this.zone.retranslate();
    this.window.retranslate();
    this.status.retranslate();
    this.draw();
  }

  private async load(): Promise<void> {
    const read = this.window.read();
    if ("problem" in read) {
      this.status.note(() => windowProblemText(read.problem, MAX_DAYS));
      return;
    }
    const generation = ++this.generation;
    this.status.busy();
    this.loadButton.disabled = true;
    try {
      const [response] = await Promise.all([
        this.ctx.api.query.countEvents({ zoneId: this.zone.value, window: timeWindow(read.window), perCommune: true }),
        // The communes' names for the table.
        this.ctx.zones.communes().catch(() => []),
      ]);
      if (generation !== this.generation) {
        return;
      }
      this.status.clear();
      this.cells = cellsOf(response.counts);
      this.shownWindow = read.window;
      this.draw();
    } catch (error) {
      if (generation === this.generation) {
        showFailure(this.ctx, this.status, error);
      }
    } finally {
      this.loadButton.disabled = false;
    }
  }

  private draw(): void {
    const cells = this.cells;
    const window = this.shownWindow;
    if (!cells || !window) {
      return;
    }
    const stacks = stackByHour(cells, window);
    this.summary.textContent = tr("counts.summary", {
      n: formatNumber(stacks.total),
      from: formatShort(window.startMs),
      to: formatShort(window.endMs),
    });
    this.drawChart(stacks.kinds, stacks, window);
    this.drawTable(cells, stacks.kinds);
  }

  private drawChart(kinds: readonly ChartKind[], stacks: ReturnType<typeof stackByHour>, window: Period): void {
    const plotW = W - PAD.left - PAD.right;
    const plotH = H - PAD.top - PAD.bottom;
    const scale = niceScale(stacks.max);
    const grid = svg("g", { class: "chart-grid" });
    for (const tick of scale.ticks) {
      const y = PAD.top + plotH - (tick / scale.max) * plotH;
      grid.append(
        svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y }),
        svg("text", { x: PAD.left - 6, y, dy: "0.35em", "text-anchor": "end" }, formatNumber(tick)),
      );
    }
    const axis = svg("g", { class: "chart-axis" });
    const first = stacks.hours[0]?.hourMs ?? window.startMs;
    const span = { startMs: first, endMs: first + stacks.hours.length * HOUR_MS };
    for (const tick of timeTicks(span, 8)) {
      const x = PAD.left + fraction(tick, span) * plotW;
      const midnight = formatClock(tick) === "00:00";
      axis.append(
        svg("line", { x1: x, x2: x, y1: PAD.top + plotH, y2: PAD.top + plotH + 5 }),
        svg("text", { x, y: H - 6, "text-anchor": "middle" }, midnight ? formatDay(tick) : formatClock(tick)),
      );
    }
    const bars = svg("g", { class: "chart-bars", transform: `translate(${PAD.left} ${PAD.top})` });
    stackRects(stacks, plotW, plotH, scale.max).forEach((pieces, i) => {
      const hour = stacks.hours[i];
      if (!hour || pieces.length === 0) {
        return;
      }
      const detail = hour.counts
        .map((count, k) => (count ? `${tr(`detection.${kinds[k] ?? "other"}`)}: ${formatNumber(count)}` : ""))
        .filter(Boolean)
        .join(", ");
      bars.append(
        svg(
          "g",
          {
            class: "bar",
            "data-testid": "counts-bar",
            "data-hour": new Date(hour.hourMs).toISOString(),
            "data-total": hour.total,
          },
          svg("title", {}, `${formatShort(hour.hourMs)} — ${formatNumber(hour.total)} (${detail})`),
          ...pieces.map((p) =>
            svg("rect", { class: `kind-${kinds[p.kindIndex] ?? "other"}`, x: p.x, y: p.y, width: p.width, height: p.height }),
          ),
        ),
      );
    });
    const frame = svg("line", {
      class: "chart-base",
      x1: PAD.left,
      x2: W - PAD.right,
      y1: PAD.top + plotH,
      y2: PAD.top + plotH,
    });
    this.chart.replaceChildren(grid, bars, frame, axis);
    this.chart.dataset.hours = String(stacks.hours.length);
    this.chart.dataset.total = String(stacks.total);
    const totals = kinds.map((_, k) => stacks.hours.reduce((sum, hour) => sum + (hour.counts[k] ?? 0), 0));
    this.legend.replaceChildren(
      ...kinds.map((kind, k) =>
        h("li", {}, h("span", { class: `swatch kind-${kind}` }), `${tr(`detection.${kind}`)} (${formatNumber(totals[k] ?? 0)})`),
      ),
    );
  }

  private drawTable(cells: readonly Cell[], kinds: readonly ChartKind[]): void {
    const zones = totalsByZone(cells);
    const top = zones[0]?.total ?? 0;
    this.table.hidden = zones.length === 0;
    this.rows.replaceChildren(
      ...zones.map((zone) => {
        const bar = h("span", { class: "bar-fill" });
        bar.style.width = `${top ? ((zone.total / top) * 100).toFixed(1) : 0}%`;
        const byKind = kinds
          .filter((kind) => zone.byKind.get(kind))
          .map((kind) => `${tr(`detection.${kind}`)} ${formatNumber(zone.byKind.get(kind) ?? 0)}`)
          .join(" · ");
        return h(
          "tr",
          { "data-testid": "counts-commune", "data-zone-id": zone.zoneId },
          h("td", {}, this.ctx.zones.name(zone.zoneId)),
          h("td", { class: "num" }, formatNumber(zone.total)),
          h("td", { class: "bar-cell" }, h("span", { class: "bar-track" }, bar)),
          h("td", { class: "muted" }, byKind),
        );
      }),
    );
  }
}
