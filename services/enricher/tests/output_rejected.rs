//! An output Kafka will never accept must not stall a partition: the
//! enricher dead-letters the input with the reason and goes on with the
//! next record (issue 16.4). Against the real stack, with the test's alerts
//! and DLQ topics created with a small `max.message.bytes`.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use clap::Parser;
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vigil_bus::registry::RegistryPublisher;
use vigil_bus::{KafkaArgs, KafkaSecurity, TopicPlan};
use vigil_domain::{RegistryEntity, WatchlistEntry};
use vigil_proto::v1::{Alert, DlqRecord, EnrichedDetection};
use vigil_synth::ProvinceSpec;
use vigil_synth::traffic::DetectionFactory;
use vigil_testkit::{PATIENCE, count, ensure_stack, eventually, read_topic, unique_name};

/// The test's alerts topic takes records (batches) of at most this size.
const ALERTS_MAX_BYTES: usize = 2048;
/// The test's DLQ topic takes records of at most this size.
const DLQ_MAX_BYTES: usize = 1536;

/// `len` letters and digits that do not compress (zstd would shrink a
/// repeated character to nothing, and the broker checks compressed size).
fn incompressible(len: usize, mut seed: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| {
            // xorshift64
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            char::from(ALPHABET[usize::try_from(seed % 62).unwrap_or(0)])
        })
        .collect()
}

/// Topics under a fresh prefix, the alerts and DLQ topics with small size
/// limits, the rest as `vigilctl setup` makes them.
async fn topics_with_small_limits() -> anyhow::Result<KafkaArgs> {
    ensure_stack().await?;
    let kafka = KafkaArgs {
        brokers: "127.0.0.1:9092".to_owned(),
        topic_prefix: format!("{}.", unique_name("rejected")),
        security: KafkaSecurity::default(),
    };
    let topics = kafka.topics();
    let admin: AdminClient<DefaultClientContext> = kafka.producer_config().create()?;
    let alerts_limit = ALERTS_MAX_BYTES.to_string();
    let dlq_limit = DLQ_MAX_BYTES.to_string();
    let small = [
        NewTopic::new(&topics.alerts, 1, TopicReplication::Fixed(1))
            .set("max.message.bytes", &alerts_limit),
        NewTopic::new(&topics.dlq, 1, TopicReplication::Fixed(1))
            .set("max.message.bytes", &dlq_limit),
    ];
    for result in admin
        .create_topics(small.iter(), &AdminOptions::new())
        .await?
    {
        result.map_err(|(topic, code)| anyhow::anyhow!("creating {topic}: {code}"))?;
    }
    kafka.ensure_topics(&TopicPlan::single_node(1)).await?;
    Ok(kafka)
}

/// The offset `group` has committed on partition 0 of `topic`.
fn committed(kafka: &KafkaArgs, group: &str, topic: &str) -> anyhow::Result<Offset> {
    let consumer: BaseConsumer = kafka.consumer_config(group).create()?;
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition(topic, 0);
    let committed = consumer.committed_offsets(partitions, Duration::from_secs(10))?;
    Ok(committed
        .find_partition(topic, 0)
        .map_or(Offset::Invalid, |p| p.offset()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_output_is_dead_lettered_and_the_partition_moves_on() -> anyhow::Result<()> {
    let kafka = topics_with_small_limits().await?;
    let topics = kafka.topics();
    let mut registry = vigil_synth::province(&ProvinceSpec {
        cameras: 10,
        seed: 3,
    });
    let entry = |id: &str, plate: &str, reason: String| {
        RegistryEntity::Watchlist(WatchlistEntry {
            id: id.into(),
            plate: plate.parse().unwrap(),
            reason,
            priority: 2,
            expires_at: None,
            owner_zone_id: "th".into(),
            created_by: None,
        })
    };
    // The case: a 600 KB reason, copied twice into the alert, is
    // past the producer's own 1 MB limit (refused before it is sent).
    registry.upsert(entry("w-huge", "30A11111", incompressible(600_000, 1)));
    // Past the alerts topic's limit: refused by the broker.
    registry.upsert(entry("w-big", "30A22222", incompressible(6_000, 2)));
    registry.upsert(entry("w-plain", "30A33333", "stolen motorbike".into()));
    RegistryPublisher::new(&kafka)?
        .publish(registry.entities())
        .await?;

    let camera = registry.cameras().next().unwrap().id.clone();
    let now = Utc::now();
    let mut factory = DetectionFactory::new(7);
    let huge = factory.plate_read(&camera, now, "30A11111", false);
    let mut big = factory.plate_read(&camera, now, "30A22222", false);
    // An input too large to keep whole in the DLQ record (but well within
    // the enricher's own input limit).
    for (key, seed) in [("note-a", 3), ("note-b", 4)] {
        big.labels.insert(key.into(), incompressible(1000, seed));
    }
    let plain = factory.plate_read(&camera, now, "30A33333", false);
    let after = factory.detection(&camera, now);
    let inputs: Vec<Vec<u8>> = [&huge, &big, &plain, &after]
        .iter()
        .map(|d| d.encode_to_vec())
        .collect();
    assert!(inputs[1].len() > DLQ_MAX_BYTES);
    let producer: FutureProducer = kafka.producer_config().create()?;
    for payload in &inputs {
        producer
            .send(
                FutureRecord::to(&topics.detections)
                    .key(&camera)
                    .payload(payload),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)?;
    }

    // One record at a time: the next record starts only once the one before
    // it is done, so a stall shows.
    let group = unique_name("g");
    let config = vigil_enricher::Config::parse_from([
        "vigil-enricher",
        "--topic-prefix",
        &kafka.topic_prefix,
        "--group",
        &group,
        "--max-in-flight",
        "1",
        "--metrics-listen",
        "127.0.0.1:0",
        "--shutdown-grace",
        "5s",
    ]);
    let shutdown = CancellationToken::new();
    let enricher = tokio::spawn(vigil_enricher::run(config, shutdown.clone()));

    let dead = read_topic(&kafka, &topics.dlq, count(2), PATIENCE).await?;
    let dead: Vec<DlqRecord> = dead
        .iter()
        .map(|m| DlqRecord::decode(m.payload().unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    assert_eq!(dead.len(), 2, "both refused inputs are dead-lettered");
    let (first, second) = (&dead[0], &dead[1]);
    for record in &dead {
        assert_eq!(record.reason, "output_rejected", "{}", record.detail);
        assert_eq!(record.source_topic, topics.detections);
        assert_eq!(record.original_key, camera.as_bytes());
        assert!(
            record.detail.contains(&format!(
                "alert too large for {} (MessageSizeTooLarge)",
                topics.alerts
            )),
            "{}",
            record.detail
        );
    }
    assert_eq!(first.source_offset, 0);
    assert_eq!(
        first.original_value, inputs[0],
        "a small input is kept whole"
    );
    assert_eq!(second.source_offset, 1);
    assert!(
        second.original_value.is_empty(),
        "an input too large for the DLQ topic is left out"
    );
    assert!(
        second.detail.contains("original value of") && second.detail.contains("left out"),
        "{}",
        second.detail
    );

    // The records after them are processed: the plain hit raises its
    // alert, the last detection is enriched, and the offsets move on.
    let alerts = read_topic(&kafka, &topics.alerts, count(1), PATIENCE).await?;
    let alert = Alert::decode(alerts[0].payload().unwrap_or_default())?;
    assert_eq!(alert.event_id, plain.event_id);
    let wanted: HashSet<&str> = [plain.event_id.as_str(), after.event_id.as_str()].into();
    let enriched = read_topic(
        &kafka,
        &topics.enriched,
        {
            let mut seen = HashSet::new();
            let wanted = wanted.clone();
            move |m| {
                if let Some(id) = EnrichedDetection::decode(m.payload().unwrap_or_default())
                    .ok()
                    .and_then(|e| e.detection)
                    .map(|d| d.event_id)
                    .filter(|id| wanted.contains(id.as_str()))
                {
                    seen.insert(id);
                }
                seen.len() == wanted.len()
            }
        },
        PATIENCE,
    )
    .await?;
    let ids: HashSet<String> = enriched
        .iter()
        .filter_map(|m| EnrichedDetection::decode(m.payload().unwrap_or_default()).ok())
        .filter_map(|e| e.detection.map(|d| d.event_id))
        .collect();
    for id in wanted {
        assert!(ids.contains(id), "{id} is enriched");
    }
    let end = Offset::Offset(i64::try_from(inputs.len())?);
    eventually("the offsets committed past every input", PATIENCE, || {
        let offset = committed(&kafka, &group, &topics.detections);
        async move { Ok((offset? == end).then_some(())) }
    })
    .await?;

    shutdown.cancel();
    enricher.await??;
    Ok(())
}
