/**
 * Every string the console shows, in Vietnamese (the default, with full
 * diacritics) and English. The English dictionary is typed by the
 * Vietnamese one, so a key missing from either language does not compile.
 * No DOM here: the unit tests read the dictionaries directly.
 */

/** The console's languages; the first is the default. */
export const LANGS = ["vi", "en"] as const;
export type Lang = (typeof LANGS)[number];

const vi = {
  "app.title": "Vigil — Trung tâm chỉ huy",
  "lang.switch": "English",
  "lang.switchTitle": "Chuyển sang tiếng Anh",

  "signin.heading": "Đăng nhập",
  "signin.tokenLabel": "Mã truy cập API",
  "signin.tokenHint": "Mã do quản trị cấp bằng vigilctl token issue, bắt đầu bằng vgl_",
  "signin.keptForTab": "Mã chỉ được giữ trong thẻ trình duyệt này, đóng thẻ là hết.",
  "signin.submit": "Đăng nhập",
  "signin.checking": "Đang kiểm tra…",
  "signin.empty": "Hãy nhập mã truy cập.",
  "signout": "Đăng xuất",
  "notify.enable": "Bật thông báo",
  "notify.enableTitle": "Hiện thông báo trên màn hình khi có cảnh báo ưu tiên cao",

  "role.unspecified": "Không rõ vai trò",
  "role.province_operator": "Trực ban tỉnh",
  "role.commune_police": "Công an xã",
  "role.team_captain": "Tổ trưởng tổ bảo vệ",
  "role.auditor": "Kiểm tra viên",

  "alerts.heading": "Cảnh báo",
  "alerts.empty": "Không có cảnh báo đang mở.",
  "alerts.open": "{n} đang mở",
  "live.live": "Trực tiếp",
  "live.reconnecting": "Đang kết nối lại…",
  "live.off": "Vai trò này không nhận cảnh báo trực tiếp",

  "field.priority": "Ưu tiên",
  "field.place": "Nơi",
  "field.camera": "Camera",
  "field.team": "Đội phụ trách",
  "field.plate": "Biển số",
  "field.assignee": "Giao cho",
  "field.acknowledgedBy": "Người xác nhận",
  "field.closedBy": "Người đóng",
  "field.outcome": "Kết quả",
  "plate.fuzzy": "(đọc gần đúng)",

  "kind.unspecified": "Cảnh báo",
  "kind.watchlist": "Biển số theo dõi",
  "kind.camera_offline": "Camera mất kết nối",
  "kind.camera_online": "Camera hoạt động trở lại",

  "state.raised": "Mới",
  "state.notified": "Đã báo đội",
  "state.escalated": "Đã chuyển cấp trên",
  "state.acknowledged": "Đã xác nhận",
  "state.closed": "Đã đóng",

  "outcome.choose": "— Kết quả —",
  "outcome.confirmed": "Đúng sự việc",
  "outcome.false_positive": "Báo nhầm",
  "outcome.no_action": "Không cần xử lý",
  "outcome.duplicate": "Trùng cảnh báo khác",

  "action.acknowledge": "Xác nhận",
  "action.assign": "Giao cho",
  "action.assignPlaceholder": "Mã thành viên đội",
  "action.note": "Ghi chú",
  "action.notePlaceholder": "Nội dung ghi chú",
  "action.close": "Đóng",

  "error.unauthenticated": "Mã truy cập không được chấp nhận",
  "error.permission": "Không được phép",
  "error.refused": "Bị từ chối",
  "error.invalid": "Dữ liệu không hợp lệ",
  "error.notFound": "Không tìm thấy",
  "error.unavailable": "Không kết nối được máy chủ",
  "error.busy": "Máy chủ đang quá tải",
  "error.contended": "Cảnh báo vừa thay đổi, hãy thử lại",
  "error.timeout": "Quá thời gian chờ",
  "error.server": "Lỗi máy chủ",

  "notification.title": "Cảnh báo ưu tiên {priority}",
} as const;

/** A key of the dictionaries. */
export type MessageKey = keyof typeof vi;
/** One language's strings. */
export type Dictionary = Readonly<Record<MessageKey, string>>;

const en: Dictionary = {
  "app.title": "Vigil — Operations console",
  "lang.switch": "Tiếng Việt",
  "lang.switchTitle": "Switch to Vietnamese",

  "signin.heading": "Sign in",
  "signin.tokenLabel": "API token",
  "signin.tokenHint": "Issued with vigilctl token issue; it starts with vgl_",
  "signin.keptForTab": "The token is kept for this browser tab only and goes when it closes.",
  "signin.submit": "Sign in",
  "signin.checking": "Checking…",
  "signin.empty": "Enter a token.",
  "signout": "Sign out",
  "notify.enable": "Enable notifications",
  "notify.enableTitle": "Show a desktop notification for high-priority alerts",

  "role.unspecified": "Unknown role",
  "role.province_operator": "Province operator",
  "role.commune_police": "Commune police",
  "role.team_captain": "Team captain",
  "role.auditor": "Auditor",

  "alerts.heading": "Alerts",
  "alerts.empty": "No open alerts.",
  "alerts.open": "{n} open",
  "live.live": "Live",
  "live.reconnecting": "Reconnecting…",
  "live.off": "This role gets no live alerts",

  "field.priority": "Priority",
  "field.place": "Place",
  "field.camera": "Camera",
  "field.team": "Team on duty",
  "field.plate": "Plate",
  "field.assignee": "Assigned to",
  "field.acknowledgedBy": "Acknowledged by",
  "field.closedBy": "Closed by",
  "field.outcome": "Outcome",
  "plate.fuzzy": "(fuzzy read)",

  "kind.unspecified": "Alert",
  "kind.watchlist": "Watch-listed plate",
  "kind.camera_offline": "Camera offline",
  "kind.camera_online": "Camera back online",

  "state.raised": "Raised",
  "state.notified": "Notified",
  "state.escalated": "Escalated",
  "state.acknowledged": "Acknowledged",
  "state.closed": "Closed",

  "outcome.choose": "— Outcome —",
  "outcome.confirmed": "Confirmed",
  "outcome.false_positive": "False positive",
  "outcome.no_action": "No action needed",
  "outcome.duplicate": "Duplicate",

  "action.acknowledge": "Acknowledge",
  "action.assign": "Assign",
  "action.assignPlaceholder": "Team member id",
  "action.note": "Note",
  "action.notePlaceholder": "Note text",
  "action.close": "Close",

  "error.unauthenticated": "Token not accepted",
  "error.permission": "Not allowed",
  "error.refused": "Refused",
  "error.invalid": "Invalid input",
  "error.notFound": "Not found",
  "error.unavailable": "Server unreachable",
  "error.busy": "Server busy",
  "error.contended": "The alert changed meanwhile; try again",
  "error.timeout": "Timed out",
  "error.server": "Server error",

  "notification.title": "Priority {priority} alert",
};

/** Both languages' strings. */
export const DICTIONARIES: Readonly<Record<Lang, Dictionary>> = { vi, en };

/**
 * The string for `key` in `lang`, with each `{name}` replaced by
 * `vars[name]` (a placeholder without a value is left as it is).
 */
export function translate(
  lang: Lang,
  key: MessageKey,
  vars: Readonly<Record<string, string | number>> = {},
): string {
  return DICTIONARIES[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in vars ? String(vars[name]) : whole,
  );
}

/** `value` if it names a language, else the default (Vietnamese). */
export function parseLang(value: string | null | undefined): Lang {
  return LANGS.find((lang) => lang === value) ?? LANGS[0];
}
