//! Camera status: one row per camera in `camera_status`, upserted from its
//! heartbeats and flipped offline or online by vigil-writer's offline
//! detector.
//!
//! Every write carries `USING TIMESTAMP` = the moment what it says was true,
//! not the moment the write happens to reach the database: for a heartbeat,
//! the earlier of when it was sent and when it arrived; for an offline or
//! online decision, when it was made. So a heartbeat write retried through
//! a database outage, or an old heartbeat replayed from the topic, cannot
//! overwrite the "offline" decided after it; an edge clock running ahead
//! cannot make its heartbeats outrank that decision either; and an
//! "offline" cannot overwrite a heartbeat that arrived after it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use vigil_proto::v1::Heartbeat;
use vigil_proto::v1::heartbeat::LinkState;

use crate::{Keyspace, StoreError, execute, rows_error};

/// What is known about one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraStatus {
    pub camera_id: String,
    /// The edge agent (site) of its last heartbeat.
    pub site_id: String,
    /// When its last heartbeat was sent (by the edge agent's clock).
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// Detections waiting in its edge agent's spool at the last heartbeat.
    pub buffer_depth: u64,
    pub link_state: LinkState,
    pub online: bool,
    /// When it last went offline or came (back) online.
    pub changed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, DeserializeRow)]
struct StatusRow {
    camera_id: String,
    site_id: Option<String>,
    last_heartbeat: Option<DateTime<Utc>>,
    buffer_depth: Option<i64>,
    link_state: Option<i32>,
    online: Option<bool>,
    changed_at: Option<DateTime<Utc>>,
}

impl From<StatusRow> for CameraStatus {
    fn from(row: StatusRow) -> Self {
        Self {
            camera_id: row.camera_id,
            site_id: row.site_id.unwrap_or_default(),
            last_heartbeat: row.last_heartbeat,
            buffer_depth: row
                .buffer_depth
                .map_or(0, |depth| u64::try_from(depth).unwrap_or(0)),
            link_state: row
                .link_state
                .and_then(|state| LinkState::try_from(state).ok())
                .unwrap_or_default(),
            online: row.online.unwrap_or(false),
            changed_at: row.changed_at,
        }
    }
}

const COLUMNS: &str =
    "camera_id, site_id, last_heartbeat, buffer_depth, link_state, online, changed_at";

/// Prepared statements over `camera_status`.
#[derive(Debug, Clone)]
pub struct StatusStore {
    session: Arc<Session>,
    upsert_heartbeat: PreparedStatement,
    upsert_online: PreparedStatement,
    select_one: PreparedStatement,
    select_all: PreparedStatement,
    insert_change: PreparedStatement,
    select_changes: PreparedStatement,
}

/// One offline/online decision from `camera_status_changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub at: DateTime<Utc>,
    pub online: bool,
}

impl StatusStore {
    /// Prepares the statements against the migrated `keyspace`.
    pub async fn prepare(keyspace: &Keyspace) -> Result<Self, StoreError> {
        let session = Arc::clone(keyspace.session());
        let table = keyspace.table("camera_status");
        Ok(Self {
            upsert_heartbeat: keyspace.prepare(
                "upsert of a heartbeat into camera_status",
                &format!(
                    "INSERT INTO {table} (camera_id, site_id, last_heartbeat, buffer_depth, link_state, online) \
                     VALUES (?, ?, ?, ?, ?, true) USING TIMESTAMP ?"
                ),
            )
            .await?,
            upsert_online: keyspace.prepare(
                "upsert of online into camera_status",
                &format!(
                    "INSERT INTO {table} (camera_id, online, changed_at) VALUES (?, ?, ?) \
                     USING TIMESTAMP ?"
                ),
            )
            .await?,
            select_one: keyspace.prepare(
                "select from camera_status",
                &format!("SELECT {COLUMNS} FROM {table} WHERE camera_id = ?"),
            )
            .await?,
            select_all: keyspace.prepare(
                "scan of camera_status",
                &format!("SELECT {COLUMNS} FROM {table}"),
            )
            .await?,
            insert_change: keyspace.prepare(
                "insert into camera_status_changes",
                "INSERT INTO ${keyspace}.camera_status_changes (camera_id, changed_at, online) \
                 VALUES (?, ?, ?)",
            )
            .await?,
            select_changes: keyspace.prepare(
                "select from camera_status_changes",
                "SELECT changed_at, online FROM ${keyspace}.camera_status_changes \
                 WHERE camera_id = ? AND changed_at < ?",
            )
            .await?,
            session,
        })
    }

    /// Records `heartbeat`, which arrived at `received_at`: the camera is
    /// online, with this site, spool depth and link state — as of the
    /// earlier of its `sent_at` and `received_at` (a heartbeat without
    /// `sent_at` counts as sent when it arrived). The caller checks that
    /// `camera_id` is not empty (the database refuses an empty key).
    pub async fn record_heartbeat(
        &self,
        heartbeat: &Heartbeat,
        received_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sent_at = heartbeat
            .sent_at
            .as_ref()
            .and_then(|at| DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).ok()?))
            .unwrap_or(received_at);
        self.session
            .execute_unpaged(
                &self.upsert_heartbeat,
                (
                    &heartbeat.camera_id,
                    &heartbeat.site_id,
                    sent_at,
                    i64::try_from(heartbeat.buffer_depth).unwrap_or(i64::MAX),
                    heartbeat.link_state,
                    sent_at.min(received_at).timestamp_micros(),
                ),
            )
            .await
            .map(drop)
            .map_err(|source| StoreError::Execute {
                what: format!(
                    "writing the heartbeat of camera {} to camera_status",
                    heartbeat.camera_id
                ),
                source: Box::new(source),
            })
    }

    /// Records that `camera_id` went offline or came online, as decided at
    /// `at`: the current status, and the decision in the camera's history.
    pub async fn set_online(
        &self,
        camera_id: &str,
        online: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let what = || format!("marking camera {camera_id} online={online} in camera_status");
        let current = execute(
            &self.session,
            &self.upsert_online,
            (camera_id, online, at, at.timestamp_micros()),
            what,
        );
        let history = execute(
            &self.session,
            &self.insert_change,
            (camera_id, at, online),
            what,
        );
        futures::try_join!(current, history)?;
        Ok(())
    }

    /// The offline/online decisions about `camera_id` made before `end`,
    /// newest first, down to and including the last one before `start`
    /// (which says what the camera was when `start` came).
    pub async fn changes(
        &self,
        camera_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<StatusChange>, StoreError> {
        let pager = self
            .session
            .execute_iter(self.select_changes.clone(), (camera_id, end))
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("reading the status history of camera {camera_id}"),
                source: Box::new(source),
            })?;
        let mut rows = pager
            .rows_stream::<(DateTime<Utc>, Option<bool>)>()
            .map_err(|e| rows_error("camera_status_changes", e))?;
        let mut changes = Vec::new();
        while let Some((at, online)) = rows
            .try_next()
            .await
            .map_err(|e| rows_error("camera_status_changes", e))?
        {
            changes.push(StatusChange {
                at,
                online: online.unwrap_or(false),
            });
            if at < start {
                break;
            }
        }
        Ok(changes)
    }

    /// The status of `camera_id`, if it ever sent a heartbeat.
    pub async fn get(&self, camera_id: &str) -> Result<Option<CameraStatus>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.select_one, (camera_id,))
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("reading the status of camera {camera_id}"),
                source: Box::new(source),
            })?;
        let rows_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Rows {
            what: "camera_status",
            source: e,
        };
        let rows = result.into_rows_result().map_err(|e| rows_err(e.into()))?;
        Ok(rows
            .maybe_first_row::<StatusRow>()
            .map_err(|e| rows_err(e.into()))?
            .map(CameraStatus::from))
    }

    /// The status of every camera (a full scan, paged: the fleet is tens
    /// of thousands of rows).
    pub async fn all(&self) -> Result<Vec<CameraStatus>, StoreError> {
        let rows_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Rows {
            what: "camera_status",
            source: e,
        };
        let pager = self
            .session
            .execute_iter(self.select_all.clone(), ())
            .await
            .map_err(|source| StoreError::Execute {
                what: "reading camera_status".to_owned(),
                source: Box::new(source),
            })?;
        let rows: Vec<StatusRow> = pager
            .rows_stream::<StatusRow>()
            .map_err(|e| rows_err(e.into()))?
            .try_collect()
            .await
            .map_err(|e| rows_err(e.into()))?;
        Ok(rows.into_iter().map(CameraStatus::from).collect())
    }
}
