//! `vigil-writer`: the consumer group that makes the stream queryable. One
//! consumer reads `vigil.enriched.v1` and `vigil.heartbeats.v1` and
//! dispatches by topic:
//!
//! - **Enriched events** are written to ScyllaDB's query-first tables
//!   (events by id, by commune-hour, by camera-day, by plate-month) and to
//!   the per-event kinds table the counts are derived from. A database
//!   error is retried with backoff for as long as it takes; a record's
//!   offset is stored only once its writes succeeded, so nothing is ever
//!   skipped. Every write is an upsert keyed by `event_id`, so redelivery
//!   and replay overwrite rather than duplicate.
//! - **Counts per commune, hour and kind** are never incremented: each
//!   event leaves one row keyed by its id, and a rollup recounts, every
//!   `--rollup-interval` and once more at shutdown, the commune-hours that
//!   events were written to since its last pass — before the offsets of
//!   those events are committed, so a crash never leaves a count short — storing each count with
//!   `USING TIMESTAMP` = when its recount started, so the latest recount
//!   wins across instances. Replaying the topic or redelivering a record
//!   can never double-count. See `docs/counts.md` and
//!   [`vigil_store::CountStore`].
//! - **Heartbeats** update `camera_status`; cameras this instance has seen
//!   that fall silent for `--offline-after` are marked offline, with a
//!   `CAMERA_OFFLINE` alert to `vigil.alerts.v1` for their commune's team,
//!   and `CAMERA_ONLINE` when they return (see the `liveness` module).
//!
//! - **Alerts** (`vigil.alerts.v1`) are stored once per alert id, in
//!   state `raised`, for people to acknowledge and close through the API's
//!   `AlertService` (see the `alert_sink` module).
//!
//! Shutdown (SIGTERM): stop consuming, drain the records in flight (their
//! writes finish or stay uncommitted), run the last rollup, exit.

pub mod metrics;

mod alert_sink;
mod liveness;
mod retry;
mod rollup;
mod sink;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::Message as _;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vigil_bus::pipeline::{self, Effect, Gate, PipelineConfig};
use vigil_bus::{BusError, KafkaArgs};
use vigil_runtime::{LogArgs, ShutdownArgs};
use vigil_store::{AlertStore, CountStore, EventStore, StatusStore, StoreArgs, StoreError};

use alert_sink::AlertSink;
use liveness::Liveness;
use rollup::Rollup;
use sink::EventSink;

/// The writer's configuration: flags, or `VIGIL_*` environment variables.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "vigil-writer",
    version,
    about = "Vigil writer: enriched events and heartbeats -> ScyllaDB"
)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Consumer group; instances in one group share the partitions.
    #[arg(
        long = "group",
        env = "VIGIL_WRITER_GROUP",
        default_value = "vigil-writer"
    )]
    pub group: String,
    /// Records being written at once (the bound on in-flight database work).
    #[arg(long, env = "VIGIL_MAX_IN_FLIGHT", default_value_t = 256, value_parser = vigil_runtime::flags::count::<usize>)]
    pub max_in_flight: usize,
    /// How often the commune-hours written to are recounted into
    /// event_counts and offsets committed; counts trail events by about this
    /// much.
    #[arg(long, env = "VIGIL_ROLLUP_INTERVAL", default_value = "10s", value_parser = vigil_runtime::flags::duration)]
    pub rollup_interval: Duration,
    /// A camera with no heartbeat for this long is marked offline (3 missed
    /// heartbeats at the edge's default 30 s interval).
    #[arg(long, env = "VIGIL_OFFLINE_AFTER", default_value = "90s", value_parser = vigil_runtime::flags::duration)]
    pub offline_after: Duration,
    /// How often cameras are checked for silence.
    #[arg(long, env = "VIGIL_OFFLINE_CHECK", default_value = "10s", value_parser = vigil_runtime::flags::duration)]
    pub offline_check: Duration,
    /// Address serving /metrics and /healthz.
    #[arg(long, env = "VIGIL_METRICS_LISTEN", default_value = "127.0.0.1:8072")]
    pub metrics_listen: SocketAddr,
    /// How often the consumer lag per partition is measured (two broker
    /// requests per partition, off the processing path).
    #[arg(long, env = "VIGIL_LAG_INTERVAL", default_value = "15s", value_parser = vigil_runtime::flags::duration)]
    pub lag_interval: Duration,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
}

/// Why the writer could not start or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error("listening for /metrics on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("loading the registry: {0}")]
    Registry(#[source] BusError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("{what}: {source}")]
    Store {
        what: &'static str,
        source: StoreError,
    },
    #[error("{what}: {source}")]
    Kafka {
        what: &'static str,
        source: KafkaError,
    },
}

/// Runs until `shutdown`, then drains in-flight records, runs the last
/// rollup and returns.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), WriterError> {
    // Everything below stays up until the end of the drain, later than
    // `shutdown`: alerts raised while draining still need the registry,
    // and /metrics shows the drain.
    let finished = CancellationToken::new();
    let _finish_on_return = finished.clone().drop_guard();

    let server = vigil_runtime::serve_metrics(config.metrics_listen, finished.clone())
        .await
        .map_err(|source| WriterError::Listen {
            address: config.metrics_listen,
            source,
        })?;
    metrics::describe();

    let (registry, follower) = vigil_bus::registry::follow(&config.kafka, finished.clone())
        .await
        .map_err(WriterError::Registry)?;
    let store_err = |what| move |source| WriterError::Store { what, source };
    let keyspace = config
        .store
        .keyspace()
        .await
        .map_err(store_err("connecting to the database"))?;
    let ttl = config.store.event_ttl;
    let events = EventStore::prepare(&keyspace, ttl)
        .await
        .map_err(store_err("preparing the event tables"))?;
    let counts = CountStore::prepare(&keyspace, ttl)
        .await
        .map_err(store_err("preparing the count tables"))?;
    let statuses = StatusStore::prepare(&keyspace)
        .await
        .map_err(store_err("preparing camera_status"))?;
    let alerts = AlertStore::prepare(&keyspace)
        .await
        .map_err(store_err("preparing the alert tables"))?;

    let kafka_err = |what| move |source| WriterError::Kafka { what, source };
    let producer = config.kafka.producer()?;
    let consumer = Arc::new(config.kafka.consumer(&config.group)?);
    let topics = config.kafka.topics();
    consumer
        .subscribe(&[&topics.enriched, &topics.heartbeats, &topics.alerts])
        .map_err(kafka_err(
            "subscribing to the enriched, heartbeat and alert topics",
        ))?;
    let lag = vigil_bus::lag::report(
        Arc::clone(&consumer),
        metrics::CONSUMER_LAG,
        config.lag_interval,
        finished.clone(),
    );

    let rollup = Arc::new(Rollup::new(counts.clone()));
    let sink = Arc::new(EventSink {
        events,
        counts,
        rollup: Arc::clone(&rollup),
        group: config.group.clone(),
    });
    let alert_sink = Arc::new(AlertSink {
        alerts,
        group: config.group.clone(),
    });
    let liveness = Arc::new(Liveness::new(
        statuses,
        registry,
        producer,
        topics.alerts.clone(),
        config.offline_after,
    ));
    let watcher = tokio::spawn(Arc::clone(&liveness).watch(
        config.offline_check,
        Arc::clone(&consumer),
        topics.heartbeats.clone(),
        shutdown.clone(),
    ));
    info!(group = %config.group, enriched = %topics.enriched, heartbeats = %topics.heartbeats, "Writer started.");

    let (enriched_topic, alerts_topic) = (topics.enriched, topics.alerts);
    let handle = |message: OwnedMessage| -> Effect {
        // Subscribed to three topics: what is neither enriched nor an alert
        // is a heartbeat.
        if message.topic() == enriched_topic {
            sink.handle(message)
        } else if message.topic() == alerts_topic {
            alert_sink.handle(message)
        } else {
            liveness.handle(message)
        }
    };
    // Offsets are committed only after the rollup recounted every
    // commune-hour their events touched, so a crash can never leave a count
    // short; the drain gets most of the grace period, the last rollup the
    // rest.
    let grace = config.shutdown.grace;
    let before_commit = || -> Gate {
        let rollup = Arc::clone(&rollup);
        Box::pin(async move { rollup.pass().await })
    };
    let stats = pipeline::run(
        &consumer,
        PipelineConfig {
            max_in_flight: config.max_in_flight,
            drain: grace * 3 / 4,
            commit_every: config.rollup_interval,
        },
        handle,
        before_commit,
        shutdown,
    )
    .await;
    info!(
        handled = stats.handled,
        unfinished = stats.unfinished_at_shutdown,
        "Consumption stopped."
    );
    let _ = watcher.await;

    if rollup.pending() > 0 {
        // Their offsets were not committed: the next start recounts them.
        warn!(
            pending = rollup.pending(),
            "Stopped with commune-hours not yet recounted."
        );
    }
    finished.cancel();
    let _ = lag.await;
    let _ = follower.await;
    let _ = server.await;
    info!("Writer stopped.");
    Ok(())
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
        let config = Config::try_parse_from(["vigil-writer"]).unwrap();
        assert_eq!(config.group, "vigil-writer");
        assert_eq!(config.max_in_flight, 256);
        assert_eq!(config.rollup_interval.as_secs(), 10);
        assert_eq!(config.offline_after.as_secs(), 90);
        assert_eq!(config.offline_check.as_secs(), 10);
        assert_eq!(config.metrics_listen.to_string(), "127.0.0.1:8072");
    }

    #[test]
    fn settings_that_cannot_work_are_rejected_by_name() {
        for flag in [
            "--rollup-interval",
            "--offline-check",
            "--offline-after",
            "--lag-interval",
            "--max-in-flight",
        ] {
            let value = if flag == "--max-in-flight" { "0" } else { "0s" };
            let error = Config::try_parse_from(["vigil-writer", flag, value])
                .unwrap_err()
                .to_string();
            assert!(error.contains(flag), "{error}");
        }
    }
}
