/**
 * What every page of a signed-in console shares: the API clients, who is
 * signed in, the registry directory, the live queue's open alerts, and
 * the way to another page.
 */

import { Code } from "@connectrpc/connect";

import type { OpenAlerts } from "./alerts/page";
import type { Api } from "./api";
import { problemOf, type Problem } from "./errors";
import type { WhoAmIResponse } from "./gen/vigil/v1/operations_pb";
import type { Route } from "./nav";
import type { Status } from "./ui";
import type { ZoneDirectory } from "./zones";

export interface Context {
  readonly api: Api;
  readonly me: WhoAmIResponse;
  readonly zones: ZoneDirectory;
  readonly alerts: OpenAlerts;
  /** Goes to `route` (through the address bar, so Back works). */
  go(route: Route): void;
  /** The token stopped being accepted: back to the sign-in form. */
  signedOut(problem: Problem): void;
}

/**
 * Shows on `status` why a call failed, in words; a token no longer
 * accepted signs the desk out, and a call the page itself cancelled says
 * nothing. Answers the problem, or undefined when cancelled.
 */
export function showFailure(ctx: Context, status: Status, error: unknown): Problem | undefined {
  const problem = problemOf(error);
  if (problem.code === Code.Canceled) {
    status.clear();
    return undefined;
  }
  status.failed(error);
  if (problem.code === Code.Unauthenticated) {
    ctx.signedOut(problem);
  }
  return problem;
}
