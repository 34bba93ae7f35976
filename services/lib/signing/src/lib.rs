//! Signed HTTP requests between Vigil and the systems it talks to: the
//! cameras and NVRs that post detections to a site's edge agent, and the
//! webhooks `vigil-notifier` posts to team receivers.
//!
//! Sender and receiver share a secret key, a file of at least
//! [`MIN_KEY_BYTES`] bytes (`openssl rand -hex 32 > signing.key`). A request
//! carries two headers:
//!
//! ```text
//! X-Vigil-Timestamp: <unix seconds>
//! X-Vigil-Signature: sha256=<lower-case hex HMAC-SHA256(key, "<timestamp>\n" + body)>
//! ```
//!
//! The key is the file's bytes without leading and trailing whitespace (so
//! a trailing newline does not count). The receiver checks the signature in
//! constant time over the exact body bytes, then refuses a timestamp more
//! than [`MAX_SKEW`] away from its clock, which bounds how long a captured
//! request can be replayed and how far it can be backdated.
//!
//! Both sides live here: [`SigningKey::verify`] for receivers (the edge
//! agent, the example webhook receiver), [`SigningKey::headers`] for
//! senders (the notifier, the load generator, tests).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header holding the request's time, in unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-vigil-timestamp";
/// Header holding `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-vigil-signature";
/// Fewest key bytes accepted (256 bits).
pub const MIN_KEY_BYTES: usize = 32;
/// Largest difference between a request's timestamp and the receiver's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(300);

const SCHEME: &str = "sha256=";

/// A shared signing key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("reading the signing key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Too short to be a secret worth the name.
    #[error(
        "the signing key{from} has {bytes} bytes; at least {MIN_KEY_BYTES} are needed \
         (make one with `openssl rand -hex 32`)"
    )]
    TooShort {
        /// ` in <file>`, or empty.
        from: String,
        /// How many bytes it had, whitespace trimmed.
        bytes: usize,
    },
}

/// Why a request's signature was refused. The messages name the header
/// and the problem, never the key or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Vigil-Timestamp` or no `X-Vigil-Signature`.
    #[error(
        "unsigned request: the {0} header is missing (see docs/security.md, \"Signed requests\")"
    )]
    Missing(&'static str),
    /// The timestamp is not unix seconds.
    #[error("the {TIMESTAMP_HEADER} header must be unix seconds (digits only)")]
    MalformedTimestamp,
    /// The signature is not `sha256=` and 64 hex digits.
    #[error("the {SIGNATURE_HEADER} header must be sha256=<64 hex digits>")]
    MalformedSignature,
    /// The signature does not match the body and timestamp under the
    /// shared key.
    #[error(
        "bad signature: {SIGNATURE_HEADER} does not match the body and {TIMESTAMP_HEADER} \
         under the shared signing key"
    )]
    BadSignature,
    /// Correctly signed, but too far from the receiver's clock.
    #[error(
        "stale timestamp: {TIMESTAMP_HEADER} {timestamp} is {skew_seconds} s away from the \
         receiver's clock ({now}); at most {} s are allowed",
        MAX_SKEW.as_secs()
    )]
    Stale {
        /// The request's timestamp.
        timestamp: i64,
        /// The receiver's clock, unix seconds.
        now: i64,
        /// How far apart they are.
        skew_seconds: u64,
    },
}

impl SignatureError {
    /// A short label for metrics (e.g. `vigil_edge_events_rejected_total`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing(_) => "unsigned",
            Self::MalformedTimestamp | Self::MalformedSignature => "malformed_signature",
            Self::BadSignature => "bad_signature",
            Self::Stale { .. } => "stale_timestamp",
        }
    }
}

/// Now, in unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

impl SigningKey {
    /// The key in `bytes`, whitespace trimmed; refused when shorter than
    /// [`MIN_KEY_BYTES`].
    pub fn new(bytes: &[u8]) -> Result<Self, KeyError> {
        Self::checked(bytes, String::new())
    }

    /// The key in the file at `path`, whitespace trimmed.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::checked(&bytes, format!(" in {}", path.display()))
    }

    fn checked(bytes: &[u8], from: String) -> Result<Self, KeyError> {
        let key = bytes.trim_ascii();
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort {
                from,
                bytes: key.len(),
            });
        }
        Ok(Self(key.to_vec()))
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(timestamp.as_bytes());
        mac.update(b"\n");
        mac.update(body);
        mac
    }

    /// The `X-Vigil-Signature` value of `body` sent at `timestamp`.
    pub fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        let tag = self
            .mac(&timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        format!("{SCHEME}{}", hex::encode(tag))
    }

    /// The two headers (name, value) that sign `body`, sent now.
    pub fn headers(&self, body: &[u8]) -> [(&'static str, String); 2] {
        let now = unix_now();
        [
            (TIMESTAMP_HEADER, now.to_string()),
            (SIGNATURE_HEADER, self.signature(now, body)),
        ]
    }

    /// Checks a request's headers against its body, at `now` (unix
    /// seconds). The signature is checked (in constant time) before the
    /// timestamp's age, so only a key holder learns the receiver's clock.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let timestamp_text = timestamp.ok_or(SignatureError::Missing(TIMESTAMP_HEADER))?;
        let signature = signature.ok_or(SignatureError::Missing(SIGNATURE_HEADER))?;
        let timestamp = parse_timestamp(timestamp_text)?;
        let tag = signature
            .strip_prefix(SCHEME)
            .filter(|hex| hex.len() == 64)
            .and_then(|hex| hex::decode(hex).ok())
            .ok_or(SignatureError::MalformedSignature)?;
        self.mac(timestamp_text, body)
            .verify_slice(&tag)
            .map_err(|_| SignatureError::BadSignature)?;
        let skew_seconds = timestamp.abs_diff(now);
        if skew_seconds > MAX_SKEW.as_secs() {
            return Err(SignatureError::Stale {
                timestamp,
                now,
                skew_seconds,
            });
        }
        Ok(())
    }
}

/// Unix seconds: 1 to 19 digits, nothing else (no sign, no spaces), so the
/// bytes signed are the only way to write the value.
fn parse_timestamp(text: &str) -> Result<i64, SignatureError> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::MalformedTimestamp);
    }
    text.parse().map_err(|_| SignatureError::MalformedTimestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn key() -> SigningKey {
        SigningKey::new(b"0123456789abcdef0123456789abcdef\n").unwrap()
    }

    #[test]
    fn a_signed_body_verifies_and_anything_changed_does_not() {
        let key = key();
        let body = br#"{"camera_id":"cam-000017"}"#;
        let signature = key.signature(NOW, body);
        assert!(signature.starts_with("sha256=") && signature.len() == 7 + 64);
        let ts = NOW.to_string();
        assert_eq!(key.verify(Some(&ts), Some(&signature), body, NOW), Ok(()));
        // Within the window, either way.
        assert_eq!(
            key.verify(Some(&ts), Some(&signature), body, NOW + 300),
            Ok(())
        );
        assert_eq!(
            key.verify(Some(&ts), Some(&signature), body, NOW - 300),
            Ok(())
        );
        let bad = Err(SignatureError::BadSignature);
        assert_eq!(
            key.verify(
                Some(&ts),
                Some(&signature),
                br#"{"camera_id":"cam-000018"}"#,
                NOW
            ),
            bad
        );
        let other_ts = (NOW + 1).to_string();
        assert_eq!(
            key.verify(Some(&other_ts), Some(&signature), body, NOW),
            bad
        );
        let other_key = SigningKey::new(&[b'k'; 32]).unwrap();
        assert_eq!(
            other_key.verify(Some(&ts), Some(&signature), body, NOW),
            bad
        );
        // Upper-case hex is the same tag.
        let upper = format!("sha256={}", signature[7..].to_uppercase());
        assert_eq!(key.verify(Some(&ts), Some(&upper), body, NOW), Ok(()));
    }

    #[test]
    fn missing_malformed_and_stale_are_told_apart() {
        let key = key();
        let body = b"[]";
        let ts = NOW.to_string();
        let signature = key.signature(NOW, body);
        assert_eq!(
            key.verify(None, Some(&signature), body, NOW),
            Err(SignatureError::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            key.verify(Some(&ts), None, body, NOW),
            Err(SignatureError::Missing(SIGNATURE_HEADER))
        );
        for bad in ["", "-5", "+5", " 5", "1.5", "99999999999999999999", "now"] {
            assert_eq!(
                key.verify(Some(bad), Some(&signature), body, NOW),
                Err(SignatureError::MalformedTimestamp),
                "{bad:?}"
            );
        }
        for bad in [
            "",
            "sha1=00",
            "sha256=zz",
            &signature[7..],
            &signature[..70],
        ] {
            assert_eq!(
                key.verify(Some(&ts), Some(bad), body, NOW),
                Err(SignatureError::MalformedSignature),
                "{bad:?}"
            );
        }
        let old = NOW - 301;
        let error = key
            .verify(
                Some(&old.to_string()),
                Some(&key.signature(old, body)),
                body,
                NOW,
            )
            .unwrap_err();
        assert_eq!(error.reason(), "stale_timestamp");
        assert!(error.to_string().contains("301 s away"), "{error}");
        let future = NOW + 301;
        assert!(matches!(
            key.verify(
                Some(&future.to_string()),
                Some(&key.signature(future, body)),
                body,
                NOW
            ),
            Err(SignatureError::Stale { .. })
        ));
        // The widest timestamps do not overflow the age arithmetic.
        let max = i64::MAX;
        assert!(matches!(
            key.verify(
                Some(&max.to_string()),
                Some(&key.signature(max, body)),
                body,
                0
            ),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_shown() {
        let error = SigningKey::new(b"  short secret  \n").unwrap_err();
        assert!(error.to_string().contains("has 12 bytes"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        std::fs::write(&path, "0123456789abcdef0123456789abcde\n").unwrap();
        let error = SigningKey::from_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("has 31 bytes") && error.contains("signing.key"),
            "{error}"
        );
        assert!(!error.contains("0123456789"), "{error}");
        let missing = SigningKey::from_file(&dir.path().join("nope")).unwrap_err();
        assert!(missing.to_string().contains("reading the signing key file"));
        assert_eq!(format!("{:?}", key()), "SigningKey(<redacted>)");
    }
}
