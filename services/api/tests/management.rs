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
    assert!(listed.entries.iter().any(|e| e.id == entry.id));
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
        Code::PermissionDenied
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
    assert_eq!(full.items, first.items);
    assert_eq!(
        code(
            extractions
                .get_extraction(fx.request(
                    "police_b",
                    GetExtractionRequest {
                        extraction_id: first.extraction_id.clone()
                    }
                ))
                .await
        ),
        Code::PermissionDenied
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
    let actions = |action: &str| audit.entries.iter().filter(|e| e.action == action).count();
    assert_eq!(actions("CreateExtraction"), 6, "3 made, 3 refused");
    assert_eq!(actions("AddWatchlistEntry"), 4, "1 added, 3 refused");
    assert_eq!(actions("RemoveWatchlistEntry"), 2);
    let made = audit
        .entries
        .iter()
        .find(|e| e.action == "CreateExtraction" && e.reason == "burglary on the night of the 27th")
        .unwrap();
    assert_eq!(made.result_count, first.event_count as u64);
    assert!(made.query.contains("HS-2026-001"));
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
