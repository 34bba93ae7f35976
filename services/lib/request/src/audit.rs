//! What an audited call asked for, as a person would write it
//! (`plate=36B123456 fuzzy window=2026-12-04 01:14–02:14 +07`) and as
//! named fields for machines. Every value is the client's and so hostile:
//! control characters become spaces, long values are cut, and timestamps
//! out of chrono's range print as raw seconds instead of failing.

use chrono::{DateTime, FixedOffset};
use vigil_proto::v1::{AuditField, DetectionKind, TimeWindow};

/// Longest value kept, in characters; longer ones end in `…`.
const MAX_VALUE_CHARS: usize = 120;

/// The province's clock (UTC+7, no daylight saving), which operators read.
fn province_time() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

/// An audited request's fields, in the order they are added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    fields: Vec<AuditField>,
}

impl AuditQuery {
    pub fn new() -> Self {
        Self::default()
    }

    /// `name=value`; left out when `value` is empty.
    pub fn text(mut self, name: &str, value: &str) -> Self {
        let value = clean(value);
        if !value.is_empty() {
            self.fields.push(AuditField {
                name: name.to_owned(),
                value,
            });
        }
        self
    }

    /// `name` alone when set (value `true`); left out otherwise.
    pub fn flag(self, name: &str, set: bool) -> Self {
        if set { self.text(name, "true") } else { self }
    }

    /// `name=a,b,c`; left out when there are none.
    pub fn list<S: AsRef<str>>(self, name: &str, values: &[S]) -> Self {
        let joined: Vec<&str> = values.iter().map(AsRef::as_ref).collect();
        self.text(name, &joined.join(","))
    }

    /// Detection kinds by their short names (`plate,person`).
    pub fn kinds(self, name: &str, kinds: &[i32]) -> Self {
        let names: Vec<String> = kinds
            .iter()
            .map(|&kind| match DetectionKind::try_from(kind) {
                Ok(kind) => kind.short_name().to_owned(),
                Err(_) => kind.to_string(),
            })
            .collect();
        self.list(name, &names)
    }

    /// An instant in province time (`2026-12-04 01:14 +07`).
    pub fn instant(self, name: &str, at: Option<&prost_types::Timestamp>) -> Self {
        match at {
            Some(at) => self.text(name, &format!("{} +07", minute(at))),
            None => self,
        }
    }

    /// A window in province time: `2026-12-04 01:14–02:14 +07` within a
    /// day, `2026-12-04 23:00–2026-12-05 01:00 +07` across days.
    pub fn window(self, name: &str, window: Option<&TimeWindow>) -> Self {
        let Some(window) = window else {
            return self;
        };
        let start = window.start.as_ref().map(minute);
        let end = window.end.as_ref().map(minute);
        let text = match (start, end) {
            (Some(start), Some(end)) => match (start.split_once(' '), end.split_once(' ')) {
                (Some((day_a, _)), Some((day_b, time_b))) if day_a == day_b => {
                    format!("{start}–{time_b} +07")
                }
                _ => format!("{start}–{end} +07"),
            },
            (Some(start), None) => format!("from {start} +07"),
            (None, Some(end)) => format!("until {end} +07"),
            (None, None) => String::new(),
        };
        self.text(name, &text)
    }

    /// The fields, as stored in the audit entry.
    pub fn fields(&self) -> &[AuditField] {
        &self.fields
    }

    /// The query as one line: `name=value` or a set flag's name, by spaces.
    pub fn line(&self) -> String {
        self.fields
            .iter()
            .map(|field| match field.value.as_str() {
                "true" => field.name.clone(),
                value => format!("{}={value}", field.name),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `2026-12-04 01:14` in province time, or `@<seconds>s` when the instant
/// is beyond chrono's range.
fn minute(at: &prost_types::Timestamp) -> String {
    match DateTime::from_timestamp(at.seconds, 0) {
        Some(at) => at
            .with_timezone(&province_time())
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        None => format!("@{}s", at.seconds),
    }
}

/// One line, no control characters, at most [`MAX_VALUE_CHARS`].
fn clean(value: &str) -> String {
    one_line(value, MAX_VALUE_CHARS)
}

/// `text` on one line (control characters become spaces), cut to
/// `max_chars` with a trailing `…`: for client text recorded before it is
/// checked (an audited attempt's reason).
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut cleaned: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars + 1)
        .collect();
    if cleaned.chars().count() > max_chars {
        cleaned = cleaned.chars().take(max_chars).collect();
        cleaned.push('…');
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

    /// 2026-12-04 01:14 +07.
    const AT: i64 = 1_796_321_640;

    #[test]
    fn a_plate_search_reads_as_written() {
        let window = TimeWindow {
            start: ts(AT),
            end: ts(AT + 3600),
        };
        let query = AuditQuery::new()
            .text("plate", "36B123456")
            .flag("fuzzy", true)
            .flag("next_page", false)
            .window("window", Some(&window));
        assert_eq!(
            query.line(),
            "plate=36B123456 fuzzy window=2026-12-04 01:14–02:14 +07"
        );
        let names: Vec<&str> = query.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["plate", "fuzzy", "window"]);
        assert_eq!(query.fields()[1].value, "true");
    }

    #[test]
    fn windows_across_days_and_out_of_range_still_print() {
        let across = TimeWindow {
            start: ts(AT + 22 * 3600),
            end: ts(AT + 26 * 3600),
        };
        assert_eq!(
            AuditQuery::new().window("window", Some(&across)).line(),
            "window=2026-12-04 23:14–2026-12-05 03:14 +07"
        );
        let hostile = TimeWindow {
            start: ts(-5_000_000_000_000_000),
            end: ts(i64::MAX),
        };
        assert_eq!(
            AuditQuery::new().window("window", Some(&hostile)).line(),
            format!("window=@-5000000000000000s–@{}s +07", i64::MAX)
        );
        assert_eq!(
            AuditQuery::new().instant("expires", ts(AT).as_ref()).line(),
            "expires=2026-12-04 01:14 +07"
        );
    }

    #[test]
    fn hostile_values_are_one_short_line_and_empty_ones_are_left_out() {
        let query = AuditQuery::new()
            .text("case", "C-1\nDROP\r\tx")
            .text("entry", &"e".repeat(10_000))
            .text("zone", "")
            .list::<&str>("cameras", &[])
            .kinds("kinds", &[DetectionKind::Plate as i32, 999]);
        assert_eq!(query.fields()[0].value, "C-1 DROP  x");
        assert_eq!(query.fields()[1].value.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(query.fields()[1].value.ends_with('…'));
        assert_eq!(query.fields().len(), 3);
        assert_eq!(query.fields()[2].value, "plate,999");
    }
}
