//! `vigil.v1.QueryService`: events, plate trajectories, coverage, counts,
//! fleet status and live alerts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt, TryStreamExt};
use tonic::{Request, Response, Status};
use uuid::Uuid;
use vigil_domain::plate::{normalize_plate, ocr_key};
use vigil_proto::v1::query_service_server::QueryService;
use vigil_proto::v1::{
    Alert, CameraCoverage, CameraState, CommuneFleet, CountEventsRequest, CountEventsResponse,
    CoverageRequest, CoverageResponse, CoverageState, FleetStatusRequest, FleetStatusResponse,
    GetEventRequest, GetEventResponse, HourCount, ListEventsRequest, ListEventsResponse,
    PlateTrajectoryRequest, PlateTrajectoryResponse, Sighting, StreamAlertsRequest,
};
use vigil_store::{
    CameraStatus, Direction, EventRow, Partition, day_bucket, hour_bucket, month_bucket,
};

use crate::auth::{Action, Caller};
use crate::backend::{Backend, Target, timestamp};
use crate::coverage;
use crate::error::{ApiError, ApiResult};
use crate::fanout::{Plan, RowFilter, buckets, next_month};
use vigil_request::{Cursor, Window, checked_kinds, page_size};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Longest window of an event listing or trajectory: the default retention.
const MAX_LIST_DAYS: i64 = 93;
/// Longest window of counts, coverage and the audit log.
pub(crate) const MAX_REPORT_DAYS: i64 = 31;

/// The query service over the shared backend.
#[derive(Debug, Clone)]
pub struct Queries {
    pub(crate) backend: Arc<Backend>,
}

/// What ListEvents and extractions filter on, checked.
#[derive(Debug, Clone)]
pub(crate) struct EventFilter {
    pub(crate) zone_id: String,
    pub(crate) window: Window,
    pub(crate) kinds: Vec<i32>,
    pub(crate) camera_ids: Vec<String>,
}

/// A checked plate search.
#[derive(Debug, Clone)]
pub(crate) struct PlateSearch {
    pub(crate) plate: String,
    pub(crate) window: Window,
    pub(crate) fuzzy: bool,
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
        let zone_id = caller.scoped_zone(&self.registry(), zone_id)?;
        Ok(EventFilter {
            zone_id,
            window,
            kinds,
            camera_ids: camera_ids.to_vec(),
        })
    }

    /// The partitions and row filter of an event listing.
    fn events_plan(&self, filter: &EventFilter) -> ApiResult<(Plan, RowFilter)> {
        let registry = self.registry();
        let target = self.target(&registry, &filter.zone_id);
        let direction = Direction::NewestFirst;
        let kinds: HashSet<i32> = filter.kinds.iter().copied().collect();
        let groups = if filter.camera_ids.is_empty() {
            let communes = target.communes(&registry);
            buckets(filter.window, direction, hour_bucket, |h| h + HOUR_MS)
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
        } else {
            for camera_id in &filter.camera_ids {
                let camera = registry.camera(camera_id).ok_or_else(|| {
                    ApiError::invalid("camera_ids", format!("no camera {camera_id:?}"))
                })?;
                if !crate::auth::within(&registry, &camera.zone_id, target.zone_id()) {
                    return Err(ApiError::invalid(
                        "camera_ids",
                        format!("camera {camera_id} is not in zone {}", target.zone_id()),
                    ));
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
        let village = match (&target, filter.camera_ids.is_empty()) {
            (Target::Village { village, .. }, true) => Some(village.clone()),
            _ => None,
        };
        let keep: RowFilter = Arc::new(move |row: &EventRow| {
            (kinds.is_empty() || kinds.contains(&row.kind))
                && village.as_ref().is_none_or(|v| *v == row.village_id)
        });
        Ok((
            Plan {
                groups,
                window: filter.window,
                direction,
            },
            keep,
        ))
    }

    /// One page of events matching `filter`, newest first.
    pub(crate) async fn events_page(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        after: Option<Cursor>,
        want: usize,
    ) -> ApiResult<(Vec<vigil_proto::v1::EnrichedDetection>, Option<Cursor>)> {
        let (plan, keep) = self.events_plan(filter)?;
        let page = plan
            .page(&self.stores.reader, after, want, self.limits.fanout, keep)
            .await?;
        let next = page.more.then(|| page.rows.last().map(cursor_of)).flatten();
        let events = page
            .rows
            .iter()
            .map(|row| self.decode(caller, row))
            .collect::<ApiResult<_>>()?;
        Ok((events, next))
    }

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
    ) -> ApiResult<(Vec<Sighting>, Option<Cursor>)> {
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
        let plan = Plan {
            groups,
            window: search.window,
            direction,
        };
        let registry = Arc::clone(&self.registry);
        let scope = caller.clone();
        let keep: RowFilter = Arc::new(move |row: &EventRow| {
            let registry = registry
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            scope.covers(&registry, &row.commune_id)
                || (!row.village_id.is_empty() && scope.covers(&registry, &row.village_id))
        });
        let page = plan
            .page(&self.stores.reader, after, want, self.limits.fanout, keep)
            .await?;
        let next = page.more.then(|| page.rows.last().map(cursor_of)).flatten();
        let sightings = page
            .rows
            .iter()
            .map(|row| {
                let event = self.decode(caller, row)?;
                Ok(sighting(event, &search.plate))
            })
            .collect::<ApiResult<_>>()?;
        Ok((sightings, next))
    }

    async fn coverage(
        &self,
        caller: &Caller,
        request: CoverageRequest,
    ) -> ApiResult<CoverageResponse> {
        caller.require(Action::ReadEvents)?;
        let window = Window::parse(request.window.as_ref(), "window", MAX_REPORT_DAYS)?;
        let cameras: Vec<(String, String)> = {
            let registry = self.registry();
            let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
            registry
                .cameras()
                .filter(|camera| crate::auth::within(&registry, &camera.zone_id, &zone_id))
                .map(|camera| (camera.id.clone(), camera.zone_id.clone()))
                .collect()
        };
        let days = buckets(window, Direction::OldestFirst, day_bucket, |d| d + DAY_MS);
        let one = |(camera_id, village_id): (String, String)| {
            let days = &days;
            async move {
                let status = self.stores.statuses.get(&camera_id).await?;
                let changes = self
                    .stores
                    .statuses
                    .changes(&camera_id, window.start(), window.end())
                    .await?;
                let mut events = 0;
                for &day in days {
                    events += self
                        .stores
                        .reader
                        .count_camera_day(&camera_id, day, window.start_ms, window.end_ms)
                        .await?;
                }
                let offline = coverage::offline_periods(&changes, window);
                let state = coverage::state(status.is_some(), &offline, events);
                Ok::<_, ApiError>(CameraCoverage {
                    camera_id,
                    village_id,
                    state: state.into(),
                    events,
                    offline: offline
                        .iter()
                        .map(|period| vigil_proto::v1::TimeWindow {
                            start: Some(timestamp(period.start_ms)),
                            end: Some(timestamp(period.end_ms)),
                        })
                        .collect(),
                })
            }
        };
        let reads: Vec<_> = cameras.into_iter().map(one).collect();
        let mut cameras: Vec<CameraCoverage> = futures::stream::iter(reads)
            .buffer_unordered(self.limits.fanout)
            .try_collect()
            .await?;
        cameras.sort_by(|a, b| a.camera_id.cmp(&b.camera_id));
        let tally = |state: CoverageState| {
            u32::try_from(cameras.iter().filter(|c| c.state == state as i32).count())
                .unwrap_or(u32::MAX)
        };
        Ok(CoverageResponse {
            covered: tally(CoverageState::Covered),
            silent: tally(CoverageState::Silent),
            offline: tally(CoverageState::Offline),
            unknown: tally(CoverageState::Unknown),
            cameras,
        })
    }

    async fn count_events(
        &self,
        caller: &Caller,
        request: CountEventsRequest,
    ) -> ApiResult<CountEventsResponse> {
        caller.require(Action::ReadEvents)?;
        let mut window = Window::parse(request.window.as_ref(), "window", MAX_REPORT_DAYS)?;
        window.start_ms = hour_bucket(window.start_ms);
        window.end_ms = hour_bucket(window.end_ms - 1) + HOUR_MS;
        let kinds: HashSet<i32> = checked_kinds(&request.kinds)?.into_iter().collect();
        let (target, communes) = {
            let registry = self.registry();
            let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
            let target = self.target(&registry, &zone_id);
            let communes = target.communes(&registry);
            (target, communes)
        };
        let mut cells: BTreeMap<(String, i64, i32), u64> = BTreeMap::new();
        let wanted = |kind: i32| kinds.is_empty() || kinds.contains(&kind);
        if let Target::Village { commune, village } = &target {
            // event_counts is per commune; below that, count the rows.
            let hours = buckets(window, Direction::OldestFirst, hour_bucket, |h| h + HOUR_MS);
            let reads: Vec<_> = hours
                .into_iter()
                .map(|hour| async move {
                    let rows = self
                        .stores
                        .reader
                        .kinds_in_commune_hour(commune, hour, window.start_ms, window.end_ms)
                        .await?;
                    Ok::<_, ApiError>((hour, rows))
                })
                .collect();
            let per_hour: Vec<_> = futures::stream::iter(reads)
                .buffer_unordered(self.limits.fanout)
                .try_collect()
                .await?;
            for (hour, rows) in per_hour {
                for (kind, _) in rows
                    .iter()
                    .filter(|(kind, v)| v == village && wanted(*kind))
                {
                    *cells.entry((village.clone(), hour, *kind)).or_default() += 1;
                }
            }
        } else {
            let days = buckets(window, Direction::OldestFirst, day_bucket, |d| d + DAY_MS);
            let split = matches!(target, Target::Commune(_)) || request.per_commune;
            let reads: Vec<_> = communes
                .iter()
                .flat_map(|commune| {
                    days.iter().map(move |&day| async move {
                        let counts = self.stores.counts.counts(commune, day).await?;
                        Ok::<_, ApiError>((commune, counts))
                    })
                })
                .collect();
            let per_day: Vec<_> = futures::stream::iter(reads)
                .buffer_unordered(self.limits.fanout)
                .try_collect()
                .await?;
            for (commune, counts) in per_day {
                let zone = if split {
                    commune.as_str()
                } else {
                    target.zone_id()
                };
                for count in counts.iter().filter(|c| {
                    c.hour >= window.start_ms && c.hour < window.end_ms && wanted(c.kind)
                }) {
                    *cells
                        .entry((zone.to_owned(), count.hour, count.kind))
                        .or_default() += u64::try_from(count.count).unwrap_or(0);
                }
            }
        }
        let total = cells.values().sum();
        Ok(CountEventsResponse {
            counts: cells
                .into_iter()
                .map(|((zone_id, hour, kind), count)| HourCount {
                    zone_id,
                    hour: Some(timestamp(hour)),
                    kind,
                    count,
                })
                .collect(),
            total,
        })
    }

    async fn fleet_status(
        &self,
        caller: &Caller,
        request: FleetStatusRequest,
    ) -> ApiResult<FleetStatusResponse> {
        caller.require(Action::ReadEvents)?;
        // (camera, village, commune id, commune name)
        let (province_wide, cameras) = {
            let registry = self.registry();
            let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
            let province_wide = matches!(self.target(&registry, &zone_id), Target::Province(_));
            let cameras: Vec<(String, String, String, String)> = registry
                .cameras()
                .filter(|camera| crate::auth::within(&registry, &camera.zone_id, &zone_id))
                .map(|camera| {
                    let commune = registry.commune_of(&camera.zone_id);
                    (
                        camera.id.clone(),
                        camera.zone_id.clone(),
                        commune.map(|c| c.id.clone()).unwrap_or_default(),
                        commune.map(|c| c.name.clone()).unwrap_or_default(),
                    )
                })
                .collect();
            (province_wide, cameras)
        };
        let statuses: HashMap<String, CameraStatus> = if province_wide {
            self.stores
                .statuses
                .all()
                .await?
                .into_iter()
                .map(|status| (status.camera_id.clone(), status))
                .collect()
        } else {
            let reads: Vec<_> = cameras
                .iter()
                .map(|(camera_id, ..)| self.stores.statuses.get(camera_id))
                .collect();
            futures::stream::iter(reads)
                .buffer_unordered(self.limits.fanout)
                .try_filter_map(|status| std::future::ready(Ok(status)))
                .map_ok(|status| (status.camera_id.clone(), status))
                .try_collect()
                .await?
        };
        let mut communes: BTreeMap<String, CommuneFleet> = BTreeMap::new();
        let mut states = Vec::new();
        for (camera_id, village_id, commune_id, commune_name) in cameras {
            let fleet = communes
                .entry(commune_id.clone())
                .or_insert_with(|| CommuneFleet {
                    commune_id,
                    name: commune_name,
                    ..CommuneFleet::default()
                });
            fleet.cameras += 1;
            let status = statuses.get(&camera_id);
            let state = match status {
                None => {
                    fleet.unknown += 1;
                    CoverageState::Unknown
                }
                Some(status) if status.online => {
                    fleet.online += 1;
                    fleet.buffered += status.buffer_depth;
                    CoverageState::Covered
                }
                Some(_) => {
                    fleet.offline += 1;
                    CoverageState::Offline
                }
            };
            let heartbeat = status.and_then(|s| s.last_heartbeat);
            if let Some(at) = heartbeat {
                let at = timestamp(at.timestamp_millis());
                if fleet
                    .oldest_heartbeat
                    .as_ref()
                    .is_none_or(|old| at.seconds < old.seconds)
                {
                    fleet.oldest_heartbeat = Some(at);
                }
            }
            if request.include_cameras {
                states.push(CameraState {
                    camera_id,
                    village_id,
                    site_id: status.map(|s| s.site_id.clone()).unwrap_or_default(),
                    state: state.into(),
                    last_heartbeat: heartbeat.map(|at| timestamp(at.timestamp_millis())),
                    buffer_depth: status.map_or(0, |s| s.buffer_depth),
                    link_state: status.map_or(0, |s| s.link_state.into()),
                    changed_at: status
                        .and_then(|s| s.changed_at)
                        .map(|at| timestamp(at.timestamp_millis())),
                });
            }
        }
        states.sort_by(|a, b| a.camera_id.cmp(&b.camera_id));
        Ok(FleetStatusResponse {
            communes: communes.into_values().collect(),
            cameras: states,
        })
    }
}

fn cursor_of(row: &EventRow) -> Cursor {
    Cursor {
        at_ms: row.captured_at_ms,
        event_id: row.event_id,
    }
}

/// A sighting of `searched` (normalized) from the event that saw it.
fn sighting(event: vigil_proto::v1::EnrichedDetection, searched: &str) -> Sighting {
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

/// The text a page token is bound to: the method, the caller and every
/// filter.
pub(crate) fn query_key(method: &str, caller: &Caller, parts: &[&dyn std::fmt::Debug]) -> String {
    format!("{method}|{}|{parts:?}", caller.token_id)
}

type AlertStream = Pin<Box<dyn Stream<Item = Result<Alert, Status>> + Send>>;

#[tonic::async_trait]
impl QueryService for Queries {
    async fn list_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsResponse>, Status> {
        self.backend
            .serve(
                "ListEvents",
                request,
                |backend, caller, request| async move {
                    caller.require(Action::ReadEvents)?;
                    let limits = backend.limits;
                    let want = page_size(
                        request.page_size,
                        limits.default_page_size,
                        limits.max_page_size,
                    )?;
                    let filter = backend.event_filter(
                        &caller,
                        &request.zone_id,
                        request.window.as_ref(),
                        &request.kinds,
                        &request.camera_ids,
                    )?;
                    let key = query_key(
                        "ListEvents",
                        &caller,
                        &[
                            &filter.zone_id,
                            &filter.window,
                            &filter.kinds,
                            &filter.camera_ids,
                        ],
                    );
                    let after = backend.page_tokens.resume(&key, &request.page_token)?;
                    let (events, next) = backend.events_page(&caller, &filter, after, want).await?;
                    Ok(ListEventsResponse {
                        events,
                        next_page_token: next
                            .map(|cursor| backend.page_tokens.issue(&key, cursor))
                            .unwrap_or_default(),
                    })
                },
            )
            .await
    }

    async fn get_event(
        &self,
        request: Request<GetEventRequest>,
    ) -> Result<Response<GetEventResponse>, Status> {
        self.backend
            .serve("GetEvent", request, |backend, caller, request| async move {
                caller.require(Action::ReadEvents)?;
                let event_id = Uuid::parse_str(&request.event_id)
                    .map_err(|e| ApiError::invalid("event_id", format!("not a UUID: {e}")))?;
                let not_found = || ApiError::NotFound(format!("no event {event_id}"));
                let mut event = backend
                    .stores
                    .events
                    .get(event_id)
                    .await?
                    .ok_or_else(not_found)?;
                let visible = {
                    let registry = backend.registry();
                    caller.covers(&registry, &event.village_id)
                        || caller.covers(&registry, &event.commune_id)
                };
                if !visible {
                    return Err(ApiError::PermissionDenied(format!(
                        "event {event_id} is outside this token's scope ({})",
                        caller.zone_id
                    )));
                }
                crate::backend::redact(&caller, &mut event);
                Ok(GetEventResponse { event: Some(event) })
            })
            .await
    }

    async fn plate_trajectory(
        &self,
        request: Request<PlateTrajectoryRequest>,
    ) -> Result<Response<PlateTrajectoryResponse>, Status> {
        self.backend
            .serve(
                "PlateTrajectory",
                request,
                |backend, caller, request| async move {
                    let query = format!(
                        "plate={:?} fuzzy={} window={:?} page_token={}",
                        request.plate,
                        request.fuzzy,
                        request.window,
                        !request.page_token.is_empty()
                    );
                    let result = async {
                        caller.require(Action::SearchPlates)?;
                        if request.reason.trim().is_empty() {
                            return Err(ApiError::invalid(
                                "reason",
                                "plate searches need a reason",
                            ));
                        }
                        let limits = backend.limits;
                        let want = page_size(
                            request.page_size,
                            limits.default_page_size,
                            limits.max_page_size,
                        )?;
                        let search = backend.plate_search(
                            &request.plate,
                            request.window.as_ref(),
                            request.fuzzy,
                        )?;
                        let key = query_key(
                            "PlateTrajectory",
                            &caller,
                            &[&search.plate, &search.window, &search.fuzzy],
                        );
                        let after = backend.page_tokens.resume(&key, &request.page_token)?;
                        let (sightings, next) = backend
                            .sightings_page(&caller, &search, after, want)
                            .await?;
                        let count = sightings.len();
                        Ok((
                            PlateTrajectoryResponse {
                                plate_normalized: search.plate,
                                sightings,
                                next_page_token: next
                                    .map(|cursor| backend.page_tokens.issue(&key, cursor))
                                    .unwrap_or_default(),
                            },
                            count,
                        ))
                    }
                    .await;
                    backend
                        .audited(&caller, "PlateTrajectory", &request.reason, query, result)
                        .await
                },
            )
            .await
    }

    async fn coverage(
        &self,
        request: Request<CoverageRequest>,
    ) -> Result<Response<CoverageResponse>, Status> {
        self.backend
            .serve("Coverage", request, |backend, caller, request| async move {
                backend.coverage(&caller, request).await
            })
            .await
    }

    async fn count_events(
        &self,
        request: Request<CountEventsRequest>,
    ) -> Result<Response<CountEventsResponse>, Status> {
        self.backend
            .serve("CountEvents", request, |backend, caller, request| async move {
                backend.count_events(&caller, request).await
            })
            .await
    }

    async fn fleet_status(
        &self,
        request: Request<FleetStatusRequest>,
    ) -> Result<Response<FleetStatusResponse>, Status> {
        self.backend
            .serve("FleetStatus", request, |backend, caller, request| async move {
                backend.fleet_status(&caller, request).await
            })
            .await
    }

    type StreamAlertsStream = AlertStream;

    async fn stream_alerts(
        &self,
        request: Request<StreamAlertsRequest>,
    ) -> Result<Response<Self::StreamAlertsStream>, Status> {
        self.backend
            .serve(
                "StreamAlerts",
                request,
                |backend, caller, request| async move {
                    crate::alerts::stream(backend, caller, request).await
                },
            )
            .await
    }
}
