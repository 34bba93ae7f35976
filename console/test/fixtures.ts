/** Alerts and changes as the server sends them, for the tests. */

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import { AlertOutcome, AlertState, StoredAlertSchema, type StoredAlert } from "../src/gen/vigil/v1/alerting_pb";
import { AlertChangeSchema, AlertKind, AlertSchema, type Alert } from "../src/gen/vigil/v1/stream_pb";

/** 2026-12-06T17:30:00Z. */
export const T0 = Date.UTC(2026, 11, 6, 17, 30);

/** A raised watchlist alert `id`, `secondsAfter` T0. */
export function raise(id: string, { priority = 3, secondsAfter = 0 } = {}): Alert {
  return create(AlertSchema, {
    alertId: id,
    kind: AlertKind.WATCHLIST,
    priority,
    raisedAt: timestampFromMs(T0 + secondsAfter * 1000),
    communeId: "th.ba-thuoc",
    villageId: "th.ba-thuoc.v012",
    zonePath: ["Thanh Hóa", "Bá Thước", "Lũng Cao"],
    cameraId: "cam-lc-01",
    team: { teamName: "Tổ bảo vệ Lũng Cao", onDutyName: "Hà Văn Minh", onDutyPhone: "0912 345 678" },
    hit: { plateNormalized: "36A12345", priority, fuzzy: false },
  });
}

/** The record announcing `action` on alert `id`, `secondsAfter` T0. */
export function change(
  id: string,
  action: string,
  state: string,
  secondsAfter: number,
  { actor = "captain", detail = "" } = {},
): Alert {
  return create(AlertSchema, {
    ...raise(id),
    change: create(AlertChangeSchema, {
      action,
      state,
      actor,
      role: "team_captain",
      at: timestampFromMs(T0 + secondsAfter * 1000),
      detail,
    }),
  });
}

/** Alert `id` as ListAlerts or a move's reply returns it. */
export function stored(
  id: string,
  state: AlertState,
  fields: { acknowledgedBy?: string; assignee?: string; closedBy?: string; outcome?: AlertOutcome } = {},
): StoredAlert {
  return create(StoredAlertSchema, { alert: raise(id), state, ...fields });
}
