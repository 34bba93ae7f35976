//! Ceilings: how fast the machine can go without Vigil in the way, so the
//! pipeline's rate can be read as a ratio.
//!
//! - Kafka: producer only, the same messages (encoded detections), acks,
//!   idempotence and compression as the edge agent, into a scratch topic.
//! - CQL: the writer's per-event inserts (the six event tables and the
//!   kinds row), prepared, into a scratch keyspace, at several
//!   concurrencies.
//! - Both at once: each event produced and inserted together — they share
//!   the cores, so this is the rate the machine can carry an event through
//!   both.
//! - Pipeline: the highest offered rate at which the enricher and writer
//!   keep lag bounded: grown by half while it keeps up, then bisected.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use prost::Message as _;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde::Serialize;
use vigil_bus::{KafkaArgs, TopicPlan};
use vigil_proto::v1::EnrichedDetection;
use vigil_store::{CountStore, EventStore, Keyspace};
use vigil_synth::DetectionFactory;

use crate::ingest::{self, LoadArgs};
use crate::target::Target;

/// Distinct messages cycled through (generation is not what is measured).
const POOL: usize = 5_000;

/// Pre-generated detections from the target's cameras, encoded, and their
/// enriched forms.
pub(crate) struct Pool {
    detections: Vec<Vec<u8>>,
    enriched: Vec<EnrichedDetection>,
}

impl Pool {
    pub(crate) fn new(target: &Target) -> anyhow::Result<Self> {
        let cameras = target.cameras(usize::MAX);
        let mut factory = DetectionFactory::new(99);
        let now = chrono::Utc::now();
        let policy = vigil_enrich::Policy::default();
        let mut detections = Vec::with_capacity(POOL);
        let mut enriched = Vec::with_capacity(POOL);
        for i in 0..POOL {
            let mut detection = factory.detection(&cameras[i % cameras.len()], now);
            detection.site_id = "loadtest".to_owned();
            detection.received_at = detection.captured_at;
            let bytes = detection.encode_to_vec();
            let event = vigil_enrich::enrich(&target.registry, &bytes, &policy, now)
                .map_err(|r| anyhow::anyhow!("a pool detection was rejected: {r:?}"))?
                .event;
            detections.push(bytes);
            enriched.push(event);
        }
        Ok(Self {
            detections,
            enriched,
        })
    }

    /// Mean encoded detection size, bytes.
    pub(crate) fn mean_bytes(&self) -> usize {
        self.detections.iter().map(Vec::len).sum::<usize>() / self.detections.len().max(1)
    }
}

/// Produces as fast as Kafka acknowledges for `duration`; returns acked/s.
pub(crate) async fn kafka(
    kafka: &KafkaArgs,
    topic: &str,
    pool: &Pool,
    duration: Duration,
) -> anyhow::Result<f64> {
    let producer: FutureProducer = kafka.producer_config().create()?;
    let acked = AtomicU64::new(0);
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut i = 0usize;
    while started.elapsed() < duration {
        let payload = &pool.detections[i % pool.detections.len()];
        let key = format!("cam-{:06}", i % 10_000);
        i += 1;
        let mut record = FutureRecord::to(topic).key(&key).payload(payload);
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    in_flight.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    if let Some(Ok(Ok(_))) = in_flight.next().await {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err((error, _)) => return Err(error).context("producing"),
            }
        }
        while in_flight.len() > 50_000 {
            if let Some(Ok(Ok(_))) = in_flight.next().await {
                acked.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    // Only what was acknowledged within the window counts.
    let elapsed = started.elapsed();
    let counted = acked.load(Ordering::Relaxed);
    drop(in_flight);
    producer.purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
    Ok(counted as f64 / elapsed.as_secs_f64())
}

/// The writer's inserts for one event: the event tables and the kinds row.
async fn insert(
    events: &EventStore,
    counts: &CountStore,
    event: &EnrichedDetection,
) -> anyhow::Result<()> {
    events.write(event).await?;
    counts.record_event(event).await?;
    Ok(())
}

/// Inserts events with `concurrency` in flight for `duration`; returns
/// events/s.
pub(crate) async fn cql(
    keyspace: &Keyspace,
    pool: &Pool,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let ttl = Duration::from_secs(3_600);
    let events = EventStore::prepare(keyspace, ttl).await?;
    let counts = CountStore::prepare(keyspace, ttl).await?;
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let mut next = 0usize;
    let mut in_flight = FuturesUnordered::new();
    while started.elapsed() < duration {
        while in_flight.len() < concurrency {
            let mut event = pool.enriched[next % pool.enriched.len()].clone();
            next += 1;
            if let Some(detection) = event.detection.as_mut() {
                detection.event_id = uuid::Uuid::now_v7().to_string();
            }
            let (events, counts) = (&events, &counts);
            in_flight.push(async move { insert(events, counts, &event).await });
        }
        if let Some(result) = in_flight.next().await {
            result?;
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
    let elapsed = started.elapsed();
    while let Some(result) = in_flight.next().await {
        result?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64())
}

/// Both at once, per event: each event is produced to Kafka and inserted
/// into the tables, `concurrency` events in flight; returns events/s for
/// which both were acknowledged. (Running the two flat out side by side
/// would only measure which one starves the other of the shared cores.)
pub(crate) async fn colocated(
    kafka: &KafkaArgs,
    topic: &str,
    keyspace: &Keyspace,
    pool: &Pool,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let producer: FutureProducer = kafka.producer_config().create()?;
    let ttl = Duration::from_secs(3_600);
    let events = EventStore::prepare(keyspace, ttl).await?;
    let counts = CountStore::prepare(keyspace, ttl).await?;
    let started = Instant::now();
    let mut done = 0u64;
    let mut next = 0usize;
    let mut in_flight = FuturesUnordered::new();
    while started.elapsed() < duration {
        while in_flight.len() < concurrency {
            let i = next % pool.enriched.len();
            next += 1;
            let mut event = pool.enriched[i].clone();
            if let Some(detection) = event.detection.as_mut() {
                detection.event_id = uuid::Uuid::now_v7().to_string();
            }
            let (producer, events, counts) = (&producer, &events, &counts);
            let payload = &pool.detections[i];
            in_flight.push(async move {
                let key = format!("cam-{i:06}");
                let produced = producer.send(
                    FutureRecord::to(topic).key(&key).payload(payload),
                    Duration::from_secs(60),
                );
                let (produced, inserted) = tokio::join!(produced, insert(events, counts, &event));
                produced.map_err(|(e, _)| e)?;
                inserted
            });
        }
        if let Some(result) = in_flight.next().await {
            result?;
            done += 1;
        }
    }
    let elapsed = started.elapsed();
    while let Some(result) = in_flight.next().await {
        result?;
    }
    Ok(done as f64 / elapsed.as_secs_f64())
}

/// A scratch topic (same partitions as detections) and keyspace for the
/// raw ceilings, so they never mix with the pipeline's data.
pub(crate) async fn scratch(
    target: &Target,
    partitions: i32,
) -> anyhow::Result<(KafkaArgs, Keyspace)> {
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let kafka = KafkaArgs {
        topic_prefix: format!("{}ceiling{stamp}.", target.kafka.topic_prefix),
        ..target.kafka.clone()
    };
    kafka
        .ensure_topics(&TopicPlan {
            enriched_partitions: 1,
            ..TopicPlan::single_node(partitions).replicated(target.topic_replication)
        })
        .await?;
    let name = format!("lt_ceiling_{stamp}");
    vigil_store::migrate(
        target.keyspace.session(),
        &name,
        target.store.keyspace_replication,
    )
    .await?;
    Ok((
        kafka,
        Keyspace::new(Arc::clone(target.keyspace.session()), name),
    ))
}

/// One step of the pipeline search.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Step {
    pub(crate) offered_per_s: f64,
    pub(crate) accepted_per_s: f64,
    pub(crate) final_lag: i64,
    pub(crate) bounded: bool,
}

/// Whether a run kept up with `rate`. Lag is read from committed offsets,
/// which trail by the commit interval (enricher 5 s, writer its rollup
/// interval, 10 s by default), so it saws up and down; a pipeline that
/// keeps up shows no growth from the middle third of the run to the last,
/// beyond two seconds of load, and never holds more than 15 s of load.
/// Every followed sample must also have become readable.
pub(crate) fn bounded(lags: &[i64], rate: f64, unresolved: u64) -> bool {
    if unresolved > 0 || lags.iter().any(|&lag| lag < 0) {
        return false;
    }
    let mean = |part: &[i64]| part.iter().sum::<i64>() as f64 / part.len().max(1) as f64;
    let third = lags.len() / 3;
    let last = mean(&lags[2 * third..]);
    let middle = if third == 0 {
        last
    } else {
        mean(&lags[third..2 * third])
    };
    last <= middle + rate * 2.0 && last <= rate * 15.0
}

/// Searches for the highest rate at which the pipeline keeps lag bounded,
/// from `start`, with `steps` runs of `duration` each; waits for the
/// backlog to drain between runs. Returns the highest rate that kept up (0
/// if none did).
pub(crate) async fn pipeline(
    target: &Target,
    start: f64,
    steps: usize,
    duration: Duration,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<(f64, Vec<Step>)> {
    // Grow by half while runs keep up, then bisect between the last rate
    // that kept up and the first that did not.
    let (mut low, mut high, mut rate) = (0.0f64, f64::INFINITY, start);
    let mut log = Vec::new();
    for _ in 0..steps.max(1) {
        let load = LoadArgs::fixed(rate, duration);
        let run = ingest::run(
            target,
            &load,
            progress,
            &format!("pipeline at {rate:.0}/s: "),
        )
        .await?;
        let lags: Vec<i64> = run
            .seconds
            .iter()
            .map(|s| s.enricher_lag + s.writer_lag)
            .collect();
        let ok = bounded(&lags, rate, run.unresolved);
        log.push(Step {
            offered_per_s: rate,
            accepted_per_s: run.accepted_per_s(),
            final_lag: run.final_lag(),
            bounded: ok,
        });
        if ok {
            low = rate;
        } else {
            high = rate;
        }
        rate = if high.is_finite() {
            (low + high) / 2.0
        } else {
            rate * 1.5
        };
        drain(target, Duration::from_secs(120)).await;
    }
    Ok((low, log))
}

/// Waits until both groups caught up (or `limit` passes).
async fn drain(target: &Target, limit: Duration) {
    let started = Instant::now();
    let consumers: Vec<(rdkafka::consumer::BaseConsumer, String)> = [
        (&target.enricher_group, target.kafka.topics().detections),
        (&target.writer_group, target.kafka.topics().enriched),
    ]
    .into_iter()
    .filter_map(|(group, topic)| Some((target.kafka.consumer_config(group).create().ok()?, topic)))
    .collect();
    let consumers = Arc::new(consumers);
    while started.elapsed() < limit {
        let consumers = Arc::clone(&consumers);
        let lag = tokio::task::spawn_blocking(move || {
            consumers
                .iter()
                .map(|(c, topic)| ingest::group_lag(c, topic).unwrap_or(1))
                .sum::<i64>()
        })
        .await
        .unwrap_or(1);
        if lag == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn steady_sawing_lag_is_bounded_and_growing_lag_is_not() {
        let steady = [0, 50, 100, 20, 70, 120, 30, 80, 130];
        assert!(bounded(&steady, 100.0, 0));
        let growing = [0, 200, 400, 600, 800, 1_000, 1_200, 1_400, 1_600];
        assert!(!bounded(&growing, 100.0, 0));
        assert!(
            !bounded(&steady, 100.0, 1),
            "a sample never became readable"
        );
        assert!(
            !bounded(&[0, -1, 0], 100.0, 0),
            "an unknown lag is not bounded"
        );
        assert!(!bounded(&[5_000; 9], 100.0, 0), "over 15 s of load behind");
    }
}
