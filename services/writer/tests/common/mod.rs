//! Runs the writer in-process against the real stack, feeds it records and
//! reads back what it stored.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of this

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Parser;
use prost::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vigil_proto::v1::EnrichedDetection;
use vigil_store::{CountStore, day_bucket, hour_bucket};
use vigil_synth::traffic::DetectionFactory;
use vigil_testkit::TestEnv;
pub use vigil_testkit::eventually;
use vigil_writer::{Config, WriterError};

/// A writer running in a task of the test's runtime.
pub struct Writer {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), WriterError>>,
}

/// The writer's configuration for `env`, consumer group `group`, plus
/// `extra` flags; rollups every 500 ms so tests need not wait.
pub fn config(env: &TestEnv, group: &str, extra: &[&str]) -> Config {
    let mut args = vec![
        "vigil-writer",
        "--group",
        group,
        "--metrics-listen",
        "127.0.0.1:0",
        "--rollup-interval",
        "500ms",
        "--shutdown-grace",
        "20s",
    ];
    args.extend_from_slice(extra);
    let mut config = Config::try_parse_from(args).expect("valid writer flags");
    config.kafka = env.kafka.clone();
    config.store = env.store.clone();
    config
}

impl Writer {
    pub fn start(config: Config) -> Self {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(vigil_writer::run(config, shutdown.clone()));
        Self { shutdown, task }
    }

    /// Shuts the writer down as SIGTERM would and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await?.context("the writer failed")
    }
}

/// A detection from `camera` at `at`, enriched into `commune` and `village`.
pub fn enriched(
    factory: &mut DetectionFactory,
    (camera, commune, village): (&str, &str, &str),
    at: DateTime<Utc>,
) -> EnrichedDetection {
    EnrichedDetection {
        detection: Some(factory.detection(camera, at)),
        province_id: "th".to_owned(),
        commune_id: commune.to_owned(),
        village_id: village.to_owned(),
        zone_path: vec![
            "Thanh Hoa".to_owned(),
            commune.to_owned(),
            village.to_owned(),
        ],
        enriched_at: Some(std::time::SystemTime::now().into()),
        ..EnrichedDetection::default()
    }
}

/// Enriched detections from `cameras` (camera, commune, village), one a
/// minute going back from `newest`, round-robin over the cameras.
pub fn enriched_events(
    seed: u64,
    count: usize,
    cameras: &[(&str, &str, &str)],
    newest: DateTime<Utc>,
) -> Vec<EnrichedDetection> {
    let mut factory = DetectionFactory::new(seed);
    (0..count)
        .map(|i| {
            let at = newest - chrono::Duration::minutes(i as i64);
            enriched(&mut factory, cameras[i % cameras.len()], at)
        })
        .collect()
}

/// The value of an unlabelled counter of this process's metrics recorder
/// (the writer under test installed it).
pub fn metric(name: &str) -> f64 {
    vigil_runtime::metrics_recorder()
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// A producer like the enricher's.
pub fn producer(env: &TestEnv) -> anyhow::Result<FutureProducer> {
    Ok(env.kafka.producer_config().create()?)
}

/// Produces `events` to `topic` (the enriched one), key = camera id, and
/// waits until Kafka has them all.
pub async fn produce_events(
    producer: &FutureProducer,
    topic: &str,
    events: &[EnrichedDetection],
) -> anyhow::Result<()> {
    let sends = events.iter().map(|event| {
        let payload = event.encode_to_vec();
        let key = camera_of(event).to_owned();
        async move {
            producer
                .send(
                    FutureRecord::to(topic).key(&key).payload(&payload),
                    Duration::from_secs(30),
                )
                .await
                .map_err(|(error, _)| error)
        }
    });
    for result in futures::future::join_all(sends).await {
        result?;
    }
    Ok(())
}

pub fn camera_of(event: &EnrichedDetection) -> &str {
    event
        .detection
        .as_ref()
        .map_or("", |d| d.camera_id.as_str())
}

pub fn event_id(event: &EnrichedDetection) -> uuid::Uuid {
    let id = event.detection.as_ref().map_or("", |d| d.event_id.as_str());
    uuid::Uuid::parse_str(id).expect("the factory mints UUIDs")
}

/// (commune, hour, kind) → how many of `events` fall there.
pub type Tally = BTreeMap<(String, i64, i32), i64>;

pub fn expected_counts(events: &[EnrichedDetection]) -> Tally {
    let mut tally = Tally::new();
    for event in events {
        let detection = event.detection.as_ref().expect("a detection");
        let captured = detection.captured_at.as_ref().expect("captured_at");
        let ms = captured.seconds * 1000 + i64::from(captured.nanos / 1_000_000);
        *tally
            .entry((event.commune_id.clone(), hour_bucket(ms), detection.kind))
            .or_default() += 1;
    }
    tally
}

/// What `event_counts` holds for every commune and day in `expected`.
pub async fn stored_counts(counts: &CountStore, expected: &Tally) -> anyhow::Result<Tally> {
    let mut days: Vec<(String, i64)> = expected
        .keys()
        .map(|(commune, hour, _)| (commune.clone(), day_bucket(*hour)))
        .collect();
    days.dedup();
    days.sort();
    days.dedup();
    let mut tally = Tally::new();
    for (commune, day) in days {
        for cell in counts.counts(&commune, day).await? {
            tally.insert((commune.clone(), cell.hour, cell.kind), cell.count);
        }
    }
    Ok(tally)
}

/// `SELECT COUNT(*)` over a whole (small, per-test) table.
pub async fn row_count(env: &TestEnv, table: &str) -> anyhow::Result<i64> {
    let result = env
        .keyspace
        .session()
        .query_unpaged(
            format!("SELECT COUNT(*) FROM {}.{table}", env.keyspace.name()),
            (),
        )
        .await?;
    let (count,) = result.into_rows_result()?.first_row::<(i64,)>()?;
    Ok(count)
}
