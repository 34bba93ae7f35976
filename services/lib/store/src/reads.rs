//! Range reads over the query-first event tables, for vigil-api: one
//! partition at a time, streamed in pages, in either time order. Which
//! partitions a query touches, how they are merged and where a page ends is
//! the API's business.

use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

use crate::{Keyspace, StoreError, fetch_all, rows_error};

/// One partition of an event table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Partition {
    /// `events_by_commune_hour`; `hour` as [`crate::hour_bucket`] gives.
    CommuneHour { commune_id: String, hour: i64 },
    /// `events_by_village_hour`: one village's rows only, so a
    /// village-scoped query never reads its neighbours'.
    VillageHour { village_id: String, hour: i64 },
    /// `events_by_camera_day`; `day` as [`crate::day_bucket`] gives.
    CameraDay { camera_id: String, day: i64 },
    /// `events_by_plate_month`: one normalized plate.
    PlateMonth { plate: String, month: i64 },
    /// `events_by_plate_key_month`: every read sharing an OCR-confusion key.
    PlateKeyMonth { key: String, month: i64 },
}

/// Time order of a scan. Within one millisecond, newest-first scans give
/// ascending event ids and oldest-first scans descending ones (the table's
/// clustering order, reversed as a whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    NewestFirst,
    OldestFirst,
}

/// One event read from a partition, with the columns filters need before
/// the payload (an encoded `vigil.v1.EnrichedDetection`) is decoded. Columns
/// a table lacks are empty.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub captured_at_ms: i64,
    pub event_id: Uuid,
    /// `vigil.v1.DetectionKind`; 0 where the table does not keep it.
    pub kind: i32,
    pub commune_id: String,
    pub village_id: String,
    pub plate_normalized: String,
    pub payload: Vec<u8>,
}

/// The statements of one table, newest-first and oldest-first.
#[derive(Debug, Clone)]
struct Scan {
    newest_first: PreparedStatement,
    oldest_first: PreparedStatement,
}

impl Scan {
    async fn prepare(
        keyspace: &Keyspace,
        what: &'static str,
        table: &str,
        columns: &str,
        key: &str,
    ) -> Result<Self, StoreError> {
        let cql = |order: &str| {
            format!(
                "SELECT captured_at, event_id, payload, {columns} FROM {} \
                 WHERE {key} AND captured_at >= ? AND captured_at < ? ORDER BY captured_at {order}",
                keyspace.table(table)
            )
        };
        Ok(Self {
            newest_first: keyspace.prepare(what, &cql("DESC")).await?,
            oldest_first: keyspace.prepare(what, &cql("ASC")).await?,
        })
    }

    fn statement(&self, direction: Direction, page_size: i32) -> PreparedStatement {
        let mut statement = match direction {
            Direction::NewestFirst => self.newest_first.clone(),
            Direction::OldestFirst => self.oldest_first.clone(),
        };
        statement.set_page_size(page_size.max(1));
        statement
    }
}

type Head = (CqlTimestamp, Uuid, Vec<u8>);

/// Prepared range reads over the event tables of one keyspace.
#[derive(Debug, Clone)]
pub struct EventReader {
    session: Arc<Session>,
    commune_hour: Scan,
    village_hour: Scan,
    camera_day: Scan,
    plate_month: Scan,
    plate_key_month: Scan,
    count_camera_day: PreparedStatement,
    kinds_of_village_hour: PreparedStatement,
}

impl EventReader {
    /// Prepares the statements against the migrated `keyspace`.
    pub async fn prepare(keyspace: &Keyspace) -> Result<Self, StoreError> {
        Ok(Self {
            commune_hour: Scan::prepare(
                keyspace,
                "scan of events_by_commune_hour",
                "events_by_commune_hour",
                "kind, village_id",
                "commune_id = ? AND hour = ?",
            )
            .await?,
            village_hour: Scan::prepare(
                keyspace,
                "scan of events_by_village_hour",
                "events_by_village_hour",
                "kind, commune_id",
                "village_id = ? AND hour = ?",
            )
            .await?,
            camera_day: Scan::prepare(
                keyspace,
                "scan of events_by_camera_day",
                "events_by_camera_day",
                "kind",
                "camera_id = ? AND day = ?",
            )
            .await?,
            plate_month: Scan::prepare(
                keyspace,
                "scan of events_by_plate_month",
                "events_by_plate_month",
                "commune_id, village_id",
                "plate_normalized = ? AND month = ?",
            )
            .await?,
            plate_key_month: Scan::prepare(
                keyspace,
                "scan of events_by_plate_key_month",
                "events_by_plate_key_month",
                "commune_id, plate_normalized",
                "plate_key = ? AND month = ?",
            )
            .await?,
            count_camera_day: keyspace
                .prepare(
                    "count of events_by_camera_day",
                    "SELECT COUNT(*) FROM ${keyspace}.events_by_camera_day \
                     WHERE camera_id = ? AND day = ? AND captured_at >= ? AND captured_at < ?",
                )
                .await?,
            kinds_of_village_hour: keyspace
                .prepare(
                    "kinds of events_by_village_hour",
                    "SELECT kind FROM ${keyspace}.events_by_village_hour \
                     WHERE village_id = ? AND hour = ? AND captured_at >= ? AND captured_at < ?",
                )
                .await?,
            session: Arc::clone(keyspace.session()),
        })
    }

    /// The events of `partition` captured in `[start_ms, end_ms)`, in
    /// `direction`, fetched `page_size` rows at a time as the stream is
    /// read (stop reading and no further page is fetched).
    pub async fn scan(
        &self,
        partition: &Partition,
        start_ms: i64,
        end_ms: i64,
        direction: Direction,
        page_size: i32,
    ) -> Result<BoxStream<'static, Result<EventRow, StoreError>>, StoreError> {
        let range = (CqlTimestamp(start_ms), CqlTimestamp(end_ms));
        let what = || format!("reading {partition:?}");
        let stream = match partition {
            Partition::CommuneHour { commune_id, hour } => {
                let commune = commune_id.clone();
                self.pages::<(CqlTimestamp, Uuid, Vec<u8>, Option<i32>, Option<String>)>(
                    self.commune_hour.statement(direction, page_size),
                    (commune_id, CqlTimestamp(*hour), range.0, range.1),
                    what,
                    "events_by_commune_hour",
                )
                .await?
                .map_ok(move |(at, id, payload, kind, village)| EventRow {
                    kind: kind.unwrap_or_default(),
                    commune_id: commune.clone(),
                    village_id: village.unwrap_or_default(),
                    ..row((at, id, payload))
                })
                .boxed()
            }
            Partition::VillageHour { village_id, hour } => {
                let village = village_id.clone();
                self.pages::<(CqlTimestamp, Uuid, Vec<u8>, Option<i32>, Option<String>)>(
                    self.village_hour.statement(direction, page_size),
                    (village_id, CqlTimestamp(*hour), range.0, range.1),
                    what,
                    "events_by_village_hour",
                )
                .await?
                .map_ok(move |(at, id, payload, kind, commune)| EventRow {
                    kind: kind.unwrap_or_default(),
                    commune_id: commune.unwrap_or_default(),
                    village_id: village.clone(),
                    ..row((at, id, payload))
                })
                .boxed()
            }
            Partition::CameraDay { camera_id, day } => self
                .pages::<(CqlTimestamp, Uuid, Vec<u8>, Option<i32>)>(
                    self.camera_day.statement(direction, page_size),
                    (camera_id, CqlTimestamp(*day), range.0, range.1),
                    what,
                    "events_by_camera_day",
                )
                .await?
                .map_ok(|(at, id, payload, kind)| EventRow {
                    kind: kind.unwrap_or_default(),
                    ..row((at, id, payload))
                })
                .boxed(),
            Partition::PlateMonth { plate, month } => {
                let plate_normalized = plate.clone();
                self.pages::<(CqlTimestamp, Uuid, Vec<u8>, Option<String>, Option<String>)>(
                    self.plate_month.statement(direction, page_size),
                    (plate, CqlTimestamp(*month), range.0, range.1),
                    what,
                    "events_by_plate_month",
                )
                .await?
                .map_ok(move |(at, id, payload, commune, village)| EventRow {
                    commune_id: commune.unwrap_or_default(),
                    village_id: village.unwrap_or_default(),
                    plate_normalized: plate_normalized.clone(),
                    ..row((at, id, payload))
                })
                .boxed()
            }
            Partition::PlateKeyMonth { key, month } => self
                .pages::<(CqlTimestamp, Uuid, Vec<u8>, Option<String>, Option<String>)>(
                    self.plate_key_month.statement(direction, page_size),
                    (key, CqlTimestamp(*month), range.0, range.1),
                    what,
                    "events_by_plate_key_month",
                )
                .await?
                .map_ok(|(at, id, payload, commune, plate)| EventRow {
                    commune_id: commune.unwrap_or_default(),
                    plate_normalized: plate.unwrap_or_default(),
                    ..row((at, id, payload))
                })
                .boxed(),
        };
        Ok(stream)
    }

    /// How many events `camera_id` produced in `[start_ms, end_ms)` within
    /// the UTC day starting at `day`.
    pub async fn count_camera_day(
        &self,
        camera_id: &str,
        day: i64,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<u64, StoreError> {
        let rows: Vec<(i64,)> = fetch_all(
            &self.session,
            &self.count_camera_day,
            (
                camera_id,
                CqlTimestamp(day),
                CqlTimestamp(start_ms),
                CqlTimestamp(end_ms),
            ),
            || format!("counting events of camera {camera_id}"),
            "events_by_camera_day",
        )
        .await?;
        Ok(rows
            .first()
            .map_or(0, |(count,)| u64::try_from(*count).unwrap_or(0)))
    }

    /// The kind (a `vigil.v1.DetectionKind` value) of every event of a
    /// village-hour captured in `[start_ms, end_ms)`, for counts below
    /// commune level, which `event_counts` does not keep. Reads only the
    /// village's own partition.
    pub async fn kinds_in_village_hour(
        &self,
        village_id: &str,
        hour: i64,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<i32>, StoreError> {
        let rows: Vec<(Option<i32>,)> = fetch_all(
            &self.session,
            &self.kinds_of_village_hour,
            (
                village_id,
                CqlTimestamp(hour),
                CqlTimestamp(start_ms),
                CqlTimestamp(end_ms),
            ),
            || format!("reading kinds of village {village_id} in hour {hour}"),
            "events_by_village_hour",
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|(kind,)| kind.unwrap_or_default())
            .collect())
    }

    async fn pages<T>(
        &self,
        statement: PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
        what: impl FnOnce() -> String,
        table: &'static str,
    ) -> Result<BoxStream<'static, Result<T, StoreError>>, StoreError>
    where
        T: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + Send + 'static,
    {
        let pager = self
            .session
            .execute_iter(statement, values)
            .await
            .map_err(|source| StoreError::Execute {
                what: what(),
                source: Box::new(source),
            })?;
        Ok(pager
            .rows_stream::<T>()
            .map_err(|e| rows_error(table, e))?
            .map_err(move |e| rows_error(table, e))
            .boxed())
    }
}

fn row((at, event_id, payload): Head) -> EventRow {
    EventRow {
        captured_at_ms: at.0,
        event_id,
        kind: 0,
        commune_id: String::new(),
        village_id: String::new(),
        plate_normalized: String::new(),
        payload,
    }
}
