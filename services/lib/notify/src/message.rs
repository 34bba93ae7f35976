//! What a notification says: the [`text`] a person on duty reads on a
//! phone, and the request [`body`] a channel's receiver expects, keyed by a
//! [`notification_id`] the receiver deduplicates redeliveries by.
//!
//! Alert fields are written as given but bounded and kept on one line each
//! (control and direction-changing characters become spaces), so no field
//! can push the acknowledgement hint out of the text or forge a line of it.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::Serialize;
use vigil_proto::v1::{Alert, AlertKind};

use crate::channel::{Channel, Format, Language};

/// Longest [`text`], in characters (a few SMS segments).
pub const MAX_TEXT_CHARS: usize = 1000;
/// Longest alert field quoted in a [`text`], in characters.
pub const MAX_FIELD_CHARS: usize = 200;

/// Vietnam's clock: UTC+7 all year (no daylight saving).
const VIETNAM_OFFSET_SECS: i32 = 7 * 3600;

/// Who a notification is for: the village team first, then, while nobody
/// acknowledges, the commune police and the province operations center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// The village security team on duty.
    Team,
    /// The commune police (escalation level 1).
    CommunePolice,
    /// The province operations center (escalation level 2).
    Province,
}

impl Audience {
    /// The escalation level: 0 for the team, 1 and 2 for escalations.
    pub fn level(self) -> u8 {
        match self {
            Audience::Team => 0,
            Audience::CommunePolice => 1,
            Audience::Province => 2,
        }
    }

    /// The audience of escalation `level`, if there is one.
    pub fn from_level(level: u8) -> Option<Self> {
        match level {
            0 => Some(Audience::Team),
            1 => Some(Audience::CommunePolice),
            2 => Some(Audience::Province),
            _ => None,
        }
    }

    /// The name in request bodies, logs and metric labels, e.g. `team`.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Team => "team",
            Audience::CommunePolice => "commune_police",
            Audience::Province => "province",
        }
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The idempotency key receivers deduplicate by: `<alert_id>/team`,
/// `<alert_id>/escalation-1` or `<alert_id>/escalation-2`. The same for
/// every retry of one notification, different for each audience.
pub fn notification_id(alert_id: &str, audience: Audience) -> String {
    match audience {
        Audience::Team => format!("{alert_id}/team"),
        Audience::CommunePolice | Audience::Province => {
            format!("{alert_id}/escalation-{}", audience.level())
        }
    }
}

/// The fixed wording of a [`text`] in one language; units are (singular,
/// plural).
struct Words {
    watchlist: &'static str,
    camera_offline: &'static str,
    camera_online: &'static str,
    other_kind: &'static str,
    priority: &'static str,
    fuzzy: &'static str,
    reason: &'static str,
    place: &'static str,
    time: &'static str,
    unknown: &'static str,
    on_duty: &'static str,
    not_acknowledged: &'static str,
    within: &'static str,
    to_commune_police: &'static str,
    to_province: &'static str,
    acknowledge: &'static str,
    seconds: (&'static str, &'static str),
    minutes: (&'static str, &'static str),
    hours: (&'static str, &'static str),
}

const VIETNAMESE: Words = Words {
    watchlist: "Cảnh báo biển số theo dõi",
    camera_offline: "Camera mất kết nối",
    camera_online: "Camera hoạt động trở lại",
    other_kind: "Cảnh báo",
    priority: "ưu tiên",
    fuzzy: "(đọc gần đúng)",
    reason: "Lý do",
    place: "Nơi",
    time: "Lúc",
    unknown: "không rõ",
    on_duty: "Trực",
    not_acknowledged: "Chưa có ai xác nhận",
    within: "sau",
    to_commune_police: "chuyển lên công an xã",
    to_province: "chuyển lên trung tâm chỉ huy tỉnh",
    acknowledge: "Xác nhận",
    seconds: ("giây", "giây"),
    minutes: ("phút", "phút"),
    hours: ("giờ", "giờ"),
};

const ENGLISH: Words = Words {
    watchlist: "Watch-listed plate",
    camera_offline: "Camera offline",
    camera_online: "Camera back online",
    other_kind: "Alert",
    priority: "priority",
    fuzzy: "(fuzzy read)",
    reason: "Reason",
    place: "Where",
    time: "When",
    unknown: "unknown",
    on_duty: "On duty",
    not_acknowledged: "Nobody acknowledged",
    within: "within",
    to_commune_police: "escalated to the commune police",
    to_province: "escalated to the province operations center",
    acknowledge: "Acknowledge",
    seconds: ("second", "seconds"),
    minutes: ("minute", "minutes"),
    hours: ("hour", "hours"),
};

/// The message a person on duty reads on a phone, at most
/// [`MAX_TEXT_CHARS`] characters, one fact per line: what (kind, priority,
/// plate and watchlist reason, or camera), why it was escalated (for the
/// police and the province; `escalated_after` is how long nobody
/// acknowledged), where (village up to province), when (Vietnam time), who
/// is on duty (for the team), and, always last and never cut, the command
/// that acknowledges it.
pub fn text(
    alert: &Alert,
    audience: Audience,
    language: Language,
    escalated_after: Option<Duration>,
) -> String {
    let words = match language {
        Language::Vi => &VIETNAMESE,
        Language::En => &ENGLISH,
    };
    let mut lines = vec![what(alert, words)];
    if let Some(why) = escalation(audience, escalated_after, words) {
        lines.push(why);
    }
    lines.push(format!("{}: {}", words.place, place(alert, words)));
    let time = local_time(alert).unwrap_or_else(|| words.unknown.to_owned());
    lines.push(format!("{}: {time}", words.time));
    if audience == Audience::Team
        && let Some(team) = on_duty(alert)
    {
        lines.push(format!("{}: {team}", words.on_duty));
    }
    let ack = format!(
        "{}: vigilctl alerts ack {}",
        words.acknowledge,
        field(&alert.alert_id)
    );
    // The hint is at most about 230 characters, so the rest keeps over 700.
    let room = MAX_TEXT_CHARS - 1 - ack.chars().count();
    let mut text = truncate(&lines.join("\n"), room);
    text.push('\n');
    text.push_str(&ack);
    text
}

/// Kind, priority and what it is about.
fn what(alert: &Alert, words: &Words) -> String {
    let kind = AlertKind::try_from(alert.kind).ok();
    let mut line = match kind {
        Some(AlertKind::Watchlist) => words.watchlist,
        Some(AlertKind::CameraOffline) => words.camera_offline,
        Some(AlertKind::CameraOnline) => words.camera_online,
        Some(AlertKind::Unspecified) | None => words.other_kind,
    }
    .to_owned();
    // Zero is proto3's "not set", not a priority.
    if alert.priority != 0 {
        line.push_str(&format!(", {} {}", words.priority, alert.priority));
    }
    let detail = match kind {
        Some(AlertKind::Watchlist) => watchlist_detail(alert, words),
        Some(AlertKind::CameraOffline | AlertKind::CameraOnline) => field(&alert.camera_id),
        Some(AlertKind::Unspecified) | None => field(&alert.summary),
    };
    if !detail.is_empty() {
        line.push_str(": ");
        line.push_str(&detail);
    }
    line
}

/// `36A12345 (đọc gần đúng). Lý do: …`
fn watchlist_detail(alert: &Alert, words: &Words) -> String {
    let Some(hit) = &alert.hit else {
        return String::new();
    };
    let mut detail = field(&hit.plate_normalized);
    if hit.fuzzy {
        if !detail.is_empty() {
            detail.push(' ');
        }
        detail.push_str(words.fuzzy);
    }
    let reason = field(&hit.reason);
    if !reason.is_empty() {
        if !detail.is_empty() {
            detail.push_str(". ");
        }
        detail.push_str(&format!("{}: {reason}", words.reason));
    }
    detail
}

/// Why the police or the province get this, if they do.
fn escalation(audience: Audience, after: Option<Duration>, words: &Words) -> Option<String> {
    let to = match audience {
        Audience::Team => return None,
        Audience::CommunePolice => words.to_commune_police,
        Audience::Province => words.to_province,
    };
    Some(match after {
        Some(after) => format!(
            "{} {} {} — {to}",
            words.not_acknowledged,
            words.within,
            elapsed(after, words)
        ),
        None => format!("{} — {to}", words.not_acknowledged),
    })
}

/// `45 giây`, `5 phút`, `2 giờ`: whole hours when exact, else minutes.
fn elapsed(after: Duration, words: &Words) -> String {
    let secs = after.as_secs();
    let (count, (one, many)) = if secs < 60 {
        (secs, words.seconds)
    } else if secs.is_multiple_of(3600) {
        (secs / 3600, words.hours)
    } else {
        (secs / 60, words.minutes)
    };
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Zone names from the village up (`Lâm Chiềng, Bá Thước, Thanh Hóa`),
/// else the village and commune ids; the camera for kinds whose first line
/// does not name it.
fn place(alert: &Alert, words: &Words) -> String {
    let mut place = field(&joined(alert.zone_path.iter().rev(), ", "));
    if place.is_empty() {
        place = field(&joined([&alert.village_id, &alert.commune_id], ", "));
    }
    if place.is_empty() {
        place = words.unknown.to_owned();
    }
    let camera_named = matches!(
        AlertKind::try_from(alert.kind),
        Ok(AlertKind::CameraOffline | AlertKind::CameraOnline)
    );
    if !camera_named && !alert.camera_id.is_empty() {
        place.push_str(&format!(" — camera {}", field(&alert.camera_id)));
    }
    place
}

/// `raised_at` on Vietnam's clock, `14:05 06/12/2026`.
fn local_time(alert: &Alert) -> Option<String> {
    let vietnam = FixedOffset::east_opt(VIETNAM_OFFSET_SECS)?;
    let raised = raised_at(alert)?.with_timezone(&vietnam);
    Some(raised.format("%H:%M %d/%m/%Y").to_string())
}

/// When `alert` was raised, if set and representable.
pub fn raised_at(alert: &Alert) -> Option<DateTime<Utc>> {
    let at = alert.raised_at.as_ref()?;
    DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).ok()?)
}

/// `Đội an ninh Lâm Chiềng — Nguyễn Thị Mai, 0912345678`: the team, the
/// person on duty (else the captain) and their phone, whichever are known.
fn on_duty(alert: &Alert) -> Option<String> {
    let team = alert.team.as_ref()?;
    let person = if team.on_duty_name.trim().is_empty() {
        &team.captain_name
    } else {
        &team.on_duty_name
    };
    let reach = joined([person, &team.on_duty_phone], ", ");
    let line = joined([&team.team_name, &reach], " — ");
    (!line.is_empty()).then_some(line)
}

/// The first [`MAX_FIELD_CHARS`] non-blank `parts`, each bounded, joined
/// by `separator`.
fn joined<'a>(parts: impl IntoIterator<Item = &'a String>, separator: &str) -> String {
    parts
        .into_iter()
        .map(|part| field(part))
        .filter(|part| !part.trim().is_empty())
        .take(MAX_FIELD_CHARS)
        .collect::<Vec<_>>()
        .join(separator)
}

/// `value` on one line and at most [`MAX_FIELD_CHARS`] characters.
fn field(value: &str) -> String {
    let flat: String = value
        .chars()
        .take(MAX_FIELD_CHARS + 1)
        .map(|c| if breaks_layout(c) { ' ' } else { c })
        .collect();
    truncate(&flat, MAX_FIELD_CHARS)
}

/// Control characters (new lines among them), line and paragraph
/// separators, and bidirectional overrides, which could make a field look
/// like another line or reorder what is shown around it.
fn breaks_layout(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `value` cut to at most `max` characters (`max` ≥ 1), ending in `…` when
/// cut.
fn truncate(value: &str, max: usize) -> String {
    if value.chars().nth(max).is_none() {
        return value.to_owned();
    }
    let kept: String = value.chars().take(max.saturating_sub(1)).collect();
    kept + "…"
}

/// The JSON Vigil's own webhooks receive.
#[derive(Serialize)]
struct WebhookBody<'a> {
    notification_id: String,
    alert_id: &'a str,
    audience: &'static str,
    kind: &'static str,
    priority: u32,
    /// RFC 3339 in UTC; `null` when the alert has no valid time.
    raised_at: Option<String>,
    commune_id: &'a str,
    village_id: &'a str,
    camera_id: &'a str,
    plate: &'a str,
    team_id: &'a str,
    language: &'static str,
    text: &'a str,
}

/// The JSON an SMS gateway receives.
#[derive(Serialize)]
struct SmsBody<'a> {
    to: &'a str,
    text: &'a str,
    reference: String,
}

/// The request body for `channel`: Vigil's webhook JSON (ids, kind,
/// priority, place, plate, team, language and `text`), or for an SMS
/// gateway `{"to", "text", "reference"}`, `to` being the channel's
/// recipient, else the on-duty phone of the alert's team. Both carry the
/// [`notification_id`].
pub fn body(alert: &Alert, channel: &Channel, audience: Audience, text: &str) -> Vec<u8> {
    let notification_id = notification_id(&alert.alert_id, audience);
    let encoded = match channel.format {
        Format::Webhook => serde_json::to_vec(&WebhookBody {
            notification_id,
            alert_id: &alert.alert_id,
            audience: audience.as_str(),
            kind: kind_name(alert.kind),
            priority: alert.priority,
            raised_at: raised_at(alert).map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            commune_id: &alert.commune_id,
            village_id: &alert.village_id,
            camera_id: &alert.camera_id,
            plate: alert
                .hit
                .as_ref()
                .map_or("", |hit| hit.plate_normalized.as_str()),
            team_id: alert.team.as_ref().map_or("", |team| team.team_id.as_str()),
            language: channel.language.as_str(),
            text,
        }),
        Format::SmsGateway => serde_json::to_vec(&SmsBody {
            to: if channel.recipient.is_empty() {
                alert
                    .team
                    .as_ref()
                    .map_or("", |team| team.on_duty_phone.as_str())
            } else {
                &channel.recipient
            },
            text,
            reference: notification_id,
        }),
    };
    // Only maps with non-string keys or failing `Serialize` impls can fail.
    encoded.expect("structs of strings and numbers always encode as JSON")
}

/// `watchlist`, `camera_offline`, `camera_online`, else `unknown`.
fn kind_name(kind: i32) -> &'static str {
    match AlertKind::try_from(kind) {
        Ok(AlertKind::Unspecified) | Err(_) => "unknown",
        Ok(kind) => kind.short_name(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;
    use vigil_proto::v1::{ResponsibleTeam, WatchlistHit};

    use super::*;

    const MINUTES_5: Duration = Duration::from_secs(5 * 60);

    /// A fuzzy watchlist hit in Lâm Chiềng at 14:05 on 6 December 2026,
    /// Vietnam time.
    fn watchlist_alert() -> Alert {
        let mut alert = Alert {
            alert_id: "a-123".into(),
            kind: AlertKind::Watchlist.into(),
            priority: 1,
            camera_id: "cam-lc-01".into(),
            commune_id: "c-lam-chieng".into(),
            village_id: "v-pho-1".into(),
            zone_path: vec!["Thanh Hóa".into(), "Bá Thước".into(), "Lâm Chiềng".into()],
            team: Some(ResponsibleTeam {
                team_id: "t-7".into(),
                team_name: "Đội an ninh Lâm Chiềng".into(),
                captain_name: "Lê Văn Hùng".into(),
                on_duty_name: "Nguyễn Thị Mai".into(),
                on_duty_phone: "0912345678".into(),
            }),
            hit: Some(WatchlistHit {
                entry_id: "w-9".into(),
                plate_normalized: "36A12345".into(),
                priority: 1,
                reason: "Xe liên quan vụ trộm".into(),
                fuzzy: true,
            }),
            event_id: "e-1".into(),
            summary: "36A12345 at cam-lc-01".into(),
            ..Alert::default()
        };
        let at: DateTime<Utc> = "2026-12-06T07:05:00Z".parse().expect("a time");
        alert.raised_at.get_or_insert_default().seconds = at.timestamp();
        alert
    }

    fn camera_alert(kind: AlertKind) -> Alert {
        Alert {
            kind: kind.into(),
            priority: 3,
            hit: None,
            ..watchlist_alert()
        }
    }

    fn channel(format: Format, language: Language, recipient: &str) -> Channel {
        Channel::new(
            "v-pho-1",
            "https://hooks.example.vn/x",
            format,
            language,
            recipient,
        )
        .expect("valid")
    }

    #[test]
    fn audience_levels_round_trip() {
        for audience in [Audience::Team, Audience::CommunePolice, Audience::Province] {
            assert_eq!(Audience::from_level(audience.level()), Some(audience));
            assert_eq!(audience.to_string(), audience.as_str());
        }
        assert_eq!(Audience::Province.level(), 2);
        assert_eq!(Audience::CommunePolice.as_str(), "commune_police");
        assert_eq!(Audience::from_level(3), None);
    }

    #[test]
    fn notification_ids_differ_per_audience() {
        assert_eq!(notification_id("a-1", Audience::Team), "a-1/team");
        assert_eq!(
            notification_id("a-1", Audience::CommunePolice),
            "a-1/escalation-1"
        );
        assert_eq!(
            notification_id("a-1", Audience::Province),
            "a-1/escalation-2"
        );
    }

    #[test]
    fn vietnamese_team_text_says_what_where_when_who_and_how_to_ack() {
        let text = text(&watchlist_alert(), Audience::Team, Language::Vi, None);
        assert_eq!(
            text,
            "Cảnh báo biển số theo dõi, ưu tiên 1: 36A12345 (đọc gần đúng). \
             Lý do: Xe liên quan vụ trộm\n\
             Nơi: Lâm Chiềng, Bá Thước, Thanh Hóa — camera cam-lc-01\n\
             Lúc: 14:05 06/12/2026\n\
             Trực: Đội an ninh Lâm Chiềng — Nguyễn Thị Mai, 0912345678\n\
             Xác nhận: vigilctl alerts ack a-123"
        );
    }

    #[test]
    fn english_text() {
        let text = text(&watchlist_alert(), Audience::Team, Language::En, None);
        assert!(
            text.starts_with("Watch-listed plate, priority 1: 36A12345 (fuzzy read). Reason: "),
            "{text}"
        );
        assert!(text.contains("Where: Lâm Chiềng, Bá Thước, Thanh Hóa"));
        assert!(text.contains("When: 14:05 06/12/2026"));
        assert!(text.contains("On duty: Đội an ninh Lâm Chiềng — Nguyễn Thị Mai, 0912345678"));
        assert!(text.ends_with("\nAcknowledge: vigilctl alerts ack a-123"));
        assert!(!text.contains("ưu tiên") && !text.contains("Xác nhận"));
    }

    #[test]
    fn exact_reads_are_not_called_fuzzy() {
        let mut alert = watchlist_alert();
        if let Some(hit) = &mut alert.hit {
            hit.fuzzy = false;
        }
        let text = text(&alert, Audience::Team, Language::Vi, None);
        assert!(text.contains(": 36A12345. Lý do:"), "{text}");
        assert!(!text.contains("gần đúng"));
    }

    #[test]
    fn escalations_say_why_and_leave_out_the_team() {
        let alert = watchlist_alert();
        let police = text(
            &alert,
            Audience::CommunePolice,
            Language::Vi,
            Some(MINUTES_5),
        );
        assert!(
            police.contains("\nChưa có ai xác nhận sau 5 phút — chuyển lên công an xã\n"),
            "{police}"
        );
        assert!(!police.contains("Trực:"));
        assert!(police.ends_with("Xác nhận: vigilctl alerts ack a-123"));

        let province = text(
            &alert,
            Audience::Province,
            Language::Vi,
            Some(2 * MINUTES_5),
        );
        assert!(
            province
                .contains("Chưa có ai xác nhận sau 10 phút — chuyển lên trung tâm chỉ huy tỉnh"),
            "{province}"
        );

        let english = text(&alert, Audience::Province, Language::En, Some(MINUTES_5));
        assert!(
            english.contains(
                "Nobody acknowledged within 5 minutes — escalated to the province operations center"
            ),
            "{english}"
        );
        let english = text(&alert, Audience::CommunePolice, Language::En, None);
        assert!(
            english.contains("\nNobody acknowledged — escalated to the commune police\n"),
            "{english}"
        );

        let team = text(&alert, Audience::Team, Language::Vi, Some(MINUTES_5));
        assert!(!team.contains("Chưa có ai xác nhận"));
    }

    #[test]
    fn elapsed_time_reads_naturally() {
        let cases = [
            (Duration::from_secs(45), "45 seconds"),
            (Duration::from_secs(60), "1 minute"),
            (Duration::from_secs(90), "1 minute"),
            (Duration::from_secs(15 * 60), "15 minutes"),
            (Duration::from_secs(3600), "1 hour"),
            (Duration::from_secs(2 * 3600), "2 hours"),
            (Duration::from_secs(90 * 60), "90 minutes"),
        ];
        for (after, want) in cases {
            assert_eq!(elapsed(after, &ENGLISH), want);
        }
        assert_eq!(elapsed(Duration::from_secs(3600), &VIETNAMESE), "1 giờ");
    }

    #[test]
    fn camera_and_other_kinds() {
        let offline = text(
            &camera_alert(AlertKind::CameraOffline),
            Audience::Team,
            Language::Vi,
            None,
        );
        assert!(
            offline.starts_with("Camera mất kết nối, ưu tiên 3: cam-lc-01\n"),
            "{offline}"
        );
        assert!(offline.contains("\nNơi: Lâm Chiềng, Bá Thước, Thanh Hóa\n"));

        let online = text(
            &camera_alert(AlertKind::CameraOnline),
            Audience::Team,
            Language::En,
            None,
        );
        assert!(
            online.starts_with("Camera back online, priority 3: cam-lc-01\n"),
            "{online}"
        );

        let mut other = camera_alert(AlertKind::Unspecified);
        other.priority = 0;
        let vi = text(&other, Audience::Team, Language::Vi, None);
        assert!(
            vi.starts_with("Cảnh báo: 36A12345 at cam-lc-01\nNơi: "),
            "{vi}"
        );
        other.kind = 42;
        let en = text(&other, Audience::Team, Language::En, None);
        assert!(en.starts_with("Alert: 36A12345 at cam-lc-01\n"), "{en}");
    }

    #[test]
    fn missing_fields_fall_back() {
        let alert = Alert {
            alert_id: "a-9".into(),
            kind: AlertKind::Watchlist.into(),
            priority: 2,
            village_id: "v-9".into(),
            commune_id: "c-9".into(),
            zone_path: vec![String::new(), " ".into()],
            ..Alert::default()
        };
        let text_vi = text(&alert, Audience::Team, Language::Vi, None);
        assert_eq!(
            text_vi,
            "Cảnh báo biển số theo dõi, ưu tiên 2\n\
             Nơi: v-9, c-9\n\
             Lúc: không rõ\n\
             Xác nhận: vigilctl alerts ack a-9"
        );
        let bare = Alert::default();
        let text_en = text(&bare, Audience::Team, Language::En, None);
        assert_eq!(
            text_en,
            "Alert\nWhere: unknown\nWhen: unknown\nAcknowledge: vigilctl alerts ack "
        );
    }

    #[test]
    fn on_duty_falls_back_to_the_captain() {
        let mut alert = watchlist_alert();
        if let Some(team) = &mut alert.team {
            team.on_duty_name.clear();
            team.team_name.clear();
        }
        let text = text(&alert, Audience::Team, Language::Vi, None);
        assert!(text.contains("\nTrực: Lê Văn Hùng, 0912345678\n"), "{text}");
    }

    #[test]
    fn long_fields_are_cut_on_a_character_boundary() {
        let mut alert = watchlist_alert();
        if let Some(hit) = &mut alert.hit {
            hit.reason = "ễ".repeat(5000);
        }
        alert.zone_path = vec!["Đ".repeat(5000); 50];
        alert.alert_id = "a".repeat(300);
        let text = text(&alert, Audience::Team, Language::Vi, None);
        assert!(text.chars().count() <= MAX_TEXT_CHARS);
        let reason = format!("Lý do: {}…\n", "ễ".repeat(MAX_FIELD_CHARS - 1));
        assert!(text.contains(&reason), "{text}");
        let ack = format!("\nXác nhận: vigilctl alerts ack {}…", "a".repeat(199));
        assert!(text.ends_with(&ack), "{text}");
    }

    #[test]
    fn fields_cannot_forge_lines() {
        let mut alert = watchlist_alert();
        if let Some(hit) = &mut alert.hit {
            hit.reason = "x\nXác nhận: vigilctl alerts ack other\r\u{2028}\u{202E}".into();
        }
        let text = text(&alert, Audience::Team, Language::Vi, None);
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.contains("Lý do: x Xác nhận: vigilctl alerts ack other   \n"));
        assert!(text.ends_with("\nXác nhận: vigilctl alerts ack a-123"));
    }

    #[test]
    fn webhook_body_carries_the_alert() {
        let alert = watchlist_alert();
        let channel = channel(Format::Webhook, Language::En, "");
        let bytes = body(&alert, &channel, Audience::CommunePolice, "hello");
        let json: Value = serde_json::from_slice(&bytes).expect("JSON");
        let want = serde_json::json!({
            "notification_id": "a-123/escalation-1",
            "alert_id": "a-123",
            "audience": "commune_police",
            "kind": "watchlist",
            "priority": 1,
            "raised_at": "2026-12-06T07:05:00Z",
            "commune_id": "c-lam-chieng",
            "village_id": "v-pho-1",
            "camera_id": "cam-lc-01",
            "plate": "36A12345",
            "team_id": "t-7",
            "language": "en",
            "text": "hello",
        });
        assert_eq!(json, want);
    }

    #[test]
    fn webhook_body_of_a_sparse_alert() {
        let alert = Alert {
            alert_id: "a-2".into(),
            kind: AlertKind::CameraOffline.into(),
            ..Alert::default()
        };
        let channel = channel(Format::Webhook, Language::Vi, "");
        let bytes = body(&alert, &channel, Audience::Team, "t");
        let json: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(json["kind"], "camera_offline");
        assert_eq!(json["raised_at"], Value::Null);
        assert_eq!(json["plate"], "");
        assert_eq!(json["team_id"], "");
        assert_eq!(json["language"], "vi");

        let unknown = Alert { kind: 99, ..alert };
        let bytes = body(&unknown, &channel, Audience::Team, "t");
        let json: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(json["kind"], "unknown");
    }

    #[test]
    fn sms_body_texts_the_recipient_else_the_team() {
        let alert = watchlist_alert();
        let text = text(&alert, Audience::Team, Language::Vi, None);

        let fixed = channel(Format::SmsGateway, Language::Vi, "+84987654321");
        let json: Value =
            serde_json::from_slice(&body(&alert, &fixed, Audience::Province, &text)).expect("JSON");
        let want = serde_json::json!({
            "to": "+84987654321",
            "text": text,
            "reference": "a-123/escalation-2",
        });
        assert_eq!(json, want);

        let team = channel(Format::SmsGateway, Language::Vi, "");
        let json: Value =
            serde_json::from_slice(&body(&alert, &team, Audience::Team, &text)).expect("JSON");
        assert_eq!(json["to"], "0912345678");
        assert_eq!(json["reference"], "a-123/team");
    }

    fn any_audience() -> impl Strategy<Value = Audience> {
        prop_oneof![
            Just(Audience::Team),
            Just(Audience::CommunePolice),
            Just(Audience::Province),
        ]
    }

    prop_compose! {
        fn any_alert()(
            alert_id in any::<String>(),
            kind in prop_oneof![0i32..5, any::<i32>()],
            seconds in any::<i64>(),
            nanos in any::<i32>(),
            priority in any::<u32>(),
            camera_id in any::<String>(),
            summary in "(?s).{0,600}",
            zone_path in proptest::collection::vec("(?s).{0,300}", 0..8),
            team in proptest::option::of(proptest::array::uniform5("(?s).{0,300}")),
            hit in proptest::option::of(("(?s).{0,300}", "(?s).{0,3000}", any::<bool>())),
        ) -> Alert {
            let mut alert = Alert {
                alert_id,
                kind,
                priority,
                camera_id,
                summary,
                zone_path,
                team: team.map(|[team_id, team_name, captain_name, on_duty_name, on_duty_phone]| {
                    ResponsibleTeam { team_id, team_name, captain_name, on_duty_name, on_duty_phone }
                }),
                hit: hit.map(|(plate_normalized, reason, fuzzy)| WatchlistHit {
                    plate_normalized,
                    reason,
                    fuzzy,
                    ..WatchlistHit::default()
                }),
                ..Alert::default()
            };
            let raised_at = alert.raised_at.get_or_insert_default();
            raised_at.seconds = seconds;
            raised_at.nanos = nanos;
            alert
        }
    }

    proptest! {
        /// Whatever the alert holds, the text is bounded, has one line per
        /// fact, and ends with the acknowledgement hint.
        #[test]
        fn text_is_bounded_and_ends_with_the_hint(
            alert in any_alert(),
            audience in any_audience(),
            english in any::<bool>(),
            after in proptest::option::of(any::<u64>()),
        ) {
            let language = if english { Language::En } else { Language::Vi };
            let text = text(&alert, audience, language, after.map(Duration::from_secs));
            prop_assert!(text.chars().count() <= MAX_TEXT_CHARS);
            prop_assert!(text.lines().count() <= 6);
            let hint = match language {
                Language::Vi => "\nXác nhận: vigilctl alerts ack ",
                Language::En => "\nAcknowledge: vigilctl alerts ack ",
            };
            let last = text.rfind('\n').map(|at| &text[at..]);
            prop_assert!(last.is_some_and(|last| last.starts_with(hint)), "{}", text);

            for format in [Format::Webhook, Format::SmsGateway] {
                let bytes = body(&alert, &channel(format, language, ""), audience, &text);
                let json: Value = serde_json::from_slice(&bytes).expect("JSON");
                prop_assert_eq!(json["text"].as_str(), Some(text.as_str()));
            }
        }
    }
}
