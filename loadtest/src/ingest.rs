//! Open-loop ingestion: detections offered on a fixed schedule (a rate
//! model with day/night curve and bursts, or a fixed total rate) through
//! the edge agent's producer settings, whatever the pipeline does — so
//! queueing shows up as latency instead of slowing the offer down. Every
//! second records what Kafka accepted and the consumer groups' lag; a
//! sample of events is polled in the store until readable, for the
//! capture-to-readable latency.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use futures::StreamExt;
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;
use vigil_bus::KafkaArgs;
use vigil_store::EventStore;
use vigil_synth::{Arrivals, DetectionFactory, RateModel};

use crate::report::Percentiles;
use crate::target::Target;

/// The offered load.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LoadArgs {
    /// Fixed total rate in events/s (Poisson arrivals); without it, each
    /// camera follows the fleet rate model (--per-camera, day/night curve,
    /// bursts).
    #[arg(long, value_parser = vigil_runtime::flags::rate)]
    pub(crate) rate: Option<f64>,
    /// Mean events/s per camera of the rate model.
    #[arg(long, default_value_t = 0.15, value_parser = vigil_runtime::flags::rate)]
    pub(crate) per_camera: f64,
    /// Rate model: follow the day/night traffic curve (Vietnam time).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) day_night: bool,
    /// Rate model: fleet-wide and local bursts.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) bursts: bool,
    /// How long to offer load.
    #[arg(long, default_value = "60s", value_parser = vigil_runtime::flags::duration)]
    pub(crate) duration: Duration,
    /// Follow one event in this many until it is readable in the store.
    #[arg(long, default_value_t = 100, value_parser = vigil_runtime::flags::count::<u64>)]
    pub(crate) sample_every: u64,
    /// Seed of the traffic generator.
    #[arg(long, default_value_t = 36)]
    pub(crate) seed: u64,
}

impl LoadArgs {
    pub(crate) fn fixed(rate: f64, duration: Duration) -> Self {
        Self {
            rate: Some(rate),
            per_camera: 0.15,
            day_night: false,
            bursts: false,
            duration,
            sample_every: 100,
            seed: 36,
        }
    }

    fn model(&self, cameras: usize) -> RateModel {
        match self.rate {
            Some(rate) => RateModel {
                per_camera: rate.max(0.001) / cameras as f64,
                cameras,
                day_night: false,
                bursts: false,
            },
            None => RateModel {
                per_camera: self.per_camera,
                cameras,
                day_night: self.day_night,
                bursts: self.bursts,
            },
        }
    }
}

/// One second of a run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Second {
    pub(crate) t_s: u64,
    pub(crate) offered_per_s: u64,
    pub(crate) accepted_per_s: u64,
    /// Records the enricher and the writer have yet to commit.
    pub(crate) enricher_lag: i64,
    pub(crate) writer_lag: i64,
}

/// What an ingestion run measured.
#[derive(Debug)]
pub(crate) struct IngestRun {
    pub(crate) duration: Duration,
    pub(crate) offered: u64,
    pub(crate) accepted: u64,
    pub(crate) failed: u64,
    /// Why the first deliveries failed.
    pub(crate) failures: Vec<String>,
    pub(crate) seconds: Vec<Second>,
    /// Capture to readable in the store, microseconds.
    pub(crate) e2e: Histogram<u64>,
    /// Samples never seen in the store before the run gave up on them.
    pub(crate) unresolved: u64,
    /// From handing each record to the producer to Kafka acknowledging
    /// it, microseconds.
    pub(crate) acked_after: Histogram<u64>,
}

impl IngestRun {
    pub(crate) fn accepted_per_s(&self) -> f64 {
        self.accepted as f64 / self.duration.as_secs_f64()
    }

    pub(crate) fn final_lag(&self) -> i64 {
        self.seconds
            .last()
            .map_or(0, |s| s.enricher_lag + s.writer_lag)
    }

    pub(crate) fn e2e_ms(&self) -> Percentiles {
        Percentiles::of_micros(&self.e2e)
    }
}

/// Sum of `group`'s lag over every partition of `topic`: high watermark
/// minus committed offset (a partition never committed counts from its low
/// watermark).
pub(crate) fn group_lag(consumer: &BaseConsumer, topic: &str) -> Result<i64, KafkaError> {
    let timeout = Duration::from_secs(5);
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let partitions = metadata
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len() as i32);
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition(topic, partition);
    }
    let committed = consumer.committed_offsets(list, timeout)?;
    let mut lag = 0;
    for element in committed.elements() {
        let (low, high) = consumer.fetch_watermarks(topic, element.partition(), timeout)?;
        let done = match element.offset() {
            Offset::Offset(offset) => offset,
            _ => low,
        };
        lag += (high - done).max(0);
    }
    Ok(lag)
}

/// Reads the lag of the enricher and writer groups.
struct LagProbe {
    enricher: Arc<BaseConsumer>,
    writer: Arc<BaseConsumer>,
    detections: String,
    enriched: String,
}

impl LagProbe {
    fn new(kafka: &KafkaArgs, enricher_group: &str, writer_group: &str) -> anyhow::Result<Self> {
        let topics = kafka.topics();
        Ok(Self {
            enricher: Arc::new(kafka.consumer_config(enricher_group).create()?),
            writer: Arc::new(kafka.consumer_config(writer_group).create()?),
            detections: topics.detections,
            enriched: topics.enriched,
        })
    }

    async fn sample(&self) -> (i64, i64) {
        let (enricher, writer) = (Arc::clone(&self.enricher), Arc::clone(&self.writer));
        let (detections, enriched) = (self.detections.clone(), self.enriched.clone());
        tokio::task::spawn_blocking(move || {
            (
                group_lag(&enricher, &detections).unwrap_or(-1),
                group_lag(&writer, &enriched).unwrap_or(-1),
            )
        })
        .await
        .unwrap_or((-1, -1))
    }
}

/// Counters shared by the sender and the delivery tasks.
#[derive(Debug, Default)]
struct Counters {
    offered: AtomicU64,
    accepted: AtomicU64,
    failed: AtomicU64,
    /// Why the first deliveries failed (a few, for the report).
    failures: std::sync::Mutex<Vec<String>>,
    /// From handing a record to the producer to its acknowledgement, µs.
    acked_after: AckTimes,
}

/// Times to acknowledgement, recorded by the delivery tasks.
#[derive(Debug)]
struct AckTimes(std::sync::Mutex<Histogram<u64>>);

impl Default for AckTimes {
    fn default() -> Self {
        Self(std::sync::Mutex::new(
            Histogram::new(3).expect("3 significant digits is valid"),
        ))
    }
}

impl Counters {
    fn acked(&self, after: Duration) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        let micros = after.as_micros().try_into().unwrap_or(u64::MAX);
        let _ = self
            .acked_after
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(micros.max(1));
    }

    /// Counts a failed delivery and keeps its reason if it is one of the
    /// first few.
    fn failed(&self, reason: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() < 3 {
            failures.push(reason);
        }
    }
}

/// Offers `load` to `target` and measures; `label` prefixes the progress
/// line.
pub(crate) async fn run(
    target: &Target,
    load: &LoadArgs,
    progress: &ProgressBar,
    label: &str,
) -> anyhow::Result<IngestRun> {
    let cameras = target.cameras(usize::MAX);
    let producer: FutureProducer = target
        .kafka
        .producer_config()
        .create()
        .context("creating the producer")?;
    let topic = target.kafka.topics().detections;
    let counters = Arc::new(Counters::default());
    let (samples_tx, samples_rx) = mpsc::unbounded_channel::<(Uuid, Instant)>();
    let events = EventStore::prepare(&target.keyspace, target.store.event_ttl).await?;
    let poller = tokio::spawn(poll_samples(events, samples_rx));
    let probe = LagProbe::new(&target.kafka, &target.enricher_group, &target.writer_group)?;

    let started = Instant::now();
    let wall_start = Utc::now();
    let sender = {
        let counters = Arc::clone(&counters);
        let model = load.model(cameras.len());
        let (seed, sample_every, duration) = (load.seed, load.sample_every.max(1), load.duration);
        tokio::spawn(async move {
            let mut arrivals = Arrivals::new(model, wall_start, seed);
            let mut factory = DetectionFactory::new(seed);
            let mut n: u64 = 0;
            loop {
                let (at, camera) = arrivals.next_arrival();
                let offset = (at - wall_start).to_std().unwrap_or_default();
                if offset >= duration {
                    return producer;
                }
                let due = started + offset;
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
                let mut detection = factory.detection(&cameras[camera], at);
                detection.site_id = "loadtest".to_owned();
                detection.received_at = detection.captured_at;
                let payload = detection.encode_to_vec();
                let headers = OwnedHeaders::new().insert(Header {
                    key: "vigil-schema",
                    value: Some(vigil_proto::SCHEMA_VERSION),
                });
                n += 1;
                if n.is_multiple_of(sample_every)
                    && let Ok(id) = Uuid::parse_str(&detection.event_id)
                {
                    let _ = samples_tx.send((id, due));
                }
                counters.offered.fetch_add(1, Ordering::Relaxed);
                let mut record = FutureRecord::to(&topic)
                    .key(&detection.camera_id)
                    .payload(&payload)
                    .headers(headers);
                let sent = Instant::now();
                let delivery = loop {
                    match producer.send_result(record) {
                        Ok(delivery) => break delivery,
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                            record = back;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        Err((error, _)) => {
                            // Refused outright (e.g. oversized): counted, and
                            // the run ends rather than hide it.
                            counters.failed(format!("refused by the producer: {error}"));
                            return producer;
                        }
                    }
                };
                let counters = Arc::clone(&counters);
                tokio::spawn(async move {
                    match delivery.await {
                        Ok(Ok(_)) => counters.acked(sent.elapsed()),
                        Ok(Err((error, _))) => counters.failed(format!("not delivered: {error}")),
                        Err(_) => counters.failed("the producer went away".to_owned()),
                    }
                });
            }
        })
    };

    let mut seconds = Vec::new();
    let (mut last_offered, mut last_accepted) = (0, 0);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    while !sender.is_finished() {
        tick.tick().await;
        target.check_services()?;
        let offered = counters.offered.load(Ordering::Relaxed);
        let accepted = counters.accepted.load(Ordering::Relaxed);
        let (enricher_lag, writer_lag) = probe.sample().await;
        let second = Second {
            t_s: started.elapsed().as_secs(),
            offered_per_s: offered - last_offered,
            accepted_per_s: accepted - last_accepted,
            enricher_lag,
            writer_lag,
        };
        progress.set_position(started.elapsed().as_secs().min(load.duration.as_secs()));
        progress.set_message(format!(
            "{label}accepted {}/s, lag {} + {}",
            second.accepted_per_s, enricher_lag, writer_lag
        ));
        (last_offered, last_accepted) = (offered, accepted);
        seconds.push(second);
    }
    let producer = sender.await?;
    let duration = started.elapsed();
    // Records still queued are sent before the producer goes: dropping it
    // purges them. Any not sent within the flush's 30 s are purged then,
    // and each counts as "not delivered".
    let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(30))).await?;
    // Their delivery reports reach the counters a moment later.
    let settle = Instant::now();
    while counters.accepted.load(Ordering::Relaxed) + counters.failed.load(Ordering::Relaxed)
        < counters.offered.load(Ordering::Relaxed)
        && settle.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (e2e, unresolved) = poller.await?;
    Ok(IngestRun {
        duration,
        offered: counters.offered.load(Ordering::Relaxed),
        accepted: counters.accepted.load(Ordering::Relaxed),
        failed: counters.failed.load(Ordering::Relaxed),
        failures: counters
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
        seconds,
        e2e,
        unresolved,
        acked_after: counters
            .acked_after
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
    })
}

/// How often pending samples are looked up.
const POLL_EVERY: Duration = Duration::from_millis(25);
/// How long a sample may stay unreadable after the offer ended.
const DRAIN: Duration = Duration::from_secs(30);

/// Polls sampled events until readable; returns the latency histogram (µs)
/// and how many samples never became readable.
async fn poll_samples(
    events: EventStore,
    mut samples: mpsc::UnboundedReceiver<(Uuid, Instant)>,
) -> (Histogram<u64>, u64) {
    let mut histogram = Histogram::<u64>::new(3).expect("3 significant digits is valid");
    let mut pending: VecDeque<(Uuid, Instant)> = VecDeque::new();
    let mut closed_at: Option<Instant> = None;
    loop {
        loop {
            match samples.try_recv() {
                Ok(sample) => pending.push_back(sample),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    closed_at.get_or_insert_with(Instant::now);
                    break;
                }
            }
        }
        if closed_at.is_some_and(|at| pending.is_empty() || at.elapsed() > DRAIN) {
            return (histogram, pending.len() as u64);
        }
        let now = Instant::now();
        let checks: Vec<_> = pending
            .iter()
            .map(|&(id, sent)| {
                let events = &events;
                async move { (id, sent, matches!(events.get(id).await, Ok(Some(_)))) }
            })
            .collect();
        let results: Vec<(Uuid, Instant, bool)> = futures::stream::iter(checks)
            .buffer_unordered(64)
            .collect()
            .await;
        pending.clear();
        for (id, sent, found) in results {
            if found {
                let micros = now.saturating_duration_since(sent).as_micros() as u64;
                let _ = histogram.record(micros.max(1));
            } else {
                pending.push_back((id, sent));
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
