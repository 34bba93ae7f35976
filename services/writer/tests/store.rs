//! The writer's store helpers against the real Cassandra: the CQL is
//! accepted (GROUP BY on a clustering column, USING TTL AND TIMESTAMP), and
//! the write timestamps order concurrent writers as designed.

use anyhow::ensure;
use chrono::{TimeDelta, Utc};
use vigil_proto::v1::heartbeat::LinkState;
use vigil_proto::v1::{Detection, EnrichedDetection, Heartbeat};
use vigil_store::{CommuneHour, CountStore, HourCount, KindCount, StatusStore, day_bucket};
use vigil_testkit::TestEnv;

fn event(event_id: &str, kind: i32, at_seconds: i64) -> EnrichedDetection {
    EnrichedDetection {
        detection: Some(Detection {
            event_id: event_id.to_owned(),
            camera_id: "cam-1".to_owned(),
            captured_at: Some(prost_types::Timestamp {
                seconds: at_seconds,
                nanos: 0,
            }),
            kind,
            ..Detection::default()
        }),
        commune_id: "th.hac-thanh".to_owned(),
        ..EnrichedDetection::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn recounts_are_exact_and_the_latest_one_wins() -> anyhow::Result<()> {
    let env = TestEnv::new("writer_count_store").await?;
    let counts = CountStore::prepare(&env.keyspace, env.store.event_ttl).await?;
    // 2026-11-28T13:05:00Z and 13:50:00Z: one hour.
    let (early, late) = (1_795_871_100, 1_795_873_800);
    let a = event("0193c7e4-1f00-7000-8000-00000000000a", 2, early);
    let b = event("0193c7e4-1f00-7000-8000-00000000000b", 2, late);
    let c = event("0193c7e4-1f00-7000-8000-00000000000c", 3, late);

    let key = counts.record_event(&a).await?;
    ensure!(counts.record_event(&a).await? == key, "same commune-hour");
    ensure!(counts.rollup(&key).await? == [KindCount { kind: 2, count: 1 }]);
    for e in [&b, &c, &a, &b] {
        ensure!(counts.record_event(e).await? == key);
    }
    let recounted = counts.rollup(&key).await?;
    ensure!(
        recounted
            == [
                KindCount { kind: 2, count: 2 },
                KindCount { kind: 3, count: 1 }
            ],
        "{recounted:?}"
    );

    let CommuneHour { commune_id, hour } = key.clone();
    let day = day_bucket(hour);
    let stored = counts.counts(&commune_id, day).await?;
    let cell = |kind, count| HourCount { hour, kind, count };
    ensure!(stored == [cell(2, 2), cell(3, 1)], "{stored:?}");

    // A recount that started a minute ago, stored only now (a slow writer
    // instance), does not overwrite the newer one.
    let a_minute_ago = (Utc::now() - TimeDelta::minutes(1)).timestamp_micros();
    env.keyspace
        .session()
        .query_unpaged(
            format!(
                "INSERT INTO {}.event_counts (commune_id, day, hour, kind, count) \
                 VALUES (?, ?, ?, 2, 1) USING TIMESTAMP ?",
                env.keyspace.name()
            ),
            (
                &commune_id,
                scylla::value::CqlTimestamp(day),
                scylla::value::CqlTimestamp(hour),
                a_minute_ago,
            ),
        )
        .await?;
    ensure!(counts.counts(&commune_id, day).await? == [cell(2, 2), cell(3, 1)]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn camera_status_keeps_the_latest_decision() -> anyhow::Result<()> {
    let env = TestEnv::new("writer_status_store").await?;
    let statuses = StatusStore::prepare(&env.keyspace).await?;
    ensure!(statuses.get("cam-1").await?.is_none());
    let t0 = Utc::now() - TimeDelta::minutes(10);
    let heartbeat = Heartbeat {
        camera_id: "cam-1".to_owned(),
        site_id: "site-1".to_owned(),
        sent_at: Some(std::time::SystemTime::from(t0).into()),
        buffer_depth: 42,
        link_state: LinkState::Degraded.into(),
        camera_online: true,
    };
    let minutes = |m| t0 + TimeDelta::minutes(m);

    statuses.record_heartbeat(&heartbeat, minutes(1)).await?;
    let status = statuses.get("cam-1").await?.expect("a row");
    ensure!(status.online && status.site_id == "site-1" && status.buffer_depth == 42);
    ensure!(status.link_state == LinkState::Degraded);
    ensure!(status.last_heartbeat.map(|at| at.timestamp_millis()) == Some(t0.timestamp_millis()));

    // An offline decision older than the heartbeat, stored late, loses.
    statuses.set_online("cam-1", false, minutes(-1)).await?;
    ensure!(statuses.get("cam-1").await?.is_some_and(|s| s.online));
    // A newer one wins, even against a heartbeat retried into the database
    // after it, or the same heartbeat replayed from the topic much later.
    statuses.set_online("cam-1", false, minutes(3)).await?;
    statuses.record_heartbeat(&heartbeat, minutes(1)).await?;
    statuses.record_heartbeat(&heartbeat, minutes(9)).await?;
    let status = statuses.get("cam-1").await?.expect("a row");
    ensure!(!status.online, "{status:?}");
    ensure!(
        status.changed_at.map(|at| at.timestamp_millis()) == Some(minutes(3).timestamp_millis())
    );

    ensure!(statuses.all().await?.len() == 1);
    Ok(())
}
