/**
 * The zone of a search, within the caller's scope: the whole scope, a
 * commune, or (when `villages`) a village, in one select. Communes come
 * first (one call); villages follow once the scope's tree is in.
 */

import { h, type View } from "../dom";
import type { Zone } from "../gen/vigil/v1/registry_pb";
import type { MessageKey } from "../i18n";
import { tr } from "../locale";
import { field, Words } from "../ui";
import { levelOf, type ZoneDirectory } from "../zones";

export interface ZonePickerOptions {
  readonly testid: string;
  /** Offer villages too. */
  readonly villages: boolean;
  /** The label; "Khu vực / Zone" by default. */
  readonly label?: MessageKey;
  readonly changed?: () => void;
}

/** Indent of a village under its commune (no-break spaces, which a select keeps). */
const INDENT = "\u00a0\u00a0\u00a0· ";

export class ZonePicker implements View {
  readonly el: HTMLElement;
  readonly select: HTMLSelectElement;
  /** Resolves once every option the picker will offer is in. */
  readonly ready: Promise<void>;
  private readonly words = new Words();
  private scope: Zone | undefined;
  private scopeOption: HTMLOptionElement | undefined;

  constructor(
    private readonly zones: ZoneDirectory,
    private readonly options: ZonePickerOptions,
  ) {
    this.select = h("select", { "data-testid": options.testid });
    this.el = field(this.words, options.label ?? "zone.label", this.select);
    this.select.addEventListener("change", () => options.changed?.());
    this.ready = this.load();
  }

  /** The chosen zone's id ("" until the scope is known: the server reads it as the scope). */
  get value(): string {
    return this.select.value;
  }

  set value(id: string) {
    this.select.value = id;
  }

  /** The chosen zone, when known. */
  get zone(): Zone | undefined {
    return this.zones.get(this.select.value);
  }

  retranslate(): void {
    this.words.apply();
    if (this.scopeOption && this.scope) {
      this.scopeOption.textContent = scopeLabel(this.scope);
    }
  }

  private async load(): Promise<void> {
    const scope = await this.zones.scope().catch(() => undefined);
    if (!scope) {
      // The select still sends "" (the caller's scope).
      this.select.append(this.words.text(h("option", { value: "" }), "zone.scope"));
      return;
    }
    this.scope = scope;
    this.scopeOption = h("option", { value: scope.id }, scopeLabel(scope));
    const communes = levelOf(scope) === "province" ? await this.zones.communes().catch(() => []) : [];
    this.fill(communes.map((zone) => ({ zone, villages: [] })));
    if (!this.options.villages || levelOf(scope) === "village") {
      return;
    }
    const tree = await this.zones.tree().catch(() => undefined);
    if (tree) {
      const branches =
        levelOf(scope) === "province"
          ? tree.communes
          : // A commune's police: its villages right under it.
            tree.communes.flatMap((branch) => branch.villages.map((zone) => ({ zone, villages: [] })));
      this.fill(branches);
    }
  }

  /** Puts the scope first, then each commune (and its villages, indented). */
  private fill(branches: readonly { zone: Zone; villages: readonly Zone[] }[]): void {
    const chosen = this.select.value;
    const options: HTMLOptionElement[] = [this.scopeOption ?? h("option", { value: "" })];
    for (const branch of branches) {
      options.push(h("option", { value: branch.zone.id }, branch.zone.name || branch.zone.id));
      // The commune's name too: a chosen village shows alone in the closed select.
      const commune = branch.zone.name || branch.zone.id;
      for (const village of branch.villages) {
        options.push(h("option", { value: village.id }, `${INDENT}${village.name || village.id} (${commune})`));
      }
    }
    this.select.replaceChildren(...options);
    if (chosen && options.some((option) => option.value === chosen)) {
      this.select.value = chosen;
    }
  }
}

/** "Toàn phạm vi — Thanh Hóa" / "Whole scope — Thanh Hóa". */
function scopeLabel(scope: Zone): string {
  return `${tr("zone.scope")} — ${scope.name || scope.id}`;
}
