//! `vigil-edge`, the agent that runs at each site: it takes detections from
//! its sources (a simulator, a Frigate MQTT bridge, HTTP pushes), writes
//! each one durably to a local spool before acknowledging it, and publishes
//! the spool to Kafka (`vigil.detections.v1`, key = camera id), so a
//! flaky uplink or a broker outage delays detections but never loses them.
//! It also sends a heartbeat per camera to `vigil.heartbeats.v1`.

pub mod heartbeat;
pub mod http;
pub mod intake;
pub mod metrics;
pub mod publisher;
pub mod source;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vigil_bus::KafkaArgs;
use vigil_runtime::{LogArgs, ShutdownArgs};
use vigil_spool::{Spool, SpoolConfig};

pub use intake::{Intake, Rejection, Source};
use source::frigate::FrigateArgs;
use source::simulator::SimulatorArgs;

/// Default of the largest message taken from a source: an HTTP request body
/// (`--http-max-body`) or a Frigate MQTT message (`--frigate-max-payload`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// The edge agent's configuration: flags, or `VIGIL_*` environment variables.
#[derive(Debug, clap::Parser)]
#[command(
    name = "vigil-edge",
    version,
    about = "Vigil edge agent: cameras -> disk spool -> Kafka"
)]
pub struct Config {
    /// This site's id, stamped on every detection and heartbeat.
    #[arg(long, env = "VIGIL_SITE_ID")]
    pub site_id: String,
    /// Folder of the store-and-forward spool.
    #[arg(long, env = "VIGIL_SPOOL_DIR", default_value = ".vigil/edge")]
    pub spool_dir: PathBuf,
    /// Bytes of detections the spool keeps while the uplink is down; when
    /// full, the oldest are dropped (and counted in
    /// vigil_edge_events_dropped_total). The file needs about twice this.
    #[arg(long, env = "VIGIL_SPOOL_MAX_BYTES", default_value_t = 1 << 30, value_parser = vigil_runtime::flags::byte_size::<u64>)]
    pub spool_max_bytes: u64,
    /// Address of the HTTP server (ingest, /metrics, /healthz).
    #[arg(long, env = "VIGIL_HTTP_LISTEN", default_value = "127.0.0.1:8070")]
    pub http_listen: SocketAddr,
    /// File holding this site's HTTP ingest key: at least 32 bytes, e.g.
    /// made with `openssl rand -hex 32`; surrounding whitespace is ignored.
    /// Every POST /v1/detections must then be signed with it (headers
    /// X-Vigil-Timestamp and X-Vigil-Signature, see docs/edge.md). Without
    /// a key (and without --ingest-allow-unsigned) the HTTP ingest is off:
    /// posts get 403; /metrics, /healthz and the other sources still run.
    #[arg(
        long,
        env = "VIGIL_INGEST_KEY_FILE",
        conflicts_with = "ingest_allow_unsigned"
    )]
    pub ingest_key_file: Option<PathBuf>,
    /// Lab use only: take unsigned HTTP ingest posts, so that anyone who
    /// can reach --http-listen can post detections for any camera as this
    /// site. Never on a site network; give --ingest-key-file instead.
    #[arg(long, env = "VIGIL_INGEST_ALLOW_UNSIGNED")]
    pub ingest_allow_unsigned: bool,
    /// Largest HTTP request body accepted, in bytes.
    #[arg(long, env = "VIGIL_HTTP_MAX_BODY", default_value_t = DEFAULT_MAX_BODY_BYTES, value_parser = vigil_runtime::flags::byte_size::<usize>)]
    pub http_max_body: usize,
    /// How often each camera's heartbeat is sent.
    #[arg(long, env = "VIGIL_HEARTBEAT_INTERVAL", default_value = "30s", value_parser = vigil_runtime::flags::duration)]
    pub heartbeat_interval: Duration,
    /// Cameras this agent serves, comma-separated; they get heartbeats even
    /// when quiet (cameras that send detections get them too).
    #[arg(long = "cameras", env = "VIGIL_CAMERAS", value_delimiter = ',')]
    pub served_cameras: Vec<String>,
    /// Most detections on their way to Kafka at once.
    #[arg(long, env = "VIGIL_MAX_IN_FLIGHT", default_value_t = 10_000, value_parser = vigil_runtime::flags::count::<usize>)]
    pub max_in_flight: usize,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub simulator: SimulatorArgs,
    #[command(flatten)]
    pub frigate: FrigateArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
}

/// Runs the agent until `shutdown` is cancelled, then stops the sources,
/// spools what they handed in, and sends what it can within the grace
/// period; the rest stays spooled for the next start.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    // Settings first: a bad key stops the agent before it opens anything.
    let ingest_auth = ingest_auth(&config)?;
    config.frigate.check().context("Frigate bridge settings")?;
    let recorder = vigil_runtime::metrics_recorder();
    metrics::describe();
    let spool_path = config.spool_dir.join("spool.redb");
    let spool = {
        let spool_config = SpoolConfig {
            path: spool_path.clone(),
            max_bytes: config.spool_max_bytes,
        };
        tokio::task::spawn_blocking(move || Spool::open(spool_config)).await??
    };
    let spool = Arc::new(spool);
    let backlog = spool.stats().entries;
    info!(spool = %spool_path.display(), backlog, site_id = %config.site_id, "Edge agent starting.");

    let topics = config.kafka.topics();
    let producer = config.kafka.producer()?;
    let spooled = Arc::new(Notify::new());
    let link = Arc::new(publisher::Link::default());
    let (intake, committer) =
        intake::Intake::start(&config.site_id, Arc::clone(&spool), Arc::clone(&spooled));

    let publisher_stop = CancellationToken::new();
    let publisher = tokio::spawn(publisher::run(
        publisher::PublisherConfig {
            topic: topics.detections.clone(),
            max_in_flight: config.max_in_flight,
        },
        Arc::clone(&spool),
        producer.clone(),
        spooled,
        Arc::clone(&link),
        publisher_stop.clone(),
        config.shutdown.grace / 4,
    ));

    let heartbeats = {
        let configured: Vec<String> = config
            .served_cameras
            .iter()
            .chain(&config.simulator.camera_ids())
            .cloned()
            .collect();
        let intake = intake.clone();
        let cameras = move || {
            let mut all = configured.clone();
            all.extend(intake.cameras_seen());
            all.sort();
            all.dedup();
            all
        };
        let heartbeats = heartbeat::Heartbeats {
            producer: producer.clone(),
            topic: topics.heartbeats.clone(),
            site_id: config.site_id.clone(),
            interval: config.heartbeat_interval,
            spool: Arc::clone(&spool),
            link: Arc::clone(&link),
        };
        tokio::spawn(heartbeats.run(cameras, shutdown.clone()))
    };

    let listener = tokio::net::TcpListener::bind(config.http_listen)
        .await
        .with_context(|| format!("listening on {}", config.http_listen))?;
    match &ingest_auth {
        http::IngestAuth::Off => {
            info!(address = %listener.local_addr()?, "/metrics listening; HTTP ingest off (no --ingest-key-file).");
        }
        http::IngestAuth::Signed(_) => {
            info!(address = %listener.local_addr()?, "Signed HTTP ingest and /metrics listening.");
        }
        http::IngestAuth::Unsigned => {
            warn!(address = %listener.local_addr()?, "UNSIGNED HTTP ingest and /metrics listening: anyone who reaches this address can post detections as this site (--ingest-allow-unsigned, lab use only).");
        }
    }
    let server = {
        let app = http::router(intake.clone(), recorder, config.http_max_body, ingest_auth);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        })
    };
    let simulator = tokio::spawn(
        config
            .simulator
            .clone()
            .run(intake.clone(), shutdown.clone()),
    );
    let frigate = match config.frigate.mqtt_url.is_some() {
        true => Some(tokio::spawn(source::frigate::run(
            config.frigate.clone(),
            intake.clone(),
            shutdown.clone(),
        ))),
        false => None,
    };
    drop(intake);

    shutdown.cancelled().await;
    let stopping = Instant::now();
    // Sources first, then the committer (it ends when the last intake
    // handle is gone), then give the publisher the rest of the grace period
    // to empty the spool.
    let _ = server.await;
    let _ = simulator.await;
    if let Some(frigate) = frigate
        && let Ok(Err(error)) = frigate.await
    {
        tracing::warn!(%error, "Frigate bridge stopped with an error.");
    }
    let _ = heartbeats.await;
    let _ = committer.await;
    let deadline = stopping + config.shutdown.grace * 3 / 4;
    while spool.stats().entries > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    publisher_stop.cancel();
    publisher.await?;
    info!(left_in_spool = spool.stats().entries, "Edge agent stopped.");
    Ok(())
}

/// Who may post to the HTTP ingest, from the settings; fails on a key file
/// that cannot be read or is too short.
fn ingest_auth(config: &Config) -> anyhow::Result<http::IngestAuth> {
    Ok(
        match (&config.ingest_key_file, config.ingest_allow_unsigned) {
            (Some(path), _) => http::IngestAuth::Signed(Arc::new(
                vigil_signing::SigningKey::from_file(path).context("--ingest-key-file")?,
            )),
            (None, true) => http::IngestAuth::Unsigned,
            (None, false) => http::IngestAuth::Off,
        },
    )
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Config;

    #[test]
    fn command_line_is_well_formed() {
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_parse() {
        let config = Config::try_parse_from(["vigil-edge", "--site-id", "s1"]).unwrap();
        assert_eq!(
            config.heartbeat_interval,
            std::time::Duration::from_secs(30)
        );
        assert_eq!(config.simulator.camera_count, 0);
    }

    /// A zero interval used to reach `tokio::time::interval` and panic
    /// inside the heartbeat task; nonsense is refused naming the flag.
    #[test]
    fn nonsense_durations_sizes_and_counts_are_refused_naming_the_flag() {
        for (flag, value) in [
            ("--heartbeat-interval", "0s"),
            ("--shutdown-grace", "0s"),
            ("--spool-max-bytes", "0"),
            ("--http-max-body", "lots"),
            ("--max-in-flight", "0"),
            ("--simulate-rate", "0"),
            ("--log", "vigil_edge=loud"),
        ] {
            let error = Config::try_parse_from(["vigil-edge", "--site-id", "s1", flag, value])
                .unwrap_err()
                .to_string();
            assert!(error.contains(flag), "{flag} {value}: {error}");
        }
        let sized = Config::try_parse_from([
            "vigil-edge",
            "--site-id",
            "s1",
            "--spool-max-bytes",
            "64MiB",
        ])
        .unwrap();
        assert_eq!(sized.spool_max_bytes, 64 << 20);
    }

    #[test]
    fn ingest_is_off_without_a_key_and_a_key_excludes_unsigned() {
        let parse = |extra: &[&str]| {
            let args = ["vigil-edge", "--site-id", "s1"].iter().chain(extra);
            Config::try_parse_from(args)
        };
        let off = parse(&[]).unwrap();
        assert!(matches!(
            super::ingest_auth(&off).unwrap(),
            crate::http::IngestAuth::Off
        ));
        let lab = parse(&["--ingest-allow-unsigned"]).unwrap();
        assert!(matches!(
            super::ingest_auth(&lab).unwrap(),
            crate::http::IngestAuth::Unsigned
        ));
        let error = parse(&["--ingest-key-file", "k", "--ingest-allow-unsigned"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--ingest-allow-unsigned"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.key");
        std::fs::write(&short, "too short\n").unwrap();
        let config = parse(&["--ingest-key-file", short.to_str().unwrap()]).unwrap();
        let error = format!("{:#}", super::ingest_auth(&config).unwrap_err());
        assert!(
            error.contains("--ingest-key-file") && error.contains("at least 32"),
            "{error}"
        );
    }
}
