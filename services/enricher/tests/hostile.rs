//! Hostile input on vigil.detections.v1, against the real stack: each kind
//! of bad record lands in the DLQ with its reason and its original bytes,
//! and every good record around them is still enriched — the stream is
//! unharmed.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use clap::Parser;
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;
use vigil_bus::registry::RegistryPublisher;
use vigil_domain::RegistryEntity;
use vigil_proto::v1::{DlqRecord, EnrichedDetection};
use vigil_synth::ProvinceSpec;
use vigil_synth::traffic::DetectionFactory;
use vigil_testkit::{TestEnv, count, read_topic, unique_name};

const PATIENCE: Duration = Duration::from_secs(60);

/// A protobuf length-delimited field `number` holding `bytes`.
fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![(number << 3) | 2, u8::try_from(bytes.len()).unwrap()];
    out.extend_from_slice(bytes);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_bad_record_is_dead_lettered_with_its_reason() -> anyhow::Result<()> {
    let env = TestEnv::new("hostile").await?;
    let mut registry = vigil_synth::province(&ProvinceSpec {
        cameras: 40,
        seed: 9,
    });
    // One camera bound to its site's edge agent.
    let mut camera = registry.cameras().next().unwrap().clone();
    let site = "site-hostile".to_owned();
    camera.site_id = Some(site.clone());
    registry.upsert(RegistryEntity::Camera(camera.clone()));
    RegistryPublisher::new(&env.kafka)?
        .publish(registry.entities())
        .await?;
    let camera = camera.id;
    let mut factory = DetectionFactory::new(5);
    let now = Utc::now();
    let good = |factory: &mut DetectionFactory| {
        let mut detection = factory.detection(&camera, now);
        detection.site_id = site.clone();
        detection
    };

    let mut bad: Vec<(&str, Vec<u8>)> = Vec::new();
    bad.push(("malformed", b"\xff\xff\xff\xff garbage".to_vec()));
    // Truncated: without its last byte the last field is incomplete, so
    // the record cannot decode. (A cut in the middle can land on a field
    // boundary and leave a shorter detection that is still valid.)
    let whole = good(&mut factory).encode_to_vec();
    bad.push(("malformed", whole[..whole.len() - 1].to_vec()));
    let mut oversized = good(&mut factory);
    oversized
        .labels
        .insert("blob".into(), "x".repeat(70 * 1024));
    bad.push(("too_large", oversized.encode_to_vec()));
    let mut unknown_kind = good(&mut factory);
    unknown_kind.kind = 42;
    bad.push(("invalid", unknown_kind.encode_to_vec()));
    let mut future = good(&mut factory);
    future.captured_at = Some(prost_types::Timestamp {
        seconds: (now + chrono::Duration::days(365)).timestamp(),
        nanos: 0,
    });
    bad.push(("future_timestamp", future.encode_to_vec()));
    let mut ancient = good(&mut factory);
    ancient.captured_at = Some(prost_types::Timestamp {
        seconds: 946_684_800, // 2000-01-01
        nanos: 0,
    });
    bad.push(("too_old", ancient.encode_to_vec()));
    let stranger = factory.detection("cam-not-registered", now);
    bad.push(("unknown_camera", stranger.encode_to_vec()));
    let mut labels = good(&mut factory);
    for i in 0..500 {
        labels.labels.insert(format!("k{i}"), "v".into());
    }
    bad.push(("too_many_labels", labels.encode_to_vec()));
    // Another site's edge agent speaking for this camera (anyone on that
    // site's network can post to it), and a detection no edge stamped.
    let mut foreign = good(&mut factory);
    foreign.site_id = "site-somewhere-else".into();
    bad.push(("site_mismatch", foreign.encode_to_vec()));
    let mut unstamped = good(&mut factory);
    unstamped.site_id.clear();
    bad.push(("site_mismatch", unstamped.encode_to_vec()));
    // A plate whose text is not UTF-8: the Plate message (field 7) with
    // text (field 1) = 0xC3 0x28.
    let mut invalid_utf8 = good(&mut factory);
    invalid_utf8.plate = None;
    let mut bytes = invalid_utf8.encode_to_vec();
    bytes.extend(field(7, &field(1, &[0xC3, 0x28])));
    bad.push(("malformed", bytes));

    // Interleave: good, bad, good, bad, ..., good.
    let mut records = Vec::new();
    let mut valid = HashSet::new();
    for (_, payload) in &bad {
        let detection = good(&mut factory);
        valid.insert(detection.event_id.clone());
        records.push(detection.encode_to_vec());
        records.push(payload.clone());
    }
    let last = good(&mut factory);
    valid.insert(last.event_id.clone());
    records.push(last.encode_to_vec());

    let producer: FutureProducer = env.kafka.producer_config().create()?;
    let topics = env.kafka.topics();
    for payload in &records {
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

    let config = vigil_enricher::Config::parse_from([
        "vigil-enricher",
        "--topic-prefix",
        &env.kafka.topic_prefix,
        "--group",
        &unique_name("g"),
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    let shutdown = CancellationToken::new();
    let enricher = tokio::spawn(vigil_enricher::run(config, shutdown.clone()));

    let enriched = read_topic(&env.kafka, &topics.enriched, count(valid.len()), PATIENCE).await?;
    let ids: HashSet<String> = enriched
        .iter()
        .filter_map(|m| EnrichedDetection::decode(m.payload().unwrap_or_default()).ok())
        .filter_map(|e| e.detection.map(|d| d.event_id))
        .collect();
    assert_eq!(
        ids, valid,
        "every good record around the bad ones is enriched"
    );

    let dead = read_topic(&env.kafka, &topics.dlq, count(bad.len()), PATIENCE).await?;
    let dead: Vec<DlqRecord> = dead
        .iter()
        .map(|m| DlqRecord::decode(m.payload().unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    assert_eq!(dead.len(), bad.len());
    let mut expected: BTreeMap<Vec<u8>, &str> = BTreeMap::new();
    for (reason, payload) in &bad {
        expected.insert(payload.clone(), reason);
    }
    for record in &dead {
        let want = expected
            .get(&record.original_value)
            .unwrap_or_else(|| panic!("unexpected DLQ record {:?}", record.reason));
        assert_eq!(record.reason, *want, "{}", record.detail);
        assert!(!record.detail.is_empty());
        assert_eq!(record.source_topic, topics.detections);
    }
    shutdown.cancel();
    enricher.await??;
    Ok(())
}
