//! Cassandra stopped for 30 s while enriched events stream in at ~50/s: the
//! writer backs off and retries, the driver reconnects once the node is
//! back, and every event produced is stored and counted. Its own test
//! binary, because it stops the shared database.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::ensure;
use chrono::Utc;
use common::{
    Writer, config, enriched, event_id, eventually, expected_counts, metric, produce_events,
    producer, stored_counts,
};
use vigil_proto::v1::EnrichedDetection;
use vigil_store::{CountStore, EventStore};
use vigil_synth::traffic::DetectionFactory;
use vigil_testkit::{TestEnv, repo_root};
use vigil_writer::metrics::{EVENTS_WRITTEN, WRITE_RETRIES};

const RATE_PER_SECOND: u32 = 50;
const PRODUCE_FOR: Duration = Duration::from_secs(45);
const OUTAGE: Duration = Duration::from_secs(30);
const RECOVERY: Duration = Duration::from_secs(120);

const CAMERAS: &[(&str, &str, &str)] = &[
    ("cam-ba-thuoc-01", "th.ba-thuoc", "th.ba-thuoc.v01"),
    ("cam-hac-thanh-07", "th.hac-thanh", "th.hac-thanh.v03"),
    ("cam-quang-phu-02", "th.quang-phu", "th.quang-phu.v02"),
];

fn stack(command: &str) -> anyhow::Result<()> {
    let status = Command::new(repo_root().join("deploy/local/stack"))
        .arg(command)
        .status()?;
    ensure!(status.success(), "stack {command} failed");
    Ok(())
}

/// Starts Cassandra again if the test ends (or panics) while it is stopped,
/// so the shared stack is left running for the next test.
struct Restart(bool);

impl Drop for Restart {
    fn drop(&mut self) {
        if self.0 {
            let _ = stack("start-cassandra");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cassandra_outage_loses_nothing() -> anyhow::Result<()> {
    let env = TestEnv::new("writer_outage").await?;
    let writer = Writer::start(config(&env, "writer-outage", &[]));
    let producer = producer(&env)?;

    let production = {
        let (producer, topic) = (producer.clone(), env.kafka.topics().enriched);
        tokio::spawn(async move {
            let mut factory = DetectionFactory::new(11);
            let mut ticks = tokio::time::interval(Duration::from_secs(1) / RATE_PER_SECOND);
            let started = Instant::now();
            let mut produced: Vec<EnrichedDetection> = Vec::new();
            while started.elapsed() < PRODUCE_FOR {
                ticks.tick().await;
                let event = enriched(
                    &mut factory,
                    CAMERAS[produced.len() % CAMERAS.len()],
                    Utc::now(),
                );
                produce_events(&producer, &topic, std::slice::from_ref(&event)).await?;
                produced.push(event);
            }
            anyhow::Ok(produced)
        })
    };

    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut restart = Restart(true);
    stack("stop-cassandra")?;
    let stopped = Instant::now();
    let written_before = metric(EVENTS_WRITTEN);
    tokio::time::sleep(OUTAGE).await;
    stack("start-cassandra")?;
    restart.0 = false;
    let down_for = stopped.elapsed();
    let written_while_down = metric(EVENTS_WRITTEN) - written_before;

    let events = production.await??;
    let recovering = Instant::now();
    // The test's own session went through the restart too and may not
    // recover by itself; verify through a fresh connection, reconnecting
    // until one works, so a broken observer is never mistaken for loss.
    let keyspace = eventually("a fresh connection to Cassandra", RECOVERY, || async {
        Ok(env.store.keyspace().await.ok())
    })
    .await?;
    eventually("every event to be in events_by_id", RECOVERY, || async {
        let query = format!("SELECT COUNT(*) FROM {}.events_by_id", keyspace.name());
        let stored = match keyspace.session().query_unpaged(query, ()).await {
            Ok(result) => result.into_rows_result()?.first_row::<(i64,)>()?.0,
            Err(_) => 0,
        };
        Ok((stored == events.len() as i64).then_some(()))
    })
    .await?;
    let caught_up_in = recovering.elapsed();
    let (store, counts) = eventually(
        "statements prepared after the restart",
        RECOVERY,
        || async {
            let store = EventStore::prepare(&keyspace, env.store.event_ttl).await;
            let counts = CountStore::prepare(&keyspace, env.store.event_ttl).await;
            Ok(store.ok().zip(counts.ok()))
        },
    )
    .await?;
    let mut missing = HashSet::new();
    for event in &events {
        if store.get(event_id(event)).await?.is_none() {
            missing.insert(event_id(event));
        }
    }
    ensure!(
        missing.is_empty(),
        "{} events missing: {missing:?}",
        missing.len()
    );

    let expected = expected_counts(&events);
    eventually("event_counts to match", RECOVERY, || async {
        Ok((stored_counts(&counts, &expected).await? == expected).then_some(()))
    })
    .await?;

    println!(
        "cassandra outage: {} events produced at ~{RATE_PER_SECOND}/s over {PRODUCE_FOR:?}; \
         Cassandra down (stop to ready) {down_for:.1?}; {written_while_down} written while down; \
         {} written in total; {} database retries; all {} readable {caught_up_in:.1?} after \
         Cassandra was back; counts exact",
        events.len(),
        metric(EVENTS_WRITTEN),
        metric(WRITE_RETRIES),
        events.len(),
    );
    writer.stop().await
}
