//! Stored alerts: each alert once by id (raising is idempotent, so
//! replaying the alert topic changes nothing), its lifecycle moved only by
//! lightweight transactions conditional on the version read, its history
//! appended in the same statement, and two indexes: alerts of a commune by
//! day, and the open alerts of a commune. See `migrations/0007_alerts.cql`.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlValue;
use vigil_alerting::{Actor, HistoryEntry, Lifecycle, Outcome, Stamp, State};
use vigil_proto::v1::Alert;

use crate::lwt::Conditional;
use crate::{Keyspace, StoreError, execute, fetch_all, rows_error};

/// A history entry as stored: (at, actor, role, action, from, to, detail).
type HistoryTuple = (
    DateTime<Utc>,
    String,
    String,
    String,
    String,
    String,
    String,
);

/// An index row as stored: (raised_at, alert_id, village_id, kind, priority).
type IndexTuple = (
    DateTime<Utc>,
    String,
    Option<String>,
    Option<i32>,
    Option<i32>,
);

/// An alert as raised, where it stands, and how it got there.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub alert: Alert,
    pub lifecycle: Lifecycle,
    pub history: Vec<HistoryEntry>,
}

/// One alert in a commune's index (no state: read it by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub raised_at: DateTime<Utc>,
    pub alert_id: String,
    pub village_id: String,
    pub kind: i32,
    pub priority: i32,
}

/// What storing a raised alert found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// First time this id was seen.
    New,
    /// Already stored (a redelivery or a replay); its state is unchanged.
    Again(State),
}

/// Prepared statements over the alert tables.
#[derive(Debug, Clone)]
pub struct AlertStore {
    session: Arc<Session>,
    insert: PreparedStatement,
    insert_by_day: PreparedStatement,
    insert_open: PreparedStatement,
    delete_open: PreparedStatement,
    select: PreparedStatement,
    select_day: PreparedStatement,
    select_open: PreparedStatement,
    mv: PreparedStatement,
}

const COLUMNS: &str = "payload, state, version, acknowledged_by, acknowledged_at, closed_by, \
     closed_at, outcome, assignee, escalation_level, history";

/// A row of [`COLUMNS`].
type Row = (
    Vec<u8>,
    String,
    i32,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<Vec<HistoryTuple>>,
);

impl AlertStore {
    /// Prepares the statements against the migrated `keyspace`.
    pub async fn prepare(keyspace: &Keyspace) -> Result<Self, StoreError> {
        let select = format!("SELECT {COLUMNS} FROM ${{keyspace}}.alerts_by_id WHERE alert_id = ?");
        Ok(Self {
            session: keyspace.session().clone(),
            insert: keyspace
                .prepare_conditional(
                    "insert into alerts_by_id",
                    "INSERT INTO ${keyspace}.alerts_by_id (alert_id, payload, commune_id, village_id, \
                     kind, priority, raised_at, state, version, escalation_level, history) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) IF NOT EXISTS",
                )
                .await?,
            insert_by_day: keyspace
                .prepare(
                    "insert into alerts_by_commune_day",
                    "INSERT INTO ${keyspace}.alerts_by_commune_day (commune_id, day, raised_at, \
                     alert_id, village_id, kind, priority) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .await?,
            insert_open: keyspace
                .prepare(
                    "insert into open_alerts_by_commune",
                    "INSERT INTO ${keyspace}.open_alerts_by_commune (commune_id, raised_at, alert_id, \
                     village_id, kind, priority) VALUES (?, ?, ?, ?, ?, ?)",
                )
                .await?,
            delete_open: keyspace
                .prepare(
                    "delete from open_alerts_by_commune",
                    "DELETE FROM ${keyspace}.open_alerts_by_commune \
                     WHERE commune_id = ? AND raised_at = ? AND alert_id = ?",
                )
                .await?,
            select: keyspace.prepare("select from alerts_by_id", &select).await?,
            select_day: keyspace
                .prepare(
                    "select from alerts_by_commune_day",
                    "SELECT raised_at, alert_id, village_id, kind, priority \
                     FROM ${keyspace}.alerts_by_commune_day WHERE commune_id = ? AND day = ? \
                     AND raised_at >= ? AND raised_at < ?",
                )
                .await?,
            select_open: keyspace
                .prepare(
                    "select from open_alerts_by_commune",
                    "SELECT raised_at, alert_id, village_id, kind, priority \
                     FROM ${keyspace}.open_alerts_by_commune WHERE commune_id = ?",
                )
                .await?,
            mv: keyspace
                .prepare_conditional(
                    "move an alert",
                    "UPDATE ${keyspace}.alerts_by_id SET state = ?, version = ?, \
                     acknowledged_by = ?, acknowledged_at = ?, closed_by = ?, closed_at = ?, \
                     outcome = ?, assignee = ?, escalation_level = ?, history = history + ? \
                     WHERE alert_id = ? IF version = ?",
                )
                .await?,
        })
    }

    /// Stores a raised alert unless its id is already stored, and makes
    /// sure its index rows exist (a raise cut short completes on
    /// redelivery; a closed alert is not reopened).
    pub async fn raise(&self, alert: &Alert, by: &Actor) -> Result<Raised, StoreError> {
        let raised_at = raised_at(alert)?;
        let entry = Lifecycle::raise_entry(raised_at, by.clone());
        let result = self
            .session
            .execute_unpaged(
                &self.insert,
                (
                    &alert.alert_id,
                    alert.encode_to_vec(),
                    &alert.commune_id,
                    &alert.village_id,
                    alert.kind,
                    priority(alert),
                    raised_at,
                    State::Raised.as_str(),
                    1i32,
                    vec![tuple(&entry)],
                ),
            )
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("storing alert {}", alert.alert_id),
                source: Box::new(source),
            })?;
        // Not applied: the result row is the stored alert, state and all.
        let found = Conditional::of(result, "alerts_by_id (insert if not exists)")?;
        let raised = match found.get("state") {
            _ if found.applied => Raised::New,
            Some(CqlValue::Text(state)) => Raised::Again(State::parse(state).ok_or_else(|| {
                rows_error(
                    "alerts_by_id",
                    format!("alert {} in state {state:?}", alert.alert_id),
                )
            })?),
            other => {
                return Err(rows_error(
                    "alerts_by_id",
                    format!("alert {} stored with no state ({other:?})", alert.alert_id),
                ));
            }
        };
        let row = AlertRow {
            raised_at,
            alert_id: alert.alert_id.clone(),
            village_id: alert.village_id.clone(),
            kind: alert.kind,
            priority: priority(alert),
        };
        let day = raised_at.date_naive();
        execute(
            &self.session,
            &self.insert_by_day,
            (
                &alert.commune_id,
                day,
                raised_at,
                &row.alert_id,
                &row.village_id,
                row.kind,
                row.priority,
            ),
            || format!("indexing alert {} by day", alert.alert_id),
        )
        .await?;
        if !matches!(raised, Raised::Again(State::Closed)) {
            execute(
                &self.session,
                &self.insert_open,
                (
                    &alert.commune_id,
                    raised_at,
                    &row.alert_id,
                    &row.village_id,
                    row.kind,
                    row.priority,
                ),
                || format!("indexing alert {} as open", alert.alert_id),
            )
            .await?;
        }
        Ok(raised)
    }

    /// One alert with its lifecycle and history.
    pub async fn get(&self, alert_id: &str) -> Result<Option<AlertRecord>, StoreError> {
        let rows: Vec<Row> = fetch_all(
            &self.session,
            &self.select,
            (alert_id,),
            || format!("reading alert {alert_id}"),
            "alerts_by_id",
        )
        .await?;
        rows.into_iter().next().map(record).transpose()
    }

    /// Moves `current` to `next`, appending `entry`, if nobody moved it
    /// since it was read. `false`: someone did; read it again. A move whose
    /// answer was lost and that is then found applied counts as applied.
    pub async fn advance(
        &self,
        current: &AlertRecord,
        next: &Lifecycle,
        entry: &HistoryEntry,
    ) -> Result<bool, StoreError> {
        let alert_id = &current.alert.alert_id;
        let stamp = |s: &Option<Stamp>| {
            s.as_ref()
                .map_or((None, None), |s| (Some(s.by.clone()), Some(s.at)))
        };
        let (acknowledged_by, acknowledged_at) = stamp(&next.acknowledged);
        let (closed_by, closed_at) = stamp(&next.closed);
        let result = self
            .session
            .execute_unpaged(
                &self.mv,
                (
                    next.state.as_str(),
                    version(next.version)?,
                    acknowledged_by,
                    acknowledged_at,
                    closed_by,
                    closed_at,
                    next.outcome.map(Outcome::as_str),
                    &next.assignee,
                    i32::from(next.escalation_level),
                    vec![tuple(entry)],
                    alert_id,
                    version(current.lifecycle.version)?,
                ),
            )
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("moving alert {alert_id} to {}", next.state),
                source: Box::new(source),
            })?;
        let moved = Conditional::of(result, "alerts_by_id (update if version)")?.applied
            || self.get(alert_id).await?.is_some_and(|now| {
                now.lifecycle.version == next.version
                    && now
                        .history
                        .last()
                        .is_some_and(|last| same_entry(last, entry))
            });
        if moved && next.state == State::Closed {
            self.close_index(&current.alert).await?;
        }
        Ok(moved)
    }

    /// Removes a closed alert from its commune's open alerts.
    pub async fn close_index(&self, alert: &Alert) -> Result<(), StoreError> {
        execute(
            &self.session,
            &self.delete_open,
            (&alert.commune_id, raised_at(alert)?, &alert.alert_id),
            || format!("removing alert {} from the open alerts", alert.alert_id),
        )
        .await
    }

    /// A commune's alerts raised on `day` within [from, to), newest first.
    pub async fn day(
        &self,
        commune_id: &str,
        day: NaiveDate,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AlertRow>, StoreError> {
        let rows: Vec<IndexTuple> = fetch_all(
            &self.session,
            &self.select_day,
            (commune_id, day, from, to),
            || format!("reading the alerts of {commune_id} on {day}"),
            "alerts_by_commune_day",
        )
        .await?;
        Ok(rows.into_iter().map(index_row).collect())
    }

    /// A commune's open alerts, newest first (may include one closed a
    /// moment ago: check the state by id).
    pub async fn open(&self, commune_id: &str) -> Result<Vec<AlertRow>, StoreError> {
        let rows: Vec<IndexTuple> = fetch_all(
            &self.session,
            &self.select_open,
            (commune_id,),
            || format!("reading the open alerts of {commune_id}"),
            "open_alerts_by_commune",
        )
        .await?;
        Ok(rows.into_iter().map(index_row).collect())
    }
}

fn index_row((raised_at, alert_id, village_id, kind, priority): IndexTuple) -> AlertRow {
    AlertRow {
        raised_at,
        alert_id,
        village_id: village_id.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        priority: priority.unwrap_or_default(),
    }
}

fn raised_at(alert: &Alert) -> Result<DateTime<Utc>, StoreError> {
    alert
        .raised_at
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .ok_or_else(|| StoreError::InvalidEvent {
            event_id: alert.alert_id.clone(),
            reason: "the alert has no valid raised_at".into(),
        })
}

fn priority(alert: &Alert) -> i32 {
    i32::try_from(alert.priority).unwrap_or(i32::MAX)
}

fn version(version: u32) -> Result<i32, StoreError> {
    i32::try_from(version)
        .map_err(|_| rows_error("alerts_by_id", format!("version {version} out of range")))
}

fn tuple(entry: &HistoryEntry) -> HistoryTuple {
    (
        entry.at,
        entry.actor.name.clone(),
        entry.actor.role.clone(),
        entry.action.clone(),
        entry.from.as_str().to_owned(),
        entry.to.as_str().to_owned(),
        entry.detail.clone(),
    )
}

/// `stored` is `entry` read back (timestamps are kept to the millisecond).
fn same_entry(stored: &HistoryEntry, entry: &HistoryEntry) -> bool {
    stored.at.timestamp_millis() == entry.at.timestamp_millis()
        && HistoryEntry {
            at: stored.at,
            ..entry.clone()
        } == *stored
}

fn record(row: Row) -> Result<AlertRecord, StoreError> {
    let (
        payload,
        state,
        version,
        acknowledged_by,
        acknowledged_at,
        closed_by,
        closed_at,
        outcome,
        assignee,
        escalation_level,
        history,
    ) = row;
    let bad = |what: String| rows_error("alerts_by_id", what);
    let alert = Alert::decode(payload.as_slice()).map_err(|e| bad(e.to_string()))?;
    let stamp =
        |by: Option<String>, at: Option<DateTime<Utc>>| by.zip(at).map(|(by, at)| Stamp { by, at });
    let history = history
        .unwrap_or_default()
        .into_iter()
        .map(|(at, name, role, action, from, to, detail)| {
            Ok(HistoryEntry {
                at,
                actor: Actor { name, role },
                action,
                from: State::parse(&from).ok_or_else(|| bad(format!("state {from:?}")))?,
                to: State::parse(&to).ok_or_else(|| bad(format!("state {to:?}")))?,
                detail,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let lifecycle = Lifecycle {
        state: State::parse(&state).ok_or_else(|| bad(format!("state {state:?}")))?,
        version: u32::try_from(version).map_err(|_| bad(format!("version {version}")))?,
        acknowledged: stamp(acknowledged_by, acknowledged_at),
        closed: stamp(closed_by, closed_at),
        outcome: outcome
            .map(|o| Outcome::parse(&o).ok_or_else(|| bad(format!("outcome {o:?}"))))
            .transpose()?,
        assignee,
        escalation_level: u8::try_from(escalation_level.unwrap_or_default())
            .map_err(|_| bad("escalation level".into()))?,
        history_len: history.len(),
    };
    Ok(AlertRecord {
        alert,
        lifecycle,
        history,
    })
}
