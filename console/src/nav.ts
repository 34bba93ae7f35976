/**
 * The console's pages and their addresses (hash routes such as `#/map`
 * or `#/commune/th.ba-thuoc`), and which of them a role may open: a page
 * is offered only when the role may make the calls it rests on (see
 * `roles.ts`, after the server's `auth.rs`). No DOM here.
 */

import type { Role } from "./gen/vigil/v1/operations_pb";
import { may, seesCommunes } from "./roles";

/** The pages in the navigation bar, in its order. */
export const PAGES = ["alerts", "map", "fleet", "events", "plate", "counts", "extractions", "audit"] as const;
export type PageName = (typeof PAGES)[number];

/** Where the console is: a page of the bar, or one commune's page. */
export type Route = { readonly page: PageName } | { readonly page: "commune"; readonly zoneId: string };

/** The page shown after sign-in and for an address the console does not know. */
export const HOME: Route = { page: "alerts" };

/** What each page needs the role to be allowed. */
const NEEDS: Readonly<Record<PageName, (role: Role) => boolean>> = {
  alerts: (role) => may(role, "read_alerts"),
  map: (role) => may(role, "read_registry") && may(role, "read_events"),
  fleet: (role) => may(role, "read_events"),
  events: (role) => may(role, "read_events"),
  plate: (role) => may(role, "search_plates"),
  counts: (role) => may(role, "read_events"),
  extractions: (role) => may(role, "read_extractions"),
  audit: (role) => may(role, "read_audit"),
};

/** The bar's pages `role` may open, in order. */
export function pagesFor(role: Role): PageName[] {
  return PAGES.filter((page) => NEEDS[page](role));
}

/** Whether `role` may open `route`. */
export function allows(role: Role, route: Route): boolean {
  return route.page === "commune" ? seesCommunes(role) && may(role, "read_registry") : NEEDS[route.page](role);
}

/** Zone ids as the registry makes them: ASCII letters, digits, ".", "-", "_". */
const ZONE_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The route of `hash` (`location.hash`), or undefined when it names none. */
export function parseRoute(hash: string): Route | undefined {
  const path = hash.replace(/^#\/?/, "");
  const [first = "", ...rest] = path.split("/");
  if (first === "commune") {
    const zoneId = safeDecode(rest.join("/"));
    return zoneId !== undefined && ZONE_ID.test(zoneId) ? { page: "commune", zoneId } : undefined;
  }
  const page = PAGES.find((name) => name === first);
  return page && rest.length === 0 ? { page } : undefined;
}

/** The hash of `route`, e.g. "#/commune/th.ba-thuoc". */
export function routeHash(route: Route): string {
  return route.page === "commune" ? `#/commune/${encodeURIComponent(route.zoneId)}` : `#/${route.page}`;
}

/**
 * Where `hash` leads `role`: its route when the role may open it, else
 * the role's first page (the Alerts page for every known role).
 */
export function resolve(role: Role, hash: string): Route {
  const route = parseRoute(hash);
  if (route && allows(role, route)) {
    return route;
  }
  const first = pagesFor(role)[0];
  return first ? { page: first } : HOME;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
