/**
 * The signed-in console: the navigation bar (the pages the role may use)
 * and the page the address names (`#/map`, `#/commune/<id>`…). The
 * Alerts page lives as long as the session, hidden while another page is
 * shown, so there is one live stream per tab and the map's rings stay
 * current; other pages are made on first visit and kept (one commune
 * page at a time).
 */

import type { AlertsPage } from "./alerts/page";
import { AuditPage } from "./audit/page";
import { CommunePage } from "./commune/page";
import type { Context } from "./context";
import { CountsPage } from "./counts/page";
import { h, type View } from "./dom";
import { EventsPage } from "./events/page";
import { ExtractionsPage } from "./extractions/page";
import { FleetPage } from "./fleet/page";
import { tr } from "./locale";
import { MapPage } from "./map/page";
import { pagesFor, resolve, routeHash, type PageName, type Route } from "./nav";
import { PlatePage } from "./plate/page";
import type { Page } from "./ui";

/** Makes the page of a route. */
function makePage(ctx: Context, route: Route): Page | undefined {
  switch (route.page) {
    case "alerts":
      return undefined;
    case "map":
      return new MapPage(ctx);
    case "fleet":
      return new FleetPage(ctx);
    case "events":
      return new EventsPage(ctx);
    case "plate":
      return new PlatePage(ctx);
    case "counts":
      return new CountsPage(ctx);
    case "extractions":
      return new ExtractionsPage(ctx);
    case "audit":
      return new AuditPage(ctx);
    case "commune":
      return new CommunePage(ctx, route.zoneId);
  }
}

export class Shell implements View {
  readonly el: HTMLElement;
  private readonly nav = h("nav", { class: "nav", "data-testid": "nav" });
  private readonly links = new Map<PageName, HTMLAnchorElement>();
  private readonly frame = h("div", { class: "page-frame" });
  private readonly pages = new Map<string, Page>();
  private current: { key: string; page: Page | undefined } | undefined;
  private readonly onHash = () => this.route();

  constructor(
    private readonly ctx: Context,
    private readonly alerts: AlertsPage,
  ) {
    for (const page of pagesFor(ctx.me.role)) {
      const link = h("a", { href: routeHash({ page }), "data-testid": `nav-${page}`, "data-page": page });
      this.links.set(page, link);
      this.nav.append(link);
    }
    this.alerts.el.hidden = true;
    this.el = h("div", { class: "shell" }, this.nav, this.alerts.el, this.frame);
    this.retranslate();
  }

  /** Shows the page of the address, and follows it. */
  start(): void {
    window.addEventListener("hashchange", this.onHash);
    this.route();
  }

  /** Drops every page (sign-out). */
  stop(): void {
    window.removeEventListener("hashchange", this.onHash);
    for (const page of this.pages.values()) {
      page.stop?.();
    }
    this.pages.clear();
  }

  retranslate(): void {
    for (const [page, link] of this.links) {
      link.textContent = tr(`nav.${page}`);
    }
    this.alerts.retranslate();
    for (const page of this.pages.values()) {
      page.retranslate();
    }
  }

  private route(): void {
    const route = resolve(this.ctx.me.role, window.location.hash);
    const key = routeHash(route);
    if (window.location.hash !== key) {
      // An unknown or forbidden address: show where the desk is instead.
      history.replaceState(null, "", key);
    }
    if (this.current?.key === key) {
      return;
    }
    this.current?.page?.hidden?.();
    let page: Page | undefined;
    if (route.page !== "alerts") {
      page = this.pages.get(key);
      if (!page) {
        if (route.page === "commune") {
          this.dropCommunePages();
        }
        page = makePage(this.ctx, route);
        if (page) {
          this.pages.set(key, page);
        }
      }
    }
    this.current = { key, page };
    this.alerts.el.hidden = route.page !== "alerts";
    this.frame.replaceChildren(...(page ? [page.el] : []));
    for (const [name, link] of this.links) {
      const here = name === route.page;
      link.classList.toggle("current", here);
      if (here) {
        link.setAttribute("aria-current", "page");
      } else {
        link.removeAttribute("aria-current");
      }
    }
    page?.shown?.();
  }

  private dropCommunePages(): void {
    for (const [key, page] of this.pages) {
      if (key.startsWith("#/commune/")) {
        page.stop?.();
        this.pages.delete(key);
      }
    }
  }
}
