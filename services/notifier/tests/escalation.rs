//! Escalation (issue 17.6): an alert nobody acknowledges goes to the
//! commune police after its (test-shortened) target and to the province
//! after twice it; each escalation happens once with two notifier
//! instances and across a restart of both; an acknowledged alert does not
//! escalate; a team that cannot be reached is escalated at once.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{Behaviour, Notifier, Place, Receiver, place, publish, set_channel, watchlist_alert};
use vigil_alerting::{Action, Actor, State};
use vigil_store::{AlertRecord, AlertStore, NotificationStore};
use vigil_testkit::{PATIENCE, TestEnv, eventually};

/// Channels for the village, the commune and the province, each on its own
/// path of `receiver`.
async fn channels(env: &TestEnv, place: &Place, receiver: &Receiver) -> anyhow::Result<()> {
    for (zone, path) in [
        (&place.village, "team"),
        (&place.commune, "commune"),
        (&place.province, "province"),
    ] {
        set_channel(env, zone, &format!("{}/{path}", receiver.base)).await?;
    }
    Ok(())
}

/// Waits until `receiver` got something on `path`.
async fn arrives(receiver: &Receiver, path: &str) -> anyhow::Result<()> {
    eventually(&format!("a request on {path}"), PATIENCE, || async {
        Ok((!receiver.on(path).is_empty()).then_some(()))
    })
    .await
}

/// The paths and idempotency keys of everything received, in order.
fn keys(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .received()
        .iter()
        .map(|r| (r.path.clone(), r.key().to_owned()))
        .collect()
}

fn expected(alert_id: &str, paths: &[(&str, &str)]) -> Vec<(String, String)> {
    paths
        .iter()
        .map(|(path, key)| ((*path).to_owned(), format!("{alert_id}/{key}")))
        .collect()
}

fn actions(record: &AlertRecord) -> Vec<(String, String)> {
    record
        .history
        .iter()
        .map(|h| (h.action.clone(), h.detail.clone()))
        .collect()
}

async fn no_timers_left(env: &TestEnv) -> anyhow::Result<()> {
    let store = NotificationStore::prepare(&env.keyspace).await?;
    let later = Utc::now() + chrono::Duration::days(1);
    eventually("every escalation timer removed", PATIENCE, || async {
        Ok(store.due(later).await?.is_empty().then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unacknowledged_alert_escalates_once_to_the_commune_then_the_province()
-> anyhow::Result<()> {
    let env = TestEnv::new("escalate_twice").await?;
    let place = place(&env).await?;
    let receiver = Receiver::start(Behaviour::default()).await?;
    channels(&env, &place, &receiver).await?;
    let flags = ["--target-priority-watchlist", "3s"];
    let one = Notifier::start(&env, "notifier-escalate", &flags);
    let two = Notifier::start(&env, "notifier-escalate", &flags);
    let alert = watchlist_alert(&place);
    publish(&env, &alert).await?;

    arrives(&receiver, "/province").await?;
    // Time for a second instance's duplicate to show up, if there were one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        keys(&receiver),
        expected(
            &alert.alert_id,
            &[
                ("/team", "team"),
                ("/commune", "escalation-1"),
                ("/province", "escalation-2")
            ]
        )
    );
    for request in receiver.received() {
        request.verify()?;
    }
    let escalated = receiver.on("/commune")[0].json();
    assert_eq!(escalated["audience"], "commune_police");

    let record = AlertStore::prepare(&env.keyspace)
        .await?
        .get(&alert.alert_id)
        .await?
        .expect("stored");
    assert_eq!(record.lifecycle.state, State::Escalated);
    assert_eq!(record.lifecycle.escalation_level, 2);
    let history: Vec<(String, String)> = actions(&record);
    assert_eq!(
        history,
        [
            ("raise".into(), String::new()),
            ("notify".into(), String::new()),
            ("escalate".into(), "level 1".into()),
            ("escalate".into(), "level 2".into()),
        ]
    );
    no_timers_left(&env).await?;
    one.stop().await?;
    two.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn escalation_fires_once_after_every_notifier_restarts_mid_wait() -> anyhow::Result<()> {
    let env = TestEnv::new("escalate_restart").await?;
    let place = place(&env).await?;
    let receiver = Receiver::start(Behaviour::default()).await?;
    channels(&env, &place, &receiver).await?;
    let flags = ["--target-priority-watchlist", "6s"];
    let one = Notifier::start(&env, "notifier-restart", &flags);
    let two = Notifier::start(&env, "notifier-restart", &flags);
    let alert = watchlist_alert(&place);
    publish(&env, &alert).await?;
    arrives(&receiver, "/team").await?;
    // Both go down before the target passes; nothing holds the deadline in
    // memory.
    one.kill().await;
    two.stop().await?;
    assert!(receiver.on("/commune").is_empty());

    let one = Notifier::start(&env, "notifier-restart", &flags);
    let two = Notifier::start(&env, "notifier-restart", &flags);
    arrives(&receiver, "/province").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        keys(&receiver),
        expected(
            &alert.alert_id,
            &[
                ("/team", "team"),
                ("/commune", "escalation-1"),
                ("/province", "escalation-2")
            ]
        )
    );
    let record = AlertStore::prepare(&env.keyspace)
        .await?
        .get(&alert.alert_id)
        .await?
        .expect("stored");
    let escalations = actions(&record)
        .into_iter()
        .filter(|(action, _)| action == "escalate")
        .count();
    assert_eq!(escalations, 2);
    one.stop().await?;
    two.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acknowledged_alert_does_not_escalate() -> anyhow::Result<()> {
    let env = TestEnv::new("escalate_acked").await?;
    let place = place(&env).await?;
    let receiver = Receiver::start(Behaviour::default()).await?;
    channels(&env, &place, &receiver).await?;
    let notifier = Notifier::start(
        &env,
        "notifier-acked",
        &["--target-priority-watchlist", "3s"],
    );
    let alert = watchlist_alert(&place);
    publish(&env, &alert).await?;

    let alerts = AlertStore::prepare(&env.keyspace).await?;
    let notified = eventually("the alert marked notified", PATIENCE, || async {
        let record = alerts.get(&alert.alert_id).await?;
        Ok(record.filter(|r| r.lifecycle.state == State::Notified))
    })
    .await?;
    let captain = Actor {
        name: "captain".into(),
        role: "team_captain".into(),
    };
    let (next, entry) =
        notified
            .lifecycle
            .apply(&Action::Acknowledge, &captain, Utc::now(), "on my way")?;
    assert!(alerts.advance(&notified, &next, &entry).await?);

    no_timers_left(&env).await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        keys(&receiver),
        expected(&alert.alert_id, &[("/team", "team")])
    );
    let record = alerts.get(&alert.alert_id).await?.expect("stored");
    assert_eq!(record.lifecycle.state, State::Acknowledged);
    notifier.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_receiver_refusing_for_good_escalates_at_once() -> anyhow::Result<()> {
    let env = TestEnv::new("escalate_refused").await?;
    let place = place(&env).await?;
    let team = Receiver::start(Behaviour {
        fail_first: usize::MAX,
        failure: axum::http::StatusCode::BAD_REQUEST,
        ..Behaviour::default()
    })
    .await?;
    let police = Receiver::start(Behaviour::default()).await?;
    set_channel(&env, &place.village, &format!("{}/team", team.base)).await?;
    set_channel(&env, &place.commune, &format!("{}/commune", police.base)).await?;
    // The target is far off: only the refusal can escalate this soon.
    let notifier = Notifier::start(
        &env,
        "notifier-refused",
        &["--target-priority-watchlist", "1h"],
    );
    let alert = watchlist_alert(&place);
    publish(&env, &alert).await?;

    arrives(&police, "/commune").await?;
    assert_eq!(team.received().len(), 1, "a 400 is not retried");
    let attempts = NotificationStore::prepare(&env.keyspace)
        .await?
        .attempts(&alert.alert_id)
        .await?;
    let team_attempts: Vec<_> = attempts
        .iter()
        .filter(|a| a.audience == "team")
        .map(|a| (a.outcome.as_str(), a.status))
        .collect();
    assert_eq!(team_attempts, [("failed", Some(400))]);
    let record = AlertStore::prepare(&env.keyspace)
        .await?
        .get(&alert.alert_id)
        .await?
        .expect("stored");
    assert_eq!(record.lifecycle.escalation_level, 1);
    notifier.stop().await
}
