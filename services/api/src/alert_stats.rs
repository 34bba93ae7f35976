//! `AlertStats`: how the alerts of a zone raised in a window were taken,
//! per commune and in total: raised, acknowledged (within target, median
//! and p90 time), escalated, still open, and the outcomes of the closed
//! ones. Read from the alert tables: the commune-day index for the window,
//! then each alert by id for its lifecycle.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use vigil_alerting::{Outcome, ack_stats};
use vigil_notify::escalation::Targets;
use vigil_notify::message::raised_at;
use vigil_proto::v1::{
    AlertOutcome, AlertOutcomeCount, AlertStatsRequest, AlertStatsResponse, AlertStatsRow,
};
use vigil_request::Window;
use vigil_store::AlertRecord;

use crate::auth::Caller;
use crate::backend::{Backend, Target};
use crate::error::{ApiError, ApiResult};
use crate::query::MAX_REPORT_DAYS;

/// Most alerts one AlertStats call reads; a wider question is refused.
const MAX_ALERTS: usize = 100_000;

/// Every outcome, in the order the rows list them.
const OUTCOMES: [(Outcome, AlertOutcome); 4] = [
    (Outcome::Confirmed, AlertOutcome::Confirmed),
    (Outcome::FalsePositive, AlertOutcome::FalsePositive),
    (Outcome::NoAction, AlertOutcome::NoAction),
    (Outcome::Duplicate, AlertOutcome::Duplicate),
];

pub(crate) async fn stats(
    backend: &Arc<Backend>,
    caller: &Caller,
    request: AlertStatsRequest,
) -> ApiResult<AlertStatsResponse> {
    let window = Window::parse(request.window.as_ref(), "window", MAX_REPORT_DAYS)?;
    let (communes, village) = {
        let registry = backend.registry();
        let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
        let target = backend.target(&registry, &zone_id);
        let village = match &target {
            Target::Village { village, .. } => Some(village.clone()),
            _ => None,
        };
        (target.communes(&registry), village)
    };
    let (start, end) = (window.start(), window.end());
    let mut rows = Vec::new();
    let mut day = start.date_naive();
    while day <= end.date_naive() {
        rows.extend(
            backend
                .alerts_of_day(&communes, day, start, end, backend.limits.fanout)
                .await?,
        );
        if rows.len() > MAX_ALERTS {
            return Err(ApiError::invalid(
                "window",
                format!(
                    "more than {MAX_ALERTS} alerts; ask for a shorter window or a smaller zone"
                ),
            ));
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    rows.retain(|row| village.as_ref().is_none_or(|v| &row.village_id == v));
    let records: Vec<AlertRecord> = futures::stream::iter(rows.into_iter().map(|row| {
        let backend = Arc::clone(backend);
        async move { backend.stores.alerts.get(&row.alert_id).await }
    }))
    .buffer_unordered(backend.limits.fanout)
    .try_filter_map(|record| async move { Ok(record) })
    .try_collect()
    .await?;

    let mut by_commune: BTreeMap<&str, Vec<&AlertRecord>> = BTreeMap::new();
    for record in &records {
        by_commune
            .entry(record.alert.commune_id.as_str())
            .or_default()
            .push(record);
    }
    let registry = backend.registry();
    let communes = by_commune
        .iter()
        .map(|(commune, records)| {
            let name = registry
                .zone(commune)
                .map(|zone| zone.name.clone())
                .unwrap_or_default();
            row(commune, name, records, &backend.targets)
        })
        .collect();
    let all: Vec<&AlertRecord> = records.iter().collect();
    Ok(AlertStatsResponse {
        communes,
        total: Some(row("", String::new(), &all, &backend.targets)),
    })
}

/// The statistics of `records`.
fn row(commune: &str, name: String, records: &[&AlertRecord], targets: &Targets) -> AlertStatsRow {
    let taken = ack_stats(records.iter().map(|record| {
        let alert = &record.alert;
        let time_to_ack = record
            .lifecycle
            .acknowledged
            .as_ref()
            .zip(raised_at(alert))
            .and_then(|(stamp, raised)| (stamp.at - raised).to_std().ok());
        // Alerts that never escalate (a camera back online) have no target.
        let target = targets
            .first(alert.kind, alert.priority)
            .unwrap_or(std::time::Duration::MAX);
        (time_to_ack, target)
    }));
    let count = |keep: &dyn Fn(&AlertRecord) -> bool| {
        u32::try_from(records.iter().filter(|r| keep(r)).count()).unwrap_or(u32::MAX)
    };
    let seconds = |d: Option<std::time::Duration>| d.map_or(0.0, |d| d.as_secs_f64());
    AlertStatsRow {
        commune_id: commune.to_owned(),
        commune_name: name,
        raised: saturate(taken.raised),
        acknowledged: saturate(taken.acknowledged),
        acknowledged_within_target: saturate(taken.within_target),
        median_seconds_to_acknowledge: seconds(taken.median),
        p90_seconds_to_acknowledge: seconds(taken.p90),
        escalated: count(&|r| r.lifecycle.escalation_level > 0),
        open: count(&|r| r.lifecycle.state.is_open()),
        outcomes: OUTCOMES
            .iter()
            .map(|(outcome, proto)| AlertOutcomeCount {
                outcome: (*proto).into(),
                count: count(&|r| r.lifecycle.outcome == Some(*outcome)),
            })
            .collect(),
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration};
    use vigil_alerting::{Action, Actor, Lifecycle};
    use vigil_proto::v1::{Alert, AlertKind};

    use super::*;

    fn record(priority: u32, ack_after: Option<i64>, close: Option<Outcome>) -> AlertRecord {
        let raised = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let person = Actor {
            name: "captain".into(),
            role: "team_captain".into(),
        };
        let mut lifecycle = Lifecycle::raised();
        let mut history = vec![Lifecycle::raise_entry(raised, Actor::system("test"))];
        let mut moves = Vec::new();
        if let Some(seconds) = ack_after {
            moves.push((Action::Acknowledge, raised + Duration::seconds(seconds)));
        }
        if let Some(outcome) = close {
            moves.push((Action::Close { outcome }, raised + Duration::hours(1)));
        }
        for (action, at) in moves {
            let (next, entry) = lifecycle.apply(&action, &person, at, "").unwrap();
            lifecycle = next;
            history.push(entry);
        }
        AlertRecord {
            alert: Alert {
                kind: AlertKind::Watchlist.into(),
                raised_at: Some(vigil_domain::to_timestamp(raised)),
                priority,
                commune_id: "th.c1".into(),
                ..Alert::default()
            },
            lifecycle,
            history,
        }
    }

    #[test]
    fn counts_targets_times_and_outcomes() {
        let records = [
            // Priority 1: 5 minute target.
            record(1, Some(60), Some(Outcome::Confirmed)),
            record(1, Some(600), Some(Outcome::FalsePositive)),
            // Priority 3: 15 minute target.
            record(3, Some(600), None),
            record(3, None, None),
        ];
        let refs: Vec<&AlertRecord> = records.iter().collect();
        let row = row("th.c1", "C1".into(), &refs, &Targets::default());
        assert_eq!(
            (
                row.raised,
                row.acknowledged,
                row.acknowledged_within_target,
                row.open
            ),
            (4, 3, 2, 2)
        );
        assert_eq!(row.median_seconds_to_acknowledge, 600.0);
        assert_eq!(row.p90_seconds_to_acknowledge, 600.0);
        let outcomes: Vec<(i32, u32)> = row.outcomes.iter().map(|o| (o.outcome, o.count)).collect();
        assert_eq!(
            outcomes,
            [
                (AlertOutcome::Confirmed.into(), 1),
                (AlertOutcome::FalsePositive.into(), 1),
                (AlertOutcome::NoAction.into(), 0),
                (AlertOutcome::Duplicate.into(), 0),
            ]
        );
    }

    #[test]
    fn no_alerts_make_a_row_of_zeros() {
        let row = row("", String::new(), &[], &Targets::default());
        assert_eq!((row.raised, row.median_seconds_to_acknowledge), (0, 0.0));
    }
}
