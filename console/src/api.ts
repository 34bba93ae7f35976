/**
 * The vigil.v1 services as the page calls them: gRPC-web to the origin the
 * page came from (vigil-api serves both), every call carrying the tab's
 * bearer token.
 */

import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

import { clockOffsetMs } from "./clock";
import { AlertService } from "./gen/vigil/v1/alerting_pb";
import { AuditService, ExtractionService, RegistryService } from "./gen/vigil/v1/operations_pb";
import { QueryService } from "./gen/vigil/v1/query_pb";

/** Unary calls give up after this; streams pass `timeoutMs: 0` (none). */
const CALL_TIMEOUT_MS = 15_000;

/**
 * For the calls that read every camera of a zone (Coverage over the
 * province reads ten thousand cameras' histories) or run a whole query
 * (CreateExtraction): pass as `{ timeoutMs: SLOW_CALL_MS }`.
 */
export const SLOW_CALL_MS = 120_000;

/** Clients of the services the console uses, for one token. */
export interface Api {
  readonly alerts: Client<typeof AlertService>;
  readonly query: Client<typeof QueryService>;
  readonly registry: Client<typeof RegistryService>;
  readonly extractions: Client<typeof ExtractionService>;
  readonly audit: Client<typeof AuditService>;
  /** Now, in the server's time (epoch ms). */
  now(): number;
}

/** Clients that call with `token`. */
export function connect(token: string): Api {
  let offsetMs = 0;
  const withToken: Interceptor = (next) => async (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    const response = await next(request);
    offsetMs = clockOffsetMs(response.header.get("date"), Date.now()) ?? offsetMs;
    return response;
  };
  const transport = createGrpcWebTransport({
    baseUrl: window.location.origin,
    interceptors: [withToken],
    defaultTimeoutMs: CALL_TIMEOUT_MS,
  });
  return {
    alerts: createClient(AlertService, transport),
    query: createClient(QueryService, transport),
    registry: createClient(RegistryService, transport),
    extractions: createClient(ExtractionService, transport),
    audit: createClient(AuditService, transport),
    now: () => Date.now() + offsetMs,
  };
}
