//! `vigilctl demo`: one detection's whole trip through the real stack —
//! produced to Kafka, consumed in a consumer group, written to the query
//! tables, read back. Later stages (enrichment) will join this path.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use vigil_bus::KafkaArgs;
use vigil_proto::v1::{Detection, DetectionKind, EnrichedDetection, Plate};
use vigil_store::{EventStore, StoreArgs};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// What one round trip sent and what came back from the database.
#[derive(Debug)]
pub struct RoundTrip {
    pub sent: Detection,
    pub stored: EnrichedDetection,
    pub elapsed: Duration,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let keyspace = args.store.keyspace().await?;
    let store = EventStore::prepare(&keyspace, args.store.event_ttl)
        .await
        .with_context(|| {
            format!(
                "preparing keyspace {} (run `vigilctl setup` first)",
                args.store.keyspace
            )
        })?;
    let trip = round_trip(&args.kafka, &store, sample_detection()).await?;
    let sent = &trip.sent;
    let plate = sent.plate.as_ref().map_or("", |p| p.text.as_str());
    println!(
        "event {} from camera {} (plate {plate}) went Kafka -> consumer group -> {} and back in {:.0?}",
        sent.event_id, sent.camera_id, args.store.keyspace, trip.elapsed
    );
    Ok(())
}

/// A plate read from a camera in Ba Thuoc, captured now.
pub fn sample_detection() -> Detection {
    let now = prost_types::Timestamp::from(SystemTime::now());
    Detection {
        event_id: uuid::Uuid::now_v7().to_string(),
        camera_id: "cam-demo-0001".to_owned(),
        captured_at: Some(now),
        received_at: Some(now),
        kind: DetectionKind::Plate.into(),
        confidence: 0.93,
        plate: Some(Plate {
            text: "36A-123.45".to_owned(),
            normalized: "36A12345".to_owned(),
            confidence: 0.91,
        }),
        site_id: "site-demo".to_owned(),
        ..Default::default()
    }
}

/// Produces `detection`, consumes it back in a fresh consumer group, writes
/// it to the store and reads it back by id.
pub async fn round_trip(
    kafka: &KafkaArgs,
    store: &EventStore,
    detection: Detection,
) -> anyhow::Result<RoundTrip> {
    let started = Instant::now();
    let topic = kafka.topics().detections;
    let producer: FutureProducer = kafka.producer_config().create()?;
    producer
        .send(
            FutureRecord::to(&topic)
                .key(&detection.camera_id)
                .payload(&detection.encode_to_vec()),
            Duration::from_secs(30),
        )
        .await
        .map_err(|(e, _)| e)
        .with_context(|| format!("producing to {topic}"))?;

    let group = format!("vigilctl-demo-{}", uuid::Uuid::now_v7());
    let consumer: StreamConsumer = kafka.consumer_config(&group).create()?;
    consumer.subscribe(&[&topic])?;
    let received = loop {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .with_context(|| format!("no record arrived on {topic} within 60 s"))??;
        let decoded = Detection::decode(message.payload().unwrap_or_default())
            .with_context(|| format!("decoding record at offset {}", message.offset()))?;
        if decoded.event_id == detection.event_id {
            let enriched = EnrichedDetection {
                detection: Some(decoded),
                commune_id: "demo".to_owned(),
                enriched_at: Some(SystemTime::now().into()),
                ..Default::default()
            };
            store.write(&enriched).await?;
            consumer.store_offset_from_message(&message)?;
            consumer.commit_consumer_state(CommitMode::Sync)?;
            break enriched;
        }
    };

    let event_id = received
        .detection
        .as_ref()
        .map(|d| d.event_id.parse())
        .transpose()?
        .context("consumed record has no detection")?;
    let Some(stored) = store.get(event_id).await? else {
        bail!("event {event_id} was written but cannot be read back");
    };
    Ok(RoundTrip {
        sent: detection,
        stored,
        elapsed: started.elapsed(),
    })
}
