/**
 * The bar across the top: who is signed in (name, role, zone), the
 * notification switch, the language switch and sign-out.
 */

import { h, type View } from "./dom";
import type { WhoAmIResponse } from "./gen/vigil/v1/operations_pb";
import { currentLang, tr } from "./locale";
import { roleName } from "./names";

/** What the header's buttons do. */
export interface HeaderActions {
  switchLang(): void;
  signOut(): void;
  /** Asks for notification permission (a click, as browsers require). */
  enableNotifications(): Promise<void>;
  /** Whether asking for notification permission is still to be done. */
  canEnableNotifications(): boolean;
}

/** The console's header. */
export class Header implements View {
  readonly el: HTMLElement;
  private readonly brand = h("span", { class: "brand" });
  private readonly name = h("span", { class: "who-name" });
  private readonly role = h("span", { class: "who-role" });
  private readonly zone = h("span", { class: "who-zone" });
  /** In the header only while someone is signed in. */
  private readonly who = h(
    "div",
    { class: "whoami", "data-testid": "whoami" },
    this.name,
    " · ",
    this.role,
    " · ",
    this.zone,
  );
  private readonly notify = h("button", { type: "button", class: "notify", hidden: true });
  private readonly lang = h("button", { type: "button", "data-testid": "lang-switch" });
  private readonly signOut = h("button", { type: "button", "data-testid": "signout", hidden: true });
  private me: WhoAmIResponse | undefined;

  constructor(private readonly actions: HeaderActions) {
    const spacer = h("span", { class: "spacer" });
    this.el = h("header", { class: "top" }, this.brand, spacer, this.notify, this.lang, this.signOut);
    this.lang.addEventListener("click", () => actions.switchLang());
    this.signOut.addEventListener("click", () => actions.signOut());
    this.notify.addEventListener("click", () => {
      void actions.enableNotifications().finally(() => this.retranslate());
    });
    this.retranslate();
  }

  /**
   * Shows who signed in, complete from the start (a test may read it as
   * soon as it appears): the zone by name and id, e.g. "Bá Thước
   * (th.ba-thuoc)", by id alone when the registry has no name for it.
   */
  showUser(me: WhoAmIResponse): void {
    this.me = me;
    this.who.dataset.role = roleName(me.role);
    this.who.dataset.zoneId = me.zoneId;
    this.name.textContent = me.name;
    this.zone.textContent = me.zoneName ? `${me.zoneName} (${me.zoneId})` : me.zoneId;
    this.retranslate();
    this.brand.after(this.who);
  }

  /** Back to nobody signed in. */
  clearUser(): void {
    this.me = undefined;
    this.who.remove();
    this.retranslate();
  }

  retranslate(): void {
    const signedIn = this.me !== undefined;
    this.brand.textContent = tr("app.title");
    this.role.textContent = this.me ? tr(`role.${roleName(this.me.role)}`) : "";
    this.notify.textContent = tr("notify.enable");
    this.notify.title = tr("notify.enableTitle");
    this.notify.hidden = !signedIn || !this.actions.canEnableNotifications();
    this.lang.textContent = tr("lang.switch");
    this.lang.title = tr("lang.switchTitle");
    this.lang.lang = currentLang() === "vi" ? "en" : "vi";
    this.signOut.textContent = tr("signout");
    this.signOut.hidden = !signedIn;
  }
}
