//! vigil-api's queries against the real stack: events by zone with paging,
//! scope and role enforcement, plate trajectories with their audit rows,
//! coverage, counts, fleet status and live alerts.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Fixture, PLATE, PLATE_NORMALIZED, alert, produce_alerts, ts};
use futures::StreamExt;
use rdkafka::producer::FutureProducer;
use tonic::Code;
use tonic_types::StatusExt;
use vigil_proto::v1::audit_service_client::AuditServiceClient;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{
    Alert, CountEventsRequest, CoverageRequest, CoverageState, DetectionKind, FleetStatusRequest,
    GetEventRequest, ListAuditRequest, ListEventsRequest, PlateTrajectoryRequest,
    StreamAlertsRequest,
};

fn ids(events: &[vigil_proto::v1::EnrichedDetection]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.detection.as_ref().unwrap().event_id.clone())
        .collect()
}

/// Every page of a listing, as the ids in order.
async fn all_pages(
    fx: &Fixture,
    who: &str,
    request: ListEventsRequest,
) -> anyhow::Result<(Vec<String>, usize)> {
    let mut client = QueryServiceClient::new(fx.channel.clone());
    let mut all = Vec::new();
    let mut pages = 0;
    let mut token = String::new();
    loop {
        let page = client
            .list_events(fx.request(
                who,
                ListEventsRequest {
                    page_token: token.clone(),
                    ..request.clone()
                },
            ))
            .await?
            .into_inner();
        pages += 1;
        assert!(page.events.len() <= request.page_size as usize);
        all.extend(ids(&page.events));
        token = page.next_page_token;
        if token.is_empty() {
            return Ok((all, pages));
        }
    }
}

fn code<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> Code {
    result.expect_err("the call should fail").code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_are_listed_by_zone_in_order_with_paging_and_scope() -> anyhow::Result<()> {
    let fx = Fixture::start("api_events").await?;
    let mut client = QueryServiceClient::new(fx.channel.clone());
    let list = |zone: &str, page_size: u32| ListEventsRequest {
        zone_id: zone.to_owned(),
        window: Some(fx.window()),
        page_size,
        ..ListEventsRequest::default()
    };

    // A commune, paged 7 at a time: every event once, newest first.
    let expected_a = fx.expected(|e| e.commune_id == fx.commune_a);
    let (got, pages) = all_pages(&fx, "police_a", list(&fx.commune_a, 7)).await?;
    assert_eq!(got, expected_a, "commune A, paged");
    assert_eq!(pages, expected_a.len().div_ceil(7));

    // The province, fanned out over every commune and merged in time order.
    let expected_all = fx.expected(|_| true);
    let (got, _) = all_pages(&fx, "operator", list("th", 25)).await?;
    assert_eq!(got, expected_all, "province-wide");
    assert!(expected_all.len() > 100);

    // A village, by its captain; kinds; cameras.
    let (got, _) = all_pages(&fx, "captain_a", list(&fx.village_a, 50)).await?;
    assert_eq!(got, fx.expected(|e| e.village_id == fx.village_a));
    assert!(!got.is_empty());
    let plates = ListEventsRequest {
        kinds: vec![DetectionKind::Plate.into()],
        ..list(&fx.commune_a, 100)
    };
    let (got, _) = all_pages(&fx, "police_a", plates).await?;
    assert_eq!(
        got,
        fx.expected(|e| e.commune_id == fx.commune_a && e.kind == DetectionKind::Plate as i32)
    );
    let camera = fx.cameras_a[0].clone();
    let one_camera = ListEventsRequest {
        camera_ids: vec![camera.clone()],
        ..list(&fx.commune_a, 100)
    };
    let (got, _) = all_pages(&fx, "police_a", one_camera).await?;
    assert_eq!(got, fx.expected(|e| e.camera_id == camera));

    // Phones: police see who to call, a captain does not.
    let page = client
        .list_events(fx.request("police_a", list(&fx.commune_a, 5)))
        .await?
        .into_inner();
    assert!(
        page.events
            .iter()
            .all(|e| !e.team.as_ref().unwrap().on_duty_phone.is_empty())
    );
    let page = client
        .list_events(fx.request("captain_a", list(&fx.village_a, 5)))
        .await?
        .into_inner();
    assert!(
        page.events
            .iter()
            .all(|e| e.team.as_ref().unwrap().on_duty_phone.is_empty())
    );

    // Plate text: police see it; a captain, who may not search plates, gets
    // the reads without it (a listing is no plate search by other means).
    let village_plates = ListEventsRequest {
        kinds: vec![DetectionKind::Plate.into()],
        ..list(&fx.village_a, 100)
    };
    let plate_texts = |events: &[vigil_proto::v1::EnrichedDetection]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| e.detection.as_ref()?.plate.as_ref())
            .flat_map(|p| [p.text.clone(), p.normalized.clone()])
            .filter(|text| !text.is_empty())
            .collect()
    };
    let police_view = client
        .list_events(fx.request("police_a", village_plates.clone()))
        .await?
        .into_inner()
        .events;
    assert!(
        !plate_texts(&police_view).is_empty(),
        "the village has plate reads"
    );
    let captain_view = client
        .list_events(fx.request("captain_a", village_plates))
        .await?
        .into_inner()
        .events;
    assert_eq!(ids(&captain_view), ids(&police_view));
    assert_eq!(plate_texts(&captain_view), Vec::<String>::new());
    // The police's listing of plate reads is audited (no reason needed);
    // the captain's, without plate text, is not.
    let now = chrono::Utc::now();
    let listings = AuditServiceClient::new(fx.channel.clone())
        .list_audit(fx.request(
            "auditor",
            ListAuditRequest {
                window: Some(vigil_proto::v1::TimeWindow {
                    start: Some(ts(now - chrono::Duration::minutes(10))),
                    end: Some(ts(now + chrono::Duration::minutes(1))),
                }),
                action: "ListEvents".into(),
                limit: 1000,
                ..ListAuditRequest::default()
            },
        ))
        .await?
        .into_inner()
        .entries;
    let by = |who: &str| {
        listings
            .iter()
            .filter(|e| e.token_id == fx.token_ids[who] && e.outcome == "OK")
            .count()
    };
    assert!(by("police_a") > 0, "{listings:?}");
    assert_eq!(by("captain_a"), 0);
    assert!(
        listings.iter().any(|e| e
            .query
            .starts_with(&format!("zone={} kinds=plate", fx.village_a))),
        "{listings:?}"
    );

    // Scope: refused, never silently emptied.
    for (who, zone) in [
        ("police_a", fx.commune_b.as_str()),
        ("police_a", "th"),
        ("captain_a", fx.commune_a.as_str()),
    ] {
        let refused = client.list_events(fx.request(who, list(zone, 10))).await;
        assert_eq!(
            code(refused),
            Code::PermissionDenied,
            "{who} reading {zone}"
        );
    }
    let b_event = fx.expected(|e| e.commune_id == fx.commune_b)[0].clone();
    let refused = client
        .get_event(fx.request(
            "police_a",
            GetEventRequest {
                event_id: b_event.clone(),
            },
        ))
        .await;
    // Outside the scope: the same answer as an id that does not exist.
    let refused = refused.unwrap_err();
    let unknown_id = uuid::Uuid::now_v7().to_string();
    let unknown = client
        .get_event(fx.request(
            "police_a",
            GetEventRequest {
                event_id: unknown_id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(
        refused.message().replace(&b_event, "<id>"),
        unknown.message().replace(&unknown_id, "<id>")
    );
    assert!(!refused.message().contains(&fx.commune_b));
    let event = client
        .get_event(fx.request(
            "police_b",
            GetEventRequest {
                event_id: b_event.clone(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(event.event.unwrap().detection.unwrap().event_id, b_event);
    let refused = client
        .list_events(fx.request("auditor", list("th", 10)))
        .await;
    assert_eq!(
        code(refused),
        Code::PermissionDenied,
        "auditors read no events"
    );

    // Page tokens are bound to their query and cannot be forged.
    let first = client
        .list_events(fx.request("police_a", list(&fx.commune_a, 7)))
        .await?
        .into_inner();
    let other_filter = ListEventsRequest {
        kinds: vec![DetectionKind::Person.into()],
        page_token: first.next_page_token.clone(),
        ..list(&fx.commune_a, 7)
    };
    let status = client
        .list_events(fx.request("police_a", other_filter))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let stolen = ListEventsRequest {
        page_token: first.next_page_token.clone(),
        ..list(&fx.commune_a, 7)
    };
    let status = client
        .list_events(fx.request("operator", stolen))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "another caller's token"
    );
    let mut forged = first.next_page_token.into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    let forged = ListEventsRequest {
        page_token: String::from_utf8(forged)?,
        ..list(&fx.commune_a, 7)
    };
    let status = client
        .list_events(fx.request("police_a", forged))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    // Invalid arguments name the field.
    let status = client
        .list_events(fx.request("police_a", list(&fx.commune_a, 5_000)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let violations = status.get_details_bad_request().unwrap().field_violations;
    assert_eq!(violations[0].field, "page_size");
    let no_window = ListEventsRequest {
        window: None,
        ..list(&fx.commune_a, 5)
    };
    let status = client
        .list_events(fx.request("police_a", no_window))
        .await
        .unwrap_err();
    assert!(
        status.message().starts_with("window:"),
        "{}",
        status.message()
    );
    let backwards = ListEventsRequest {
        window: Some(vigil_proto::v1::TimeWindow {
            start: Some(ts(fx.end)),
            end: Some(ts(fx.start)),
        }),
        ..list(&fx.commune_a, 5)
    };
    assert_eq!(
        code(client.list_events(fx.request("police_a", backwards)).await),
        Code::InvalidArgument
    );

    // A window of ±5e15 s wrapped in release builds, passed as short and
    // made the fan-out allocate trillions of hour buckets (the process
    // aborted). Now each RPC refuses it naming the field, and the server
    // keeps answering.
    let hostile = Some(vigil_proto::v1::TimeWindow {
        start: Some(prost_types::Timestamp {
            seconds: -5_000_000_000_000_000,
            nanos: 0,
        }),
        end: Some(prost_types::Timestamp {
            seconds: 5_000_000_000_000_000,
            nanos: 0,
        }),
    });
    let refusals = [
        client
            .list_events(fx.request(
                "police_a",
                ListEventsRequest {
                    window: hostile,
                    ..list(&fx.commune_a, 5)
                },
            ))
            .await
            .map(|_| ()),
        client
            .count_events(fx.request(
                "police_a",
                CountEventsRequest {
                    zone_id: fx.commune_a.clone(),
                    window: hostile,
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ()),
        client
            .coverage(fx.request(
                "police_a",
                CoverageRequest {
                    zone_id: fx.commune_a.clone(),
                    window: hostile,
                },
            ))
            .await
            .map(|_| ()),
    ];
    for refused in refusals {
        let status = refused.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().starts_with("window:"),
            "{}",
            status.message()
        );
    }
    client
        .list_events(fx.request("police_a", list(&fx.commune_a, 5)))
        .await?;

    // No token, a bad token, a revoked token.
    assert_eq!(
        code(client.list_events(tonic::Request::new(list("th", 5))).await),
        Code::Unauthenticated
    );
    let mut bad = tonic::Request::new(list("th", 5));
    bad.metadata_mut()
        .insert("authorization", "Bearer vgl_00_11".parse()?);
    assert_eq!(code(client.list_events(bad).await), Code::Unauthenticated);
    let tokens = vigil_store::TokenStore::prepare(&fx.env.keyspace).await?;
    tokens
        .revoke(&fx.token_ids["police_b"], chrono::Utc::now())
        .await?;
    assert_eq!(
        code(
            client
                .list_events(fx.request("police_b", list(&fx.commune_b, 5)))
                .await
        ),
        Code::Unauthenticated
    );
    fx.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trajectories_coverage_counts_fleet_and_alerts() -> anyhow::Result<()> {
    let fx = Fixture::start("api_reports").await?;
    let mut client = QueryServiceClient::new(fx.channel.clone());
    let search = |fuzzy: bool, reason: &str| PlateTrajectoryRequest {
        plate: PLATE.to_owned(),
        window: Some(fx.window()),
        fuzzy,
        reason: reason.to_owned(),
        ..PlateTrajectoryRequest::default()
    };

    // Trajectory: every exact sighting in time order, with place and position.
    let trajectory = client
        .plate_trajectory(fx.request("operator", search(false, "case HS-1")))
        .await?
        .into_inner();
    assert_eq!(trajectory.plate_normalized, PLATE_NORMALIZED);
    let seen: Vec<String> = trajectory
        .sightings
        .iter()
        .map(|s| s.event_id.clone())
        .collect();
    let exact: Vec<String> = fx
        .exact_sightings
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(seen, exact);
    for sighting in &trajectory.sightings {
        assert!(!sighting.camera_id.is_empty() && !sighting.village_id.is_empty());
        assert!(sighting.latitude > 19.0 && sighting.longitude > 104.0);
        assert_eq!(sighting.zone_path.len(), 3);
        assert!(!sighting.fuzzy);
    }
    // Fuzzy also finds the misread, flagged.
    let fuzzy = client
        .plate_trajectory(fx.request("operator", search(true, "case HS-1")))
        .await?
        .into_inner();
    let misread: Vec<_> = fuzzy.sightings.iter().filter(|s| s.fuzzy).collect();
    assert_eq!(misread.len(), 1);
    assert_eq!(misread[0].event_id, fx.confused_sighting);
    assert_eq!(fuzzy.sightings.len(), exact.len() + 1);
    // Commune police see the sightings in their commune only.
    let scoped = client
        .plate_trajectory(fx.request("police_a", search(false, "case HS-1")))
        .await?
        .into_inner();
    let in_a: Vec<String> = fx
        .exact_sightings
        .iter()
        .filter(|(_, commune)| *commune == fx.commune_a)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(
        scoped
            .sightings
            .iter()
            .map(|s| s.event_id.clone())
            .collect::<Vec<_>>(),
        in_a
    );
    assert!(in_a.len() < exact.len());
    // A reason is required; captains may not search plates.
    let status = client
        .plate_trajectory(fx.request("operator", search(false, " ")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "reason"
    );
    assert_eq!(
        code(
            client
                .plate_trajectory(fx.request("captain_a", search(false, "curious")))
                .await
        ),
        Code::PermissionDenied
    );
    let garbage = PlateTrajectoryRequest {
        plate: "hello".into(),
        ..search(false, "case HS-1")
    };
    assert_eq!(
        code(
            client
                .plate_trajectory(fx.request("operator", garbage))
                .await
        ),
        Code::InvalidArgument
    );

    // Every plate search left an audit row: who, when, reason, query.
    let audit = AuditServiceClient::new(fx.channel.clone())
        .list_audit(fx.request(
            "auditor",
            ListAuditRequest {
                window: Some(vigil_proto::v1::TimeWindow {
                    start: Some(ts(chrono::Utc::now() - chrono::Duration::minutes(10))),
                    end: Some(ts(chrono::Utc::now() + chrono::Duration::minutes(1))),
                }),
                action: "PlateTrajectory".into(),
                ..ListAuditRequest::default()
            },
        ))
        .await?
        .into_inner();
    // Each call: its attempt, written before it acted, and its outcome.
    assert_eq!(audit.entries.len(), 12, "{:#?}", audit.entries);
    let (attempts, outcomes): (Vec<_>, Vec<_>) =
        audit.entries.iter().partition(|e| e.outcome == "STARTED");
    for outcome in &outcomes {
        assert!(
            attempts.iter().any(|a| a.audit_id == outcome.attempt_id
                && a.query == outcome.query
                && a.token_id == outcome.token_id),
            "{outcome:?} has no attempt"
        );
    }
    let by = |who: &str| {
        outcomes
            .iter()
            .copied()
            .filter(|e| e.token_id == fx.token_ids[who])
            .collect::<Vec<_>>()
    };
    assert_eq!(by("operator").len(), 4);
    assert_eq!(by("police_a").len(), 1);
    let refused = by("captain_a");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].outcome, "PermissionDenied");
    assert_eq!(refused[0].reason, "curious");
    let police = by("police_a")[0];
    assert_eq!(police.reason, "case HS-1");
    // The query as a person writes it, and as fields.
    assert!(
        police
            .query
            .starts_with(&format!("plate={PLATE} window=20"))
            && police.query.ends_with(" +07"),
        "{}",
        police.query
    );
    let fields: Vec<(&str, &str)> = police
        .query_fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(fields[0], ("plate", PLATE));
    assert_eq!(fields[1].0, "window");
    assert_eq!(police.result_count, in_a.len() as u64);
    assert!(police.at.is_some() && police.actor_name == "police_a");
    assert_eq!(
        code(
            AuditServiceClient::new(fx.channel.clone())
                .list_audit(fx.request(
                    "operator",
                    ListAuditRequest {
                        window: Some(fx.window()),
                        ..ListAuditRequest::default()
                    }
                ))
                .await
        ),
        Code::PermissionDenied,
        "only auditors read the audit log"
    );

    // Coverage: covered, offline (with the outage), silent, unknown.
    let coverage = client
        .coverage(fx.request(
            "police_a",
            CoverageRequest {
                zone_id: fx.commune_a.clone(),
                window: Some(fx.window()),
            },
        ))
        .await?
        .into_inner();
    let state_of = |camera: &str| {
        coverage
            .cameras
            .iter()
            .find(|c| c.camera_id == camera)
            .unwrap_or_else(|| panic!("{camera} missing"))
    };
    assert_eq!(
        state_of(&fx.cameras_a[0]).state,
        CoverageState::Covered as i32
    );
    let outage = state_of(&fx.outage_camera);
    assert_eq!(outage.state, CoverageState::Offline as i32);
    assert_eq!(outage.offline.len(), 1);
    assert_eq!(
        outage.offline[0].start.unwrap().seconds,
        fx.outage.0.timestamp()
    );
    assert_eq!(
        outage.offline[0].end.unwrap().seconds,
        fx.outage.1.timestamp()
    );
    assert!(outage.events > 0);
    assert_eq!(
        state_of(&fx.silent_camera).state,
        CoverageState::Silent as i32
    );
    assert_eq!(state_of(&fx.silent_camera).events, 0);
    let events_a = fx.expected(|e| e.commune_id == fx.commune_a).len() as u64;
    assert_eq!(
        coverage.cameras.iter().map(|c| c.events).sum::<u64>(),
        events_a
    );
    assert_eq!(
        coverage.covered + coverage.silent + coverage.offline + coverage.unknown,
        coverage.cameras.len() as u32
    );
    assert!(coverage.unknown > 0, "cameras never heard from");

    // Counts: per commune and hour, exact; province total; kinds; village.
    let count = |who: &str, zone: &str, kinds: Vec<i32>, per_commune: bool| {
        fx.request(
            who,
            CountEventsRequest {
                zone_id: zone.to_owned(),
                window: Some(fx.window()),
                kinds,
                per_commune,
            },
        )
    };
    let a = client
        .count_events(count("police_a", &fx.commune_a, vec![], false))
        .await?
        .into_inner();
    assert_eq!(a.total, events_a);
    assert!(a.counts.iter().all(|c| c.zone_id == fx.commune_a));
    let hours: HashSet<i64> = a.counts.iter().map(|c| c.hour.unwrap().seconds).collect();
    assert!(hours.len() >= 3 && hours.iter().all(|h| h % 3600 == 0));
    let province = client
        .count_events(count("operator", "th", vec![], false))
        .await?
        .into_inner();
    assert_eq!(province.total, fx.events.len() as u64);
    assert!(province.counts.iter().all(|c| c.zone_id == "th"));
    let split = client
        .count_events(count("operator", "th", vec![], true))
        .await?
        .into_inner();
    assert_eq!(split.total, fx.events.len() as u64);
    let communes: HashSet<&str> = split.counts.iter().map(|c| c.zone_id.as_str()).collect();
    assert_eq!(
        communes,
        HashSet::from([fx.commune_a.as_str(), fx.commune_b.as_str()])
    );
    let plate_kind = DetectionKind::Plate as i32;
    let plates = client
        .count_events(count("police_a", &fx.commune_a, vec![plate_kind], false))
        .await?
        .into_inner();
    assert_eq!(
        plates.total,
        fx.expected(|e| e.commune_id == fx.commune_a && e.kind == plate_kind)
            .len() as u64
    );
    let village = client
        .count_events(count("captain_a", &fx.village_a, vec![], false))
        .await?
        .into_inner();
    assert_eq!(
        village.total,
        fx.expected(|e| e.village_id == fx.village_a).len() as u64
    );

    // Fleet status per commune.
    let fleet = client
        .fleet_status(fx.request(
            "police_a",
            FleetStatusRequest {
                zone_id: fx.commune_a.clone(),
                include_cameras: true,
            },
        ))
        .await?
        .into_inner();
    assert_eq!(fleet.communes.len(), 1);
    let summary = &fleet.communes[0];
    assert_eq!(summary.commune_id, fx.commune_a);
    assert_eq!(
        summary.online, 3,
        "heartbeats from three cameras, all back online"
    );
    assert_eq!(summary.offline, 0);
    assert_eq!(summary.unknown, summary.cameras - 3);
    // Each heartbeat reported its site's spool of 5: a site counts once.
    let sites: HashSet<&str> = fleet
        .cameras
        .iter()
        .filter(|c| c.last_heartbeat.is_some())
        .map(|c| c.site_id.as_str())
        .collect();
    assert!(sites.len() < 3, "two of the three cameras share a site");
    assert_eq!(summary.buffered, 5 * sites.len() as u64);
    assert_eq!(fleet.cameras.len() as u32, summary.cameras);
    let province_fleet = client
        .fleet_status(fx.request("operator", FleetStatusRequest::default()))
        .await?
        .into_inner();
    assert_eq!(
        province_fleet
            .communes
            .iter()
            .map(|c| c.cameras)
            .sum::<u32>(),
        1_000
    );

    // Live alerts: a stream for commune A sees A's alerts only, and a
    // stream started in the past replays them.
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut live = client
        .stream_alerts(fx.request("police_a", StreamAlertsRequest::default()))
        .await?
        .into_inner();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let producer: FutureProducer = fx.env.kafka.producer_config().create()?;
    produce_alerts(
        &producer,
        &fx.env.kafka.topics().alerts,
        &[
            alert("alert-b", &fx.commune_b),
            alert("alert-a", &fx.commune_a),
        ],
    )
    .await?;
    let first = tokio::time::timeout(Duration::from_secs(30), live.next())
        .await?
        .unwrap()?;
    assert_eq!(first.alert_id, "alert-a");
    let replay = client
        .stream_alerts(fx.request(
            "operator",
            StreamAlertsRequest {
                since: Some(ts(before)),
                ..StreamAlertsRequest::default()
            },
        ))
        .await?
        .into_inner();
    let replayed: Vec<String> =
        tokio::time::timeout(Duration::from_secs(30), replay.take(2).collect::<Vec<_>>())
            .await?
            .into_iter()
            .map(|a| a.map(|a| a.alert_id))
            .collect::<Result<_, _>>()?;
    assert_eq!(replayed, vec!["alert-b".to_owned(), "alert-a".to_owned()]);

    // The metrics endpoint counts the calls by method and code.
    let metrics = reqwest_lite(&fx.metrics_address).await?;
    assert!(
        metrics.contains("vigil_api_requests_total{method=\"PlateTrajectory\",code=\"Ok\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("vigil_api_request_duration_seconds_bucket{method=\"ListAudit\""));
    fx.stop().await
}

/// Streams replaying from `since` while alerts keep arriving get each of
/// them exactly once and in order, across the switch from their replay to
/// the shared live reader (each opened at a different point of the flow).
#[tokio::test(flavor = "multi_thread")]
async fn a_replay_joins_the_live_alerts_without_gap_or_duplicate() -> anyhow::Result<()> {
    const ALERTS: usize = 600;
    const BATCH: usize = 20;
    let fx = Fixture::start("seam").await?;
    let since = ts(chrono::Utc::now() - chrono::Duration::seconds(1));
    let ids: Vec<String> = (0..ALERTS).map(|i| format!("seq-{i:04}")).collect();
    let producing = {
        let producer: FutureProducer = fx.env.kafka.producer_config().create()?;
        let topic = fx.env.kafka.topics().alerts;
        let alerts: Vec<Alert> = ids.iter().map(|id| alert(id, &fx.commune_a)).collect();
        tokio::spawn(async move {
            // About 1,000 a second, for the replays to chase.
            for batch in alerts.chunks(BATCH) {
                produce_alerts(&producer, &topic, batch).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            anyhow::Ok(())
        })
    };
    let mut client = QueryServiceClient::new(fx.channel.clone());
    let mut replays = Vec::new();
    for _ in 0..6 {
        let request = StreamAlertsRequest {
            since: Some(since),
            ..StreamAlertsRequest::default()
        };
        replays.push(
            client
                .stream_alerts(fx.request("operator", request))
                .await?
                .into_inner(),
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    producing.await??;
    for (n, mut replay) in replays.into_iter().enumerate() {
        let mut received = Vec::new();
        while received.len() < ALERTS {
            let next = tokio::time::timeout(Duration::from_secs(60), replay.next()).await;
            match next {
                Ok(Some(alert)) => received.push(alert?.alert_id),
                _ => anyhow::bail!("replay {n} ended or stalled after {}", received.len()),
            }
        }
        assert!(received == ids, "replay {n} got {received:?}");
        // Nothing repeats after the last.
        let extra = tokio::time::timeout(Duration::from_millis(500), replay.next()).await;
        assert!(extra.is_err(), "replay {n} got more: {extra:?}");
    }
    fx.stop().await
}

/// The Prometheus text served at `address`.
async fn reqwest_lite(address: &str) -> anyhow::Result<String> {
    Ok(reqwest::get(format!("http://{address}/metrics"))
        .await?
        .error_for_status()?
        .text()
        .await?)
}
