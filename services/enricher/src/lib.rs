//! `vigil-enricher`: the consumer group on `vigil.detections.v1` that gives
//! every detection its place in the province — zone path, responsible team,
//! police unit — checks plates against the watchlist, and publishes to
//! `vigil.enriched.v1` (key = camera id) and `vigil.alerts.v1` (key =
//! commune id). Input it cannot accept goes to `vigil.dlq.v1` with the
//! reason, and the partition keeps flowing. The registry and watchlist are
//! held in memory, loaded from the compacted `vigil.registry.v1` topic at
//! start and kept current from it.

pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use chrono::Utc;
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::consumer::Consumer;
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, debug, error, info};
use vigil_bus::pipeline::{self, Effect, PipelineConfig};
use vigil_bus::registry::SharedRegistry;
use vigil_bus::{
    KafkaArgs, KafkaProducer, Refused, Topics, produce_until_acked, produce_until_acked_or_refused,
    trace,
};
use vigil_enrich::{Policy, enrich};
use vigil_proto::v1::DlqRecord;
use vigil_runtime::{LogArgs, ShutdownArgs};

/// The enricher's configuration: flags, or `VIGIL_*` environment variables.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "vigil-enricher",
    version,
    about = "Vigil enricher: detections -> zone, team, watchlist hits"
)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Consumer group; instances in one group share the partitions.
    #[arg(long, env = "VIGIL_ENRICHER_GROUP", default_value = "vigil-enricher")]
    pub group: String,
    /// Detections processed at once.
    #[arg(long, env = "VIGIL_MAX_IN_FLIGHT", default_value_t = 512, value_parser = vigil_runtime::flags::count::<usize>)]
    pub max_in_flight: usize,
    /// An event arriving this long after capture is flagged late.
    #[arg(long, env = "VIGIL_LATE_AFTER", default_value = "10m", value_parser = vigil_runtime::flags::duration)]
    pub late_after: Duration,
    /// Captured further ahead than this (clock skew) is rejected.
    #[arg(long, env = "VIGIL_MAX_FUTURE_SKEW", default_value = "5m", value_parser = vigil_runtime::flags::duration)]
    pub max_future_skew: Duration,
    /// Captured longer ago than this is rejected (it would expire at once).
    #[arg(long, env = "VIGIL_MAX_EVENT_AGE", default_value = "90days", value_parser = vigil_runtime::flags::duration)]
    pub max_age: Duration,
    /// Address serving /metrics and /healthz.
    #[arg(long, env = "VIGIL_METRICS_LISTEN", default_value = "127.0.0.1:8071")]
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

impl Config {
    fn policy(&self) -> Policy {
        Policy {
            late_after: self.late_after,
            max_future_skew: self.max_future_skew,
            max_age: self.max_age,
            ..Policy::default()
        }
    }
}

/// What processing one record needs.
struct Stage {
    registry: SharedRegistry,
    producer: KafkaProducer,
    topics: Topics,
    policy: Policy,
    /// The consumer group, for the trace spans.
    group: String,
}

/// Runs until `shutdown`, then drains in-flight records and commits.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let server = vigil_runtime::serve_metrics(config.metrics_listen, shutdown.clone())
        .await
        .with_context(|| format!("listening on {}", config.metrics_listen))?;
    metrics::describe();

    let (registry, follower) = vigil_bus::registry::follow(&config.kafka, shutdown.clone())
        .await
        .context("loading the registry")?;
    let cameras = registry
        .read()
        .map(|r| r.cameras().len())
        .unwrap_or_default();
    metrics::registry_cameras(cameras);
    info!(cameras, "Registry loaded.");

    let producer = config.kafka.producer()?;
    let consumer = Arc::new(config.kafka.consumer(&config.group)?);
    let topics = config.kafka.topics();
    consumer
        .subscribe(&[&topics.detections])
        .context("subscribing")?;
    let lag = vigil_bus::lag::report(
        Arc::clone(&consumer),
        metrics::CONSUMER_LAG,
        config.lag_interval,
        shutdown.clone(),
    );
    let stage = Arc::new(Stage {
        registry,
        producer: producer.clone(),
        topics,
        policy: config.policy(),
        group: config.group.clone(),
    });
    let handle = |message: OwnedMessage| -> Effect {
        let stage = Arc::clone(&stage);
        let span = trace::process_span(&message, &stage.group);
        Box::pin(async move { stage.process(message).await }.instrument(span))
    };
    let stats = pipeline::run(
        &consumer,
        PipelineConfig {
            max_in_flight: config.max_in_flight,
            drain: config.shutdown.grace,
            commit_every: Duration::from_secs(5),
        },
        handle,
        pipeline::always_commit,
        shutdown.clone(),
    )
    .await;
    info!(
        handled = stats.handled,
        unfinished = stats.unfinished_at_shutdown,
        "Enricher stopped."
    );
    let _ = lag.await;
    let _ = follower.await;
    let _ = server.await;
    Ok(())
}

/// The DLQ reason of an input whose output Kafka refused for good (too
/// large, invalid): dead-lettered rather than retried forever.
pub const OUTPUT_REJECTED: &str = "output_rejected";

impl Stage {
    /// Enriches one record and produces its outputs (or its DLQ record);
    /// returns once Kafka has acknowledged them all. An output Kafka
    /// refuses for good (see [`vigil_bus::is_refusal`]) would stall the
    /// partition if retried: the input goes to the DLQ instead, so every
    /// input ends in its outputs or in the DLQ.
    async fn process(&self, message: OwnedMessage) {
        let started = Instant::now();
        let payload = message.payload().unwrap_or_default();
        let outcome = {
            let registry = self
                .registry
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            enrich(&registry, payload, &self.policy, Utc::now())
        };
        let headers = outputs_headers(&message);
        match outcome {
            Ok(enriched) => {
                if let Some(detection) = &enriched.event.detection {
                    trace::message_id(&tracing::Span::current(), &detection.event_id);
                }
                let event = enriched.event.encode_to_vec();
                let camera_id = message.key().unwrap_or_default();
                let alerts: Vec<(String, Vec<u8>)> = enriched
                    .alerts
                    .iter()
                    .map(|a| (a.commune_id.clone(), a.encode_to_vec()))
                    .collect();
                let mut sends = vec![produce_until_acked_or_refused(
                    &self.producer,
                    &self.topics.enriched,
                    camera_id,
                    &event,
                    Some(&headers),
                )];
                for (commune, alert) in &alerts {
                    sends.push(produce_until_acked_or_refused(
                        &self.producer,
                        &self.topics.alerts,
                        commune.as_bytes(),
                        alert,
                        Some(&headers),
                    ));
                }
                let outputs = std::iter::once("enriched event")
                    .chain(std::iter::repeat_n("alert", alerts.len()));
                let refused: Vec<String> = outputs
                    .zip(futures::future::join_all(sends).await)
                    .filter_map(|(output, sent)| sent.err().map(|r| refusal(output, &r)))
                    .collect();
                if refused.is_empty() {
                    metrics::enriched(enriched.event.late, alerts.len());
                } else {
                    // Counted by reason like any rejection; a watchlist
                    // entry too large to alert on fails every sighting.
                    debug!(
                        partition = message.partition(),
                        offset = message.offset(),
                        refused = %refused.join("; "),
                        "An output was refused for good; the detection goes to the DLQ."
                    );
                    self.dead_letter(&message, OUTPUT_REJECTED, refused.join("; "), &headers)
                        .await;
                }
            }
            Err(rejection) => {
                // Expected traffic, counted by reason (that is what to
                // alert on) and kept with its reason on the DLQ topic; one
                // misconfigured site could log thousands a second.
                debug!(
                    partition = message.partition(),
                    offset = message.offset(),
                    reason = rejection.reason(),
                    detail = %rejection,
                    "Detection rejected to the DLQ."
                );
                self.dead_letter(
                    &message,
                    rejection.reason(),
                    rejection.to_string(),
                    &headers,
                )
                .await;
            }
        }
        metrics::processed(started.elapsed());
    }

    /// Puts `message` on the DLQ topic with its reason, and the original
    /// payload if the DLQ topic takes a record that large; if not, the
    /// record goes without it (the detail says so), since a record refused
    /// for good would otherwise stall the partition. A DLQ record refused
    /// even without the payload (the DLQ topic misconfigured) is retried
    /// until it is taken: nothing is dropped unrecorded.
    async fn dead_letter(
        &self,
        message: &OwnedMessage,
        reason: &'static str,
        detail: String,
        headers: &OwnedHeaders,
    ) {
        let original_value = message.payload().unwrap_or_default();
        let key = message.key().unwrap_or_default();
        let mut record = DlqRecord {
            source_topic: message.topic().to_owned(),
            source_partition: message.partition(),
            source_offset: message.offset(),
            original_key: key.to_vec(),
            original_value: original_value.to_vec(),
            reason: reason.to_owned(),
            detail,
            rejected_by: "vigil-enricher".to_owned(),
            rejected_at: Some(SystemTime::now().into()),
        };
        let dlq = &self.topics.dlq;
        let sent = produce_until_acked_or_refused(
            &self.producer,
            dlq,
            key,
            &record.encode_to_vec(),
            Some(headers),
        )
        .await;
        if let Err(refused) = sent {
            record.original_value.clear();
            record.detail = format!(
                "{}; original value of {} bytes left out: {}",
                record.detail,
                original_value.len(),
                refusal("DLQ record", &refused)
            );
            let without_payload = record.encode_to_vec();
            if let Err(refused) = produce_until_acked_or_refused(
                &self.producer,
                dlq,
                key,
                &without_payload,
                Some(headers),
            )
            .await
            {
                error!(
                    partition = message.partition(),
                    offset = message.offset(),
                    %refused,
                    "The DLQ topic refuses even a DLQ record without its payload; retrying until it is reconfigured (the partition waits)."
                );
                produce_until_acked(&self.producer, dlq, key, &without_payload, Some(headers))
                    .await;
            }
        }
        metrics::dead_lettered(reason);
    }
}

/// What Kafka refused and why, for a DLQ record's detail: e.g. `alert too
/// large for vigil.alerts.v1 (MessageSizeTooLarge)`.
fn refusal(output: &str, refused: &Refused) -> String {
    let what = if refused.too_large() {
        "too large for"
    } else {
        "refused by"
    };
    format!("{output} {what} {} ({:?})", refused.topic, refused.code)
}

/// The input's headers (its trace context travels on) plus the schema tag.
fn outputs_headers(message: &OwnedMessage) -> OwnedHeaders {
    let mut headers = message.headers().cloned().unwrap_or_default();
    let has_schema = {
        use rdkafka::message::Headers as _;
        headers.iter().any(|h| h.key == trace::SCHEMA_HEADER)
    };
    if !has_schema {
        headers = headers.insert(Header {
            key: trace::SCHEMA_HEADER,
            value: Some(vigil_proto::SCHEMA_VERSION),
        });
    }
    headers
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
        let config = Config::try_parse_from(["vigil-enricher"]).unwrap();
        assert_eq!(config.group, "vigil-enricher");
        assert_eq!(
            config.policy().late_after,
            std::time::Duration::from_secs(600)
        );
    }

    /// `--lag-interval 0s` used to panic inside the lag task.
    #[test]
    fn nonsense_values_are_refused_naming_the_flag() {
        for (flag, value) in [
            ("--lag-interval", "0s"),
            ("--late-after", "0s"),
            ("--max-in-flight", "0"),
            ("--max-age", "1000years"),
        ] {
            let error = Config::try_parse_from(["vigil-enricher", flag, value])
                .unwrap_err()
                .to_string();
            assert!(error.contains(flag), "{flag} {value}: {error}");
        }
    }
}
