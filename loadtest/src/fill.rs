//! `vigil-loadtest fill`: synthetic history. Detections from the
//! registry's cameras with capture times spread uniformly over the last
//! `--days`, plus one tracked plate seen `--track-sightings` times across
//! the province (for trajectory queries), produced with the edge agent's
//! producer settings (idempotent, `acks=all`, zstd) under a bound on
//! records in flight.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use indicatif::{ProgressBar, ProgressStyle};
use prost::Message as _;
use rand::{Rng, SeedableRng};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use vigil_bus::KafkaArgs;
use vigil_domain::to_timestamp;
use vigil_store::{RegistryStore, StoreArgs};
use vigil_synth::DetectionFactory;

#[derive(Debug, clap::Args)]
pub(crate) struct FillArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// Detections to publish.
    #[arg(long, default_value_t = 1_000_000, value_parser = vigil_runtime::flags::count::<usize>)]
    events: usize,
    /// Spread capture times over this many past days.
    #[arg(long, default_value_t = 7, value_parser = vigil_runtime::flags::count::<u32>)]
    days: u32,
    /// A plate to lay a trajectory for, e.g. 36A-123.45.
    #[arg(long, default_value = "36A-123.45")]
    track_plate: String,
    /// How many times the tracked plate is seen (part of --events).
    #[arg(long, default_value_t = 500)]
    track_sightings: usize,
    /// Records awaiting Kafka's acknowledgement at once.
    #[arg(long, default_value_t = 20_000, value_parser = vigil_runtime::flags::count::<usize>)]
    max_in_flight: usize,
    /// Seed of the generator (same seed, same history).
    #[arg(long, default_value_t = 36)]
    seed: u64,
}

pub(crate) async fn run(args: FillArgs) -> anyhow::Result<()> {
    let keyspace = args.store.keyspace().await?;
    let registry = RegistryStore::prepare(&keyspace)
        .await?
        .load()
        .await
        .context("loading the registry (seed it with `vigilctl registry seed`)")?;
    let mut cameras: Vec<String> = registry.cameras().map(|c| c.id.clone()).collect();
    cameras.sort();
    anyhow::ensure!(
        !cameras.is_empty(),
        "the registry has no cameras; run `vigilctl registry seed`"
    );
    let plate = vigil_domain::plate::normalize_plate(&args.track_plate)
        .map_err(|e| anyhow::anyhow!("--track-plate: {e}"))?;

    let producer: FutureProducer = args
        .kafka
        .producer_config()
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .create()
        .with_context(|| format!("connecting to Kafka at {}", args.kafka.brokers))?;
    let topic = args.kafka.topics().detections;
    let now = Utc::now();
    let span_ms = i64::from(args.days) * 86_400_000 - 60_000;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let mut factory = DetectionFactory::new(args.seed);
    let progress = ProgressBar::new(args.events as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} detections  {per_sec}  eta {eta}",
    )?);
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let track_every = args.events / args.track_sightings.max(1);
    for i in 0..args.events {
        let camera = &cameras[rng.random_range(0..cameras.len())];
        let at =
            now - chrono::Duration::milliseconds(rng.random_range(60_000..span_ms.max(60_001)));
        let mut detection = if args.track_sightings > 0 && i.is_multiple_of(track_every.max(1)) {
            factory.plate_read(camera, at, plate.as_str(), false)
        } else {
            factory.detection(camera, at)
        };
        detection.site_id = "loadtest".to_owned();
        detection.received_at = Some(to_timestamp(now));
        let payload = detection.encode_to_vec();
        let producer = &producer;
        let topic = &topic;
        in_flight.push(async move {
            producer
                .send(
                    FutureRecord::to(topic)
                        .key(&detection.camera_id)
                        .payload(&payload),
                    Duration::from_secs(300),
                )
                .await
                .map(drop)
                .map_err(|(error, _)| error)
        });
        if in_flight.len() >= args.max_in_flight {
            in_flight.next().await.transpose().context("producing")?;
            progress.inc(1);
        }
    }
    while let Some(result) = in_flight.next().await {
        result.context("producing")?;
        progress.inc(1);
    }
    producer.flush(Duration::from_secs(60))?;
    progress.finish();
    let elapsed = started.elapsed();
    println!(
        "published {} detections to {topic} in {:.1?} ({:.0}/s); {} sightings of {} over {} days",
        args.events,
        elapsed,
        args.events as f64 / elapsed.as_secs_f64(),
        args.track_sightings,
        plate.as_str(),
        args.days
    );
    Ok(())
}
