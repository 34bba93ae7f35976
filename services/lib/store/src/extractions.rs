//! Extractions: audited pulls of events for a case. The summary (a
//! `vigil.v1.Extraction` without items) is stored by id, by case and by
//! commune; the items in their own partition, in order.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prost::Message;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;
use vigil_proto::v1::{ExtractedEvent, Extraction};

use crate::{Keyspace, StoreError, execute, fetch_all, rows_error};

/// Items written at once when an extraction is saved.
const ITEM_WRITE_CONCURRENCY: usize = 64;

/// Prepared statements over the extraction tables.
#[derive(Debug, Clone)]
pub struct ExtractionStore {
    session: Arc<Session>,
    insert_by_id: PreparedStatement,
    insert_by_case: PreparedStatement,
    insert_by_commune: PreparedStatement,
    insert_item: PreparedStatement,
    select_by_id: PreparedStatement,
    select_items: PreparedStatement,
    select_by_case: PreparedStatement,
    select_by_commune: PreparedStatement,
}

impl ExtractionStore {
    /// Prepares the statements against the migrated `keyspace`.
    pub async fn prepare(keyspace: &Keyspace) -> Result<Self, StoreError> {
        let prepare = |what: &'static str, cql: &'static str| keyspace.prepare(what, cql);
        Ok(Self {
            insert_by_id: prepare(
                "insert into extractions",
                "INSERT INTO ${keyspace}.extractions (extraction_id, summary) VALUES (?, ?)",
            )
            .await?,
            insert_by_case: prepare(
                "insert into extractions_by_case",
                "INSERT INTO ${keyspace}.extractions_by_case (case_id, created_at, extraction_id, summary) \
                 VALUES (?, ?, ?, ?)",
            )
            .await?,
            insert_by_commune: prepare(
                "insert into extractions_by_commune",
                "INSERT INTO ${keyspace}.extractions_by_commune (commune_id, created_at, extraction_id, \
                 summary) VALUES (?, ?, ?, ?)",
            )
            .await?,
            insert_item: prepare(
                "insert into extraction_items",
                "INSERT INTO ${keyspace}.extraction_items (extraction_id, position, item) VALUES (?, ?, ?)",
            )
            .await?,
            select_by_id: prepare(
                "select from extractions",
                "SELECT summary FROM ${keyspace}.extractions WHERE extraction_id = ?",
            )
            .await?,
            select_items: prepare(
                "select from extraction_items",
                "SELECT item FROM ${keyspace}.extraction_items WHERE extraction_id = ?",
            )
            .await?,
            select_by_case: prepare(
                "select from extractions_by_case",
                "SELECT summary FROM ${keyspace}.extractions_by_case WHERE case_id = ? LIMIT ?",
            )
            .await?,
            select_by_commune: prepare(
                "select from extractions_by_commune",
                "SELECT summary FROM ${keyspace}.extractions_by_commune \
                 WHERE commune_id = ? AND created_at >= ? AND created_at < ? LIMIT ?",
            )
            .await?,
            session: Arc::clone(keyspace.session()),
        })
    }

    /// Saves `extraction` (its id a UUID, `created_at` set): the items
    /// first, the summaries last, so a listed extraction always has all its
    /// items.
    pub async fn save(&self, extraction: &Extraction) -> Result<(), StoreError> {
        use futures::StreamExt;
        let invalid = |reason: String| StoreError::InvalidEvent {
            event_id: extraction.extraction_id.clone(),
            reason,
        };
        let id = Uuid::parse_str(&extraction.extraction_id)
            .map_err(|e| invalid(format!("extraction_id is not a UUID: {e}")))?;
        let created_at = extraction
            .created_at
            .as_ref()
            .and_then(|at| DateTime::<Utc>::from_timestamp(at.seconds, 0))
            .ok_or_else(|| invalid("no created_at".to_owned()))?;
        let writes: Vec<_> = extraction
            .items
            .iter()
            .enumerate()
            .map(|(position, item)| {
                let position = i32::try_from(position).unwrap_or(i32::MAX);
                execute(
                    &self.session,
                    &self.insert_item,
                    (id, position, item.encode_to_vec()),
                    move || format!("writing item {position} of extraction {id}"),
                )
            })
            .collect();
        let mut writes = futures::stream::iter(writes).buffer_unordered(ITEM_WRITE_CONCURRENCY);
        while let Some(written) = writes.next().await {
            written?;
        }
        let summary = Extraction {
            items: Vec::new(),
            ..extraction.clone()
        }
        .encode_to_vec();
        let what = || format!("writing extraction {id}");
        futures::try_join!(
            execute(&self.session, &self.insert_by_id, (id, &summary), what),
            execute(
                &self.session,
                &self.insert_by_case,
                (&extraction.case_id, created_at, id, &summary),
                what
            ),
            execute(
                &self.session,
                &self.insert_by_commune,
                (&extraction.commune_id, created_at, id, &summary),
                what
            ),
        )?;
        Ok(())
    }

    /// The extraction with `id`, items included.
    pub async fn get(&self, id: Uuid) -> Result<Option<Extraction>, StoreError> {
        let summaries: Vec<(Vec<u8>,)> = fetch_all(
            &self.session,
            &self.select_by_id,
            (id,),
            || format!("reading extraction {id}"),
            "extractions",
        )
        .await?;
        let Some((summary,)) = summaries.into_iter().next() else {
            return Ok(None);
        };
        let mut extraction = decode::<Extraction>(&summary, "extractions")?;
        let items: Vec<(Vec<u8>,)> = fetch_all(
            &self.session,
            &self.select_items,
            (id,),
            || format!("reading the items of extraction {id}"),
            "extraction_items",
        )
        .await?;
        extraction.items = items
            .iter()
            .map(|(item,)| decode::<ExtractedEvent>(item, "extraction_items"))
            .collect::<Result<_, _>>()?;
        Ok(Some(extraction))
    }

    /// The newest `limit` extractions of `case_id` (summaries).
    pub async fn by_case(&self, case_id: &str, limit: i32) -> Result<Vec<Extraction>, StoreError> {
        let rows: Vec<(Vec<u8>,)> = fetch_all(
            &self.session,
            &self.select_by_case,
            (case_id, limit),
            || format!("reading extractions of case {case_id}"),
            "extractions_by_case",
        )
        .await?;
        rows.iter()
            .map(|(summary,)| decode(summary, "extractions_by_case"))
            .collect()
    }

    /// The newest `limit` extractions filed under `commune_id` (the
    /// province's id for province-wide ones) created in `[start, end)`
    /// (summaries).
    pub async fn by_commune(
        &self,
        commune_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<Extraction>, StoreError> {
        let rows: Vec<(Vec<u8>,)> = fetch_all(
            &self.session,
            &self.select_by_commune,
            (commune_id, start, end, limit),
            || format!("reading extractions of commune {commune_id}"),
            "extractions_by_commune",
        )
        .await?;
        rows.iter()
            .map(|(summary,)| decode(summary, "extractions_by_commune"))
            .collect()
    }
}

fn decode<T: Message + Default>(bytes: &[u8], table: &'static str) -> Result<T, StoreError> {
    T::decode(bytes).map_err(|e| rows_error(table, e))
}
