//! The checks every API call makes on its request fields before any I/O:
//! time windows, page sizes, detection kinds and page tokens. Kept free of
//! the Kafka and database crates so `cargo fuzz` can drive it
//! (`fuzz/fuzz_targets/api_request.rs`).
//!
//! A page token is `base64url(query fingerprint ‖ position ‖ HMAC)`. The
//! fingerprint binds it to one query (filters, window and caller), the
//! position is the last row returned, and the HMAC-SHA256 under the
//! server's key makes it unforgeable: a token edited to point elsewhere, or
//! replayed with other filters or by another caller, is refused with
//! INVALID_ARGUMENT. Scope is checked on every page anyway, so even a valid
//! token cannot widen it.

pub mod audit;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use vigil_proto::v1::{DetectionKind, TimeWindow};

/// A request field that is missing or wrong, and why; the API answers it
/// with INVALID_ARGUMENT naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    /// The request field, as named in the proto.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidField {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// The outcome of a check.
pub type Checked<T> = Result<T, InvalidField>;

/// The earliest instant a request may name: 2000-01-01T00:00:00Z, in
/// seconds since the epoch (no camera event is older).
pub const EARLIEST_S: i64 = 946_684_800;
/// The first instant a request may no longer name: 2100-01-01T00:00:00Z.
pub const LATEST_S: i64 = 4_102_444_800;

/// A half-open time window in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Checks a client-supplied instant and returns it in epoch milliseconds:
/// within [`EARLIEST_S`, `LATEST_S`), checked before any arithmetic so a
/// hostile timestamp cannot overflow.
pub fn instant_ms(at: &prost_types::Timestamp, field: &'static str) -> Checked<i64> {
    if !(EARLIEST_S..LATEST_S).contains(&at.seconds) {
        return Err(InvalidField::new(
            field,
            "must be between 2000-01-01 and 2100-01-01 (UTC)",
        ));
    }
    // In range, so this cannot overflow.
    Ok(at.seconds * 1000 + i64::from(at.nanos.clamp(0, 999_999_999) / 1_000_000))
}

impl Window {
    /// Checks a request's window: both ends set, each within
    /// [`EARLIEST_S`, `LATEST_S`), start before end, at most `max_days`
    /// long. The bounds come first, so no arithmetic on a hostile timestamp
    /// can overflow (wrapped, ±5e15 s once passed as a short window and
    /// made the fan-out allocate trillions of hour buckets).
    pub fn parse(window: Option<&TimeWindow>, field: &'static str, max_days: i64) -> Checked<Self> {
        let window = window.ok_or_else(|| InvalidField::new(field, "a time window is required"))?;
        let millis = |at: Option<&prost_types::Timestamp>, end: &str| {
            let at = at.ok_or_else(|| InvalidField::new(field, format!("{end} is required")))?;
            instant_ms(at, field)
                .map_err(|e| InvalidField::new(field, format!("{end} {}", e.reason)))
        };
        let start_ms = millis(window.start.as_ref(), "start")?;
        let end_ms = millis(window.end.as_ref(), "end")?;
        if start_ms >= end_ms {
            return Err(InvalidField::new(field, "start must be before end"));
        }
        // Both ends are bounded, so the length cannot overflow; a limit
        // too large to express in milliseconds limits nothing.
        let too_long = max_days
            .checked_mul(86_400_000)
            .is_some_and(|max_ms| end_ms - start_ms > max_ms);
        if too_long {
            return Err(InvalidField::new(
                field,
                format!("at most {max_days} days at a time"),
            ));
        }
        Ok(Self { start_ms, end_ms })
    }

    pub fn start(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.start_ms).unwrap_or_default()
    }

    pub fn end(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.end_ms).unwrap_or_default()
    }
}

/// Longest free text a client may send (a reason, a note, a name), in
/// characters. A 600 KB watchlist reason used to be copied into every
/// alert the entry raised, past Kafka's message size.
pub const MAX_TEXT_CHARS: usize = 512;
/// Most cameras one filter may name.
pub const MAX_CAMERA_FILTER: usize = 100;
/// Longest id a client may send (camera, zone, entry), in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// Checks a required free-text field (a reason): not blank, at most
/// [`MAX_TEXT_CHARS`], no control characters but line breaks and tabs.
/// `missing` says what the text is for when it is blank.
pub fn required_text<'a>(text: &'a str, field: &'static str, missing: &str) -> Checked<&'a str> {
    let text = text.trim();
    if text.is_empty() {
        return Err(InvalidField::new(field, missing));
    }
    if text.chars().nth(MAX_TEXT_CHARS).is_some() {
        return Err(InvalidField::new(
            field,
            format!("at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(InvalidField::new(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(text)
}

/// Checks a camera filter: at most [`MAX_CAMERA_FILTER`] ids of at most
/// [`MAX_ID_BYTES`] each.
pub fn camera_filter(ids: &[String], field: &'static str) -> Checked<()> {
    if ids.len() > MAX_CAMERA_FILTER {
        return Err(InvalidField::new(
            field,
            format!("at most {MAX_CAMERA_FILTER} cameras"),
        ));
    }
    if ids.iter().any(|id| id.len() > MAX_ID_BYTES) {
        return Err(InvalidField::new(
            field,
            format!("a camera id is at most {MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The page size a request asks for: 0 means `default`, above `max` is an
/// error naming the field.
pub fn page_size(requested: u32, default: usize, max: usize) -> Checked<usize> {
    match usize::try_from(requested).unwrap_or(usize::MAX) {
        0 => Ok(default.min(max)),
        n if n > max => Err(InvalidField::new(
            "page_size",
            format!("{n} is more than the maximum {max}"),
        )),
        n => Ok(n),
    }
}

/// The detection kinds of a filter, each a known kind other than
/// UNSPECIFIED.
pub fn checked_kinds(kinds: &[i32]) -> Checked<Vec<i32>> {
    kinds
        .iter()
        .map(|&kind| match DetectionKind::try_from(kind) {
            Ok(DetectionKind::Unspecified) | Err(_) => Err(InvalidField::new(
                "kinds",
                format!("{kind} is not a detection kind"),
            )),
            Ok(_) => Ok(kind),
        })
        .collect()
}

/// Where a page ended: the last row returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at_ms: i64,
    pub event_id: Uuid,
}

const FINGERPRINT_LEN: usize = 16;
const MAC_LEN: usize = 16;
const TOKEN_LEN: usize = FINGERPRINT_LEN + 8 + 16 + MAC_LEN;

/// Signs and checks page tokens with the server's key.
#[derive(Clone)]
pub struct PageTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens { key: <redacted> }")
    }
}

impl PageTokens {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// A token resuming `query` after `cursor`.
    pub fn issue(&self, query: &str, cursor: Cursor) -> String {
        let mut bytes = Vec::with_capacity(TOKEN_LEN);
        bytes.extend_from_slice(&fingerprint(query));
        bytes.extend_from_slice(&cursor.at_ms.to_be_bytes());
        bytes.extend_from_slice(cursor.event_id.as_bytes());
        let mac = self.mac(&bytes);
        bytes.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The cursor in `token` if it was issued by this server for `query`;
    /// `None` for an empty token (the first page).
    pub fn resume(&self, query: &str, token: &str) -> Checked<Option<Cursor>> {
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = |reason: &str| InvalidField::new("page_token", reason);
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| invalid("not a page token"))?;
        if bytes.len() != TOKEN_LEN {
            return Err(invalid("not a page token"));
        }
        let (body, mac) = bytes.split_at(TOKEN_LEN - MAC_LEN);
        if !constant_time_eq(&self.mac(body), mac) {
            return Err(invalid("not issued by this server (or altered)"));
        }
        if body[..FINGERPRINT_LEN] != fingerprint(query) {
            return Err(invalid(
                "issued for a different query; repeat the filters of the first page",
            ));
        }
        let at_ms = i64::from_be_bytes(
            body[FINGERPRINT_LEN..FINGERPRINT_LEN + 8]
                .try_into()
                .expect("8 bytes"),
        );
        let event_id = Uuid::from_slice(&body[FINGERPRINT_LEN + 8..]).expect("16 bytes");
        Ok(Some(Cursor { at_ms, event_id }))
    }

    fn mac(&self, body: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(body);
        let full = mac.finalize().into_bytes();
        full[..MAC_LEN].try_into().expect("HMAC-SHA256 is 32 bytes")
    }
}

fn fingerprint(query: &str) -> [u8; FINGERPRINT_LEN] {
    Sha256::digest(query.as_bytes())[..FINGERPRINT_LEN]
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

/// Compares digests without leaking where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            at_ms: 1_795_873_510_123,
            event_id: Uuid::now_v7(),
        }
    }

    #[test]
    fn a_token_resumes_its_own_query_only() {
        let tokens = PageTokens::new(b"key".to_vec());
        let cursor = cursor();
        let token = tokens.issue("q1", cursor);
        assert_eq!(tokens.resume("q1", &token).unwrap(), Some(cursor));
        assert_eq!(tokens.resume("q1", "").unwrap(), None);
        assert!(tokens.resume("q2", &token).is_err());
        let other_server = PageTokens::new(b"other".to_vec());
        assert!(other_server.resume("q1", &token).is_err());
    }

    #[test]
    fn an_altered_token_is_refused() {
        let tokens = PageTokens::new(b"key".to_vec());
        let token = tokens.issue("q", cursor());
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[FINGERPRINT_LEN] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(bytes);
        assert!(matches!(
            tokens.resume("q", &forged),
            Err(InvalidField {
                field: "page_token",
                ..
            })
        ));
        for junk in ["x", "!!!", &token[1..]] {
            assert!(tokens.resume("q", junk).is_err());
        }
    }

    #[test]
    fn free_text_and_camera_filters_are_bounded() {
        assert_eq!(
            required_text("  case HS-1\nsecond line ", "reason", "say why").unwrap(),
            "case HS-1\nsecond line"
        );
        let blank = required_text(" \t", "reason", "say why").unwrap_err();
        assert_eq!((blank.field, blank.reason.as_str()), ("reason", "say why"));
        let long = "x".repeat(600 * 1024);
        assert!(
            required_text(&long, "reason", "say why")
                .unwrap_err()
                .reason
                .contains("512")
        );
        assert!(required_text(&"ệ".repeat(MAX_TEXT_CHARS), "reason", "").is_ok());
        assert!(required_text("a\u{1b}[2Jb", "reason", "").is_err());

        let ids = |n: usize, len: usize| vec!["c".repeat(len); n];
        assert!(camera_filter(&ids(MAX_CAMERA_FILTER, MAX_ID_BYTES), "camera_ids").is_ok());
        assert!(camera_filter(&ids(MAX_CAMERA_FILTER + 1, 4), "camera_ids").is_err());
        assert_eq!(
            camera_filter(&ids(1, MAX_ID_BYTES + 1), "camera_ids")
                .unwrap_err()
                .field,
            "camera_ids"
        );
    }

    #[test]
    fn windows_are_checked() {
        let ts = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        let window = |start, end| TimeWindow { start, end };
        let t0 = 1_795_873_510;
        assert_eq!(
            Window::parse(Some(&window(ts(t0), ts(t0 + 10))), "window", 1).unwrap(),
            Window {
                start_ms: t0 * 1000,
                end_ms: (t0 + 10) * 1000
            }
        );
        for bad in [
            window(None, ts(t0)),
            window(ts(t0 + 10), ts(t0)),
            window(ts(t0), ts(t0 + 2 * 86_400)),
            // Wrapped in release builds before the bounds: a 1e16 s window
            // looked shorter than a day.
            window(ts(-5_000_000_000_000_000), ts(5_000_000_000_000_000)),
            window(ts(i64::MIN), ts(i64::MAX)),
            window(ts(0), ts(10)),
            window(ts(LATEST_S), ts(LATEST_S + 10)),
        ] {
            assert!(Window::parse(Some(&bad), "window", 1).is_err(), "{bad:?}");
        }
        assert!(Window::parse(None, "window", 1).is_err());
        let hostile = window(ts(-5_000_000_000_000_000), ts(5_000_000_000_000_000));
        let refused = Window::parse(Some(&hostile), "window", 93).unwrap_err();
        assert_eq!(refused.field, "window");
        assert!(refused.reason.contains("2000-01-01"), "{refused:?}");
        assert!(Window::parse(Some(&window(ts(t0), ts(t0 + 10))), "window", i64::MAX).is_ok());
        for seconds in [i64::MIN, -1, EARLIEST_S - 1, LATEST_S, i64::MAX] {
            let at = prost_types::Timestamp { seconds, nanos: 0 };
            assert_eq!(instant_ms(&at, "since").unwrap_err().field, "since");
        }
        let at = prost_types::Timestamp {
            seconds: t0,
            nanos: -5,
        };
        assert_eq!(instant_ms(&at, "since").unwrap(), t0 * 1000);
    }

    #[test]
    fn kinds_must_be_known() {
        let plate = DetectionKind::Plate as i32;
        assert_eq!(checked_kinds(&[plate]).unwrap(), vec![plate]);
        for bad in [0, 42, -1] {
            let error = checked_kinds(&[plate, bad]).unwrap_err();
            assert_eq!(error.field, "kinds");
            assert!(error.reason.starts_with(&bad.to_string()), "{error}");
        }
    }

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size(0, 100, 1000).unwrap(), 100);
        assert_eq!(page_size(7, 100, 1000).unwrap(), 7);
        assert!(page_size(1001, 100, 1000).is_err());
    }
}
