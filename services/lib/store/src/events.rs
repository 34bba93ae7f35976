//! The query-first event tables: one insert per table (six: by id, by
//! commune-hour, by village-hour, by camera-day, by plate-month and by
//! plate key for fuzzy search) from the same enriched event, and the point
//! read by event id.
//!
//! The first write of an event id wins. A write first reads `events_by_id`
//! (one partition, at the session's consistency): a free id is written to
//! all six tables at once; an id stored with the same detection (a
//! redelivery) rewrites the query tables with the stored payload, so a
//! write cut short completes; an id stored with another detection (a
//! reused id, from a faulty or hostile edge) writes nothing.
//!
//! The read is a plain one, not a lightweight transaction: Paxos cost four
//! round trips and a write to `system.paxos` for every event, and was most
//! of the writer's tail (`docs/benchmarks.md`). What it guarded against is
//! narrower than that: two *different* detections under one id, both in
//! flight within the same few milliseconds, can both find the id free; the
//! later write then holds `events_by_id` and the query tables keep both.
//! Redeliveries of one detection that race write the same rows.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use prost::Message;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;
use vigil_domain::plate::ocr_key;
use vigil_proto::v1::{Detection, EnrichedDetection};

use crate::{Keyspace, StoreError};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Start of the hour holding `at_ms` (epoch milliseconds, UTC).
pub fn hour_bucket(at_ms: i64) -> i64 {
    at_ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Start of the UTC day holding `at_ms`.
pub fn day_bucket(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS) * DAY_MS
}

/// Start of the UTC calendar month holding `at_ms`.
pub fn month_bucket(at_ms: i64) -> i64 {
    let at = DateTime::<Utc>::from_timestamp_millis(at_ms).unwrap_or_default();
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .map_or(0, |start| start.timestamp_millis())
}

/// Decodes a payload stored under `event_id`.
fn decode(event_id: Uuid, payload: &[u8]) -> Result<EnrichedDetection, StoreError> {
    EnrichedDetection::decode(payload).map_err(|source| StoreError::Decode { event_id, source })
}

/// Whether two deliveries carry the same detection. Compared as values
/// (the labels are a map, encoded in any order), except for `received_at`:
/// the edge stamps it on arrival, so a source that sends a detection again
/// after losing the acknowledgement gets a new stamp, not a new identity.
fn same_detection(stored: Option<&Detection>, delivered: Option<&Detection>) -> bool {
    let unstamped = |detection: Option<&Detection>| {
        detection.map(|d| Detection {
            received_at: None,
            ..d.clone()
        })
    };
    unstamped(stored) == unstamped(delivered)
}

/// What [`EventStore::write`] did with an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The event id was new: the event is stored in every table.
    New,
    /// The event id was stored already with the same detection (a
    /// redelivery): every table holds the stored event, returned here (its
    /// enrichment may differ from this delivery's).
    Again(Box<EnrichedDetection>),
    /// The event id is stored with another detection: nothing was written.
    Conflicting,
}

/// Prepared statements over the event tables of one keyspace.
#[derive(Debug, Clone)]
pub struct EventStore {
    session: Arc<Session>,
    ttl_seconds: i32,
    insert_by_id: PreparedStatement,
    insert_by_commune_hour: PreparedStatement,
    insert_by_village_hour: PreparedStatement,
    insert_by_camera_day: PreparedStatement,
    insert_by_plate_month: PreparedStatement,
    insert_by_plate_key_month: PreparedStatement,
    select_by_id: PreparedStatement,
    select_by_camera_day: PreparedStatement,
}

/// The columns every table shares, taken once from the event.
struct EventKeys<'a> {
    event_id: Uuid,
    captured_at: CqlTimestamp,
    captured_at_ms: i64,
    camera_id: &'a str,
    commune_id: &'a str,
    village_id: &'a str,
    kind: i32,
    /// Empty when the event has no plate (a null would write a tombstone).
    plate_normalized: &'a str,
    /// OCR-confusion key of the plate (of the raw read when it could not be
    /// normalized); empty without a plate.
    plate_key: String,
}

impl<'a> EventKeys<'a> {
    fn of(event: &'a EnrichedDetection) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidEvent {
            event_id: event
                .detection
                .as_ref()
                .map(|d| d.event_id.clone())
                .unwrap_or_default(),
            reason: reason.to_owned(),
        };
        let detection = event
            .detection
            .as_ref()
            .ok_or_else(|| invalid("no detection"))?;
        let event_id = Uuid::parse_str(&detection.event_id)
            .map_err(|e| invalid(&format!("event_id is not a UUID: {e}")))?;
        let captured = detection
            .captured_at
            .as_ref()
            .ok_or_else(|| invalid("no captured_at"))?;
        let captured_at_ms = captured.seconds * 1000 + i64::from(captured.nanos / 1_000_000);
        if detection.camera_id.is_empty() {
            return Err(invalid("no camera_id"));
        }
        if event.commune_id.is_empty() {
            return Err(invalid("not enriched: no commune_id"));
        }
        let plate_normalized = detection
            .plate
            .as_ref()
            .map_or("", |p| p.normalized.as_str());
        let plate_key = match &detection.plate {
            Some(plate) if !plate.normalized.is_empty() => ocr_key(&plate.normalized),
            Some(plate) => ocr_key(&plate.text),
            None => String::new(),
        };
        Ok(Self {
            event_id,
            captured_at: CqlTimestamp(captured_at_ms),
            captured_at_ms,
            camera_id: &detection.camera_id,
            commune_id: &event.commune_id,
            village_id: &event.village_id,
            kind: detection.kind,
            plate_normalized,
            plate_key,
        })
    }
}

impl EventStore {
    /// Prepares the statements against the migrated `keyspace`; `ttl` of
    /// zero keeps events forever.
    pub async fn prepare(keyspace: &Keyspace, ttl: Duration) -> Result<Self, StoreError> {
        let ttl_seconds = i32::try_from(ttl.as_secs()).unwrap_or(i32::MAX);
        Ok(Self {
            insert_by_id: keyspace.prepare(
                "insert into events_by_id",
                "INSERT INTO ${keyspace}.events_by_id (event_id, camera_id, commune_id, captured_at, payload) \
                 VALUES (?, ?, ?, ?, ?) USING TTL ?",
            )
            .await?,
            insert_by_commune_hour: keyspace.prepare(
                "insert into events_by_commune_hour",
                "INSERT INTO ${keyspace}.events_by_commune_hour (commune_id, hour, captured_at, event_id, \
                 village_id, camera_id, kind, plate_normalized, payload) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?",
            )
            .await?,
            insert_by_village_hour: keyspace.prepare(
                "insert into events_by_village_hour",
                "INSERT INTO ${keyspace}.events_by_village_hour (village_id, hour, captured_at, event_id, \
                 commune_id, camera_id, kind, plate_normalized, payload) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?",
            )
            .await?,
            insert_by_camera_day: keyspace.prepare(
                "insert into events_by_camera_day",
                "INSERT INTO ${keyspace}.events_by_camera_day (camera_id, day, captured_at, event_id, kind, \
                 plate_normalized, payload) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?",
            )
            .await?,
            insert_by_plate_month: keyspace.prepare(
                "insert into events_by_plate_month",
                "INSERT INTO ${keyspace}.events_by_plate_month (plate_normalized, month, captured_at, \
                 event_id, camera_id, commune_id, village_id, payload) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?",
            )
            .await?,
            insert_by_plate_key_month: keyspace.prepare(
                "insert into events_by_plate_key_month",
                "INSERT INTO ${keyspace}.events_by_plate_key_month (plate_key, month, captured_at, \
                 event_id, plate_normalized, commune_id, payload) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?",
            )
            .await?,
            select_by_id: keyspace.prepare(
                "select from events_by_id",
                "SELECT payload FROM ${keyspace}.events_by_id WHERE event_id = ?",
            )
            .await?,
            select_by_camera_day: keyspace.prepare(
                "select from events_by_camera_day",
                "SELECT payload FROM ${keyspace}.events_by_camera_day \
                 WHERE camera_id = ? AND day = ? LIMIT ?",
            )
            .await?,
            session: Arc::clone(keyspace.session()),
            ttl_seconds,
        })
    }

    /// Writes `event` to every table it belongs in, unless its id is stored
    /// with another detection: one read of `events_by_id` decides, and
    /// returns the stored payload when the id was taken.
    pub async fn write(&self, event: &EnrichedDetection) -> Result<Written, StoreError> {
        let keys = EventKeys::of(event)?;
        let Some(stored_payload) = self.stored_payload(keys.event_id).await? else {
            let payload = event.encode_to_vec();
            futures::try_join!(
                self.insert_by_id(&keys, &payload),
                self.write_query_tables(&keys, &payload)
            )?;
            return Ok(Written::New);
        };
        let stored = decode(keys.event_id, &stored_payload)?;
        if !same_detection(stored.detection.as_ref(), event.detection.as_ref()) {
            return Ok(Written::Conflicting);
        }
        self.write_query_tables(&EventKeys::of(&stored)?, &stored_payload)
            .await?;
        Ok(Written::Again(Box::new(stored)))
    }

    async fn insert_by_id(&self, keys: &EventKeys<'_>, payload: &[u8]) -> Result<(), StoreError> {
        self.execute(
            "events_by_id",
            keys,
            &self.insert_by_id,
            (
                keys.event_id,
                keys.camera_id,
                keys.commune_id,
                keys.captured_at,
                payload,
                self.ttl_seconds,
            ),
        )
        .await
    }

    /// Writes the query tables (all but `events_by_id`) concurrently;
    /// writing the same event again overwrites the same rows.
    async fn write_query_tables(
        &self,
        keys: &EventKeys<'_>,
        payload: &[u8],
    ) -> Result<(), StoreError> {
        let ttl = self.ttl_seconds;
        let at = keys.captured_at;
        let by_commune = self.execute(
            "events_by_commune_hour",
            keys,
            &self.insert_by_commune_hour,
            (
                keys.commune_id,
                CqlTimestamp(hour_bucket(keys.captured_at_ms)),
                at,
                keys.event_id,
                keys.village_id,
                keys.camera_id,
                keys.kind,
                keys.plate_normalized,
                payload,
                ttl,
            ),
        );
        // Every enriched event has a village; one stored without (by hand)
        // has no village partition to go to.
        let by_village = async {
            if keys.village_id.is_empty() {
                return Ok(());
            }
            self.execute(
                "events_by_village_hour",
                keys,
                &self.insert_by_village_hour,
                (
                    keys.village_id,
                    CqlTimestamp(hour_bucket(keys.captured_at_ms)),
                    at,
                    keys.event_id,
                    keys.commune_id,
                    keys.camera_id,
                    keys.kind,
                    keys.plate_normalized,
                    payload,
                    ttl,
                ),
            )
            .await
        };
        let by_camera = self.execute(
            "events_by_camera_day",
            keys,
            &self.insert_by_camera_day,
            (
                keys.camera_id,
                CqlTimestamp(day_bucket(keys.captured_at_ms)),
                at,
                keys.event_id,
                keys.kind,
                keys.plate_normalized,
                payload,
                ttl,
            ),
        );
        let by_plate = async {
            let plate = keys.plate_normalized;
            if plate.is_empty() {
                return Ok(());
            }
            self.execute(
                "events_by_plate_month",
                keys,
                &self.insert_by_plate_month,
                (
                    plate,
                    CqlTimestamp(month_bucket(keys.captured_at_ms)),
                    at,
                    keys.event_id,
                    keys.camera_id,
                    keys.commune_id,
                    keys.village_id,
                    payload,
                    ttl,
                ),
            )
            .await
        };
        let by_plate_key = async {
            if keys.plate_key.is_empty() {
                return Ok(());
            }
            self.execute(
                "events_by_plate_key_month",
                keys,
                &self.insert_by_plate_key_month,
                (
                    &keys.plate_key,
                    CqlTimestamp(month_bucket(keys.captured_at_ms)),
                    at,
                    keys.event_id,
                    keys.plate_normalized,
                    keys.commune_id,
                    payload,
                    ttl,
                ),
            )
            .await
        };
        futures::try_join!(by_commune, by_village, by_camera, by_plate, by_plate_key)?;
        Ok(())
    }

    /// The stored event with `event_id`, if any.
    pub async fn get(&self, event_id: Uuid) -> Result<Option<EnrichedDetection>, StoreError> {
        self.stored_payload(event_id)
            .await?
            .map(|payload| decode(event_id, &payload))
            .transpose()
    }

    /// The payload stored under `event_id` in `events_by_id`, as written.
    async fn stored_payload(&self, event_id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.select_by_id, (event_id,))
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("reading event {event_id} from events_by_id"),
                source: Box::new(source),
            })?;
        let rows_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Rows {
            what: "events_by_id",
            source: e,
        };
        let rows = result.into_rows_result().map_err(|e| rows_err(e.into()))?;
        let row = rows
            .maybe_first_row::<(Vec<u8>,)>()
            .map_err(|e| rows_err(e.into()))?;
        Ok(row.map(|(payload,)| payload))
    }

    /// The newest `limit` events of `camera_id` on the UTC day holding
    /// `at_ms`, newest first.
    pub async fn recent_by_camera(
        &self,
        camera_id: &str,
        at_ms: i64,
        limit: i32,
    ) -> Result<Vec<EnrichedDetection>, StoreError> {
        let result = self
            .session
            .execute_unpaged(
                &self.select_by_camera_day,
                (camera_id, CqlTimestamp(day_bucket(at_ms)), limit),
            )
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("reading events of camera {camera_id}"),
                source: Box::new(source),
            })?;
        let rows_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Rows {
            what: "events_by_camera_day",
            source: e,
        };
        let rows = result.into_rows_result().map_err(|e| rows_err(e.into()))?;
        rows.rows::<(Vec<u8>,)>()
            .map_err(|e| rows_err(e.into()))?
            .map(|row| {
                let (payload,) = row.map_err(|e| rows_err(e.into()))?;
                EnrichedDetection::decode(payload.as_slice()).map_err(|source| StoreError::Decode {
                    event_id: Uuid::nil(),
                    source,
                })
            })
            .collect()
    }

    async fn execute(
        &self,
        table: &'static str,
        keys: &EventKeys<'_>,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map(drop)
            .map_err(|source| StoreError::Execute {
                what: format!("writing event {} to {table}", keys.event_id),
                source: Box::new(source),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    // 2026-11-28T13:45:10.123Z
    const AT: i64 = 1_795_873_510_123;

    #[test]
    fn a_resent_detection_is_the_same_whatever_its_arrival_stamp() {
        let stamp = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        let first = Detection {
            event_id: "e1".to_owned(),
            camera_id: "cam-1".to_owned(),
            received_at: stamp(10),
            ..Detection::default()
        };
        let resent = Detection {
            received_at: stamp(20),
            ..first.clone()
        };
        assert!(same_detection(Some(&first), Some(&resent)));
        let other_camera = Detection {
            camera_id: "cam-2".to_owned(),
            ..first.clone()
        };
        assert!(!same_detection(Some(&first), Some(&other_camera)));
        assert!(!same_detection(Some(&first), None));
    }

    #[test]
    fn buckets_truncate_to_their_unit() {
        let at = DateTime::<Utc>::from_timestamp_millis(AT).unwrap();
        let hour = DateTime::<Utc>::from_timestamp_millis(hour_bucket(AT)).unwrap();
        let day = DateTime::<Utc>::from_timestamp_millis(day_bucket(AT)).unwrap();
        let month = DateTime::<Utc>::from_timestamp_millis(month_bucket(AT)).unwrap();
        assert_eq!(
            hour.to_rfc3339(),
            format!("{}T{:02}:00:00+00:00", at.date_naive(), at.hour())
        );
        assert_eq!(
            day.to_rfc3339(),
            format!("{}T00:00:00+00:00", at.date_naive())
        );
        assert_eq!(
            (month.year(), month.month(), month.day()),
            (at.year(), at.month(), 1)
        );
    }

    #[test]
    fn buckets_before_the_epoch_round_down() {
        assert_eq!(hour_bucket(-1), -HOUR_MS);
        assert_eq!(day_bucket(-1), -DAY_MS);
    }
}
