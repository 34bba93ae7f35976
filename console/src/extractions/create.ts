/**
 * "Create extraction" under a search: a case id and a reason, then
 * CreateExtraction with the search's own filters (zone, window, kinds,
 * cameras). The button stays disabled until both are filled in; the
 * server refuses an empty reason too.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";

import { SLOW_CALL_MS } from "../api";
import { showFailure, type Context } from "../context";
import { h, type View } from "../dom";
import type { ExtractionQuerySchema } from "../gen/vigil/v1/operations_pb";
import { formatNumber, tr } from "../locale";
import { button, field, Status, Words } from "../ui";

/** What the extraction will pull: the search as it was made. */
export type QueryInit = MessageInitShape<typeof ExtractionQuerySchema>;

export class ExtractionForm implements View {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly caseInput = h("input", {
    type: "text",
    maxlength: 64,
    autocomplete: "off",
    "data-testid": "extraction-case",
  });
  private readonly reason = h("input", {
    type: "text",
    maxlength: 512,
    autocomplete: "off",
    "data-testid": "extraction-reason",
  });
  private readonly create: HTMLButtonElement;
  private readonly status = new Status("extraction-result");
  private busy = false;

  /** `query`: the filters of the search shown, or undefined while there is none. */
  constructor(
    private readonly ctx: Context,
    private readonly query: () => QueryInit | undefined,
  ) {
    this.create = button(this.words, "extraction.create", "extraction-create", "primary");
    this.el = h(
      "form",
      { class: "extraction-form", novalidate: true },
      this.words.text(h("h2"), "extraction.heading"),
      this.words.text(h("p", { class: "hint" }), "extraction.hint"),
      h(
        "div",
        { class: "form-row" },
        field(this.words, "extraction.case", this.caseInput),
        field(this.words, "extraction.reason", this.reason, "field wide"),
        this.create,
      ),
      this.status.el,
    );
    this.words.attr(this.caseInput, "placeholder", "extraction.casePlaceholder");
    this.words.attr(this.reason, "placeholder", "extraction.reasonPlaceholder");
    for (const input of [this.caseInput, this.reason]) {
      input.addEventListener("input", () => this.refresh());
    }
    this.create.addEventListener("click", () => void this.submit());
    this.el.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
    this.refresh();
  }

  /** Enables the button when a case, a reason and a search are there. */
  refresh(): void {
    this.create.disabled = this.busy || !this.ready();
  }

  retranslate(): void {
    this.words.apply();
    this.status.retranslate();
  }

  private ready(): boolean {
    return Boolean(this.caseInput.value.trim() && this.reason.value.trim() && this.query());
  }

  private async submit(): Promise<void> {
    const query = this.query();
    if (this.busy || !query || !this.ready()) {
      return;
    }
    this.busy = true;
    this.refresh();
    this.status.note(() => tr("extraction.creating"));
    try {
      const made = await this.ctx.api.extractions.createExtraction(
        { caseId: this.caseInput.value.trim(), reason: this.reason.value.trim(), query },
        { timeoutMs: SLOW_CALL_MS },
      );
      this.status.note(() =>
        tr("extraction.created", {
          id: made.extractionId,
          case: made.caseId,
          n: formatNumber(made.eventCount),
          sha: made.manifestSha256.slice(0, 16),
        }),
      );
      this.reason.value = "";
    } catch (error) {
      showFailure(this.ctx, this.status, error);
    } finally {
      this.busy = false;
      this.refresh();
    }
  }
}
