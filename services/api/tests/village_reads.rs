//! Village-scoped queries read only the village's own partitions
//! (`events_by_village_hour`), never the commune's (issue 16.4): a team
//! captain's listing and counts, and anyone's asking for one village, come
//! from rows the process may see, not from the whole commune's rows
//! filtered in the API.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Fixture, ts};
use prost::Message as _;
use uuid::Uuid;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{
    CountEventsRequest, Detection, DetectionKind, EnrichedDetection, ListEventsRequest,
};
use vigil_store::{CountStore, EventStore, hour_bucket};

/// An enriched event of `camera` in `village` of `commune`, captured `at`.
fn event(camera: &str, commune: &str, village: &str, at: DateTime<Utc>) -> EnrichedDetection {
    EnrichedDetection {
        detection: Some(Detection {
            event_id: Uuid::now_v7().to_string(),
            camera_id: camera.to_owned(),
            captured_at: Some(ts(at)),
            kind: DetectionKind::Vehicle.into(),
            ..Detection::default()
        }),
        commune_id: commune.to_owned(),
        village_id: village.to_owned(),
        ..EnrichedDetection::default()
    }
}

fn id_of(event: &EnrichedDetection) -> String {
    event.detection.as_ref().unwrap().event_id.clone()
}

/// Every event id of a listing, all pages, newest first.
async fn listed(fx: &Fixture, who: &str, zone: &str) -> anyhow::Result<Vec<String>> {
    let mut client = QueryServiceClient::new(fx.channel.clone());
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_events(fx.request(
                who,
                ListEventsRequest {
                    zone_id: zone.to_owned(),
                    window: Some(fx.window()),
                    page_size: 17,
                    page_token: token,
                    ..ListEventsRequest::default()
                },
            ))
            .await?
            .into_inner();
        all.extend(page.events.iter().map(id_of));
        token = page.next_page_token;
        if token.is_empty() {
            return Ok(all);
        }
    }
}

/// CountEvents' total for `zone`, as `who`.
async fn counted(fx: &Fixture, who: &str, zone: &str) -> anyhow::Result<u64> {
    let mut client = QueryServiceClient::new(fx.channel.clone());
    Ok(client
        .count_events(fx.request(
            who,
            CountEventsRequest {
                zone_id: zone.to_owned(),
                window: Some(fx.window()),
                ..CountEventsRequest::default()
            },
        ))
        .await?
        .into_inner()
        .total)
}

/// Inserts `event` straight into `table` (an events-by-zone-hour table
/// keyed by `zone_column`), bypassing the writer.
async fn plant(
    fx: &Fixture,
    table: &str,
    zone_column: &str,
    zone: &str,
    event: &EnrichedDetection,
) -> anyhow::Result<()> {
    let detection = event.detection.as_ref().unwrap();
    let at = detection.captured_at.unwrap().seconds * 1000;
    let other_column = if zone_column == "village_id" {
        ("commune_id", &event.commune_id)
    } else {
        ("village_id", &event.village_id)
    };
    // Timestamps as literals (milliseconds since the epoch).
    fx.env
        .keyspace
        .session()
        .query_unpaged(
            format!(
                "INSERT INTO {}.{table} ({zone_column}, hour, captured_at, event_id, {}, \
                 camera_id, kind, plate_normalized, payload) \
                 VALUES (?, {}, {at}, ?, ?, ?, ?, '', ?)",
                fx.env.keyspace.name(),
                other_column.0,
                hour_bucket(at),
            ),
            (
                zone,
                Uuid::parse_str(&detection.event_id)?,
                other_column.1,
                &detection.camera_id,
                detection.kind,
                event.encode_to_vec(),
            ),
        )
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_village_is_read_from_its_own_partitions_never_the_communes() -> anyhow::Result<()> {
    let fx = Fixture::start("api_village_reads").await?;
    let registry = &fx.registry;
    // Another village of the captain's commune.
    let neighbour = registry
        .zones()
        .filter(|zone| zone.parent_id.as_deref() == Some(fx.commune_a.as_str()))
        .map(|zone| zone.id.clone())
        .find(|id| *id != fx.village_a)
        .expect("commune A has a second village");

    // Events of the neighbour village, through the writer's stores.
    let ttl = Duration::from_secs(86_400);
    let events = EventStore::prepare(&fx.env.keyspace, ttl).await?;
    let counts = CountStore::prepare(&fx.env.keyspace, ttl).await?;
    let now = Utc::now();
    // (With the fixture's own events there, if any.)
    let mut neighbours: BTreeSet<String> = fx
        .expected(|e| e.village_id == neighbour)
        .into_iter()
        .collect();
    for minutes in [5, 25, 47, 90, 130] {
        let e = event(
            "cam-neighbour",
            &fx.commune_a,
            &neighbour,
            now - TimeDelta::minutes(minutes),
        );
        events.write(&e).await?;
        counts.rollup(&counts.record_event(&e).await?).await?;
        neighbours.insert(id_of(&e));
    }

    // A row only in the commune table, labelled as the captain's own
    // village: a read of the commune's partitions (filtered by village in
    // the API, as before) would return it; a read of the village's
    // partitions cannot. And a row only in the captain's village table.
    let camera = &fx.cameras_a[0];
    let commune_only = event(
        camera,
        &fx.commune_a,
        &fx.village_a,
        now - TimeDelta::minutes(20),
    );
    plant(
        &fx,
        "events_by_commune_hour",
        "commune_id",
        &fx.commune_a,
        &commune_only,
    )
    .await?;
    let village_only = event(
        camera,
        &fx.commune_a,
        &fx.village_a,
        now - TimeDelta::minutes(10),
    );
    plant(
        &fx,
        "events_by_village_hour",
        "village_id",
        &fx.village_a,
        &village_only,
    )
    .await?;

    // The captain: their village's events, the village table's row, never
    // the commune-only row nor a neighbour's event.
    let own: BTreeSet<String> = fx
        .expected(|e| e.village_id == fx.village_a)
        .into_iter()
        .chain([id_of(&village_only)])
        .collect();
    assert!(
        own.len() > 1,
        "the fixture has events in the captain's village"
    );
    let got = listed(&fx, "captain_a", &fx.village_a).await?;
    assert!(
        !got.contains(&id_of(&commune_only)),
        "the captain's listing read the commune's partitions"
    );
    assert!(got.iter().all(|id| !neighbours.contains(id)));
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), own);
    assert_eq!(got.len(), own.len(), "each event once");
    assert_eq!(
        counted(&fx, "captain_a", &fx.village_a).await?,
        own.len() as u64,
        "the captain's count read the commune's partitions"
    );

    // A village asked for by the commune police takes the same path.
    let got = listed(&fx, "police_a", &neighbour).await?;
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), neighbours);
    assert_eq!(
        counted(&fx, "police_a", &neighbour).await?,
        neighbours.len() as u64
    );
    let got = listed(&fx, "police_a", &fx.village_a).await?;
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), own);

    // The commune's listing reads the commune table: there the planted row
    // and the neighbour's events are (the row is well formed; only the
    // village read path leaves it out).
    let commune = listed(&fx, "police_a", &fx.commune_a).await?;
    assert!(commune.contains(&id_of(&commune_only)));
    assert!(neighbours.iter().all(|id| commune.contains(id)));
    assert!(!commune.contains(&id_of(&village_only)));

    fx.stop().await
}
