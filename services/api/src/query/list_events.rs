//! ListEvents: one page of a zone's events, newest first, optionally only
//! some kinds or some cameras. Extractions page through the same listing.

use std::collections::HashSet;
use std::sync::Arc;

use vigil_domain::Registry;
use vigil_proto::v1::{DetectionKind, EnrichedDetection, ListEventsRequest, ListEventsResponse};
use vigil_store::{Direction, EventRow, Partition, day_bucket, hour_bucket};

use super::{DAY_MS, HOUR_MS, MAX_LIST_DAYS, Page, cursor_of, query_key};
use crate::auth::{Action, Caller};
use crate::backend::{Backend, Target};
use crate::error::{ApiError, ApiResult};
use crate::fanout::{Plan, RowFilter, buckets};
use vigil_request::audit::AuditQuery;
use vigil_request::{Cursor, Window, camera_filter, checked_kinds};

/// What ListEvents and extractions filter on, checked.
#[derive(Debug, Clone)]
pub(crate) struct EventFilter {
    pub(crate) zone_id: String,
    pub(crate) window: Window,
    pub(crate) kinds: Vec<i32>,
    pub(crate) camera_ids: Vec<String>,
}

/// The partitions an event listing reads, and which of their rows it keeps.
struct Scan {
    plan: Plan,
    keep: RowFilter,
}

pub(super) async fn serve(
    backend: &Arc<Backend>,
    caller: &Caller,
    request: ListEventsRequest,
) -> ApiResult<ListEventsResponse> {
    caller.require(Action::ReadEvents)?;
    if !(caller.sees_plates() && may_return_plates(&request.kinds)) {
        return list(backend, caller, request).await.map(|(page, _)| page);
    }
    // Plate reads shown to the roles that see plate text are a plate
    // search by other means: audited like one (no reason needed).
    let query = AuditQuery::new()
        .text("zone", &request.zone_id)
        .kinds("kinds", &request.kinds)
        .list("cameras", &request.camera_ids)
        .window("window", request.window.as_ref())
        .flag("next_page", !request.page_token.is_empty());
    let act = {
        let (backend, caller) = (Arc::clone(backend), caller.clone());
        async move { list(&backend, &caller, request).await }
    };
    backend.audited(caller, "ListEvents", "", &query, act).await
}

/// Whether a listing of `kinds` (all when empty) may return plate reads.
fn may_return_plates(kinds: &[i32]) -> bool {
    kinds.is_empty() || kinds.contains(&(DetectionKind::Plate as i32))
}

/// One page of the listing, and how many events it holds.
async fn list(
    backend: &Backend,
    caller: &Caller,
    request: ListEventsRequest,
) -> ApiResult<(ListEventsResponse, usize)> {
    let want = backend.limits.page_size(request.page_size)?;
    let filter = backend.event_filter(
        caller,
        &request.zone_id,
        request.window.as_ref(),
        &request.kinds,
        &request.camera_ids,
    )?;
    let key = query_key(
        "ListEvents",
        caller,
        &[
            &filter.zone_id,
            &filter.window,
            &filter.kinds,
            &filter.camera_ids,
        ],
    );
    let after = backend.page_tokens.resume(&key, &request.page_token)?;
    let page = backend.events_page(caller, &filter, after, want).await?;
    let count = page.items.len();
    Ok((
        ListEventsResponse {
            events: page.items,
            next_page_token: page
                .next
                .map(|cursor| backend.page_tokens.issue(&key, cursor))
                .unwrap_or_default(),
        },
        count,
    ))
}

impl Backend {
    /// Checks a zone-and-window filter against the caller's scope.
    pub(crate) fn event_filter(
        &self,
        caller: &Caller,
        zone_id: &str,
        window: Option<&vigil_proto::v1::TimeWindow>,
        kinds: &[i32],
        camera_ids: &[String],
    ) -> ApiResult<EventFilter> {
        let window = Window::parse(window, "window", MAX_LIST_DAYS)?;
        let kinds = checked_kinds(kinds)?;
        camera_filter(camera_ids, "camera_ids")?;
        let zone_id = caller.scoped_zone(&self.registry(), zone_id)?;
        Ok(EventFilter {
            zone_id,
            window,
            kinds,
            camera_ids: camera_ids.to_vec(),
        })
    }

    /// One page of events matching `filter`, newest first.
    pub(crate) async fn events_page(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        after: Option<Cursor>,
        want: usize,
    ) -> ApiResult<Page<EnrichedDetection>> {
        let Scan { plan, keep } = {
            let registry = self.registry();
            let target = self.target(&registry, &filter.zone_id);
            scan(&registry, &target, filter)?
        };
        let page = plan
            .page(&self.stores.reader, after, want, self.limits.fanout, keep)
            .await?;
        let next = page.more.then(|| page.rows.last().map(cursor_of)).flatten();
        let items = page
            .rows
            .iter()
            .map(|row| self.decode(caller, row))
            .collect::<ApiResult<_>>()?;
        Ok(Page { items, next })
    }
}

/// The partitions and row filter of an event listing of `target` (the
/// filter's zone): every commune-hour of the zone, or a village's own
/// village-hours, or with cameras named, their camera-days (each camera
/// must lie in the zone).
fn scan(registry: &Registry, target: &Target, filter: &EventFilter) -> ApiResult<Scan> {
    let direction = Direction::NewestFirst;
    let kinds: HashSet<i32> = filter.kinds.iter().copied().collect();
    let groups = if filter.camera_ids.is_empty() {
        let hours = buckets(filter.window, direction, hour_bucket, |h| h + HOUR_MS);
        zone_hours(registry, target, hours)
    } else {
        // An unknown camera and one outside the zone get the same answer,
        // so a filter cannot probe which cameras exist elsewhere.
        for camera_id in &filter.camera_ids {
            let inside = registry.camera(camera_id).is_some_and(|camera| {
                crate::auth::within(registry, &camera.zone_id, target.zone_id())
            });
            if !inside {
                return Err(ApiError::PermissionDenied(format!(
                    "camera {camera_id:?} is not a camera of zone {}",
                    target.zone_id()
                )));
            }
        }
        buckets(filter.window, direction, day_bucket, |d| d + DAY_MS)
            .into_iter()
            .map(|day| {
                filter
                    .camera_ids
                    .iter()
                    .map(|camera_id| Partition::CameraDay {
                        camera_id: camera_id.clone(),
                        day,
                    })
                    .collect()
            })
            .collect()
    };
    let keep: RowFilter =
        Arc::new(move |row: &EventRow| kinds.is_empty() || kinds.contains(&row.kind));
    Ok(Scan {
        plan: Plan {
            groups,
            window: filter.window,
            direction,
        },
        keep,
    })
}

/// One group of partitions per hour of `hours` holding `target`'s events.
/// A village reads only its own village-hours, never its commune's
/// partitions: the process never receives a neighbouring village's rows,
/// not even to filter them out.
fn zone_hours(registry: &Registry, target: &Target, hours: Vec<i64>) -> Vec<Vec<Partition>> {
    if let Target::Village { village, .. } = target {
        return hours
            .into_iter()
            .map(|hour| {
                vec![Partition::VillageHour {
                    village_id: village.clone(),
                    hour,
                }]
            })
            .collect();
    }
    let communes = target.communes(registry);
    hours
        .into_iter()
        .map(|hour| {
            communes
                .iter()
                .map(|commune_id| Partition::CommuneHour {
                    commune_id: commune_id.clone(),
                    hour,
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::query::fixtures;

    fn filter(zone_id: &str, kinds: Vec<i32>, camera_ids: Vec<String>) -> EventFilter {
        EventFilter {
            zone_id: zone_id.into(),
            // 2026-01-01 00:30 to 02:10 UTC: three hours, one day.
            window: Window {
                start_ms: 1_767_227_400_000,
                end_ms: 1_767_233_400_000,
            },
            kinds,
            camera_ids,
        }
    }

    fn row(kind: i32, village_id: &str) -> EventRow {
        EventRow {
            captured_at_ms: 0,
            event_id: Uuid::nil(),
            kind,
            commune_id: String::new(),
            village_id: village_id.into(),
            plate_normalized: String::new(),
            payload: Vec::new(),
        }
    }

    #[test]
    fn a_commune_listing_reads_its_hours_newest_first() {
        let registry = fixtures::registry();
        let [(commune, _), _] = fixtures::two_communes(&registry);
        let target = Target::Commune(commune.clone());
        let scan = scan(&registry, &target, &filter(&commune, vec![], vec![])).unwrap();
        let hours: Vec<i64> = scan
            .plan
            .groups
            .iter()
            .map(|group| match group.as_slice() {
                [Partition::CommuneHour { commune_id, hour }] if *commune_id == commune => *hour,
                other => panic!("unexpected group {other:?}"),
            })
            .collect();
        assert_eq!(
            hours,
            vec![1_767_232_800_000, 1_767_229_200_000, 1_767_225_600_000]
        );
        assert_eq!(scan.plan.direction, Direction::NewestFirst);
        assert!((scan.keep)(&row(3, "any village")));
    }

    #[test]
    fn a_province_listing_reads_every_commune_each_hour() {
        let registry = fixtures::registry();
        let target = Target::Province("th".into());
        let scan = scan(&registry, &target, &filter("th", vec![], vec![])).unwrap();
        let communes = registry.communes().count();
        assert_eq!(scan.plan.groups.len(), 3);
        assert!(scan.plan.groups.iter().all(|g| g.len() == communes));
    }

    #[test]
    fn a_village_listing_reads_only_its_own_partitions() {
        let registry = fixtures::registry();
        let camera = registry.cameras().next().unwrap();
        let village = camera.zone_id.clone();
        let commune = registry.commune_of(&village).unwrap().id.clone();
        let target = Target::Village {
            commune,
            village: village.clone(),
        };
        let scan = scan(&registry, &target, &filter(&village, vec![2], vec![])).unwrap();
        let hours: Vec<i64> = scan
            .plan
            .groups
            .iter()
            .map(|group| match group.as_slice() {
                [Partition::VillageHour { village_id, hour }] if *village_id == village => *hour,
                other => panic!("a village listing reads {other:?}"),
            })
            .collect();
        assert_eq!(
            hours,
            vec![1_767_232_800_000, 1_767_229_200_000, 1_767_225_600_000]
        );
        // The partition is the scope; the filter only picks kinds.
        assert!((scan.keep)(&row(2, &village)));
        assert!(!(scan.keep)(&row(3, &village)));
    }

    #[test]
    fn named_cameras_read_their_days_and_must_lie_in_the_zone() {
        let registry = fixtures::registry();
        let [(commune_a, camera_a), (commune_b, camera_b)] = fixtures::two_communes(&registry);
        let target = Target::Commune(commune_a.clone());
        let scan = scan(
            &registry,
            &target,
            &filter(&commune_a, vec![], vec![camera_a.clone()]),
        )
        .unwrap();
        assert_eq!(
            scan.plan.groups,
            vec![vec![Partition::CameraDay {
                camera_id: camera_a,
                day: 1_767_225_600_000
            }]]
        );
        // Outside the zone or unknown: the same refusal, naming no other
        // zone.
        let refusal = |camera: &str| match scan_error(
            &registry,
            &target,
            &filter(&commune_a, vec![], vec![camera.into()]),
        ) {
            Err(ApiError::PermissionDenied(message)) => message.replace(camera, "<camera>"),
            other => panic!("camera {camera} was not refused: {other:?}"),
        };
        let outside = refusal(&camera_b);
        assert_eq!(outside, refusal("no-such-camera"));
        assert!(!outside.contains(&commune_b), "{outside}");
    }

    /// `scan`'s error (a `Scan` has no `Debug`, so `unwrap_err` is out).
    fn scan_error(registry: &Registry, target: &Target, filter: &EventFilter) -> ApiResult<()> {
        scan(registry, target, filter).map(|_| ())
    }
}
