//! Alerts of `vigil.alerts.v1` through the real writer into the alert
//! tables (issue 17.1): each stored once, in state `raised`, a redelivered
//! record changing nothing; and the whole topic replayed by a new consumer
//! group leaves every stored alert and its state as it was (a closed alert
//! stays closed and off the open list).

mod common;

use chrono::Utc;
use common::{Writer, config, eventually, producer};
use prost::Message as _;
use rdkafka::producer::FutureRecord;
use vigil_alerting::{Action, Actor, Outcome, State};
use vigil_proto::v1::{Alert, AlertKind};
use vigil_store::AlertStore;
use vigil_testkit::{PATIENCE, TestEnv, committed_to_end};

const COMMUNE: &str = "th.ba-thuoc";

fn alert(n: u8) -> Alert {
    Alert {
        alert_id: uuid::Uuid::new_v4().to_string(),
        kind: AlertKind::Watchlist.into(),
        raised_at: Some(prost_types::Timestamp {
            seconds: Utc::now().timestamp() - 60 * i64::from(n),
            nanos: 0,
        }),
        priority: 1,
        commune_id: COMMUNE.into(),
        village_id: format!("{COMMUNE}.village-{n}"),
        summary: format!("watch-listed vehicle {n}"),
        ..Alert::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_are_stored_once_and_a_replay_changes_no_state() -> anyhow::Result<()> {
    let env = TestEnv::new("writer_alerts").await?;
    let store = AlertStore::prepare(&env.keyspace).await?;
    let topic = env.kafka.topics().alerts;
    let alerts = [alert(1), alert(2), alert(3)];
    let producer = producer(&env)?;
    // The second alert twice: a producer retry or a redelivery.
    for record in alerts.iter().chain([&alerts[1]]) {
        let payload = record.encode_to_vec();
        producer
            .send(
                FutureRecord::to(&topic).key(COMMUNE).payload(&payload),
                std::time::Duration::from_secs(10),
            )
            .await
            .map_err(|(error, _)| error)?;
    }

    let writer = Writer::start(config(&env, "writer-alerts", &[]));
    eventually("every alert stored", PATIENCE, || async {
        let mut stored = 0;
        for record in &alerts {
            stored += usize::from(store.get(&record.alert_id).await?.is_some());
        }
        Ok((stored == alerts.len()).then_some(()))
    })
    .await?;
    for record in &alerts {
        let stored = store.get(&record.alert_id).await?.unwrap();
        assert_eq!(stored.alert, *record);
        assert_eq!(stored.lifecycle.state, State::Raised);
        assert_eq!(
            stored.history.len(),
            1,
            "one raise, whatever the redeliveries"
        );
        assert_eq!(stored.history[0].actor.name, "vigil-writer");
    }

    // Someone takes the first alert and closes it.
    let person = Actor {
        name: "captain".into(),
        role: "team_captain".into(),
    };
    for action in [
        Action::Acknowledge,
        Action::Close {
            outcome: Outcome::FalsePositive,
        },
    ] {
        let current = store.get(&alerts[0].alert_id).await?.unwrap();
        let (next, entry) = current
            .lifecycle
            .apply(&action, &person, Utc::now(), "")
            .unwrap();
        assert!(store.advance(&current, &next, &entry).await?);
    }
    let closed = store.get(&alerts[0].alert_id).await?.unwrap();
    eventually("the first group committed", PATIENCE, || async {
        Ok(committed_to_end(&env, "writer-alerts", &topic)
            .await?
            .then_some(()))
    })
    .await?;
    writer.stop().await?;

    // A new group replays the topic from the start.
    let replay = Writer::start(config(&env, "writer-alerts-replay", &[]));
    eventually("the replay committed", PATIENCE, || async {
        Ok(committed_to_end(&env, "writer-alerts-replay", &topic)
            .await?
            .then_some(()))
    })
    .await?;
    replay.stop().await?;
    assert_eq!(store.get(&alerts[0].alert_id).await?.unwrap(), closed);
    for record in &alerts[1..] {
        let stored = store.get(&record.alert_id).await?.unwrap();
        assert_eq!(
            (stored.lifecycle.state, stored.history.len()),
            (State::Raised, 1)
        );
    }
    let open: Vec<String> = store
        .open(COMMUNE)
        .await?
        .into_iter()
        .map(|row| row.alert_id)
        .collect();
    assert_eq!(
        open,
        [alerts[1].alert_id.clone(), alerts[2].alert_id.clone()],
        "newest first, the closed one gone"
    );
    Ok(())
}
