//! Event counts per commune, hour and kind that replaying the topic or
//! redelivering a record can never inflate.
//!
//! Counts are derived, never incremented. Each event leaves one tiny row in
//! `event_kinds_by_commune_hour`, keyed by its `event_id` inside its
//! commune-hour partition, so writing an event again overwrites that same
//! row ([`CountStore::record_event`]). [`CountStore::rollup`] counts one
//! partition's rows per kind and stores the numbers in `event_counts`,
//! stamped `USING TIMESTAMP` with the moment the count started: when two
//! writer instances recount the same commune-hour, the count that started
//! later — and so saw at least every row the earlier one saw — wins,
//! whichever of them is stored last. Which commune-hours need a recount is
//! the caller's business (vigil-writer remembers those it touched since its
//! last rollup). `docs/counts.md` has the reasoning, the cost and the
//! alternative that was turned down.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;
use vigil_proto::v1::EnrichedDetection;

use crate::{Keyspace, StoreError, day_bucket, hour_bucket};

/// A commune and an hour: one partition of `event_kinds_by_commune_hour`,
/// and the unit a rollup recounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommuneHour {
    pub commune_id: String,
    /// Start of the hour, epoch milliseconds (UTC), as [`hour_bucket`] gives.
    pub hour: i64,
}

/// How many events of one kind a commune-hour holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindCount {
    /// The `vigil.v1.DetectionKind` value.
    pub kind: i32,
    pub count: i64,
}

/// One cell of `event_counts`: a kind's count in one hour of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCount {
    /// Start of the hour, epoch milliseconds (UTC).
    pub hour: i64,
    /// The `vigil.v1.DetectionKind` value.
    pub kind: i32,
    pub count: i64,
}

/// Prepared statements over the count tables of one keyspace.
#[derive(Debug, Clone)]
pub struct CountStore {
    session: Arc<Session>,
    ttl_seconds: i32,
    insert_kind: PreparedStatement,
    count_kinds: PreparedStatement,
    upsert_count: PreparedStatement,
    select_counts: PreparedStatement,
}

impl CountStore {
    /// Prepares the statements against the migrated `keyspace`; rows live
    /// as long as events (`ttl`; zero keeps them forever).
    pub async fn prepare(keyspace: &Keyspace, ttl: Duration) -> Result<Self, StoreError> {
        let session = Arc::clone(keyspace.session());
        let kinds = keyspace.table("event_kinds_by_commune_hour");
        let counts = keyspace.table("event_counts");
        Ok(Self {
            insert_kind: keyspace.prepare(
                "insert into event_kinds_by_commune_hour",
                &format!(
                    "INSERT INTO {kinds} (commune_id, hour, kind, event_id) VALUES (?, ?, ?, ?) \
                     USING TTL ?"
                ),
            )
            .await?,
            // Cassandra and ScyllaDB both group by a clustering prefix once
            // the partition key is fixed; the server scans the partition and
            // returns one row per kind. The driver pages through the groups.
            count_kinds: keyspace.prepare(
                "count of event_kinds_by_commune_hour",
                &format!(
                    "SELECT kind, COUNT(*) FROM {kinds} WHERE commune_id = ? AND hour = ? \
                     GROUP BY kind"
                ),
            )
            .await?,
            upsert_count: keyspace.prepare(
                "upsert into event_counts",
                &format!(
                    "INSERT INTO {counts} (commune_id, day, hour, kind, count) VALUES (?, ?, ?, ?, ?) \
                     USING TTL ? AND TIMESTAMP ?"
                ),
            )
            .await?,
            select_counts: keyspace.prepare(
                "select from event_counts",
                &format!(
                    "SELECT hour, kind, count FROM {counts} WHERE commune_id = ? AND day = ?"
                ),
            )
            .await?,
            ttl_seconds: i32::try_from(ttl.as_secs()).unwrap_or(i32::MAX),
            session,
        })
    }

    /// Records that `event` happened in its commune-hour: an upsert by
    /// `event_id`, so recording it again changes nothing. Returns the
    /// commune-hour, which now needs a [`rollup`](Self::rollup).
    pub async fn record_event(&self, event: &EnrichedDetection) -> Result<CommuneHour, StoreError> {
        let (key, kind, event_id) = kind_row(event)?;
        self.session
            .execute_unpaged(
                &self.insert_kind,
                (
                    &key.commune_id,
                    CqlTimestamp(key.hour),
                    kind,
                    event_id,
                    self.ttl_seconds,
                ),
            )
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("writing event {event_id} to event_kinds_by_commune_hour"),
                source: Box::new(source),
            })?;
        Ok(key)
    }

    /// Counts the events of each kind recorded in `key`'s commune-hour, by
    /// scanning its partition. Kinds without events are absent.
    pub async fn recount(&self, key: &CommuneHour) -> Result<Vec<KindCount>, StoreError> {
        let pager = self
            .session
            .execute_iter(
                self.count_kinds.clone(),
                (&key.commune_id, CqlTimestamp(key.hour)),
            )
            .await
            .map_err(|source| StoreError::Execute {
                what: format!(
                    "counting events of commune {} in hour {}",
                    key.commune_id, key.hour
                ),
                source: Box::new(source),
            })?;
        let rows_err = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Rows {
            what: "event_kinds_by_commune_hour",
            source,
        };
        // Nullable: see below.
        let rows: Vec<(Option<i32>, Option<i64>)> = pager
            .rows_stream::<(Option<i32>, Option<i64>)>()
            .map_err(|e| rows_err(e.into()))?
            .try_collect()
            .await
            .map_err(|e| rows_err(e.into()))?;
        Ok(rows
            .into_iter()
            // ScyllaDB may answer an empty partition with one row of no kind
            // and a zero count where Cassandra answers nothing; neither is a
            // kind that happened.
            .filter_map(|row| match row {
                (Some(kind), Some(count)) if count > 0 => Some(KindCount { kind, count }),
                _ => None,
            })
            .collect())
    }

    /// Recounts `key`'s commune-hour and stores the result in
    /// `event_counts`. Safe to run any number of times, concurrently, from
    /// any instance: the stored count is the one whose recount started last.
    pub async fn rollup(&self, key: &CommuneHour) -> Result<Vec<KindCount>, StoreError> {
        // Taken before the count is sent, so a count stamped later started
        // later and cannot have missed a row this one saw.
        let started_micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
            });
        let counts = self.recount(key).await?;
        let day = CqlTimestamp(day_bucket(key.hour));
        let writes = counts.iter().map(|count| {
            self.session.execute_unpaged(
                &self.upsert_count,
                (
                    &key.commune_id,
                    day,
                    CqlTimestamp(key.hour),
                    count.kind,
                    count.count,
                    self.ttl_seconds,
                    started_micros,
                ),
            )
        });
        futures::future::try_join_all(writes)
            .await
            .map_err(|source| StoreError::Execute {
                what: format!(
                    "writing counts of commune {} in hour {} to event_counts",
                    key.commune_id, key.hour
                ),
                source: Box::new(source),
            })?;
        Ok(counts)
    }

    /// The stored counts of `commune_id` on `day` (start of the UTC day,
    /// epoch milliseconds), by hour then kind. They trail the events by up
    /// to one rollup interval.
    pub async fn counts(&self, commune_id: &str, day: i64) -> Result<Vec<HourCount>, StoreError> {
        let pager = self
            .session
            .execute_iter(self.select_counts.clone(), (commune_id, CqlTimestamp(day)))
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("reading counts of commune {commune_id} on day {day}"),
                source: Box::new(source),
            })?;
        let rows_err = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Rows {
            what: "event_counts",
            source,
        };
        let rows: Vec<(CqlTimestamp, i32, i64)> = pager
            .rows_stream::<(CqlTimestamp, i32, i64)>()
            .map_err(|e| rows_err(e.into()))?
            .try_collect()
            .await
            .map_err(|e| rows_err(e.into()))?;
        Ok(rows
            .into_iter()
            .map(|(hour, kind, count)| HourCount {
                hour: hour.0,
                kind,
                count,
            })
            .collect())
    }
}

/// The kinds-table row of `event`: its commune-hour, kind and id.
fn kind_row(event: &EnrichedDetection) -> Result<(CommuneHour, i32, Uuid), StoreError> {
    let detection = event.detection.as_ref();
    let invalid = |reason: &str| StoreError::InvalidEvent {
        event_id: detection.map(|d| d.event_id.clone()).unwrap_or_default(),
        reason: reason.to_owned(),
    };
    let detection = detection.ok_or_else(|| invalid("no detection"))?;
    let event_id = Uuid::parse_str(&detection.event_id)
        .map_err(|e| invalid(&format!("event_id is not a UUID: {e}")))?;
    let captured = detection
        .captured_at
        .as_ref()
        .ok_or_else(|| invalid("no captured_at"))?;
    if event.commune_id.is_empty() {
        return Err(invalid("not enriched: no commune_id"));
    }
    let captured_at_ms = captured.seconds * 1000 + i64::from(captured.nanos / 1_000_000);
    let key = CommuneHour {
        commune_id: event.commune_id.clone(),
        hour: hour_bucket(captured_at_ms),
    };
    Ok((key, detection.kind, event_id))
}

#[cfg(test)]
mod tests {
    use prost_types::Timestamp;
    use vigil_proto::v1::Detection;

    use super::*;

    fn event(commune_id: &str, event_id: &str, at: Option<Timestamp>) -> EnrichedDetection {
        EnrichedDetection {
            detection: Some(Detection {
                event_id: event_id.to_owned(),
                camera_id: "cam-1".to_owned(),
                captured_at: at,
                kind: 2,
                ..Detection::default()
            }),
            commune_id: commune_id.to_owned(),
            ..EnrichedDetection::default()
        }
    }

    #[test]
    fn an_event_falls_in_the_hour_it_was_captured() {
        // 2026-11-28T13:45:10.123Z
        let at = Timestamp {
            seconds: 1_795_873_510,
            nanos: 123_000_000,
        };
        let id = "0193c7e4-1f00-7000-8000-000000000001";
        let (key, kind, event_id) = kind_row(&event("th.ba-thuoc", id, Some(at))).unwrap();
        assert_eq!(key.commune_id, "th.ba-thuoc");
        assert_eq!(key.hour, 1_795_870_800_000); // 13:00:00Z
        assert_eq!(kind, 2);
        assert_eq!(event_id.to_string(), id);
    }

    #[test]
    fn events_that_cannot_be_counted_are_invalid_not_retried() {
        let id = "0193c7e4-1f00-7000-8000-000000000001";
        let at = Some(Timestamp::default());
        for bad in [
            event("", id, at),
            event("th.ba-thuoc", "not-a-uuid", at),
            event("th.ba-thuoc", id, None),
            EnrichedDetection::default(),
        ] {
            assert!(matches!(
                kind_row(&bad),
                Err(StoreError::InvalidEvent { .. })
            ));
        }
    }
}
