//! `vigil-notifier`: tells the people on duty. A consumer group on
//! `vigil.alerts.v1` delivers every alert to the channel of the team
//! responsible for its village (falling back to the commune's, then the
//! province's), as a webhook signed with HMAC-SHA256 over timestamp and
//! body (`vigil_signing`), with an idempotency key per alert and audience,
//! retried with jittered exponential backoff behind a per-endpoint limit
//! and circuit breaker. Every attempt is recorded and shown by `GetAlert`.
//!
//! An alert nobody acknowledges within its target is escalated to the
//! commune police, and at twice the target to the province operations
//! center. The deadlines are rows in `escalation_timers`, polled by every
//! instance; an instance claims a due one with a lightweight transaction
//! and the escalation itself is conditional on the alert's version, so
//! each escalation happens once, across restarts and instances.
//!
//! Delivery is at least once: a record's offset is committed only after
//! its delivery finished, so a `kill -9` mid-delivery resumes after the
//! restart with the same idempotency key. Receivers deduplicate by it (see
//! `docs/notifier.md`).

pub mod deliver;
pub mod metrics;

mod moves;
mod notifier;
mod retry;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use tokio_util::sync::CancellationToken;
use tracing::info;
use vigil_bus::changes::AlertAnnouncer;
use vigil_bus::pipeline::{self, PipelineConfig};
use vigil_bus::{BusError, KafkaArgs};
use vigil_notify::escalation::Targets;
use vigil_notify::retry::Backoff;
use vigil_runtime::flags;
use vigil_runtime::{LogArgs, ShutdownArgs};
use vigil_signing::{KeyError, SigningKey};
use vigil_store::{AlertStore, NotificationStore, StoreArgs, StoreError};

use deliver::{Deliverer, DeliveryPolicy};
use notifier::Notifier;

/// The notifier's configuration: flags, or `VIGIL_*` environment variables.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "vigil-notifier",
    version,
    about = "Vigil notifier: alerts -> signed webhooks to the team on duty, escalated when not acknowledged"
)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Consumer group; instances in one group share the alerts.
    #[arg(
        long = "group",
        env = "VIGIL_NOTIFIER_GROUP",
        default_value = "vigil-notifier"
    )]
    pub group: String,
    /// This instance's name on the escalation timers it claims (default:
    /// a random one per start).
    #[arg(long, env = "VIGIL_NOTIFIER_INSTANCE")]
    pub instance: Option<String>,
    /// File holding the key webhooks are signed with (at least 32 bytes,
    /// e.g. `openssl rand -hex 32`), shared with the receivers.
    #[arg(long, env = "VIGIL_NOTIFIER_SIGNING_KEY_FILE")]
    pub signing_key_file: PathBuf,
    /// Alerts being delivered at once.
    #[arg(long, env = "VIGIL_MAX_IN_FLIGHT", default_value_t = 64, value_parser = flags::count::<usize>)]
    pub max_in_flight: usize,
    #[command(flatten)]
    pub targets: Targets,
    /// How often the escalation timers are polled.
    #[arg(long, env = "VIGIL_ESCALATION_POLL", default_value = "1s", value_parser = flags::duration)]
    pub escalation_poll: Duration,
    /// How long a claimed escalation stays this instance's before another
    /// may take it over (longer than a delivery's retries take).
    #[arg(long, env = "VIGIL_ESCALATION_LEASE", default_value = "5m", value_parser = flags::duration)]
    pub escalation_lease: Duration,
    /// Cap of the first wait between delivery attempts; it doubles per
    /// attempt (full jitter).
    #[arg(long, env = "VIGIL_DELIVERY_BACKOFF", default_value = "1s", value_parser = flags::duration)]
    pub delivery_backoff: Duration,
    /// Largest wait between delivery attempts.
    #[arg(long, env = "VIGIL_DELIVERY_BACKOFF_MAX", default_value = "30s", value_parser = flags::duration)]
    pub delivery_backoff_max: Duration,
    /// Attempts per notification before it counts as failed (and the
    /// alert escalates).
    #[arg(long, env = "VIGIL_DELIVERY_ATTEMPTS", default_value_t = 6, value_parser = flags::count::<u32>)]
    pub delivery_attempts: u32,
    /// Time allowed for one webhook request.
    #[arg(long, env = "VIGIL_DELIVERY_TIMEOUT", default_value = "10s", value_parser = flags::duration)]
    pub delivery_timeout: Duration,
    /// Requests to one receiving endpoint at once.
    #[arg(long, env = "VIGIL_ENDPOINT_CONCURRENCY", default_value_t = 4, value_parser = flags::count::<usize>)]
    pub endpoint_concurrency: usize,
    /// Failed requests in a row that open an endpoint's circuit breaker.
    #[arg(long, env = "VIGIL_BREAKER_FAILURES", default_value_t = 5, value_parser = flags::count::<u32>)]
    pub breaker_failures: u32,
    /// How long an open breaker refuses before a probe.
    #[arg(long, env = "VIGIL_BREAKER_COOL_DOWN", default_value = "30s", value_parser = flags::duration)]
    pub breaker_cool_down: Duration,
    /// Address serving /metrics and /healthz.
    #[arg(long, env = "VIGIL_METRICS_LISTEN", default_value = "127.0.0.1:8074")]
    pub metrics_listen: SocketAddr,
    /// How often the consumer lag per partition is measured.
    #[arg(long, env = "VIGIL_LAG_INTERVAL", default_value = "15s", value_parser = flags::duration)]
    pub lag_interval: Duration,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
}

/// Why the notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error("listening for /metrics on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("--signing-key-file: {0}")]
    Key(#[from] KeyError),
    #[error("building the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    #[error("loading the registry: {0}")]
    Registry(#[source] BusError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("{what}: {source}")]
    Store {
        what: &'static str,
        source: StoreError,
    },
    #[error("subscribing to {topic}: {source}")]
    Subscribe { topic: String, source: KafkaError },
}

/// Runs until `shutdown`, then finishes the deliveries in flight within
/// the grace period (the rest are delivered again after a restart).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), NotifierError> {
    let finished = CancellationToken::new();
    let _finish_on_return = finished.clone().drop_guard();
    let key = SigningKey::from_file(&config.signing_key_file)?;
    let server = vigil_runtime::serve_metrics(config.metrics_listen, finished.clone())
        .await
        .map_err(|source| NotifierError::Listen {
            address: config.metrics_listen,
            source,
        })?;
    metrics::describe();

    let (registry, follower) = vigil_bus::registry::follow(&config.kafka, finished.clone())
        .await
        .map_err(NotifierError::Registry)?;
    let store_err = |what| move |source| NotifierError::Store { what, source };
    let keyspace = config
        .store
        .keyspace()
        .await
        .map_err(store_err("connecting to the database"))?;
    let alerts = AlertStore::prepare(&keyspace)
        .await
        .map_err(store_err("preparing the alert tables"))?;
    let store = NotificationStore::prepare(&keyspace)
        .await
        .map_err(store_err("preparing the notification tables"))?;
    let http = reqwest::Client::builder()
        .timeout(config.delivery_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("vigil-notifier/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(NotifierError::Http)?;
    let policy = DeliveryPolicy {
        backoff: Backoff {
            base: config.delivery_backoff,
            max: config.delivery_backoff_max,
        },
        max_attempts: config.delivery_attempts,
        endpoint_concurrency: config.endpoint_concurrency,
        breaker_failures: config.breaker_failures,
        breaker_cool_down: config.breaker_cool_down,
    };
    let instance = config
        .instance
        .clone()
        .unwrap_or_else(|| format!("notifier-{}", uuid::Uuid::new_v4().simple()));
    let notifier = Arc::new(Notifier {
        alerts,
        deliverer: Deliverer::new(store.clone(), http, key, policy),
        store,
        registry,
        targets: config.targets,
        instance: instance.clone(),
        lease: config.escalation_lease,
        group: config.group.clone(),
        announcer: AlertAnnouncer::new(&config.kafka)?,
    });

    let consumer = Arc::new(config.kafka.consumer(&config.group)?);
    let topic = config.kafka.topics().alerts;
    consumer
        .subscribe(&[&topic])
        .map_err(|source| NotifierError::Subscribe {
            topic: topic.clone(),
            source,
        })?;
    let lag = vigil_bus::lag::report(
        Arc::clone(&consumer),
        metrics::CONSUMER_LAG,
        config.lag_interval,
        finished.clone(),
    );
    // Stops on SIGTERM, and with this function when it is dropped.
    let escalating = shutdown.child_token();
    let _stop_escalating = escalating.clone().drop_guard();
    let escalations =
        tokio::spawn(Arc::clone(&notifier).escalate(config.escalation_poll, escalating));
    info!(group = %config.group, %instance, %topic, "Notifier started.");

    let stats = pipeline::run(
        &consumer,
        PipelineConfig {
            max_in_flight: config.max_in_flight,
            drain: config.shutdown.grace,
            commit_every: Duration::from_secs(1),
        },
        |message| notifier.handle(message),
        pipeline::always_commit,
        shutdown,
    )
    .await;
    info!(
        handled = stats.handled,
        unfinished = stats.unfinished_at_shutdown,
        "Consumption stopped."
    );
    let _ = escalations.await;
    finished.cancel();
    let _ = lag.await;
    let _ = follower.await;
    let _ = server.await;
    info!("Notifier stopped.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};
    use vigil_notify::escalation::Targets;

    use super::Config;

    #[test]
    fn command_line_is_well_formed() {
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_parse() {
        let config = Config::try_parse_from(["vigil-notifier", "--signing-key-file", "k"]).unwrap();
        assert_eq!(config.group, "vigil-notifier");
        assert_eq!(config.targets, Targets::default());
        assert_eq!(config.delivery_attempts, 6);
        assert_eq!(config.metrics_listen.to_string(), "127.0.0.1:8074");
    }

    #[test]
    fn a_signing_key_is_required() {
        let error = Config::try_parse_from(["vigil-notifier"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--signing-key-file"), "{error}");
    }

    #[test]
    fn settings_that_cannot_work_are_rejected_by_name() {
        for (flag, value) in [
            ("--escalation-poll", "0s"),
            ("--delivery-timeout", "0s"),
            ("--delivery-attempts", "0"),
            ("--endpoint-concurrency", "0"),
        ] {
            let error =
                Config::try_parse_from(["vigil-notifier", "--signing-key-file", "k", flag, value])
                    .unwrap_err()
                    .to_string();
            assert!(error.contains(flag), "{error}");
        }
    }
}
