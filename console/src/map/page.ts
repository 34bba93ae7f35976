/**
 * The Map page: the caller's whole scope, cameras coloured by coverage
 * over the last hour, open alerts ringed; a commune's outline opens its
 * page.
 */

import type { Context } from "../context";
import { h } from "../dom";
import { button, pageHead, Words, type Page } from "../ui";
import { MapView } from "./view";

export class MapPage implements Page {
  readonly el: HTMLElement;
  private readonly words = new Words();
  private readonly map: MapView;

  constructor(ctx: Context) {
    this.map = new MapView(ctx, ctx.me.zoneId, { coverage: true, alerts: true, linkScope: true });
    const hint = this.words.text(h("p", { class: "hint" }), "map.hint");
    const refresh = button(this.words, "action.refresh", "map-refresh");
    refresh.addEventListener("click", () => this.map.refreshIfStale(true));
    this.el = h("section", { class: "map-page" }, pageHead(this.words, "nav.map", refresh), hint, this.map.el);
  }

  shown(): void {
    this.map.watch(true);
  }

  hidden(): void {
    this.map.watch(false);
  }

  stop(): void {
    this.map.stop();
  }

  retranslate(): void {
    this.words.apply();
    this.map.retranslate();
  }
}
