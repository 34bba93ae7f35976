//! Where a zone's notifications go: one [`Channel`] per zone (village,
//! commune or province), validated once when it is configured, and
//! [`resolve`] to pick the most local one an alert has.

use std::collections::HashMap;
use std::fmt;

use url::Url;

/// Longest zone id, in characters.
const MAX_ZONE_ID_CHARS: usize = 128;
/// Longest channel URL, in bytes.
const MAX_URL_BYTES: usize = 2048;
/// Fewest and most digits of a phone number (E.164 allows up to 15).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 6..=15;
/// What [`endpoint`] answers for a URL it cannot key.
const INVALID_ENDPOINT: &str = "invalid";

/// What a channel's receiver expects in the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Vigil's own JSON: the alert's ids and place, plus the text.
    Webhook,
    /// An SMS gateway's JSON: a phone number, the text and a reference.
    SmsGateway,
}

/// The language of the text people on duty read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// Vietnamese, with full diacritics.
    #[default]
    Vi,
    /// English.
    En,
}

macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The configured and logged name, e.g. `sms_gateway`.
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),+ }
            }

            /// The value named `name` (as [`Self::as_str`] spells it).
            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(<$ty>::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names!(Format {
    Webhook => "webhook",
    SmsGateway => "sms_gateway",
});

names!(Language {
    Vi => "vi",
    En => "en",
});

/// A zone's delivery target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The village, commune or province this channel serves.
    pub zone_id: String,
    /// Where notifications are POSTed (http or https, no credentials).
    pub url: String,
    /// The body the receiver expects.
    pub format: Format,
    /// The language of the text.
    pub language: Language,
    /// The phone number an SMS gateway texts; empty to text the on-duty
    /// phone of the alert's team.
    pub recipient: String,
}

/// Why a channel was refused. Messages name the field and never repeat a
/// URL, which may hold secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// No zone id.
    #[error("the channel zone id is empty")]
    EmptyZoneId,
    /// A zone id longer than 128 characters.
    #[error(
        "the channel zone id is {chars} characters long; at most {MAX_ZONE_ID_CHARS} are allowed"
    )]
    ZoneIdTooLong { chars: usize },
    /// A zone id with a character outside `[a-z0-9._-]`.
    #[error("the channel zone id may hold only a-z, 0-9, '.', '_' and '-', not {found:?}")]
    ZoneIdCharacter { found: char },
    /// A URL longer than 2048 bytes.
    #[error("the channel URL is {bytes} bytes long; at most {MAX_URL_BYTES} are allowed")]
    UrlTooLong { bytes: usize },
    /// A URL the `url` crate refuses; its messages never quote the input.
    /// An http(s) URL without a host ends here ("empty host").
    #[error("the channel URL does not parse: {0}")]
    UrlSyntax(#[from] url::ParseError),
    /// A URL neither http nor https.
    #[error("the channel URL's scheme must be http or https, not {scheme:?}")]
    UrlScheme { scheme: String },
    /// A URL with a user name or password.
    #[error(
        "the channel URL must not carry a user name or password (it would be logged); \
         put credentials in the receiver's allow-list instead"
    )]
    UrlCredentials,
    /// A recipient that is not a phone number.
    #[error(
        "the channel recipient must be empty or a phone number: an optional '+' then 6 to 15 digits"
    )]
    Recipient,
}

impl Channel {
    /// A channel, if every field is acceptable. The URL is kept as the
    /// `url` crate serializes it, which is what a client will request.
    pub fn new(
        zone_id: impl Into<String>,
        url: &str,
        format: Format,
        language: Language,
        recipient: impl Into<String>,
    ) -> Result<Channel, ChannelError> {
        let zone_id = zone_id.into();
        check_zone_id(&zone_id)?;
        let url = check_url(url)?;
        let recipient = recipient.into();
        check_recipient(&recipient)?;
        Ok(Channel {
            zone_id,
            url,
            format,
            language,
            recipient,
        })
    }
}

fn check_zone_id(zone_id: &str) -> Result<(), ChannelError> {
    let chars = zone_id.chars().count();
    if chars == 0 {
        return Err(ChannelError::EmptyZoneId);
    }
    if chars > MAX_ZONE_ID_CHARS {
        return Err(ChannelError::ZoneIdTooLong { chars });
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    match zone_id.chars().find(|&c| !allowed(c)) {
        Some(found) => Err(ChannelError::ZoneIdCharacter { found }),
        None => Ok(()),
    }
}

/// The URL as it will be requested, if acceptable.
fn check_url(raw: &str) -> Result<String, ChannelError> {
    // Checked before parsing too, so a huge value costs nothing to refuse.
    if raw.len() > MAX_URL_BYTES {
        return Err(ChannelError::UrlTooLong { bytes: raw.len() });
    }
    let url = Url::parse(raw)?;
    // An http(s) URL always has a non-empty host: the url crate refuses one
    // without (`EmptyHost`).
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ChannelError::UrlScheme {
            scheme: url.scheme().to_owned(),
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ChannelError::UrlCredentials);
    }
    // Percent-encoding can lengthen what was given.
    let url = String::from(url);
    if url.len() > MAX_URL_BYTES {
        return Err(ChannelError::UrlTooLong { bytes: url.len() });
    }
    Ok(url)
}

fn check_recipient(recipient: &str) -> Result<(), ChannelError> {
    if recipient.is_empty() {
        return Ok(());
    }
    let digits = recipient.strip_prefix('+').unwrap_or(recipient);
    if PHONE_DIGITS.contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ChannelError::Recipient)
    }
}

/// The channel of the first zone in `zones` that has one. Callers pass the
/// alert's village, commune and province, so the team is tried first and
/// wider zones are the fallback.
pub fn resolve<'a>(channels: &'a HashMap<String, Channel>, zones: &[&str]) -> Option<&'a Channel> {
    zones.iter().find_map(|zone| channels.get(*zone))
}

/// `host:port` of `url` (the port defaulted by its scheme), or `invalid`
/// when it has no host or port. The key of per-endpoint concurrency limits
/// and circuit breakers, and what logs and metric labels show: never the
/// user, path or query, which may carry tokens.
pub fn endpoint(url: &str) -> String {
    let Ok(url) = Url::parse(url) else {
        return INVALID_ENDPOINT.to_owned();
    };
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) if !host.is_empty() => format!("{host}:{port}"),
        _ => INVALID_ENDPOINT.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(zone_id: &str, url: &str, recipient: &str) -> Result<Channel, ChannelError> {
        Channel::new(zone_id, url, Format::Webhook, Language::Vi, recipient)
    }

    #[test]
    fn names_round_trip() {
        for format in [Format::Webhook, Format::SmsGateway] {
            assert_eq!(Format::parse(format.as_str()), Some(format));
            assert_eq!(format.to_string(), format.as_str());
        }
        for language in [Language::Vi, Language::En] {
            assert_eq!(Language::parse(language.as_str()), Some(language));
            assert_eq!(language.to_string(), language.as_str());
        }
        assert_eq!(Format::SmsGateway.as_str(), "sms_gateway");
        assert_eq!(Language::En.as_str(), "en");
        assert_eq!(Format::parse("Webhook"), None);
        assert_eq!(Language::parse("fr"), None);
        assert_eq!(Language::default(), Language::Vi);
    }

    #[test]
    fn accepts_a_good_channel() {
        let c = Channel::new(
            "tha.ba-thuoc_lam-chieng.01",
            "https://hooks.example.vn:8443/vigil?team=7",
            Format::SmsGateway,
            Language::En,
            "+84912345678",
        )
        .expect("valid");
        assert_eq!(c.zone_id, "tha.ba-thuoc_lam-chieng.01");
        assert_eq!(c.url, "https://hooks.example.vn:8443/vigil?team=7");
        assert_eq!(c.format, Format::SmsGateway);
        assert_eq!(c.language, Language::En);
        assert_eq!(c.recipient, "+84912345678");

        assert!(channel("v1", "http://10.0.0.5/hook", "").is_ok());
        assert!(channel("v1", "http://[::1]:9000/", "0912345").is_ok());
        assert!(channel(&"z".repeat(128), "http://h/", "").is_ok());
    }

    #[test]
    fn keeps_the_url_as_it_will_be_requested() {
        let c = channel("v1", "HTTPS://Hooks.Example.VN/a b", "").expect("valid");
        assert_eq!(c.url, "https://hooks.example.vn/a%20b");
    }

    #[test]
    fn refuses_bad_zone_ids_naming_the_field() {
        let long = "z".repeat(129);
        let cases = [
            ("", ChannelError::EmptyZoneId),
            (long.as_str(), ChannelError::ZoneIdTooLong { chars: 129 }),
            ("Village1", ChannelError::ZoneIdCharacter { found: 'V' }),
            ("lâm", ChannelError::ZoneIdCharacter { found: 'â' }),
            ("a/b", ChannelError::ZoneIdCharacter { found: '/' }),
            ("a b", ChannelError::ZoneIdCharacter { found: ' ' }),
        ];
        for (zone_id, want) in cases {
            let err = channel(zone_id, "https://h/", "").expect_err(zone_id);
            assert_eq!(err, want);
            assert!(err.to_string().contains("zone id"), "{err}");
        }
    }

    #[test]
    fn refuses_bad_urls_naming_the_field() {
        let long = format!("https://h/{}", "a".repeat(MAX_URL_BYTES));
        let cases = [
            ("not a url", "does not parse"),
            ("/relative/path", "does not parse"),
            ("ftp://files.example.vn/", "scheme"),
            ("file:///etc/passwd", "scheme"),
            ("mailto:ops@example.vn", "scheme"),
            ("http://", "empty host"),
            ("https://:8443/path", "empty host"),
            (long.as_str(), "bytes long"),
        ];
        for (url, want) in cases {
            let err = channel("v1", url, "").expect_err(url).to_string();
            assert!(err.contains("channel URL"), "{url}: {err}");
            assert!(err.contains(want), "{url}: {err}");
        }
    }

    #[test]
    fn refuses_credentials_without_repeating_them() {
        for url in [
            "https://admin:hunter2@hooks.example.vn/x",
            "https://admin@hooks.example.vn/x",
            "https://:hunter2@hooks.example.vn/x",
        ] {
            let err = channel("v1", url, "").expect_err(url);
            assert_eq!(err, ChannelError::UrlCredentials);
            let message = err.to_string();
            assert!(message.contains("user name or password"), "{message}");
            assert!(!message.contains("hunter2") && !message.contains("admin"));
        }
    }

    #[test]
    fn refuses_bad_recipients_naming_the_field() {
        for recipient in [
            "12345",
            "+1234567890123456",
            "0912 345 678",
            "+",
            "++84912345678",
            "84-912345678",
            "０９１２３４５６７８",
        ] {
            let err = channel("v1", "https://h/", recipient).expect_err(recipient);
            assert_eq!(err, ChannelError::Recipient);
            assert!(err.to_string().contains("recipient"));
        }
        assert!(channel("v1", "https://h/", "123456").is_ok());
        assert!(channel("v1", "https://h/", "+123456789012345").is_ok());
    }

    #[test]
    fn resolve_falls_back_from_village_to_commune_to_province() {
        let mut channels = HashMap::new();
        for zone in ["village-a", "commune-x", "province"] {
            let url = format!("https://{zone}.example.vn/");
            channels.insert(zone.to_owned(), channel(zone, &url, "").expect("valid"));
        }
        let zone_of = |zones: &[&str]| resolve(&channels, zones).map(|c| c.zone_id.as_str());

        assert_eq!(
            zone_of(&["village-a", "commune-x", "province"]),
            Some("village-a")
        );
        assert_eq!(
            zone_of(&["village-b", "commune-x", "province"]),
            Some("commune-x")
        );
        assert_eq!(
            zone_of(&["village-b", "commune-y", "province"]),
            Some("province")
        );
        assert_eq!(zone_of(&["village-b", "commune-y", "elsewhere"]), None);
        assert_eq!(zone_of(&[]), None);
    }

    #[test]
    fn endpoint_is_host_and_port_only() {
        let cases = [
            (
                "https://hooks.example.vn/a/b?token=s3cret#x",
                "hooks.example.vn:443",
            ),
            ("http://hooks.example.vn/", "hooks.example.vn:80"),
            (
                "https://user:s3cret@Hooks.Example.VN:8443/t?k=v",
                "hooks.example.vn:8443",
            ),
            ("http://10.1.2.3:8080/path", "10.1.2.3:8080"),
            ("https://[2001:db8::1]/x", "[2001:db8::1]:443"),
            ("not a url", "invalid"),
            ("", "invalid"),
            ("mailto:ops@example.vn", "invalid"),
            ("custom://host/path", "invalid"),
        ];
        for (url, want) in cases {
            let got = endpoint(url);
            assert_eq!(got, want, "{url}");
            for secret in ["s3cret", "token", "user", "/a", "path"] {
                assert!(!got.contains(secret), "{url} -> {got}");
            }
        }
    }
}
