//! vigil-api's registry, watchlist, extraction and audit calls against the
//! real stack.

mod common;

use std::time::Duration;

use common::{Fixture, PLATE, ts};
use prost::Message as _;
use tonic::Code;
use vigil_proto::v1::audit_service_client::AuditServiceClient;
use vigil_proto::v1::extraction_service_client::ExtractionServiceClient;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::registry_service_client::RegistryServiceClient;
use vigil_proto::v1::{
    AddWatchlistEntryRequest, CreateExtractionRequest, ExtractionQuery, ExtractionStatsRequest,
    GetExtractionRequest, GetTeamRequest, ListAuditRequest, ListCamerasRequest, ListEventsRequest,
    ListExtractionsRequest, ListWatchlistRequest, ListZonesRequest, RegistryChange,
    RemoveWatchlistEntryRequest, Role, WhoAmIRequest, list_extractions_request::Filter,
    registry_change::Entity,
};

fn code<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> Code {
    result.expect_err("the call should fail").code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_watchlist_extractions_and_audit() -> anyhow::Result<()> {
    let fx = Fixture::start("api_manage").await?;
    let mut registry = RegistryServiceClient::new(fx.channel.clone());
    let mut extractions = ExtractionServiceClient::new(fx.channel.clone());

    // Who am I; zones, teams, cameras.
    let me = registry
        .who_am_i(fx.request("police_a", WhoAmIRequest {}))
        .await?
        .into_inner();
    assert_eq!(
        (me.role(), me.zone_id.as_str()),
        (Role::CommunePolice, fx.commune_a.as_str())
    );
    let top = registry
        .list_zones(fx.request("captain_a", ListZonesRequest::default()))
        .await?
        .into_inner();
    assert_eq!(top.zones.len(), 1);
    let communes = registry
        .list_zones(fx.request(
            "captain_a",
            ListZonesRequest {
                parent_id: "th".into(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(communes.zones.len(), 166);
    let team = registry
        .get_team(fx.request(
            "police_a",
            GetTeamRequest {
                zone_id: fx.village_a.clone(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(team.zone_id, fx.village_a);
    assert!(
        team.members.iter().all(|m| !m.phone.is_empty()),
        "police dispatch teams"
    );
    let team = registry
        .get_team(fx.request(
            "captain_a",
            GetTeamRequest {
                zone_id: fx.village_a.clone(),
            },
        ))
        .await?
        .into_inner();
    assert!(
        team.members.iter().all(|m| m.phone.is_empty()),
        "phones only to dispatchers"
    );
    let cameras = registry
        .list_cameras(fx.request("police_a", ListCamerasRequest::default()))
        .await?
        .into_inner();
    assert!(cameras.cameras.iter().any(|c| c.id == fx.cameras_a[0]));
    assert!(!cameras.cameras.iter().any(|c| c.id == fx.cameras_b[0]));

    // Watchlist: add (reaches the changelog the enricher follows), list, remove.
    let missing_reason = AddWatchlistEntryRequest {
        plate: "36C-999.99".into(),
        ..AddWatchlistEntryRequest::default()
    };
    let status = registry
        .add_watchlist_entry(fx.request("police_a", missing_reason))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("reason:"));
    let bad_plate = AddWatchlistEntryRequest {
        plate: "not a plate".into(),
        reason: "stolen".into(),
        ..AddWatchlistEntryRequest::default()
    };
    assert!(
        registry
            .add_watchlist_entry(fx.request("police_a", bad_plate))
            .await
            .unwrap_err()
            .message()
            .starts_with("plate:")
    );
    assert_eq!(
        code(
            registry
                .add_watchlist_entry(fx.request(
                    "captain_a",
                    AddWatchlistEntryRequest {
                        plate: "36C-999.99".into(),
                        reason: "stolen".into(),
                        ..AddWatchlistEntryRequest::default()
                    }
                ))
                .await
        ),
        Code::PermissionDenied
    );
    let entry = registry
        .add_watchlist_entry(fx.request(
            "police_a",
            AddWatchlistEntryRequest {
                plate: "36C-999.99".into(),
                reason: "stolen motorbike, case HS-2026-001".into(),
                priority: 1,
                ..AddWatchlistEntryRequest::default()
            },
        ))
        .await?
        .into_inner();
    assert_eq!(entry.plate_normalized, "36C99999");
    assert_eq!(entry.owner_zone_id, fx.commune_a);
    let changes = vigil_testkit::read_topic(
        &fx.env.kafka,
        &fx.env.kafka.topics().registry,
        |m| rdkafka::Message::key(m) == Some(format!("watchlist/{}", entry.id).as_bytes()),
        Duration::from_secs(30),
    )
    .await?;
    let last = changes
        .last()
        .and_then(|m| rdkafka::Message::payload(m))
        .expect("published");
    match RegistryChange::decode(last)?.entity {
        Some(Entity::WatchlistEntry(published)) => assert_eq!(published.id, entry.id),
        other => panic!("unexpected change {other:?}"),
    }
    let listed = registry
        .list_watchlist(fx.request("police_a", ListWatchlistRequest::default()))
        .await?
        .into_inner();
    let listed_entry = listed
        .entries
        .iter()
        .find(|e| e.id == entry.id)
        .expect("police list their commune's entry");
    assert!(!listed_entry.reason.is_empty() && !listed_entry.created_by.is_empty());
    // A captain of the commune looks out for the plate, but why it is
    // watched and who asked stay with the police.
    let captain_listed = registry
        .list_watchlist(fx.request("captain_a", ListWatchlistRequest::default()))
        .await?
        .into_inner();
    assert!(captain_listed.entries.iter().any(|e| e.id == entry.id));
    for seen in &captain_listed.entries {
        assert!(!seen.plate_normalized.is_empty());
        assert!(
            seen.reason.is_empty() && seen.created_by.is_empty(),
            "{seen:?}"
        );
    }
    let listed_b = registry
        .list_watchlist(fx.request("police_b", ListWatchlistRequest::default()))
        .await?
        .into_inner();
    assert!(
        !listed_b.entries.iter().any(|e| e.id == entry.id),
        "commune A's entry"
    );
    assert_eq!(
        code(
            registry
                .remove_watchlist_entry(fx.request(
                    "police_b",
                    RemoveWatchlistEntryRequest {
                        entry_id: entry.id.clone(),
                        reason: "x".into()
                    }
                ))
                .await
        ),
        Code::NotFound,
        "another commune's entry gets the answer of an unknown one"
    );
    registry
        .remove_watchlist_entry(fx.request(
            "police_a",
            RemoveWatchlistEntryRequest {
                entry_id: entry.id.clone(),
                reason: "recovered".into(),
            },
        ))
        .await?;
    let listed = registry
        .list_watchlist(fx.request("police_a", ListWatchlistRequest::default()))
        .await?
        .into_inner();
    assert!(!listed.entries.iter().any(|e| e.id == entry.id));

    // Extractions: a commune's events, a plate's sightings; filed per case
    // and commune, with a manifest hash anyone can recompute.
    let zone_query = ExtractionQuery {
        zone_id: fx.commune_a.clone(),
        window: Some(fx.window()),
        ..ExtractionQuery::default()
    };
    let first = extractions
        .create_extraction(fx.request(
            "police_a",
            CreateExtractionRequest {
                case_id: "HS-2026-001".into(),
                reason: "burglary on the night of the 27th".into(),
                query: Some(zone_query.clone()),
            },
        ))
        .await?
        .into_inner();
    let expected_a = fx.expected(|e| e.commune_id == fx.commune_a);
    assert_eq!(first.event_count as usize, expected_a.len());
    assert_eq!(
        first
            .items
            .iter()
            .map(|i| i.event_id.clone())
            .collect::<Vec<_>>(),
        expected_a
    );
    assert!(
        first
            .items
            .iter()
            .all(|i| i.snapshot_uri.starts_with("s3://") || !i.snapshot_uri.is_empty())
    );
    assert!(first.items.iter().all(|i| i.snapshot_sha256.len() == 64));
    let mut digest = <sha2::Sha256 as sha2::Digest>::new();
    for item in &first.items {
        sha2::Digest::update(
            &mut digest,
            format!(
                "{} {} {}\n",
                item.event_id, item.snapshot_sha256, item.snapshot_uri
            ),
        );
    }
    assert_eq!(
        first.manifest_sha256,
        hex::encode(sha2::Digest::finalize(digest))
    );
    assert_eq!(first.commune_id, fx.commune_a);
    let plate = extractions
        .create_extraction(fx.request(
            "operator",
            CreateExtractionRequest {
                case_id: "HS-2026-002".into(),
                reason: "vehicle seen leaving the scene".into(),
                query: Some(ExtractionQuery {
                    plate: PLATE.into(),
                    window: Some(fx.window()),
                    ..ExtractionQuery::default()
                }),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(plate.event_count as usize, fx.exact_sightings.len());
    assert_eq!(
        plate.commune_id, "th",
        "a province-wide extraction is filed under the province"
    );
    let third = extractions
        .create_extraction(fx.request(
            "police_a",
            CreateExtractionRequest {
                case_id: "HS-2026-001".into(),
                reason: "second look".into(),
                query: Some(ExtractionQuery {
                    zone_id: fx.village_a.clone(),
                    ..zone_query.clone()
                }),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(third.commune_id, fx.commune_a);
    // Refused: no reason, a captain, outside scope, too many events.
    let status = extractions
        .create_extraction(fx.request(
            "police_a",
            CreateExtractionRequest {
                case_id: "HS-2026-003".into(),
                reason: String::new(),
                query: Some(zone_query.clone()),
            },
        ))
        .await
        .unwrap_err();
    assert!(status.message().starts_with("reason:"));
    for (who, zone) in [
        ("captain_a", fx.village_a.clone()),
        ("police_a", fx.commune_b.clone()),
    ] {
        let refused = extractions
            .create_extraction(fx.request(
                who,
                CreateExtractionRequest {
                    case_id: "HS-2026-004".into(),
                    reason: "r".into(),
                    query: Some(ExtractionQuery {
                        zone_id: zone,
                        ..zone_query.clone()
                    }),
                },
            ))
            .await;
        assert_eq!(code(refused), Code::PermissionDenied, "{who}");
    }
    // A plate extraction is filed only under a zone of the caller's scope
    // (it used to be filed under whatever zone the query named).
    let misfiled = extractions
        .create_extraction(fx.request(
            "police_a",
            CreateExtractionRequest {
                case_id: "HS-2026-005".into(),
                reason: "r".into(),
                query: Some(ExtractionQuery {
                    plate: PLATE.into(),
                    zone_id: fx.commune_b.clone(),
                    window: Some(fx.window()),
                    ..ExtractionQuery::default()
                }),
            },
        ))
        .await;
    assert_eq!(code(misfiled), Code::PermissionDenied);

    let by_case = extractions
        .list_extractions(fx.request(
            "police_a",
            ListExtractionsRequest {
                filter: Some(Filter::CaseId("HS-2026-001".into())),
                limit: 0,
            },
        ))
        .await?
        .into_inner();
    assert_eq!(by_case.extractions.len(), 2);
    assert!(
        by_case.extractions.iter().all(|e| e.items.is_empty()),
        "summaries only"
    );
    let full = extractions
        .get_extraction(fx.request(
            "auditor",
            GetExtractionRequest {
                extraction_id: first.extraction_id.clone(),
            },
        ))
        .await?
        .into_inner();
    // Auditors check ids, times, cameras and hashes; no plate text, no
    // snapshot locations.
    assert_eq!(full.items.len(), first.items.len());
    assert_eq!(full.manifest_sha256, first.manifest_sha256);
    for (seen, made) in full.items.iter().zip(&first.items) {
        assert_eq!(
            (&seen.event_id, &seen.snapshot_sha256, &seen.camera_id),
            (&made.event_id, &made.snapshot_sha256, &made.camera_id)
        );
        assert!(seen.plate_normalized.is_empty() && seen.snapshot_uri.is_empty());
    }
    assert!(
        first.items.iter().any(|i| !i.snapshot_uri.is_empty()),
        "the police's copy has the snapshots"
    );
    // Filed outside the caller's scope: the answer an unknown id gets,
    // naming no commune.
    let elsewhere = extractions
        .get_extraction(fx.request(
            "police_b",
            GetExtractionRequest {
                extraction_id: first.extraction_id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound);
    assert!(
        !elsewhere.message().contains(&fx.commune_a),
        "{}",
        elsewhere.message()
    );
    let stats = extractions
        .extraction_stats(fx.request(
            "auditor",
            ExtractionStatsRequest {
                window: Some(vigil_proto::v1::TimeWindow {
                    start: Some(ts(chrono::Utc::now() - chrono::Duration::days(1))),
                    end: Some(ts(chrono::Utc::now() + chrono::Duration::minutes(1))),
                }),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(
        (stats.extractions, stats.cases),
        (3, 2),
        "3 extractions -> 2 cases"
    );
    let a = stats
        .communes
        .iter()
        .find(|c| c.commune_id == fx.commune_a)
        .unwrap();
    assert_eq!((a.extractions, a.cases), (2, 1));

    // The audit log has every sensitive call, refused ones included, and
    // auditors cannot read events.
    let audit = AuditServiceClient::new(fx.channel.clone())
        .list_audit(fx.request(
            "auditor",
            ListAuditRequest {
                window: Some(vigil_proto::v1::TimeWindow {
                    start: Some(ts(chrono::Utc::now() - chrono::Duration::minutes(10))),
                    end: Some(ts(chrono::Utc::now() + chrono::Duration::minutes(1))),
                }),
                ..ListAuditRequest::default()
            },
        ))
        .await?
        .into_inner();
    // Outcomes (each call also has its STARTED attempt).
    let outcomes: Vec<_> = audit
        .entries
        .iter()
        .filter(|e| e.outcome != "STARTED")
        .collect();
    assert_eq!(audit.entries.len(), 2 * outcomes.len());
    let actions = |action: &str| outcomes.iter().filter(|e| e.action == action).count();
    assert_eq!(actions("CreateExtraction"), 7, "3 made, 4 refused");
    assert_eq!(actions("AddWatchlistEntry"), 4, "1 added, 3 refused");
    assert_eq!(actions("RemoveWatchlistEntry"), 2);
    let made = outcomes
        .iter()
        .find(|e| e.action == "CreateExtraction" && e.reason == "burglary on the night of the 27th")
        .unwrap();
    assert_eq!(made.result_count, first.event_count as u64);
    assert!(
        made.query.starts_with("case=HS-2026-001 zone="),
        "{}",
        made.query
    );
    assert!(
        !made.query.contains("Some("),
        "no Rust Debug: {}",
        made.query
    );
    assert_eq!(made.query_fields[0].name, "case");
    assert_eq!(made.query_fields[0].value, "HS-2026-001");
    assert!(
        audit
            .entries
            .windows(2)
            .all(|w| w[0].at.unwrap().seconds >= w[1].at.unwrap().seconds)
    );
    assert_eq!(
        code(
            QueryServiceClient::new(fx.channel.clone())
                .list_events(fx.request(
                    "auditor",
                    ListEventsRequest {
                        window: Some(fx.window()),
                        ..ListEventsRequest::default()
                    }
                ))
                .await
        ),
        Code::PermissionDenied
    );
    fx.stop().await
}

/// A client that cancels (here: a `grpc-timeout` of a few milliseconds,
/// which makes the server drop the call) used to leave a watchlist change
/// with no audit row when it hit between the change and the audit write.
/// Now every change has its attempt and its outcome, and every attempt is
/// closed by an outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_calls_leave_no_unaudited_change() -> anyhow::Result<()> {
    let fx = Fixture::start("api_cancel").await?;
    // The cut calls on a connection of their own: the server answers a
    // burst of reset streams with GOAWAY (too_many_resets), which must not
    // take the checks' connection with it.
    let cut_channel = tonic::transport::Endpoint::from_shared(format!("http://{}", fx.address))?
        .connect()
        .await?;
    let mut cut = RegistryServiceClient::new(cut_channel);
    let mut registry = RegistryServiceClient::new(fx.channel.clone());
    let plates: Vec<String> = (0..60).map(|n| format!("36C{:05}", 10_000 + n)).collect();
    let mut cut_short = 0;
    for (n, plate) in plates.iter().enumerate() {
        let mut request = fx.request(
            "operator",
            AddWatchlistEntryRequest {
                plate: plate.clone(),
                reason: "cancellation test".into(),
                province_wide: true,
                ..AddWatchlistEntryRequest::default()
            },
        );
        // 1 ms, 2 ms, ... so that calls are cut at every stage.
        request.set_timeout(Duration::from_millis(1 + n as u64 % 20));
        if let Err(status) = cut.add_watchlist_entry(request).await {
            // Cut by the deadline, or the connection closed by the
            // server's reset-flood guard (it reconnects).
            assert!(
                [
                    Code::DeadlineExceeded,
                    Code::Cancelled,
                    Code::Unavailable,
                    Code::ResourceExhausted
                ]
                .contains(&status.code()),
                "{status:?}"
            );
            cut_short += 1;
        }
    }
    assert!(cut_short > 0, "no call was cut short");

    // Detached audit tasks finish on their own; wait until every attempt
    // has its outcome.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (entries, audit) = loop {
        let entries = registry
            .list_watchlist(fx.request("operator", ListWatchlistRequest::default()))
            .await?
            .into_inner()
            .entries;
        let audit = recent_audit(&fx, "AddWatchlistEntry", 1000).await?;
        let open = audit
            .iter()
            .filter(|a| a.outcome == "STARTED")
            .filter(|a| !audit.iter().any(|o| o.attempt_id == a.audit_id))
            .count();
        if open == 0 {
            break (entries, audit);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{open} attempts never got an outcome"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let plate_of = |fields: &[vigil_proto::v1::AuditField]| {
        fields
            .iter()
            .find(|f| f.name == "plate")
            .map(|f| f.value.clone())
    };
    let ours: Vec<_> = entries
        .iter()
        .filter(|e| plates.contains(&e.plate_normalized))
        .collect();
    for entry in &ours {
        let outcome = audit
            .iter()
            .find(|a| {
                a.outcome == "OK"
                    && plate_of(&a.query_fields).as_ref() == Some(&entry.plate_normalized)
            })
            .unwrap_or_else(|| {
                panic!(
                    "watchlist entry {} has no audit row",
                    entry.plate_normalized
                )
            });
        assert!(
            audit
                .iter()
                .any(|a| a.audit_id == outcome.attempt_id && a.outcome == "STARTED"),
            "its attempt is missing"
        );
    }
    let attempts = audit.iter().filter(|a| a.outcome == "STARTED").count();
    println!(
        "{} calls, {cut_short} cut short by their deadline, {} attempts audited, {} entries made",
        plates.len(),
        attempts,
        ours.len()
    );
    assert!(attempts >= ours.len());

    // A 600 KB reason (it used to be copied into every alert the entry
    // raised, past Kafka's message size) is refused naming the field, and
    // the attempt's audit row keeps a bounded copy.
    let status = registry
        .add_watchlist_entry(fx.request(
            "operator",
            AddWatchlistEntryRequest {
                plate: "36C99999".into(),
                reason: "x".repeat(600 * 1024),
                ..AddWatchlistEntryRequest::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("reason:"),
        "{}",
        status.message()
    );
    let audit = recent_audit(&fx, "AddWatchlistEntry", 2).await?;
    assert!(
        audit.iter().any(|a| a.outcome == "InvalidArgument"),
        "{audit:?}"
    );
    assert!(audit.iter().all(|a| a.reason.chars().count() <= 513));
    fx.stop().await
}

/// The audit log's last ten minutes for `action`, newest first.
async fn recent_audit(
    fx: &Fixture,
    action: &str,
    limit: u32,
) -> anyhow::Result<Vec<vigil_proto::v1::AuditEntry>> {
    let now = chrono::Utc::now();
    Ok(AuditServiceClient::new(fx.channel.clone())
        .list_audit(fx.request(
            "auditor",
            ListAuditRequest {
                window: Some(vigil_proto::v1::TimeWindow {
                    start: Some(ts(now - chrono::Duration::minutes(10))),
                    end: Some(ts(now + chrono::Duration::minutes(1))),
                }),
                action: action.into(),
                limit,
                ..ListAuditRequest::default()
            },
        ))
        .await?
        .into_inner()
        .entries)
}
