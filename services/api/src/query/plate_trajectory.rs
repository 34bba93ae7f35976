//! PlateTrajectory: where a plate was seen, oldest first, within the
//! caller's scope; exact reads, or with `fuzzy` every read sharing the
//! plate's OCR-confusion key. Audited: the search is written to the audit
//! log (with its reason) before it answers. Extractions of a plate page
//! through the same search.

use std::sync::Arc;

use vigil_domain::plate::{normalize_plate, ocr_key};
use vigil_proto::v1::{
    EnrichedDetection, PlateTrajectoryRequest, PlateTrajectoryResponse, Sighting,
};
use vigil_store::{Direction, EventRow, Partition, month_bucket};

use super::{MAX_LIST_DAYS, Page, cursor_of, query_key};
use crate::auth::{Action, Caller};
use crate::backend::Backend;
use crate::error::{ApiError, ApiResult};
use crate::fanout::{Plan, RowFilter, buckets, next_month};
use vigil_request::audit::AuditQuery;
use vigil_request::{Cursor, Window, required_text};

/// A checked plate search.
#[derive(Debug, Clone)]
pub(crate) struct PlateSearch {
    pub(crate) plate: String,
    pub(crate) window: Window,
    pub(crate) fuzzy: bool,
}

pub(super) async fn serve(
    backend: &Arc<Backend>,
    caller: &Caller,
    request: PlateTrajectoryRequest,
) -> ApiResult<PlateTrajectoryResponse> {
    let query = AuditQuery::new()
        .text("plate", &request.plate)
        .flag("fuzzy", request.fuzzy)
        .window("window", request.window.as_ref())
        .flag("next_page", !request.page_token.is_empty());
    let reason = request.reason.clone();
    let act = search(Arc::clone(backend), caller.clone(), request);
    backend
        .audited(caller, "PlateTrajectory", &reason, &query, act)
        .await
}

/// One page of a plate's sightings (the audited act of PlateTrajectory).
async fn search(
    backend: Arc<Backend>,
    caller: Caller,
    request: PlateTrajectoryRequest,
) -> ApiResult<(PlateTrajectoryResponse, usize)> {
    let caller = &caller;
    caller.require(Action::SearchPlates)?;
    required_text(&request.reason, "reason", "plate searches need a reason")?;
    let want = backend.limits.page_size(request.page_size)?;
    let search = backend.plate_search(&request.plate, request.window.as_ref(), request.fuzzy)?;
    let key = query_key(
        "PlateTrajectory",
        caller,
        &[&search.plate, &search.window, &search.fuzzy],
    );
    let after = backend.page_tokens.resume(&key, &request.page_token)?;
    let page = backend.sightings_page(caller, &search, after, want).await?;
    let count = page.items.len();
    Ok((
        PlateTrajectoryResponse {
            plate_normalized: search.plate,
            sightings: page.items,
            next_page_token: page
                .next
                .map(|cursor| backend.page_tokens.issue(&key, cursor))
                .unwrap_or_default(),
        },
        count,
    ))
}

impl Backend {
    /// Checks a plate search: the plate normalizes, the window is sane.
    pub(crate) fn plate_search(
        &self,
        plate: &str,
        window: Option<&vigil_proto::v1::TimeWindow>,
        fuzzy: bool,
    ) -> ApiResult<PlateSearch> {
        let plate = normalize_plate(plate)
            .map_err(|error| ApiError::invalid("plate", error.to_string()))?;
        Ok(PlateSearch {
            plate: plate.as_str().to_owned(),
            window: Window::parse(window, "window", MAX_LIST_DAYS)?,
            fuzzy,
        })
    }

    /// One page of sightings of `search`, oldest first, within the caller's
    /// scope.
    pub(crate) async fn sightings_page(
        &self,
        caller: &Caller,
        search: &PlateSearch,
        after: Option<Cursor>,
        want: usize,
    ) -> ApiResult<Page<Sighting>> {
        let registry = Arc::clone(&self.registry);
        let scope = caller.clone();
        let keep: RowFilter = Arc::new(move |row: &EventRow| {
            let registry = registry
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            scope.covers(&registry, &row.commune_id)
                || (!row.village_id.is_empty() && scope.covers(&registry, &row.village_id))
        });
        let page = plan(search)
            .page(&self.stores.reader, after, want, self.limits.fanout, keep)
            .await?;
        let next = page.more.then(|| page.rows.last().map(cursor_of)).flatten();
        let items = page
            .rows
            .iter()
            .map(|row| Ok(sighting(self.decode(caller, row)?, &search.plate)))
            .collect::<ApiResult<_>>()?;
        Ok(Page { items, next })
    }
}

/// The partitions a plate search reads: one month of the plate (or of its
/// OCR key) at a time, oldest first.
fn plan(search: &PlateSearch) -> Plan {
    let direction = Direction::OldestFirst;
    let key = ocr_key(&search.plate);
    let groups = buckets(search.window, direction, month_bucket, next_month)
        .into_iter()
        .map(|month| {
            vec![if search.fuzzy {
                Partition::PlateKeyMonth {
                    key: key.clone(),
                    month,
                }
            } else {
                Partition::PlateMonth {
                    plate: search.plate.clone(),
                    month,
                }
            }]
        })
        .collect();
    Plan {
        groups,
        window: search.window,
        direction,
    }
}

/// A sighting of `searched` (normalized) from the event that saw it.
fn sighting(event: EnrichedDetection, searched: &str) -> Sighting {
    let detection = event.detection.unwrap_or_default();
    let plate = detection.plate.unwrap_or_default();
    Sighting {
        event_id: detection.event_id,
        captured_at: detection.captured_at,
        camera_id: detection.camera_id,
        commune_id: event.commune_id,
        village_id: event.village_id,
        zone_path: event.zone_path,
        latitude: event.latitude,
        longitude: event.longitude,
        fuzzy: plate.normalized != searched,
        plate_text: plate.text,
        plate_normalized: plate.normalized,
        kind: detection.kind,
        snapshot: detection.snapshot,
    }
}

#[cfg(test)]
mod tests {
    use vigil_proto::v1::{Detection, Plate};

    use super::*;

    /// 2026-01-20 to 2026-03-05: three calendar months.
    const WINDOW: Window = Window {
        start_ms: 1_768_867_200_000,
        end_ms: 1_772_668_800_000,
    };

    fn search(fuzzy: bool) -> PlateSearch {
        PlateSearch {
            plate: "36A12345".into(),
            window: WINDOW,
            fuzzy,
        }
    }

    #[test]
    fn an_exact_search_reads_the_plate_month_by_month_oldest_first() {
        let plan = plan(&search(false));
        assert_eq!(plan.direction, Direction::OldestFirst);
        let months: Vec<i64> = plan
            .groups
            .iter()
            .map(|group| match group.as_slice() {
                [Partition::PlateMonth { plate, month }] if plate == "36A12345" => *month,
                other => panic!("unexpected group {other:?}"),
            })
            .collect();
        // January, February, March 2026.
        assert_eq!(
            months,
            vec![1_767_225_600_000, 1_769_904_000_000, 1_772_323_200_000]
        );
    }

    #[test]
    fn a_fuzzy_search_reads_the_ocr_key() {
        let plan = plan(&search(true));
        assert_eq!(plan.groups.len(), 3);
        for group in &plan.groups {
            assert!(
                matches!(group.as_slice(), [Partition::PlateKeyMonth { key, .. }] if *key == ocr_key("36A12345")),
                "{group:?}"
            );
        }
    }

    #[test]
    fn a_sighting_says_whether_it_was_a_confused_read() {
        let event = |normalized: &str| EnrichedDetection {
            detection: Some(Detection {
                event_id: "e1".into(),
                camera_id: "cam-1".into(),
                plate: Some(Plate {
                    text: "36A-123.45".into(),
                    normalized: normalized.into(),
                    ..Plate::default()
                }),
                ..Detection::default()
            }),
            commune_id: "th.a".into(),
            ..EnrichedDetection::default()
        };
        let exact = sighting(event("36A12345"), "36A12345");
        assert!(!exact.fuzzy);
        assert_eq!(
            (
                exact.event_id.as_str(),
                exact.camera_id.as_str(),
                exact.commune_id.as_str()
            ),
            ("e1", "cam-1", "th.a")
        );
        assert!(sighting(event("36A12845"), "36A12345").fuzzy);
    }
}
