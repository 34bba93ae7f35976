//! The whole processing path against the real stack: detections from a
//! simulated fleet → enricher → writer → every query table with the right
//! zone and team; then a full replay with fresh consumer groups (which
//! re-enriches and rewrites everything, duplicates included) leaves row
//! counts and aggregate counts unchanged.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::ensure;
use chrono::Utc;
use clap::Parser;
use prost::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vigil_bus::registry::RegistryPublisher;
use vigil_store::{CountStore, EventStore, day_bucket};
use vigil_synth::ProvinceSpec;
use vigil_synth::traffic::DetectionFactory;
use vigil_testkit::{TestEnv, unique_name};

const EVENTS: usize = 400;

type Task = JoinHandle<anyhow::Result<()>>;

/// Starts an enricher and a writer in fresh consumer groups; returns them
/// and the writer's group.
fn start_pipeline(env: &TestEnv, stop: &CancellationToken) -> (Task, Task, String) {
    let writer_group = unique_name("writer");
    let prefix = env.kafka.topic_prefix.as_str();
    let enricher = vigil_enricher::Config::parse_from([
        "vigil-enricher",
        "--topic-prefix",
        prefix,
        "--group",
        &unique_name("enricher"),
        "--metrics-listen",
        "127.0.0.1:0",
        "--shutdown-grace",
        "5s",
    ]);
    let writer = vigil_writer::Config::parse_from([
        "vigil-writer",
        "--topic-prefix",
        prefix,
        "--keyspace",
        &env.store.keyspace,
        "--group",
        &writer_group,
        "--rollup-interval",
        "1s",
        "--metrics-listen",
        "127.0.0.1:0",
        "--shutdown-grace",
        "5s",
    ]);
    (
        tokio::spawn(vigil_enricher::run(enricher, stop.clone())),
        tokio::spawn({
            let stop = stop.clone();
            async move { Ok(vigil_writer::run(writer, stop).await?) }
        }),
        writer_group,
    )
}

/// Whether `group` has committed every partition of `topic` to its end.
fn caught_up(env: &TestEnv, group: &str, topic: &str) -> anyhow::Result<bool> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = env.kafka.consumer_config(group).create()?;
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let mut partitions = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        partitions.add_partition(topic, partition.id());
    }
    let committed = consumer.committed_offsets(partitions, timeout)?;
    for element in committed.elements() {
        let (_, end) = consumer.fetch_watermarks(topic, element.partition(), timeout)?;
        if end > 0 && element.offset() != Offset::Offset(end) {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn table_rows(env: &TestEnv, table: &str) -> anyhow::Result<i64> {
    let query = format!("SELECT COUNT(*) FROM {}.{table}", env.store.keyspace);
    let result = env.keyspace.session().query_unpaged(query, &[]).await?;
    Ok(result.into_rows_result()?.first_row::<(i64,)>()?.0)
}

/// Every table's row count and every (commune, hour, kind) count.
async fn snapshot(
    env: &TestEnv,
    communes: &HashSet<String>,
) -> anyhow::Result<(Vec<i64>, BTreeMap<String, i64>)> {
    let mut rows = Vec::new();
    for table in [
        "events_by_id",
        "events_by_commune_hour",
        "events_by_camera_day",
        "events_by_plate_month",
    ] {
        rows.push(table_rows(env, table).await?);
    }
    let counts_store = CountStore::prepare(&env.keyspace, env.store.event_ttl).await?;
    let mut counts = BTreeMap::new();
    let today = day_bucket(Utc::now().timestamp_millis());
    for commune in communes {
        for day in [today - 86_400_000, today] {
            for count in counts_store.counts(commune, day).await? {
                counts.insert(
                    format!("{commune}/{}/{}", count.hour, count.kind),
                    count.count,
                );
            }
        }
    }
    Ok((rows, counts))
}

/// Polls `snapshot` until it stops changing for a few seconds.
async fn settled(
    env: &TestEnv,
    communes: &HashSet<String>,
) -> anyhow::Result<(Vec<i64>, BTreeMap<String, i64>)> {
    let started = Instant::now();
    let mut last = snapshot(env, communes).await?;
    let mut stable_since = Instant::now();
    while stable_since.elapsed() < Duration::from_secs(6) {
        ensure!(
            started.elapsed() < Duration::from_secs(120),
            "tables never settled: {last:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = snapshot(env, communes).await?;
        if now != last {
            last = now;
            stable_since = Instant::now();
        }
    }
    Ok(last)
}

#[tokio::test(flavor = "multi_thread")]
async fn events_reach_every_table_and_a_replay_changes_nothing() -> anyhow::Result<()> {
    let env = TestEnv::new("pipeline").await?;
    let registry = vigil_synth::province(&ProvinceSpec {
        cameras: 30,
        seed: 21,
    });
    RegistryPublisher::new(&env.kafka)?
        .publish(registry.entities())
        .await?;

    let cameras: Vec<_> = registry.cameras().cloned().collect();
    let mut factory = DetectionFactory::new(21);
    let producer: FutureProducer = env.kafka.producer_config().create()?;
    let topic = env.kafka.topics().detections;
    let now = Utc::now();
    let mut sent = Vec::new();
    for i in 0..EVENTS {
        let camera = &cameras[i % cameras.len()];
        let mut detection =
            factory.detection(&camera.id, now - chrono::Duration::seconds(i as i64));
        detection.site_id = camera.site_id.clone().unwrap_or_default();
        producer
            .send(
                FutureRecord::to(&topic)
                    .key(&camera.id)
                    .payload(&detection.encode_to_vec()),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)?;
        sent.push(detection);
        if i == EVENTS / 2 {
            // Bad input in the middle of the stream: dead-lettered, and the
            // valid events around it are all written.
            let stranger = factory.detection("cam-not-registered", now);
            for (key, payload) in [
                ("cam-000001", b"\x0a\xff garbage".to_vec()),
                ("cam-not-registered", stranger.encode_to_vec()),
            ] {
                producer
                    .send(
                        FutureRecord::to(&topic).key(key).payload(&payload),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(e, _)| e)?;
            }
        }
    }
    let communes: HashSet<String> = cameras
        .iter()
        .filter_map(|c| registry.commune_of(&c.zone_id).map(|z| z.id.clone()))
        .collect();

    let stop = CancellationToken::new();
    let (enricher, writer, _) = start_pipeline(&env, &stop);
    let (rows, counts) = settled(&env, &communes).await?;
    stop.cancel();
    enricher.await??;
    writer.await??;

    let dlq = env.kafka.topics().dlq;
    let rejected = vigil_testkit::read_topic(
        &env.kafka,
        &dlq,
        vigil_testkit::count(2),
        Duration::from_secs(30),
    )
    .await?;
    let mut reasons: Vec<String> = rejected
        .iter()
        .filter_map(|m| {
            vigil_proto::v1::DlqRecord::decode(rdkafka::Message::payload(m).unwrap_or_default())
                .ok()
        })
        .map(|r| r.reason)
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["malformed", "unknown_camera"]);
    let with_plate = sent
        .iter()
        .filter(|d| d.plate.as_ref().is_some_and(|p| !p.normalized.is_empty()))
        .count();
    assert_eq!(
        rows,
        [
            EVENTS as i64,
            EVENTS as i64,
            EVENTS as i64,
            with_plate as i64
        ]
    );
    assert_eq!(counts.values().sum::<i64>(), EVENTS as i64, "{counts:?}");
    let store = EventStore::prepare(&env.keyspace, env.store.event_ttl).await?;
    for detection in sent.iter().step_by(7) {
        let stored = store
            .get(detection.event_id.parse()?)
            .await?
            .expect("stored");
        let camera = registry.camera(&detection.camera_id).unwrap();
        assert_eq!(stored.village_id, camera.zone_id);
        assert_eq!(
            stored.commune_id,
            registry.commune_of(&camera.zone_id).unwrap().id
        );
        let team = registry.team_for_zone(&camera.zone_id).unwrap();
        assert_eq!(stored.team.as_ref().unwrap().team_id, team.id);
    }

    // Replay everything with fresh groups: the enricher re-publishes every
    // event (now twice in the enriched topic) and the writer rewrites both.
    let stop = CancellationToken::new();
    let (enricher, writer, writer_group) = start_pipeline(&env, &stop);
    let enriched = env.kafka.topics().enriched;
    vigil_testkit::read_topic(
        &env.kafka,
        &enriched,
        vigil_testkit::count(2 * EVENTS),
        Duration::from_secs(120),
    )
    .await?;
    let started = Instant::now();
    while !caught_up(&env, &writer_group, &enriched)? {
        ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the replaying writer never caught up"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (rows_again, counts_again) = settled(&env, &communes).await?;
    stop.cancel();
    enricher.await??;
    writer.await??;
    println!(
        "rows per table {rows:?}, {} count cells summing to {}",
        counts.len(),
        counts.values().sum::<i64>()
    );
    assert_eq!(rows_again, rows);
    assert_eq!(counts_again, counts);
    Ok(())
}
