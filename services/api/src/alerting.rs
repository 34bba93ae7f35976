//! `vigil.v1.AlertService`: stored alerts and the moves people make on them
//! (acknowledge, assign, note, close). The lifecycle rules live in
//! `vigil-alerting`; here every move is scope-checked, made by a
//! lightweight transaction conditional on the version read (a lost race is
//! read again and refused naming the winner), and audited.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use tonic::{Request, Response, Status};
use uuid::Uuid;
use vigil_alerting::{Action as Move, Actor, HistoryEntry, Lifecycle, Outcome, Refusal, State};
use vigil_domain::ZoneLevel;
use vigil_notify::message::raised_at;
use vigil_proto::v1::alert_service_server::AlertService;
use vigil_proto::v1::{
    AcknowledgeAlertRequest, AcknowledgeAlertResponse, AddAlertNoteRequest, AddAlertNoteResponse,
    AlertDelivery, AlertHistoryEntry, AlertKind, AlertOutcome, AlertState, AlertStatsRequest,
    AlertStatsResponse, AssignAlertRequest, AssignAlertResponse, CloseAlertRequest,
    CloseAlertResponse, GetAlertRequest, GetAlertResponse, ListAlertsRequest, ListAlertsResponse,
    StoredAlert,
};
use vigil_request::audit::AuditQuery;
use vigil_request::{Cursor, MAX_ID_BYTES, Window};
use vigil_store::{AlertRecord, AlertRow, DeliveryAttempt};

use crate::auth::{Action, Caller};
use crate::backend::{Backend, Target, redact_alert, timestamp};
use crate::error::{ApiError, ApiResult};
use crate::metrics;
use crate::query::{MAX_REPORT_DAYS, query_key};

/// Times a move is retried when others moved the alert in between.
const MOVE_ATTEMPTS: usize = 3;

/// The alert service over the shared backend.
#[derive(Debug, Clone)]
pub struct Alerts {
    pub(crate) backend: Arc<Backend>,
}

#[tonic::async_trait]
impl AlertService for Alerts {
    async fn list_alerts(
        &self,
        request: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        self.backend
            .serve(
                "ListAlerts",
                request,
                |backend, caller, request| async move {
                    caller.require(Action::ReadAlerts)?;
                    list(&backend, &caller, request).await
                },
            )
            .await
    }

    async fn get_alert(
        &self,
        request: Request<GetAlertRequest>,
    ) -> Result<Response<GetAlertResponse>, Status> {
        self.backend
            .serve("GetAlert", request, |backend, caller, request| async move {
                caller.require(Action::ReadAlerts)?;
                let record = backend.alert_in_scope(&caller, &request.alert_id).await?;
                let attempts = backend
                    .stores
                    .notifications
                    .attempts(&request.alert_id)
                    .await?;
                let mut alert = stored(&caller, &record, true);
                alert.deliveries = attempts.iter().map(delivery).collect();
                Ok(GetAlertResponse { alert: Some(alert) })
            })
            .await
    }

    async fn acknowledge_alert(
        &self,
        request: Request<AcknowledgeAlertRequest>,
    ) -> Result<Response<AcknowledgeAlertResponse>, Status> {
        self.backend
            .serve(
                "AcknowledgeAlert",
                request,
                |backend, caller, request| async move {
                    let alert = backend
                        .moved(
                            &caller,
                            "AcknowledgeAlert",
                            &request.alert_id,
                            Move::Acknowledge,
                            &request.note,
                        )
                        .await?;
                    Ok(AcknowledgeAlertResponse { alert: Some(alert) })
                },
            )
            .await
    }

    async fn assign_alert(
        &self,
        request: Request<AssignAlertRequest>,
    ) -> Result<Response<AssignAlertResponse>, Status> {
        self.backend
            .serve(
                "AssignAlert",
                request,
                |backend, caller, request| async move {
                    let member = request.member_id.clone();
                    let alert = backend
                        .moved(
                            &caller,
                            "AssignAlert",
                            &request.alert_id,
                            Move::Assign { member },
                            &request.note,
                        )
                        .await?;
                    Ok(AssignAlertResponse { alert: Some(alert) })
                },
            )
            .await
    }

    async fn add_alert_note(
        &self,
        request: Request<AddAlertNoteRequest>,
    ) -> Result<Response<AddAlertNoteResponse>, Status> {
        self.backend
            .serve(
                "AddAlertNote",
                request,
                |backend, caller, request| async move {
                    let alert = backend
                        .moved(
                            &caller,
                            "AddAlertNote",
                            &request.alert_id,
                            Move::Note,
                            &request.note,
                        )
                        .await?;
                    Ok(AddAlertNoteResponse { alert: Some(alert) })
                },
            )
            .await
    }

    async fn close_alert(
        &self,
        request: Request<CloseAlertRequest>,
    ) -> Result<Response<CloseAlertResponse>, Status> {
        self.backend
            .serve(
                "CloseAlert",
                request,
                |backend, caller, request| async move {
                    let outcome = outcome(request.outcome)?;
                    let alert = backend
                        .moved(
                            &caller,
                            "CloseAlert",
                            &request.alert_id,
                            Move::Close { outcome },
                            &request.note,
                        )
                        .await?;
                    Ok(CloseAlertResponse { alert: Some(alert) })
                },
            )
            .await
    }

    async fn alert_stats(
        &self,
        request: Request<AlertStatsRequest>,
    ) -> Result<Response<AlertStatsResponse>, Status> {
        self.backend
            .serve(
                "AlertStats",
                request,
                |backend, caller, request| async move {
                    caller.require(Action::ReadAlerts)?;
                    crate::alert_stats::stats(&backend, &caller, request).await
                },
            )
            .await
    }
}

/// Keeps `vigil_api_alerts_open` per commune: recounts every commune's
/// open-alert index every `every` until `shutdown`.
pub(crate) async fn count_open(
    backend: Arc<Backend>,
    every: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let communes: Vec<String> = backend
            .registry()
            .zones()
            .filter(|zone| zone.level() == ZoneLevel::Commune)
            .map(|zone| zone.id.clone())
            .collect();
        let counts = futures::stream::iter(communes.into_iter().map(|commune| {
            let backend = Arc::clone(&backend);
            async move {
                let open = backend.stores.alerts.open(&commune).await;
                (commune, open)
            }
        }))
        .buffer_unordered(backend.limits.fanout);
        tokio::pin!(counts);
        while let Some((commune, open)) = counts.next().await {
            // A failed read keeps the last count; the next pass retries.
            if let Ok(rows) = open {
                metrics::alerts_open(&commune, rows.len());
            }
        }
    }
}

impl Backend {
    /// The alert `alert_id`, if it exists within the caller's scope; one
    /// answer for unknown and out-of-scope ids.
    async fn alert_in_scope(&self, caller: &Caller, alert_id: &str) -> ApiResult<AlertRecord> {
        if alert_id.is_empty() || alert_id.len() > MAX_ID_BYTES {
            return Err(ApiError::invalid(
                "alert_id",
                format!("required, at most {MAX_ID_BYTES} bytes"),
            ));
        }
        let unknown = || ApiError::unknown("alert", format!("{alert_id:?}"));
        let record = self
            .stores
            .alerts
            .get(alert_id)
            .await?
            .ok_or_else(unknown)?;
        let alert = &record.alert;
        let zone = if alert.village_id.is_empty() {
            &alert.commune_id
        } else {
            &alert.village_id
        };
        if !caller.covers(&self.registry(), zone) {
            return Err(unknown());
        }
        Ok(record)
    }

    /// Makes `action` on the alert for `caller`, audited (attempt and
    /// outcome, in a task a cancelled call cannot stop).
    async fn moved(
        self: &Arc<Self>,
        caller: &Caller,
        method: &'static str,
        alert_id: &str,
        action: Move,
        note: &str,
    ) -> ApiResult<StoredAlert> {
        caller.require(Action::ActOnAlerts)?;
        let mut query = AuditQuery::new()
            .text("alert", alert_id)
            .text("action", action.name());
        if let Move::Close { outcome } = &action {
            query = query.text("outcome", outcome.as_str());
        }
        if let Move::Assign { member } = &action {
            query = query.text("member", member);
        }
        let act = {
            let backend = Arc::clone(self);
            let caller = caller.clone();
            let alert_id = alert_id.to_owned();
            let note = note.to_owned();
            async move {
                let record = backend
                    .make_move(&caller, &alert_id, &action, &note)
                    .await?;
                Ok((stored(&caller, &record, true), 1))
            }
        };
        self.audited(caller, method, note, &query, act).await
    }

    async fn make_move(
        &self,
        caller: &Caller,
        alert_id: &str,
        action: &Move,
        note: &str,
    ) -> ApiResult<AlertRecord> {
        let actor = Actor {
            name: caller.name.clone(),
            role: role_name(caller),
        };
        for _ in 0..MOVE_ATTEMPTS {
            let record = self.alert_in_scope(caller, alert_id).await?;
            if let Move::Assign { member } = action {
                self.check_member(&record, member)?;
            }
            let (next, entry) = record
                .lifecycle
                .apply(action, &actor, Utc::now(), note)
                .map_err(refused)?;
            if self.stores.alerts.advance(&record, &next, &entry).await? {
                self.announcer.announce(&record.alert, &entry);
                if *action == Move::Acknowledge
                    && let Some(raised) = raised_at(&record.alert)
                {
                    let kind = AlertKind::try_from(record.alert.kind)
                        .unwrap_or(AlertKind::Unspecified)
                        .short_name();
                    metrics::acknowledged(kind, (entry.at - raised).to_std().unwrap_or_default());
                }
                return Ok(moved(record, next, entry));
            }
        }
        Err(ApiError::Contended(format!(
            "alert {alert_id} kept changing while this {} was tried; try again",
            action.name()
        )))
    }

    /// Refuses an assignee who is not on the team responsible for the
    /// alert's village.
    fn check_member(&self, record: &AlertRecord, member: &str) -> ApiResult<()> {
        let registry = self.registry();
        let team = registry.team_for_zone(&record.alert.village_id);
        if team.is_some_and(|team| team.members.iter().any(|m| m.id == member)) {
            Ok(())
        } else {
            Err(ApiError::invalid(
                "member_id",
                format!(
                    "{member:?} is not a member of the team responsible for the alert's village"
                ),
            ))
        }
    }
}

/// The record after a move that was stored.
fn moved(mut record: AlertRecord, next: Lifecycle, entry: HistoryEntry) -> AlertRecord {
    record.lifecycle = next;
    record.history.push(entry);
    record
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::BadNote => ApiError::invalid("note", refusal.to_string()),
        other => ApiError::Refused(other.to_string()),
    }
}

fn outcome(value: i32) -> ApiResult<Outcome> {
    match AlertOutcome::try_from(value) {
        Ok(AlertOutcome::Confirmed) => Ok(Outcome::Confirmed),
        Ok(AlertOutcome::FalsePositive) => Ok(Outcome::FalsePositive),
        Ok(AlertOutcome::NoAction) => Ok(Outcome::NoAction),
        Ok(AlertOutcome::Duplicate) => Ok(Outcome::Duplicate),
        _ => Err(ApiError::invalid(
            "outcome",
            "required: confirmed, false_positive, no_action or duplicate",
        )),
    }
}

fn role_name(caller: &Caller) -> String {
    caller
        .role
        .as_str_name()
        .trim_start_matches("ROLE_")
        .to_ascii_lowercase()
}

fn state(state: State) -> AlertState {
    match state {
        State::Raised => AlertState::Raised,
        State::Notified => AlertState::Notified,
        State::Escalated => AlertState::Escalated,
        State::Acknowledged => AlertState::Acknowledged,
        State::Closed => AlertState::Closed,
    }
}

fn outcome_proto(outcome: Option<Outcome>) -> AlertOutcome {
    match outcome {
        None => AlertOutcome::Unspecified,
        Some(Outcome::Confirmed) => AlertOutcome::Confirmed,
        Some(Outcome::FalsePositive) => AlertOutcome::FalsePositive,
        Some(Outcome::NoAction) => AlertOutcome::NoAction,
        Some(Outcome::Duplicate) => AlertOutcome::Duplicate,
    }
}

fn at(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(timestamp(at.timestamp_millis()))
}

/// An alert as `caller` may see it (phone numbers only for dispatchers).
fn delivery(attempt: &DeliveryAttempt) -> AlertDelivery {
    AlertDelivery {
        notification: attempt.notification.clone(),
        attempt: attempt.attempt,
        at: at(attempt.at),
        audience: attempt.audience.clone(),
        channel_zone_id: attempt.channel_zone.clone(),
        endpoint: attempt.endpoint.clone(),
        http_status: attempt.status.map(u32::from).unwrap_or_default(),
        outcome: attempt.outcome.clone(),
        latency_ms: attempt.latency_ms,
        error: attempt.error.clone(),
    }
}

fn stored(caller: &Caller, record: &AlertRecord, with_history: bool) -> StoredAlert {
    let life = &record.lifecycle;
    let mut alert = record.alert.clone();
    redact_alert(caller, &mut alert);
    StoredAlert {
        alert: Some(alert),
        state: state(life.state).into(),
        acknowledged_by: life
            .acknowledged
            .as_ref()
            .map(|s| s.by.clone())
            .unwrap_or_default(),
        acknowledged_at: life.acknowledged.as_ref().and_then(|s| at(s.at)),
        assignee: life.assignee.clone().unwrap_or_default(),
        outcome: outcome_proto(life.outcome).into(),
        closed_by: life
            .closed
            .as_ref()
            .map(|s| s.by.clone())
            .unwrap_or_default(),
        closed_at: life.closed.as_ref().and_then(|s| at(s.at)),
        escalation_level: u32::from(life.escalation_level),
        history: if with_history {
            record
                .history
                .iter()
                .map(|entry| AlertHistoryEntry {
                    at: at(entry.at),
                    actor: entry.actor.name.clone(),
                    role: entry.actor.role.clone(),
                    action: entry.action.clone(),
                    from_state: state(entry.from).into(),
                    to_state: state(entry.to).into(),
                    detail: entry.detail.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
        deliveries: Vec::new(),
    }
}

/// What a listing keeps, from an index row and then from the state.
#[derive(Debug, Clone)]
struct AlertFilter {
    village: Option<String>,
    kinds: Vec<i32>,
    max_priority: u32,
    states: Vec<i32>,
}

impl AlertFilter {
    fn keeps_row(&self, row: &AlertRow) -> bool {
        self.village.as_ref().is_none_or(|v| *v == row.village_id)
            && (self.kinds.is_empty() || self.kinds.contains(&row.kind))
            && (self.max_priority == 0
                || u32::try_from(row.priority).is_ok_and(|p| p <= self.max_priority))
    }

    fn keeps_state(&self, life: &Lifecycle) -> bool {
        self.states.is_empty() || self.states.contains(&i32::from(state(life.state)))
    }
}

/// One page of a zone's alerts, newest first: day by day, every commune
/// of the zone at once, then each candidate's state read by id.
async fn list(
    backend: &Arc<Backend>,
    caller: &Caller,
    request: ListAlertsRequest,
) -> ApiResult<ListAlertsResponse> {
    let want = backend.limits.page_size(request.page_size)?;
    let window = Window::parse(request.window.as_ref(), "window", MAX_REPORT_DAYS)?;
    let known = |field: &'static str, values: &[i32], known: fn(i32) -> bool| match values
        .iter()
        .find(|v| !known(**v))
    {
        Some(value) => Err(ApiError::invalid(
            field,
            format!("{value} is not one of them"),
        )),
        None => Ok(values.to_vec()),
    };
    let kinds = known("kinds", &request.kinds, |v| {
        AlertKind::try_from(v).is_ok_and(|k| k != AlertKind::Unspecified)
    })?;
    let states = known("states", &request.states, |v| {
        AlertState::try_from(v).is_ok_and(|s| s != AlertState::Unspecified)
    })?;
    let (zone_id, communes, village) = {
        let registry = backend.registry();
        let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
        let target = backend.target(&registry, &zone_id);
        let village = match &target {
            Target::Village { village, .. } => Some(village.clone()),
            _ => None,
        };
        (zone_id, target.communes(&registry), village)
    };
    let filter = AlertFilter {
        village,
        kinds,
        max_priority: request.max_priority,
        states,
    };
    let key = query_key(
        "ListAlerts",
        caller,
        &[
            &zone_id,
            &window,
            &filter.kinds,
            &filter.states,
            &filter.max_priority,
        ],
    );
    let after = backend.page_tokens.resume(&key, &request.page_token)?;
    let mut end = window.end();
    if let Some(cursor) = after {
        end = end.min(DateTime::from_timestamp_millis(cursor.at_ms + 1).unwrap_or(end));
    }
    let start = window.start();
    let mut alerts = Vec::new();
    let mut next = None;
    let mut day = end.date_naive();
    'days: while day >= start.date_naive() {
        let rows = backend
            .alerts_of_day(&communes, day, start, end, backend.limits.fanout)
            .await?;
        let candidates: Vec<AlertRow> = rows
            .into_iter()
            .filter(|row| filter.keeps_row(row) && after_cursor(row, after))
            .collect();
        let mut records = futures::stream::iter(candidates.into_iter().map(|row| {
            let backend = Arc::clone(backend);
            async move {
                let record = backend.stores.alerts.get(&row.alert_id).await?;
                Ok::<_, ApiError>((row, record))
            }
        }))
        .buffered(backend.limits.fanout);
        while let Some((row, record)) = records.try_next().await? {
            let Some(record) = record else { continue };
            if !filter.keeps_state(&record.lifecycle) {
                continue;
            }
            if alerts.len() == want {
                next = alerts
                    .last()
                    .map(|(row, _): &(AlertRow, StoredAlert)| cursor(row));
                break 'days;
            }
            alerts.push((row, stored(caller, &record, false)));
        }
        let Some(previous) = day.pred_opt() else {
            break;
        };
        day = previous;
    }
    Ok(ListAlertsResponse {
        alerts: alerts.into_iter().map(|(_, alert)| alert).collect(),
        next_page_token: next
            .map(|cursor| backend.page_tokens.issue(&key, cursor))
            .unwrap_or_default(),
    })
}

/// Where a listing resumes after `row` (alert ids are UUIDs).
fn cursor(row: &AlertRow) -> Cursor {
    Cursor {
        at_ms: row.raised_at.timestamp_millis(),
        event_id: Uuid::parse_str(&row.alert_id).unwrap_or_default(),
    }
}

/// Whether `row` comes after the cursor, newest first (ties by id).
fn after_cursor(row: &AlertRow, after: Option<Cursor>) -> bool {
    after.is_none_or(|c| {
        let at = row.raised_at.timestamp_millis();
        let id = Uuid::parse_str(&row.alert_id).unwrap_or_default();
        at < c.at_ms || (at == c.at_ms && id > c.event_id)
    })
}

impl Backend {
    /// Every commune's alerts of one day in [start, end), newest first.
    pub(crate) async fn alerts_of_day(
        &self,
        communes: &[String],
        day: NaiveDate,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        fanout: usize,
    ) -> ApiResult<Vec<AlertRow>> {
        let from = start.max(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
        let to = end.min(from + Duration::days(1));
        let reads = communes.iter().cloned().map(|commune| {
            let store = self.stores.alerts.clone();
            async move { store.day(&commune, day, from, to).await }
        });
        let mut rows: Vec<AlertRow> = futures::stream::iter(reads)
            .buffer_unordered(fanout)
            .try_concat()
            .await?;
        rows.sort_by(|a, b| {
            b.raised_at
                .cmp(&a.raised_at)
                .then_with(|| a.alert_id.cmp(&b.alert_id))
        });
        Ok(rows)
    }
}
