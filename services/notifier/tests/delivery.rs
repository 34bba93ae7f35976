//! Alerts delivered to the team's receiver (issue 17.5): signed, with one
//! idempotency key per notification, retried until taken, every attempt
//! recorded; a delivery cut short by a crash resumes after the restart; a
//! replay of the alert topic sends nothing again.

mod common;

use std::time::Duration;

use common::{Behaviour, Notifier, Receiver, place, publish, set_channel, watchlist_alert};
use vigil_alerting::State;
use vigil_store::{AlertStore, NotificationStore};
use vigil_testkit::{PATIENCE, TestEnv, committed_to_end, eventually};

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_reaches_the_team_signed_and_is_marked_notified() -> anyhow::Result<()> {
    let env = TestEnv::new("notify_signed").await?;
    let place = place(&env).await?;
    let receiver = Receiver::start(Behaviour::default()).await?;
    // The village has no channel of its own: its commune's is used.
    set_channel(&env, &place.commune, &format!("{}/commune", receiver.base)).await?;
    let notifier = Notifier::start(&env, "notifier-signed", &[]);
    let alert = watchlist_alert(&place);
    publish(&env, &alert).await?;

    let alerts = AlertStore::prepare(&env.keyspace).await?;
    let notified = eventually("the alert marked notified", PATIENCE, || async {
        let record = alerts.get(&alert.alert_id).await?;
        Ok(record.filter(|r| r.lifecycle.state == State::Notified))
    })
    .await?;
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    assert_eq!(request.path, "/commune");
    request.verify()?;
    assert_eq!(request.key(), format!("{}/team", alert.alert_id));
    assert_eq!(request.header("x-vigil-attempt"), "1");
    let body = request.json();
    assert_eq!(body["alert_id"], alert.alert_id.as_str());
    assert_eq!(body["audience"], "team");
    assert_eq!(body["village_id"], place.village.as_str());
    let text = body["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!("vigilctl alerts ack {}", alert.alert_id)),
        "{text}"
    );

    // A signature over another body does not verify.
    let mut tampered = request.clone();
    tampered.body.extend_from_slice(b" ");
    assert!(tampered.verify().is_err());

    let history: Vec<_> = notified.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(history, ["raise", "notify"]);
    assert_eq!(notified.history[1].actor.name, "vigil-notifier");
    let attempts = NotificationStore::prepare(&env.keyspace)
        .await?
        .attempts(&alert.alert_id)
        .await?;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, "delivered");
    assert_eq!(attempts[0].status, Some(200));
    assert_eq!(attempts[0].channel_zone, place.commune);
    assert_eq!(
        attempts[0].endpoint,
        receiver.base.trim_start_matches("http://")
    );
    notifier.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_failing_three_times_gets_it_on_the_fourth() -> anyhow::Result<()> {
    let env = TestEnv::new("notify_retry").await?;
    let place = place(&env).await?;
    let receiver = Receiver::start(Behaviour {
        fail_first: 3,
        ..Behaviour::default()
    })
    .await?;
    set_channel(&env, &place.village, &format!("{}/team", receiver.base)).await?;
    let notifier = Notifier::start(&env, "notifier-retry", &[]);
    let alert = watchlist_alert(&place);
    publish(&env, &alert).await?;

    let alerts = AlertStore::prepare(&env.keyspace).await?;
    eventually("the alert marked notified", PATIENCE, || async {
        let record = alerts.get(&alert.alert_id).await?;
        Ok(record.filter(|r| r.lifecycle.state == State::Notified))
    })
    .await?;
    let received = receiver.received();
    assert_eq!(received.len(), 4, "{received:?}");
    for (n, request) in received.iter().enumerate() {
        assert_eq!(request.key(), format!("{}/team", alert.alert_id));
        assert_eq!(request.header("x-vigil-attempt"), (n + 1).to_string());
        request.verify()?;
    }
    let attempts = NotificationStore::prepare(&env.keyspace)
        .await?
        .attempts(&alert.alert_id)
        .await?;
    let outcomes: Vec<(u32, &str, Option<u16>)> = attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str(), a.status))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, "retry", Some(503)),
            (2, "retry", Some(503)),
            (3, "retry", Some(503)),
            (4, "delivered", Some(200)),
        ]
    );
    assert!(attempts.iter().all(|a| a.notification == received[0].key()));
    notifier.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_cut_short_by_a_crash_resumes_and_a_replay_sends_nothing() -> anyhow::Result<()>
{
    let env = TestEnv::new("notify_crash").await?;
    let place = place(&env).await?;
    // The first request is held until well after the crash.
    let receiver = Receiver::start(Behaviour {
        hold_first: Some(Duration::from_secs(30)),
        ..Behaviour::default()
    })
    .await?;
    set_channel(&env, &place.village, &format!("{}/team", receiver.base)).await?;
    let alert = watchlist_alert(&place);
    publish(&env, &alert).await?;
    let first = Notifier::start(&env, "notifier-crash", &[]);
    eventually("the first request", PATIENCE, || async {
        Ok((!receiver.received().is_empty()).then_some(()))
    })
    .await?;
    first.kill().await;

    let second = Notifier::start(&env, "notifier-crash", &[]);
    let alerts = AlertStore::prepare(&env.keyspace).await?;
    let notified = eventually("the alert marked notified", PATIENCE, || async {
        let record = alerts.get(&alert.alert_id).await?;
        Ok(record.filter(|r| r.lifecycle.state == State::Notified))
    })
    .await?;
    let received = receiver.received();
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(
        received[0].key(),
        received[1].key(),
        "one logical delivery: the receiver deduplicates by the key"
    );
    second.stop().await?;

    // A new group reads the alert topic from the start: nothing is sent and
    // the alert is as it was.
    let replay = Notifier::start(&env, "notifier-replay", &[]);
    let topic = env.kafka.topics().alerts;
    eventually("the replay at the end of the topic", PATIENCE, || async {
        Ok(committed_to_end(&env, "notifier-replay", &topic)
            .await?
            .then_some(()))
    })
    .await?;
    replay.stop().await?;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(alerts.get(&alert.alert_id).await?, Some(notified));
    Ok(())
}
