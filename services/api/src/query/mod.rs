//! `vigil.v1.QueryService`: events, plate trajectories, coverage, counts,
//! fleet status and live alerts.
//!
//! One module per call (as mini-redis's `cmd/`): each checks its request,
//! fetches what it needs, and hands the rows to a pure function that shapes
//! the answer; those functions are unit-tested here without a database.
//! Live alerts come from the one shared reader in [`crate::alerts`].

mod count_events;
mod coverage;
mod fleet_status;
mod get_event;
mod list_events;
mod plate_trajectory;
mod stream_alerts;

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tonic::{Request, Response, Status};
use vigil_proto::v1::query_service_server::QueryService;
use vigil_proto::v1::{
    Alert, CountEventsRequest, CountEventsResponse, CoverageRequest, CoverageResponse,
    FleetStatusRequest, FleetStatusResponse, GetEventRequest, GetEventResponse, ListEventsRequest,
    ListEventsResponse, PlateTrajectoryRequest, PlateTrajectoryResponse, StreamAlertsRequest,
};
use vigil_store::EventRow;

use crate::auth::Caller;
use crate::backend::Backend;
use vigil_request::Cursor;

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

/// One page of a listing, and where the next one starts (if any follows).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next: Option<Cursor>,
}

/// Where a listing resumes after `row`.
fn cursor_of(row: &EventRow) -> Cursor {
    Cursor {
        at_ms: row.captured_at_ms,
        event_id: row.event_id,
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
                    list_events::serve(&backend, &caller, request).await
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
                get_event::serve(&backend, &caller, request).await
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
                    plate_trajectory::serve(&backend, &caller, request).await
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
                coverage::serve(&backend, &caller, request).await
            })
            .await
    }

    async fn count_events(
        &self,
        request: Request<CountEventsRequest>,
    ) -> Result<Response<CountEventsResponse>, Status> {
        self.backend
            .serve(
                "CountEvents",
                request,
                |backend, caller, request| async move {
                    count_events::serve(&backend, &caller, request).await
                },
            )
            .await
    }

    async fn fleet_status(
        &self,
        request: Request<FleetStatusRequest>,
    ) -> Result<Response<FleetStatusResponse>, Status> {
        self.backend
            .serve(
                "FleetStatus",
                request,
                |backend, caller, request| async move {
                    fleet_status::serve(&backend, &caller, request).await
                },
            )
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
                    stream_alerts::serve(backend, caller, request).await
                },
            )
            .await
    }
}

/// Registries and callers for the modules' unit tests.
#[cfg(test)]
mod fixtures {
    use vigil_domain::{Registry, ZoneLevel};
    use vigil_proto::v1::Role;
    use vigil_synth::{ProvinceSpec, province};

    use crate::auth::Caller;

    /// A small synthetic province (the full zone tree, 200 cameras).
    pub(super) fn registry() -> Registry {
        province(&ProvinceSpec {
            cameras: 200,
            seed: 36,
        })
    }

    /// A caller with `role` scoped to `zone_id`.
    pub(super) fn caller(role: Role, zone_id: &str) -> Caller {
        Caller {
            token_id: "tok".into(),
            name: "tester".into(),
            role,
            zone_id: zone_id.into(),
        }
    }

    /// Two different communes that have cameras, and a camera of each.
    pub(super) fn two_communes(registry: &Registry) -> [(String, String); 2] {
        let mut found: Vec<(String, String)> = Vec::new();
        for camera in registry.cameras() {
            let commune = registry.commune_of(&camera.zone_id).unwrap();
            assert_eq!(commune.level(), ZoneLevel::Commune);
            if found.iter().all(|(c, _)| *c != commune.id) {
                found.push((commune.id.clone(), camera.id.clone()));
            }
            if found.len() == 2 {
                break;
            }
        }
        [found[0].clone(), found[1].clone()]
    }
}
