/**
 * The Vigil operations console: sign in with an API token, then the live
 * Alerts page. Served by vigil-api from the same origin as the gRPC-web
 * API, under a strict Content-Security-Policy (no inline script or style,
 * nothing from elsewhere).
 */

import { Code } from "@connectrpc/connect";

import { Alarm } from "./alarm";
import { AlertsPage } from "./alerts/page";
import { connect } from "./api";
import { h } from "./dom";
import { problemOf, type Problem } from "./errors";
import { Header } from "./header";
import { LANGS } from "./i18n";
import { currentLang, describe, setLang } from "./locale";
import { clearToken, loadToken, saveToken } from "./session";
import { SignIn } from "./signin";

const alarm = new Alarm();
const content = h("main", { class: "content" });
let page: AlertsPage | undefined;

const header = new Header({
  switchLang() {
    setLang(LANGS[(LANGS.indexOf(currentLang()) + 1) % LANGS.length] ?? LANGS[0]);
    header.retranslate();
    signIn.retranslate();
    page?.retranslate();
  },
  signOut: () => signOut(),
  enableNotifications: () => alarm.ask(),
  canEnableNotifications: () => alarm.canAsk,
});

const signIn = new SignIn(openConsole);

/** Checks `token` with WhoAmI and opens the console for it. */
async function openConsole(token: string): Promise<void> {
  const api = connect(token);
  let me;
  try {
    me = await api.registry.whoAmI({});
  } catch (error) {
    if (problemOf(error).code === Code.Unauthenticated) {
      clearToken();
    }
    throw error;
  }
  saveToken(token);
  header.showUser(me);
  page = new AlertsPage(api, me, alarm, { signedOut: (problem) => signOut(problem) });
  content.replaceChildren(page.el);
  page.start();
}

/** Back to the sign-in form, saying `why` when the server ended the session. */
function signOut(why?: Problem): void {
  page?.stop();
  page = undefined;
  clearToken();
  header.clearUser();
  signIn.reset(why && (() => describe(why)));
  content.replaceChildren(signIn.el);
  signIn.focus();
}

// Sound may start only after a person's gesture; any click or key arms it.
for (const gesture of ["pointerdown", "keydown"]) {
  document.addEventListener(gesture, () => alarm.arm(), { capture: true });
}

setLang(currentLang());
document.body.append(header.el, content);
content.replaceChildren(signIn.el);
const kept = loadToken();
if (kept) {
  void signIn.attempt(kept);
} else {
  signIn.focus();
}
