/**
 * The Audit page, for auditors: the append-only log of sensitive calls
 * (ListAudit), newest first, filtered by window, action and token (the
 * actor). ListAudit has no page token: "more" asks again with the window
 * ending at the oldest entry shown, and drops what it has already.
 */

import { timestampMs } from "@bufbuild/protobuf/wkt";

import { showFailure, type Context } from "../context";
import type { Period } from "../coverage";
import { h } from "../dom";
import { timeWindow, WindowPicker, windowProblemText } from "../forms/window";
import type { AuditEntry } from "../gen/vigil/v1/operations_pb";
import { formatNumber, tr } from "../locale";
import { roleName } from "../names";
import { formatDateTime } from "../time";
import { button, field, pageHead, Status, th, Words, type Page } from "../ui";

/** ListAudit's longest window. */
const MAX_DAYS = 31;
const LIMIT = 200;
/** The audited calls (the server's `audited(…)` sites), offered as suggestions. */
const ACTIONS = ["PlateTrajectory", "ListEvents", "CreateExtraction", "AddWatchlistEntry", "RemoveWatchlistEntry"];

interface Query {
  readonly window: Period;
  readonly action: string;
  readonly tokenId: string;
}

export class AuditPage implements Page {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly window: WindowPicker;
  private readonly action = h("input", { type: "text", list: "audit-actions", autocomplete: "off", "data-testid": "audit-action" });
  private readonly token = h("input", { type: "text", autocomplete: "off", "data-testid": "audit-token" });
  private readonly loadButton: HTMLButtonElement;
  private readonly more: HTMLButtonElement;
  private readonly status = new Status("audit-status");
  private readonly summary = h("p", { class: "summary" });
  private readonly body = h("tbody");
  private readonly table: HTMLTableElement;
  private query: Query | undefined;
  private entries: AuditEntry[] = [];
  private ids = new Set<string>();
  private exhausted = false;
  private loaded = false;

  constructor(private readonly ctx: Context) {
    this.window = new WindowPicker({
      presets: ["24h", "7d", "31d"],
      initial: "24h",
      maxDays: MAX_DAYS,
      testid: "audit",
      now: () => ctx.api.now(),
    });
    this.loadButton = h("button", { type: "submit", class: "primary", "data-testid": "audit-load" });
    this.words.text(this.loadButton, "action.show");
    this.words.attr(this.action, "placeholder", "audit.actionPlaceholder");
    this.words.attr(this.token, "placeholder", "audit.tokenPlaceholder");
    const form = h(
      "form",
      { class: "search-form", novalidate: true },
      h(
        "div",
        { class: "form-row" },
        this.window.el,
        field(this.words, "audit.action", this.action),
        field(this.words, "audit.token", this.token),
        this.loadButton,
      ),
      h("datalist", { id: "audit-actions" }, ...ACTIONS.map((a) => h("option", { value: a }))),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.load(true);
    });
    this.more = button(this.words, "action.more", "audit-more");
    this.more.hidden = true;
    this.more.addEventListener("click", () => void this.load(false));
    this.table = h(
      "table",
      { class: "table audit-table", hidden: true },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          th(this.words, "field.time"),
          th(this.words, "audit.actor"),
          th(this.words, "audit.role"),
          th(this.words, "audit.action"),
          th(this.words, "audit.reason"),
          th(this.words, "audit.query"),
          th(this.words, "audit.results", "num"),
          th(this.words, "audit.outcome"),
        ),
      ),
      this.body,
    );
    this.el = h(
      "section",
      { class: "audit-page", "data-testid": "audit" },
      pageHead(this.words, "nav.audit"),
      form,
      this.status.el,
      this.summary,
      this.table,
      this.more,
    );
  }

  shown(): void {
    if (!this.loaded) {
      this.loaded = true;
      void this.load(true);
    }
  }

  retranslate(): void {
    this.words.apply();
    this.window.retranslate();
    this.status.retranslate();
    this.show();
  }

  /** A new listing (`fresh`), or the entries before the oldest shown. */
  private async load(fresh: boolean): Promise<void> {
    if (fresh) {
      const read = this.window.read();
      if ("problem" in read) {
        this.status.note(() => windowProblemText(read.problem, MAX_DAYS));
        return;
      }
      this.query = { window: read.window, action: this.action.value.trim(), tokenId: this.token.value.trim() };
      this.entries = [];
      this.ids = new Set();
      this.exhausted = false;
    }
    const query = this.query;
    if (!query) {
      return;
    }
    const oldest = this.entries[this.entries.length - 1];
    // The entry at the boundary's millisecond comes again and is dropped.
    const endMs = oldest?.at ? timestampMs(oldest.at) + 1 : query.window.endMs;
    this.status.busy();
    this.loadButton.disabled = true;
    this.more.disabled = true;
    try {
      const response = await this.ctx.api.audit.listAudit({
        window: timeWindow({ startMs: query.window.startMs, endMs }),
        action: query.action,
        tokenId: query.tokenId,
        limit: LIMIT,
      });
      this.status.clear();
      const fresh = response.entries.filter((entry) => !this.ids.has(entry.auditId));
      for (const entry of fresh) {
        this.ids.add(entry.auditId);
      }
      this.entries.push(...fresh);
      this.exhausted = response.entries.length < LIMIT || fresh.length === 0;
      this.show();
    } catch (error) {
      showFailure(this.ctx, this.status, error);
    } finally {
      this.loadButton.disabled = false;
      this.more.disabled = false;
    }
  }

  private show(): void {
    if (!this.query) {
      return;
    }
    this.table.hidden = this.entries.length === 0;
    this.more.hidden = this.exhausted;
    this.summary.textContent = tr(this.exhausted ? "audit.count" : "audit.countMore", {
      n: formatNumber(this.entries.length),
    });
    this.body.replaceChildren(
      ...this.entries.map((entry) => {
        const at = entry.at ? timestampMs(entry.at) : 0;
        const outcome = entry.outcome || "—";
        return h(
          "tr",
          {
            "data-testid": "audit-row",
            "data-audit-id": entry.auditId,
            "data-action": entry.action,
            class: outcome === "OK" ? "" : outcome === "STARTED" ? "started" : "refused",
          },
          h("td", { class: "time" }, at ? formatDateTime(at) : "—"),
          h("td", {}, entry.actorName, h("div", { class: "mono muted" }, entry.tokenId)),
          h("td", {}, tr(`role.${roleName(entry.role)}`)),
          h("td", { class: "mono" }, entry.action),
          h("td", {}, entry.reason),
          h("td", { class: "query" }, entry.query),
          h("td", { class: "num" }, formatNumber(entry.resultCount)),
          h("td", { class: "mono" }, outcome),
        );
      }),
    );
  }
}
