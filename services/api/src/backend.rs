//! What every gRPC service of the API shares: the stores, the live registry,
//! the authenticator, page tokens, limits, and the audit trail.

use std::future::Future;
use std::sync::{Arc, RwLockReadGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use prost::Message;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;
use uuid::Uuid;
use vigil_bus::changes::AlertAnnouncer;
use vigil_bus::registry::{RegistryPublisher, SharedRegistry};
use vigil_domain::{Registry, ZoneLevel};
use vigil_notify::escalation::Targets;
use vigil_proto::v1::{AuditEntry, EnrichedDetection};
use vigil_store::{
    AlertStore, AuditStore, CountStore, EventReader, EventRow, EventStore, ExtractionStore,
    NotificationStore, RegistryStore, StatusStore, StoreError,
};

use crate::alerts::{LiveAlerts, StreamSlots};
use crate::auth::{Authenticator, Caller};
use crate::error::{ApiError, ApiResult};
use crate::metrics;
use vigil_request::MAX_TEXT_CHARS;
use vigil_request::PageTokens;
use vigil_request::audit::{AuditQuery, one_line};

/// Bounds on what one request may ask for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) default_page_size: usize,
    pub(crate) max_page_size: usize,
    /// Partitions queried at once by one request.
    pub(crate) fanout: usize,
    /// Events one extraction may hold.
    pub(crate) max_extraction: usize,
}

impl Limits {
    /// The page size a request asks for (0: the default), checked.
    pub(crate) fn page_size(&self, requested: u32) -> ApiResult<usize> {
        Ok(vigil_request::page_size(
            requested,
            self.default_page_size,
            self.max_page_size,
        )?)
    }
}

/// The stores the API reads and writes.
#[derive(Debug, Clone)]
pub(crate) struct Stores {
    pub(crate) reader: EventReader,
    pub(crate) events: EventStore,
    pub(crate) counts: CountStore,
    pub(crate) statuses: StatusStore,
    pub(crate) registry: RegistryStore,
    pub(crate) extractions: ExtractionStore,
    pub(crate) audit: AuditStore,
    pub(crate) alerts: AlertStore,
    pub(crate) notifications: NotificationStore,
}

/// Shared state of the API's services.
#[derive(Debug)]
pub(crate) struct Backend {
    pub(crate) stores: Stores,
    pub(crate) registry: SharedRegistry,
    pub(crate) publisher: RegistryPublisher,
    pub(crate) auth: Authenticator,
    pub(crate) page_tokens: PageTokens,
    pub(crate) limits: Limits,
    /// The one reader of live alerts every stream shares.
    pub(crate) alerts: Arc<LiveAlerts>,
    /// Caps on open live alert streams.
    pub(crate) stream_slots: Arc<StreamSlots>,
    /// How often an open stream's token is checked again.
    pub(crate) token_recheck: Duration,
    /// Acknowledgement targets, for AlertStats.
    pub(crate) targets: Targets,
    /// Announces moves on alerts to every process's live streams.
    pub(crate) announcer: AlertAnnouncer,
    pub(crate) shutdown: CancellationToken,
}

/// Where a zone sits, as the event tables are partitioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Province(String),
    Commune(String),
    Village { commune: String, village: String },
}

impl Target {
    /// The communes whose partitions hold the zone's events.
    pub(crate) fn communes(&self, registry: &Registry) -> Vec<String> {
        match self {
            Self::Province(_) => registry.communes().map(|zone| zone.id.clone()).collect(),
            Self::Commune(id) | Self::Village { commune: id, .. } => vec![id.clone()],
        }
    }

    pub(crate) fn zone_id(&self) -> &str {
        match self {
            Self::Province(id) | Self::Commune(id) | Self::Village { village: id, .. } => id,
        }
    }
}

impl Backend {
    /// The registry as it is now. Never hold it across an await.
    pub(crate) fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Authenticates `request`'s caller, runs `call`, and records the
    /// outcome in the request metrics, all in the call's trace span (with
    /// the query's shape; see [`metrics::call_span`]).
    pub(crate) async fn serve<Req, Resp, F, Fut>(
        self: &Arc<Self>,
        method: &'static str,
        request: Request<Req>,
        call: F,
    ) -> Result<Response<Resp>, Status>
    where
        Req: metrics::Shaped,
        F: FnOnce(Arc<Self>, Caller, Req) -> Fut,
        Fut: Future<Output = ApiResult<Resp>>,
    {
        let started = Instant::now();
        let span = metrics::call_span(method, &request, |zone| {
            self.registry().zone(zone).map(|zone| zone.level())
        });
        let serving = async {
            let result = match self.auth.caller(request.metadata()).await {
                Ok(caller) => {
                    metrics::caller(&span, caller.role);
                    call(Arc::clone(self), caller, request.into_inner()).await
                }
                Err(error) => Err(error),
            };
            let code = result
                .as_ref()
                .map_or_else(ApiError::code, |_| tonic::Code::Ok);
            metrics::request(method, code, started.elapsed());
            metrics::outcome(&span, code);
            result.map(Response::new).map_err(Status::from)
        };
        serving.instrument(span.clone()).await
    }

    /// The level of an already scope-checked zone.
    pub(crate) fn target(&self, registry: &Registry, zone_id: &str) -> Target {
        let Some(zone) = registry.zone(zone_id) else {
            return Target::Province(zone_id.to_owned());
        };
        match zone.level() {
            ZoneLevel::Province => Target::Province(zone.id.clone()),
            ZoneLevel::Commune => Target::Commune(zone.id.clone()),
            ZoneLevel::Village => Target::Village {
                commune: zone.parent_id.clone().unwrap_or_default(),
                village: zone.id.clone(),
            },
        }
    }

    /// Decodes a stored event for `caller`: phone numbers removed for roles
    /// that do not dispatch teams.
    pub(crate) fn decode(&self, caller: &Caller, row: &EventRow) -> ApiResult<EnrichedDetection> {
        let mut event = EnrichedDetection::decode(row.payload.as_slice()).map_err(|source| {
            StoreError::Decode {
                event_id: row.event_id,
                source,
            }
        })?;
        redact(caller, &mut event);
        Ok(event)
    }

    /// Runs a sensitive call so that no cancellation can skip its audit.
    /// A detached task appends the attempt, acts only once the attempt is
    /// stored, then appends the outcome (pointing at the attempt); the
    /// call's own future only waits for that task, so a client that
    /// cancels or sends a tiny `grpc-timeout` stops nothing half-way: every
    /// change has its attempt and outcome rows, and an attempt that was
    /// never acted on still leaves its attempt row. If the attempt cannot
    /// be stored nothing is done; if the outcome cannot, the call fails.
    pub(crate) async fn audited<T, Act>(
        self: &Arc<Self>,
        caller: &Caller,
        action: &str,
        reason: &str,
        query: &AuditQuery,
        act: Act,
    ) -> ApiResult<T>
    where
        T: Send + 'static,
        Act: Future<Output = ApiResult<(T, usize)>> + Send + 'static,
    {
        let attempt = audit_entry(caller, action, reason, query);
        let backend = Arc::clone(self);
        let task = tokio::spawn(
            async move {
                backend.stores.audit.append(&attempt).await?;
                let result = act.await;
                let (outcome, count) = match &result {
                    Ok((_, count)) => ("OK".to_owned(), *count),
                    Err(error) => (format!("{:?}", error.code()), 0),
                };
                let closing = AuditEntry {
                    audit_id: Uuid::now_v7().to_string(),
                    at: Some(timestamp(Utc::now().timestamp_millis())),
                    attempt_id: attempt.audit_id.clone(),
                    result_count: count as u64,
                    outcome,
                    ..attempt
                };
                backend.stores.audit.append(&closing).await?;
                result.map(|(value, _)| value)
            }
            .in_current_span(),
        );
        task.await.unwrap_or_else(|failed| {
            Err(ApiError::Internal(format!(
                "the audited {action} call failed: {failed}"
            )))
        })
    }
}

/// The attempt entry of a sensitive call, before it acts.
fn audit_entry(caller: &Caller, action: &str, reason: &str, query: &AuditQuery) -> AuditEntry {
    AuditEntry {
        audit_id: Uuid::now_v7().to_string(),
        at: Some(timestamp(Utc::now().timestamp_millis())),
        token_id: caller.token_id.clone(),
        actor_name: caller.name.clone(),
        role: caller.role.into(),
        action: action.to_owned(),
        // Recorded before the call checks it: bounded here.
        reason: one_line(reason, MAX_TEXT_CHARS),
        query: query.line(),
        query_fields: query.fields().to_vec(),
        result_count: 0,
        outcome: AUDIT_STARTED.to_owned(),
        attempt_id: String::new(),
    }
}

/// The outcome of an audit entry that records an attempt.
pub(crate) const AUDIT_STARTED: &str = "STARTED";

/// Removes what `caller` may not see from an event: phone numbers for
/// roles that do not dispatch teams; plate text, and why a plate is
/// watched, for roles that may not search plates (a listing must not be a
/// plate search by other means).
pub(crate) fn redact(caller: &Caller, event: &mut EnrichedDetection) {
    if !caller.sees_phones()
        && let Some(team) = event.team.as_mut()
    {
        team.on_duty_phone.clear();
    }
    if !caller.sees_plates() {
        if let Some(plate) = event.detection.as_mut().and_then(|d| d.plate.as_mut()) {
            plate.text.clear();
            plate.normalized.clear();
        }
        for hit in &mut event.watchlist_hits {
            hit.plate_normalized.clear();
            hit.reason.clear();
        }
    }
}

/// Removes from an alert what `caller` may not see: the on-duty phone
/// number, for roles that do not dispatch teams.
pub(crate) fn redact_alert(caller: &Caller, alert: &mut vigil_proto::v1::Alert) {
    if !caller.sees_phones()
        && let Some(team) = alert.team.as_mut()
    {
        team.on_duty_phone.clear();
    }
}

/// A timestamp from epoch milliseconds.
pub(crate) fn timestamp(at_ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at_ms.div_euclid(1000),
        nanos: i32::try_from(at_ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}
