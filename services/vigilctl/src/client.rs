//! What the API subcommands share: connecting to vigil-api with a bearer
//! token, time windows from flags, and printing rows as a table or JSON.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use vigil_proto::v1::{AlertKind, CoverageState, DetectionKind, TimeWindow};

/// Where the API is and who is asking.
#[derive(Clone, clap::Args)]
pub struct ApiArgs {
    /// vigil-api address (`https://` for TLS).
    #[arg(
        long = "api",
        env = "VIGIL_API_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub url: String,
    /// Bearer token (`vigilctl token issue` prints one).
    #[arg(long = "token", env = "VIGIL_API_TOKEN", hide_env_values = true)]
    pub token: String,
    /// PEM CA certificate that signed the server's certificate (with https).
    #[arg(long = "ca-cert", env = "VIGIL_API_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The token never shows in `Debug` (error reports, traces).
impl std::fmt::Debug for ApiArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiArgs")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field("ca_cert", &self.ca_cert)
            .field("json", &self.json)
            .finish()
    }
}

/// A connected API client.
#[derive(Debug, Clone)]
pub struct Api {
    pub channel: Channel,
    authorization: MetadataValue<tonic::metadata::Ascii>,
    pub json: bool,
}

impl ApiArgs {
    /// Connects to the API.
    pub async fn connect(&self) -> anyhow::Result<Api> {
        let mut endpoint = Endpoint::from_shared(self.url.clone())
            .with_context(|| format!("--api {:?} is not a URL", self.url))?
            .connect_timeout(Duration::from_secs(5));
        if self.url.starts_with("https://") {
            let mut tls = ClientTlsConfig::new();
            if let Some(path) = &self.ca_cert {
                let pem =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint.tls_config(tls)?;
        }
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("connecting to vigil-api at {} (is it running?)", self.url))?;
        let mut authorization: MetadataValue<tonic::metadata::Ascii> =
            format!("Bearer {}", self.token.trim())
                .parse()
                .context("the token is not valid header text")?;
        // Shown as `Sensitive` by Debug.
        authorization.set_sensitive(true);
        Ok(Api {
            channel,
            authorization,
            json: self.json,
        })
    }
}

impl Api {
    /// `message` as a request carrying the bearer token.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        request
    }

    /// Prints `rows` as a table (columns from the first row) or as JSON.
    pub fn print(&self, rows: &[Row]) {
        if self.json {
            let objects: Vec<serde_json::Map<String, serde_json::Value>> = rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|(key, value)| ((*key).to_owned(), value.clone().into()))
                        .collect()
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&objects).unwrap_or_default()
            );
            return;
        }
        let Some(first) = rows.first() else {
            println!("(none)");
            return;
        };
        let mut table = Table::new();
        table.load_preset(UTF8_BORDERS_ONLY);
        table.set_header(first.iter().map(|(key, _)| *key));
        for row in rows {
            table.add_row(row.iter().map(|(_, value)| value.as_str()));
        }
        println!("{table}");
    }
}

/// One printed row: column name and text.
pub type Row = Vec<(&'static str, String)>;

/// A time window from flags: the last `--since`, or `--from`/`--to`.
#[derive(Debug, Clone, clap::Args)]
pub struct WindowArgs {
    /// How far back from now, e.g. 1h, 30min, 7days.
    #[arg(long, default_value = "1h", value_parser = vigil_runtime::flags::duration)]
    pub since: Duration,
    /// Start (RFC 3339, e.g. 2026-11-28T22:00:00+07:00); overrides --since.
    #[arg(long)]
    pub from: Option<DateTime<FixedOffset>>,
    /// End, exclusive (RFC 3339); default now.
    #[arg(long)]
    pub to: Option<DateTime<FixedOffset>>,
}

impl WindowArgs {
    pub fn window(&self) -> anyhow::Result<TimeWindow> {
        let end = self.to.map_or_else(Utc::now, |to| to.with_timezone(&Utc));
        let start = match self.from {
            Some(from) => from.with_timezone(&Utc),
            None => end - chrono::Duration::from_std(self.since).context("--since is too long")?,
        };
        Ok(TimeWindow {
            start: Some(timestamp(start)),
            end: Some(timestamp(end)),
        })
    }
}

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A timestamp in Vietnam time (UTC+7), what the province's operators read.
pub fn local_time(at: Option<&prost_types::Timestamp>) -> String {
    let vietnam = FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset");
    at.and_then(|t| DateTime::from_timestamp(t.seconds, 0))
        .map(|t| {
            t.with_timezone(&vietnam)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// A detection kind's number as its short name, e.g. `plate`.
pub fn kind_name(kind: i32) -> String {
    DetectionKind::try_from(kind)
        .map_or("", DetectionKind::short_name)
        .to_owned()
}

/// An alert kind's number as its short name, e.g. `camera_offline`.
pub fn alert_kind_name(kind: i32) -> String {
    AlertKind::try_from(kind)
        .map_or("", AlertKind::short_name)
        .to_owned()
}

/// A coverage state's number as its short name, e.g. `silent`.
pub fn state_name(state: i32) -> String {
    enum_name(
        CoverageState::try_from(state).ok().map(|s| s.as_str_name()),
        "COVERAGE_STATE_",
    )
}

/// A zone path below the province, e.g. `Ba Thuoc > Lang Chieu`.
pub fn place(zone_path: &[String]) -> String {
    zone_path
        .iter()
        .skip(1)
        .cloned()
        .collect::<Vec<_>>()
        .join(" > ")
}

/// `DETECTION_KIND_PLATE` → `plate`.
pub fn enum_name(name: Option<&str>, prefix: &str) -> String {
    name.map(|n| n.trim_start_matches(prefix).to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        api: ApiArgs,
    }

    #[test]
    fn debug_never_shows_the_token() {
        let secret = "vgl_0123456789ab_deadbeefdeadbeefdeadbeef";
        let cli = Cli::parse_from(["vigilctl", "--token", secret]);
        let shown = format!("{cli:?}");
        assert!(!shown.contains("deadbeef"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
