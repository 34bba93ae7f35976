/**
 * A failed call in words: the kind of failure (from the gRPC status code)
 * as a dictionary key, and the server's own message, which names the
 * reason (who acknowledged first, which field is wrong).
 */

import { Code, ConnectError } from "@connectrpc/connect";

import type { MessageKey } from "./i18n";

/** What went wrong, ready to show. */
export interface Problem {
  readonly key: MessageKey;
  /** The server's message; empty when there is none worth showing. */
  readonly detail: string;
  readonly code: Code;
}

const KEYS: Partial<Record<Code, MessageKey>> = {
  [Code.Unauthenticated]: "error.unauthenticated",
  [Code.PermissionDenied]: "error.permission",
  [Code.FailedPrecondition]: "error.refused",
  [Code.InvalidArgument]: "error.invalid",
  [Code.NotFound]: "error.notFound",
  [Code.Unavailable]: "error.unavailable",
  [Code.Unknown]: "error.unavailable",
  [Code.ResourceExhausted]: "error.busy",
  [Code.Aborted]: "error.contended",
  [Code.DeadlineExceeded]: "error.timeout",
};

/** `error` (whatever a call threw) as a {@link Problem}. */
export function problemOf(error: unknown): Problem {
  const connect = ConnectError.from(error);
  return {
    key: KEYS[connect.code] ?? "error.server",
    detail: connect.rawMessage,
    code: connect.code,
  };
}
