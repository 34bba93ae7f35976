/**
 * The Vigil operations console: sign in with an API token, then the pages
 * the role may use (the live Alerts page first). Served by vigil-api from the same origin as the gRPC-web
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
import { routeHash } from "./nav";
import { clearToken, loadToken, saveToken } from "./session";
import { Shell } from "./shell";
import { SignIn } from "./signin";
import { ZoneDirectory } from "./zones";

const alarm = new Alarm();
const content = h("main", { class: "content" });
let page: AlertsPage | undefined;
let shell: Shell | undefined;

const header = new Header({
  switchLang() {
    setLang(LANGS[(LANGS.indexOf(currentLang()) + 1) % LANGS.length] ?? LANGS[0]);
    header.retranslate();
    signIn.retranslate();
    shell?.retranslate();
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
  const alerts = new AlertsPage(api, me, alarm, { signedOut: (problem) => signOut(problem) });
  page = alerts;
  shell = new Shell(
    {
      api,
      me,
      zones: new ZoneDirectory(api, me),
      alerts,
      go: (route) => (window.location.hash = routeHash(route)),
      signedOut: (problem) => signOut(problem),
    },
    alerts,
  );
  content.replaceChildren(shell.el);
  alerts.start();
  shell.start();
}

/** Back to the sign-in form, saying `why` when the server ended the session. */
function signOut(why?: Problem): void {
  if (!page && why) {
    // Signed out already: another call failed on the same token.
    return;
  }
  page?.stop();
  page = undefined;
  shell?.stop();
  shell = undefined;
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
