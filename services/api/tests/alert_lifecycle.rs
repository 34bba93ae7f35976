//! Stored alerts through `vigil.v1.AlertService` against the real
//! Cassandra (issue 17): acknowledged, assigned, closed with an outcome;
//! two acknowledgements racing; moves out of order; scope and roles; every
//! move in the alert's history and in the audit log; raising again (a
//! replayed alert topic) changes nothing.

mod common;

use chrono::{Duration, Utc};
use common::{Fixture, alert, ts};
use tonic::Code;
use uuid::Uuid;
use vigil_alerting::{Actor, State};
use vigil_proto::v1::alert_service_client::AlertServiceClient;
use vigil_proto::v1::audit_service_client::AuditServiceClient;
use vigil_proto::v1::{
    AcknowledgeAlertRequest, AddAlertNoteRequest, AlertOutcome, AlertState, AlertStatsRequest,
    AssignAlertRequest, CloseAlertRequest, GetAlertRequest, ListAlertsRequest, ListAuditRequest,
    TimeWindow,
};
use vigil_store::{AlertStore, DeliveryAttempt, NotificationStore, Raised};

fn window() -> TimeWindow {
    let now = Utc::now();
    TimeWindow {
        start: Some(ts(now - Duration::hours(1))),
        end: Some(ts(now + Duration::minutes(1))),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_is_taken_assigned_and_closed_once_by_whoever_is_first() -> anyhow::Result<()> {
    let fx = Fixture::start("api_alerts").await?;
    let store = AlertStore::prepare(&fx.env.keyspace).await?;
    let notifier = Actor::system("vigil-notifier");
    let other_village = fx
        .registry
        .zones()
        .find(|z| z.parent_id.as_deref() == Some(fx.commune_a.as_str()) && z.id != fx.village_a)
        .expect("commune A has two villages")
        .id
        .clone();
    let raise = |village: &str, commune: &str, minutes_ago: i64| {
        let mut raised = alert(&Uuid::new_v4().to_string(), commune);
        raised.raised_at = Some(ts(Utc::now() - Duration::minutes(minutes_ago)));
        raised.village_id = village.into();
        raised.priority = 1;
        raised
    };
    let mine = raise(&fx.village_a, &fx.commune_a, 3);
    let neighbours = raise(&other_village, &fx.commune_a, 2);
    let elsewhere = raise("", &fx.commune_b, 1);
    for raised in [&mine, &neighbours, &elsewhere] {
        assert_eq!(store.raise(raised, &notifier).await?, Raised::New);
    }
    assert_eq!(
        store.raise(&mine, &notifier).await?,
        Raised::Again(State::Raised),
        "raising again changes nothing"
    );

    let mut alerts = AlertServiceClient::new(fx.channel.clone());
    let get = |who: &str, id: &str| {
        fx.request(
            who,
            GetAlertRequest {
                alert_id: id.into(),
            },
        )
    };
    let shown = alerts
        .get_alert(get("captain_a", &mine.alert_id))
        .await?
        .into_inner();
    let shown = shown.alert.unwrap();
    assert_eq!(shown.state(), AlertState::Raised);
    assert_eq!(shown.history.len(), 1);

    // Out of order: closing before anyone took it.
    let close = |id: &str, outcome: AlertOutcome, note: &str| CloseAlertRequest {
        alert_id: id.into(),
        outcome: outcome.into(),
        note: note.into(),
    };
    let refused = alerts
        .close_alert(fx.request(
            "police_a",
            close(&mine.alert_id, AlertOutcome::Confirmed, ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        refused.message(),
        "cannot close an alert that is raised; acknowledge it first"
    );

    // Two people acknowledge at once: exactly one wins, the other is told who.
    let ack = |who: &str| {
        let mut client = alerts.clone();
        let request = fx.request(
            who,
            AcknowledgeAlertRequest {
                alert_id: mine.alert_id.clone(),
                note: format!("{who} on the way"),
            },
        );
        async move { client.acknowledge_alert(request).await }
    };
    let (first, second) = tokio::join!(ack("captain_a"), ack("police_a"));
    let (won, lost) = match (first, second) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won.into_inner().alert.unwrap(), lost),
        (a, b) => panic!("exactly one acknowledgement wins: {a:?} {b:?}"),
    };
    assert_eq!(won.state(), AlertState::Acknowledged);
    assert_eq!(lost.code(), Code::FailedPrecondition);
    assert!(
        lost.message().starts_with(&format!(
            "already acknowledged by {} at ",
            won.acknowledged_by
        )),
        "{}",
        lost.message()
    );

    // Assigned to a member of the village's team; not to anyone else.
    let member = fx.registry.team_for_zone(&fx.village_a).unwrap().members[0]
        .id
        .clone();
    let assign = |member: &str| AssignAlertRequest {
        alert_id: mine.alert_id.clone(),
        member_id: member.into(),
        note: String::new(),
    };
    let stranger = alerts
        .assign_alert(fx.request("police_a", assign("m-nobody")))
        .await
        .unwrap_err();
    assert_eq!(stranger.code(), Code::InvalidArgument);
    alerts
        .assign_alert(fx.request("captain_a", assign(&member)))
        .await?;

    // Closing needs an outcome; then it is closed once.
    let no_outcome = alerts
        .close_alert(fx.request(
            "captain_a",
            close(&mine.alert_id, AlertOutcome::Unspecified, ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(no_outcome.code(), Code::InvalidArgument);
    let closed = alerts
        .close_alert(fx.request(
            "captain_a",
            close(
                &mine.alert_id,
                AlertOutcome::Confirmed,
                "vehicle stopped, police called",
            ),
        ))
        .await?
        .into_inner()
        .alert
        .unwrap();
    assert_eq!(
        (closed.state(), closed.outcome(), closed.assignee.as_str()),
        (AlertState::Closed, AlertOutcome::Confirmed, member.as_str())
    );
    let again = alerts
        .close_alert(fx.request(
            "police_a",
            close(&mine.alert_id, AlertOutcome::NoAction, ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(
        again
            .message()
            .starts_with("already closed (confirmed) by captain_a at "),
        "{}",
        again.message()
    );
    alerts
        .add_alert_note(fx.request(
            "police_a",
            AddAlertNoteRequest {
                alert_id: mine.alert_id.clone(),
                note: "case HS-2026-9 opened".into(),
            },
        ))
        .await?;

    // The history tells the whole story, with who and when.
    let history = alerts
        .get_alert(get("auditor", &mine.alert_id))
        .await?
        .into_inner()
        .alert
        .unwrap()
        .history;
    let steps: Vec<(&str, &str, AlertState)> = history
        .iter()
        .map(|h| (h.action.as_str(), h.role.as_str(), h.to_state()))
        .collect();
    assert_eq!(steps[0], ("raise", "system", AlertState::Raised));
    assert_eq!(steps[1].0, "acknowledge");
    assert_eq!(
        steps[2],
        ("assign", "team_captain", AlertState::Acknowledged)
    );
    assert_eq!(steps[3], ("close", "team_captain", AlertState::Closed));
    assert_eq!(steps[4], ("note", "commune_police", AlertState::Closed));
    assert_eq!(steps.len(), 5);
    assert_eq!(
        history[3].detail,
        "confirmed: vehicle stopped, police called"
    );
    let times: Vec<(i64, i32)> = history
        .iter()
        .map(|h| h.at.map(|t| (t.seconds, t.nanos)).unwrap())
        .collect();
    assert!(times.is_sorted(), "{times:?}");

    // A replayed raise leaves the closed alert closed and off the open list.
    assert_eq!(
        store.raise(&mine, &notifier).await?,
        Raised::Again(State::Closed)
    );
    let open: Vec<String> = store
        .open(&fx.commune_a)
        .await?
        .into_iter()
        .map(|r| r.alert_id)
        .collect();
    assert!(!open.contains(&mine.alert_id), "{open:?}");
    assert!(open.contains(&neighbours.alert_id), "{open:?}");

    // Scope: another village's alert, another commune's, an auditor acting.
    for (who, id) in [
        ("captain_a", &neighbours.alert_id),
        ("police_b", &mine.alert_id),
        ("police_a", &elsewhere.alert_id),
    ] {
        let status = alerts
            .acknowledge_alert(fx.request(
                who,
                AcknowledgeAlertRequest {
                    alert_id: id.clone(),
                    note: String::new(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{who}: {status:?}");
        assert_eq!(
            alerts.get_alert(get(who, id)).await.unwrap_err().code(),
            Code::NotFound
        );
    }
    let auditor = alerts
        .acknowledge_alert(fx.request(
            "auditor",
            AcknowledgeAlertRequest {
                alert_id: neighbours.alert_id.clone(),
                note: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(auditor.code(), Code::PermissionDenied);

    // Listings: the commune's alerts newest first, by state, paged; a
    // captain sees the village's only.
    let listed = window();
    let list = |who: &str, states: Vec<AlertState>, page_size: u32, page_token: String| {
        fx.request(
            who,
            ListAlertsRequest {
                zone_id: String::new(),
                window: Some(listed),
                states: states.into_iter().map(Into::into).collect(),
                page_size,
                page_token,
                ..ListAlertsRequest::default()
            },
        )
    };
    let all = alerts
        .list_alerts(list("police_a", vec![], 0, String::new()))
        .await?
        .into_inner();
    let ids: Vec<String> = all
        .alerts
        .iter()
        .map(|a| a.alert.as_ref().unwrap().alert_id.clone())
        .collect();
    assert_eq!(
        ids,
        [neighbours.alert_id.clone(), mine.alert_id.clone()],
        "newest first"
    );
    let closed_only = alerts
        .list_alerts(list("police_a", vec![AlertState::Closed], 0, String::new()))
        .await?
        .into_inner();
    assert_eq!(closed_only.alerts.len(), 1);
    let first = alerts
        .list_alerts(list("police_a", vec![], 1, String::new()))
        .await?
        .into_inner();
    assert_eq!(first.alerts.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let rest = alerts
        .list_alerts(list("police_a", vec![], 1, first.next_page_token.clone()))
        .await?
        .into_inner();
    assert_eq!(
        rest.alerts[0].alert.as_ref().unwrap().alert_id,
        mine.alert_id,
        "the second page continues after the first"
    );
    let village = alerts
        .list_alerts(list("captain_a", vec![], 0, String::new()))
        .await?
        .into_inner();
    assert_eq!(village.alerts.len(), 1);
    assert_eq!(
        village.alerts[0].alert.as_ref().unwrap().alert_id,
        mine.alert_id
    );

    // Every move is in the audit log: attempt and outcome.
    let now = Utc::now();
    for (action, outcomes) in [
        ("AcknowledgeAlert", 2),
        ("CloseAlert", 3),
        ("AssignAlert", 2),
    ] {
        let entries = AuditServiceClient::new(fx.channel.clone())
            .list_audit(fx.request(
                "auditor",
                ListAuditRequest {
                    window: Some(TimeWindow {
                        start: Some(ts(now - Duration::minutes(10))),
                        end: Some(ts(now + Duration::minutes(1))),
                    }),
                    action: action.into(),
                    limit: 100,
                    ..ListAuditRequest::default()
                },
            ))
            .await?
            .into_inner()
            .entries;
        let finished = entries.iter().filter(|e| !e.attempt_id.is_empty()).count();
        assert!(finished >= outcomes, "{action}: {entries:?}");
        assert_eq!(
            entries.len(),
            2 * finished,
            "{action}: each attempt has its outcome"
        );
    }

    // How the commune's alerts were taken: two raised, one acknowledged (3
    // minutes after it was raised, within the 5 minute target of a
    // priority-1 hit) and closed as confirmed, one still open.
    let stats = |who: &str| {
        let mut client = alerts.clone();
        let request = fx.request(
            who,
            AlertStatsRequest {
                zone_id: String::new(),
                window: Some(listed),
            },
        );
        async move { client.alert_stats(request).await }
    };
    let commune = stats("police_a").await?.into_inner();
    assert_eq!(commune.communes.len(), 1);
    let row = &commune.communes[0];
    assert_eq!(row.commune_id, fx.commune_a);
    assert_eq!(
        (
            row.raised,
            row.acknowledged,
            row.acknowledged_within_target,
            row.open,
            row.escalated
        ),
        (2, 1, 1, 1, 0)
    );
    assert!(
        (170.0..=300.0).contains(&row.median_seconds_to_acknowledge),
        "{row:?}"
    );
    let confirmed = row
        .outcomes
        .iter()
        .find(|o| o.outcome() == AlertOutcome::Confirmed)
        .map(|o| o.count);
    assert_eq!(confirmed, Some(1));
    assert_eq!(commune.total.as_ref().map(|t| t.raised), Some(2));
    let village = stats("captain_a").await?.into_inner();
    assert_eq!(village.total.map(|t| t.raised), Some(1));
    let province = stats("operator").await?.into_inner();
    assert_eq!(province.total.map(|t| t.raised), Some(3));

    // Delivery attempts the notifier recorded are shown with the alert.
    NotificationStore::prepare(&fx.env.keyspace)
        .await?
        .record_attempt(&DeliveryAttempt {
            alert_id: mine.alert_id.clone(),
            notification: format!("{}/team", mine.alert_id),
            attempt: 1,
            at: Utc::now(),
            audience: "team".into(),
            channel_zone: fx.village_a.clone(),
            endpoint: "receiver.example:443".into(),
            status: Some(200),
            outcome: "delivered".into(),
            latency_ms: 42,
            error: String::new(),
        })
        .await?;
    let shown = alerts
        .get_alert(get("captain_a", &mine.alert_id))
        .await?
        .into_inner()
        .alert
        .unwrap();
    let deliveries: Vec<(&str, u32, &str, u32)> = shown
        .deliveries
        .iter()
        .map(|d| {
            (
                d.audience.as_str(),
                d.attempt,
                d.outcome.as_str(),
                d.http_status,
            )
        })
        .collect();
    assert_eq!(deliveries, [("team", 1, "delivered", 200)]);
    fx.stop().await
}
