//! Enriched events through the real writer into the real Cassandra: every
//! table is written, and counts stay exact under redelivery and replay.

mod common;

use anyhow::ensure;
use chrono::{DurationRound, TimeDelta, Utc};
use common::{
    Writer, config, enriched_events, event_id, eventually, expected_counts, produce_events,
    producer, row_count, stored_counts,
};
use vigil_store::{CountStore, EventStore};
use vigil_testkit::{PATIENCE, TestEnv, committed_to_end};

/// Three cameras, one in each of three communes.
const CAMERAS: &[(&str, &str, &str)] = &[
    ("cam-ba-thuoc-01", "th.ba-thuoc", "th.ba-thuoc.v01"),
    ("cam-hac-thanh-07", "th.hac-thanh", "th.hac-thanh.v03"),
    ("cam-quang-phu-02", "th.quang-phu", "th.quang-phu.v02"),
];

/// 300 events, one a minute over the last five hours.
fn three_hundred_events() -> Vec<vigil_proto::v1::EnrichedDetection> {
    let newest = Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap();
    enriched_events(7, 300, CAMERAS, newest)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_is_written_and_counted() -> anyhow::Result<()> {
    let env = TestEnv::new("writer_events").await?;
    let events = three_hundred_events();
    let writer = Writer::start(config(&env, "writer-events", &[]));
    produce_events(&producer(&env)?, &env.kafka.topics().enriched, &events).await?;

    let store = EventStore::prepare(&env.keyspace, env.store.event_ttl).await?;
    eventually("every event to be readable by id", PATIENCE, || async {
        for event in &events {
            match store.get(event_id(event)).await? {
                Some(stored) => ensure!(stored == *event, "event {} changed", event_id(event)),
                None => return Ok(None),
            }
        }
        Ok(Some(()))
    })
    .await?;

    let counts = CountStore::prepare(&env.keyspace, env.store.event_ttl).await?;
    let expected = expected_counts(&events);
    eventually(
        "event_counts to match what was produced",
        PATIENCE,
        || async { Ok((stored_counts(&counts, &expected).await? == expected).then_some(())) },
    )
    .await?;
    let total: i64 = expected.values().sum();
    ensure!(total == 300, "the tally covers {total} events");

    // The other query tables hold them too.
    for table in [
        "events_by_commune_hour",
        "events_by_village_hour",
        "events_by_camera_day",
    ] {
        let rows = row_count(&env, table).await?;
        ensure!(rows == 300, "{table} has {rows} rows");
    }
    let plates = events
        .iter()
        .filter(|e| {
            e.detection
                .as_ref()
                .and_then(|d| d.plate.as_ref())
                .is_some_and(|p| !p.normalized.is_empty())
        })
        .count() as i64;
    ensure!(plates > 0, "the factory made no plate reads");
    ensure!(row_count(&env, "events_by_plate_month").await? == plates);

    writer.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn redelivery_and_replay_never_double_count() -> anyhow::Result<()> {
    let env = TestEnv::new("writer_replay").await?;
    let events = three_hundred_events();
    let expected = expected_counts(&events);
    let counts = CountStore::prepare(&env.keyspace, env.store.event_ttl).await?;
    let enriched = env.kafka.topics().enriched;
    let producer = producer(&env)?;

    let first = Writer::start(config(&env, "writer-first", &[]));
    produce_events(&producer, &enriched, &events).await?;
    eventually("the first pass to be counted", PATIENCE, || async {
        Ok((stored_counts(&counts, &expected).await? == expected).then_some(()))
    })
    .await?;

    // The same 300 again, as a redelivering producer would send them, and a
    // second group replaying the whole topic (600 records) from the start.
    produce_events(&producer, &enriched, &events).await?;
    let second = Writer::start(config(&env, "writer-replay", &[]));
    for group in ["writer-first", "writer-replay"] {
        eventually(
            &format!("group {group} to commit the whole topic"),
            PATIENCE,
            || async {
                Ok(committed_to_end(&env, group, &enriched)
                    .await?
                    .then_some(()))
            },
        )
        .await?;
    }
    // Both run their last rollup on the way out.
    first.stop().await?;
    second.stop().await?;

    let stored = stored_counts(&counts, &expected).await?;
    ensure!(
        stored == expected,
        "counts changed after the replay:\n stored   {stored:?}\n expected {expected:?}"
    );
    let by_id = row_count(&env, "events_by_id").await?;
    let kinds = row_count(&env, "event_kinds_by_commune_hour").await?;
    ensure!(by_id == 300, "events_by_id has {by_id} rows");
    ensure!(kinds == 300, "event_kinds_by_commune_hour has {kinds} rows");
    Ok(())
}
