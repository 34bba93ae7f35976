//! `vigil.v1.ExtractionService` (audited pulls of events for a case) and
//! `vigil.v1.AuditService` (the log auditors read).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};
use uuid::Uuid;
use vigil_domain::ZoneLevel;
use vigil_proto::v1::audit_service_server::AuditService;
use vigil_proto::v1::extraction_service_server::ExtractionService;
use vigil_proto::v1::{
    CommuneExtractionStats, CreateExtractionRequest, ExtractedEvent, Extraction, ExtractionQuery,
    ExtractionStatsRequest, ExtractionStatsResponse, GetExtractionRequest, ListAuditRequest,
    ListAuditResponse, ListExtractionsRequest, ListExtractionsResponse,
    list_extractions_request::Filter,
};
use vigil_store::day_bucket;

use crate::auth::{Action, Caller};
use crate::backend::{Backend, timestamp};
use crate::error::{ApiError, ApiResult};
use crate::fanout::buckets;
use crate::query::MAX_REPORT_DAYS;
use vigil_request::audit::AuditQuery;
use vigil_request::{Window, required_text};

/// Events fetched per round while an extraction is collected.
const EXTRACTION_PAGE: usize = 1_000;
const DEFAULT_LIST_LIMIT: u32 = 100;
const MAX_LIST_LIMIT: u32 = 1_000;
/// Extractions read per commune for statistics.
const STATS_LIMIT: i32 = 100_000;

/// The extraction and audit services over the shared backend.
#[derive(Debug, Clone)]
pub struct Extractions {
    pub(crate) backend: Arc<Backend>,
}

/// `limit`, defaulted and capped, or an error naming the field.
fn list_limit(limit: u32) -> ApiResult<i32> {
    match limit {
        0 => Ok(DEFAULT_LIST_LIMIT as i32),
        n if n > MAX_LIST_LIMIT => Err(ApiError::invalid(
            "limit",
            format!("{n} is more than the maximum {MAX_LIST_LIMIT}"),
        )),
        n => Ok(n as i32),
    }
}

/// SHA-256 over the items' manifest lines, in order.
pub(crate) fn manifest_sha256(items: &[ExtractedEvent]) -> String {
    let mut digest = Sha256::new();
    for item in items {
        digest.update(format!(
            "{} {} {}\n",
            item.event_id, item.snapshot_sha256, item.snapshot_uri
        ));
    }
    hex::encode(digest.finalize())
}

fn item(event: vigil_proto::v1::EnrichedDetection) -> ExtractedEvent {
    let detection = event.detection.unwrap_or_default();
    let snapshot = detection.snapshot.unwrap_or_default();
    ExtractedEvent {
        event_id: detection.event_id,
        captured_at: detection.captured_at,
        camera_id: detection.camera_id,
        commune_id: event.commune_id,
        kind: detection.kind,
        plate_normalized: detection.plate.map(|p| p.normalized).unwrap_or_default(),
        snapshot_uri: snapshot.uri,
        snapshot_sha256: snapshot.sha256,
    }
}

impl Backend {
    /// Runs an extraction's query to the end: every matching event, or an
    /// error if there are more than the limit.
    async fn extract(
        &self,
        caller: &Caller,
        query: &ExtractionQuery,
    ) -> ApiResult<Vec<ExtractedEvent>> {
        let max = self.limits.max_extraction;
        let too_many = || {
            ApiError::TooLarge(format!(
                "the query matches more than {max} events; narrow the window or the zone"
            ))
        };
        let mut items = Vec::new();
        let mut after = None;
        if query.plate.is_empty() {
            let filter = self.event_filter(
                caller,
                &query.zone_id,
                query.window.as_ref(),
                &query.kinds,
                &query.camera_ids,
            )?;
            loop {
                let page = self
                    .events_page(caller, &filter, after, EXTRACTION_PAGE)
                    .await?;
                items.extend(page.items.into_iter().map(item));
                if items.len() > max {
                    return Err(too_many());
                }
                match page.next {
                    Some(cursor) => after = Some(cursor),
                    None => return Ok(items),
                }
            }
        }
        let search = self.plate_search(&query.plate, query.window.as_ref(), query.fuzzy)?;
        loop {
            let page = self
                .sightings_page(caller, &search, after, EXTRACTION_PAGE)
                .await?;
            items.extend(page.items.into_iter().map(|s| {
                ExtractedEvent {
                    event_id: s.event_id,
                    captured_at: s.captured_at,
                    camera_id: s.camera_id,
                    commune_id: s.commune_id,
                    kind: s.kind,
                    plate_normalized: s.plate_normalized,
                    snapshot_uri: s
                        .snapshot
                        .as_ref()
                        .map(|x| x.uri.clone())
                        .unwrap_or_default(),
                    snapshot_sha256: s.snapshot.map(|x| x.sha256).unwrap_or_default(),
                }
            }));
            if items.len() > max {
                return Err(too_many());
            }
            match page.next {
                Some(cursor) => after = Some(cursor),
                None => return Ok(items),
            }
        }
    }

    /// The commune an extraction is filed under: the query's zone's commune,
    /// else the caller's, else the province. The zone must lie in the
    /// caller's scope, plate extractions included: a record filed under
    /// another commune would be hidden from its maker and shown to others.
    fn filing_commune(&self, caller: &Caller, query: &ExtractionQuery) -> ApiResult<String> {
        let registry = self.registry();
        let zone = caller.scoped_zone(&registry, &query.zone_id)?;
        Ok(registry
            .commune_of(&zone)
            .map(|c| c.id.clone())
            .unwrap_or(zone))
    }

    async fn create_extraction(
        &self,
        caller: &Caller,
        request: &CreateExtractionRequest,
    ) -> ApiResult<(Extraction, usize)> {
        caller.require(Action::CreateExtraction)?;
        let case_id = request.case_id.trim();
        if case_id.is_empty() || case_id.len() > 64 || case_id.chars().any(char::is_control) {
            return Err(ApiError::invalid("case_id", "1 to 64 printable characters"));
        }
        let reason = required_text(&request.reason, "reason", "extractions need a reason")?;
        let query = request
            .query
            .clone()
            .ok_or_else(|| ApiError::invalid("query", "say what to extract"))?;
        let commune_id = self.filing_commune(caller, &query)?;
        let items = self.extract(caller, &query).await?;
        let now = Utc::now();
        let extraction = Extraction {
            extraction_id: Uuid::now_v7().to_string(),
            case_id: case_id.to_owned(),
            reason: reason.to_owned(),
            commune_id,
            query: Some(query),
            requested_by: caller.token_id.clone(),
            requester_name: caller.name.clone(),
            created_at: Some(timestamp(now.timestamp_millis())),
            event_count: u32::try_from(items.len()).unwrap_or(u32::MAX),
            manifest_sha256: manifest_sha256(&items),
            items,
        };
        self.stores.extractions.save(&extraction).await?;
        let count = extraction.items.len();
        Ok((extraction, count))
    }

    /// Whether `caller` may see extraction records filed under `commune_id`.
    fn sees_extractions_of(&self, caller: &Caller, commune_id: &str) -> bool {
        caller.role == vigil_proto::v1::Role::Auditor || caller.covers(&self.registry(), commune_id)
    }

    async fn extraction_stats(
        &self,
        caller: &Caller,
        request: ExtractionStatsRequest,
    ) -> ApiResult<ExtractionStatsResponse> {
        caller.require(Action::ReadExtractions)?;
        let window = Window::parse(request.window.as_ref(), "window", 366)?;
        let filings: Vec<String> = {
            let registry = self.registry();
            registry
                .zones()
                .filter(|z| matches!(z.level(), ZoneLevel::Commune | ZoneLevel::Province))
                .filter(|z| {
                    caller.role == vigil_proto::v1::Role::Auditor || caller.covers(&registry, &z.id)
                })
                .map(|z| z.id.clone())
                .collect()
        };
        let reads: Vec<_> = filings
            .iter()
            .map(|commune| async move {
                let found = self
                    .stores
                    .extractions
                    .by_commune(commune, window.start(), window.end(), STATS_LIMIT)
                    .await?;
                Ok::<_, ApiError>((commune.clone(), found))
            })
            .collect();
        let found: Vec<(String, Vec<Extraction>)> = futures::stream::iter(reads)
            .buffer_unordered(self.limits.fanout)
            .try_collect()
            .await?;
        let mut communes = BTreeMap::new();
        let mut all_cases = HashSet::new();
        let (mut extractions, mut events) = (0u32, 0u64);
        for (commune_id, list) in found.into_iter().filter(|(_, l)| !l.is_empty()) {
            let cases: HashSet<&str> = list.iter().map(|e| e.case_id.as_str()).collect();
            all_cases.extend(cases.iter().map(|c| c.to_string()));
            let commune_events: u64 = list.iter().map(|e| u64::from(e.event_count)).sum();
            extractions += u32::try_from(list.len()).unwrap_or(u32::MAX);
            events += commune_events;
            communes.insert(
                commune_id.clone(),
                CommuneExtractionStats {
                    commune_id,
                    extractions: u32::try_from(list.len()).unwrap_or(u32::MAX),
                    cases: u32::try_from(cases.len()).unwrap_or(u32::MAX),
                    events: commune_events,
                },
            );
        }
        Ok(ExtractionStatsResponse {
            communes: communes.into_values().collect(),
            extractions,
            cases: u32::try_from(all_cases.len()).unwrap_or(u32::MAX),
            events,
        })
    }

    async fn list_audit(
        &self,
        caller: &Caller,
        request: ListAuditRequest,
    ) -> ApiResult<ListAuditResponse> {
        caller.require(Action::ReadAudit)?;
        let window = Window::parse(request.window.as_ref(), "window", MAX_REPORT_DAYS)?;
        let limit = usize::try_from(list_limit(request.limit)?).unwrap_or(0);
        let days = buckets(
            window,
            vigil_store::Direction::NewestFirst,
            day_bucket,
            |d| d + 86_400_000,
        );
        let mut entries = Vec::new();
        for day in days {
            let found = self
                .stores
                .audit
                .day(day, window.start_ms, window.end_ms)
                .await?;
            entries.extend(found.into_iter().filter(|entry| {
                (request.token_id.is_empty() || entry.token_id == request.token_id)
                    && (request.action.is_empty() || entry.action == request.action)
            }));
            if entries.len() >= limit {
                break;
            }
        }
        entries.truncate(limit);
        Ok(ListAuditResponse { entries })
    }
}

/// An extraction as `caller` may read it: auditors check that extractions
/// were made for a case and not altered (ids, times, cameras, hashes), but
/// get no event data (plate text, where the snapshots are).
fn for_reader(caller: &Caller, mut extraction: Extraction) -> Extraction {
    if caller.role == vigil_proto::v1::Role::Auditor {
        for item in &mut extraction.items {
            item.plate_normalized.clear();
            item.snapshot_uri.clear();
        }
    }
    extraction
}

/// What an extraction asked for, for the audit log.
fn extraction_audit_query(request: &CreateExtractionRequest) -> AuditQuery {
    let query = AuditQuery::new().text("case", &request.case_id);
    match &request.query {
        None => query,
        Some(q) => query
            .text("zone", &q.zone_id)
            .text("plate", &q.plate)
            .flag("fuzzy", q.fuzzy)
            .kinds("kinds", &q.kinds)
            .list("cameras", &q.camera_ids)
            .window("window", q.window.as_ref()),
    }
}

#[tonic::async_trait]
impl ExtractionService for Extractions {
    async fn create_extraction(
        &self,
        request: Request<CreateExtractionRequest>,
    ) -> Result<Response<Extraction>, Status> {
        self.backend
            .serve(
                "CreateExtraction",
                request,
                |backend, caller, request| async move {
                    let query = extraction_audit_query(&request);
                    let reason = request.reason.clone();
                    let act = {
                        let (backend, caller) = (Arc::clone(&backend), caller.clone());
                        async move { backend.create_extraction(&caller, &request).await }
                    };
                    backend
                        .audited(&caller, "CreateExtraction", &reason, &query, act)
                        .await
                },
            )
            .await
    }

    async fn get_extraction(
        &self,
        request: Request<GetExtractionRequest>,
    ) -> Result<Response<Extraction>, Status> {
        self.backend
            .serve(
                "GetExtraction",
                request,
                |backend, caller, request| async move {
                    caller.require(Action::ReadExtractions)?;
                    let id = Uuid::parse_str(&request.extraction_id).map_err(|e| {
                        ApiError::invalid("extraction_id", format!("not a UUID: {e}"))
                    })?;
                    let extraction = backend
                        .stores
                        .extractions
                        .get(id)
                        .await?
                        .ok_or_else(|| ApiError::unknown("extraction", id))?;
                    if !backend.sees_extractions_of(&caller, &extraction.commune_id) {
                        return Err(ApiError::unknown("extraction", id));
                    }
                    Ok(for_reader(&caller, extraction))
                },
            )
            .await
    }

    async fn list_extractions(
        &self,
        request: Request<ListExtractionsRequest>,
    ) -> Result<Response<ListExtractionsResponse>, Status> {
        self.backend
            .serve(
                "ListExtractions",
                request,
                |backend, caller, request| async move {
                    caller.require(Action::ReadExtractions)?;
                    let limit = list_limit(request.limit)?;
                    let extractions = match request.filter {
                        Some(Filter::CaseId(case_id)) => backend
                            .stores
                            .extractions
                            .by_case(&case_id, limit)
                            .await?
                            .into_iter()
                            .filter(|e| backend.sees_extractions_of(&caller, &e.commune_id))
                            .collect(),
                        Some(Filter::CommuneId(commune_id)) => {
                            if !backend.sees_extractions_of(&caller, &commune_id) {
                                return Err(ApiError::PermissionDenied(format!(
                                    "commune {commune_id} is outside this token's scope"
                                )));
                            }
                            let now = Utc::now();
                            backend
                                .stores
                                .extractions
                                .by_commune(&commune_id, chrono::DateTime::UNIX_EPOCH, now, limit)
                                .await?
                        }
                        None => {
                            return Err(ApiError::invalid(
                                "filter",
                                "give a case_id or a commune_id",
                            ));
                        }
                    };
                    Ok(ListExtractionsResponse { extractions })
                },
            )
            .await
    }

    async fn extraction_stats(
        &self,
        request: Request<ExtractionStatsRequest>,
    ) -> Result<Response<ExtractionStatsResponse>, Status> {
        self.backend
            .serve(
                "ExtractionStats",
                request,
                |backend, caller, request| async move {
                    backend.extraction_stats(&caller, request).await
                },
            )
            .await
    }
}

#[tonic::async_trait]
impl AuditService for Extractions {
    async fn list_audit(
        &self,
        request: Request<ListAuditRequest>,
    ) -> Result<Response<ListAuditResponse>, Status> {
        self.backend
            .serve("ListAudit", request, |backend, caller, request| async move {
                backend.list_audit(&caller, request).await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_hash_changes_with_any_item() {
        let item = |id: &str, sha: &str| ExtractedEvent {
            event_id: id.into(),
            snapshot_sha256: sha.into(),
            snapshot_uri: format!("s3://snaps/{id}.jpg"),
            ..ExtractedEvent::default()
        };
        let items = vec![item("a", "01"), item("b", "02")];
        let hash = manifest_sha256(&items);
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, manifest_sha256(&items.clone()));
        assert_ne!(hash, manifest_sha256(&[item("a", "01"), item("b", "03")]));
        assert_ne!(hash, manifest_sha256(&[item("b", "02"), item("a", "01")]));
        assert_ne!(hash, manifest_sha256(&items[..1]));
    }

    #[test]
    fn list_limits_default_and_cap() {
        assert_eq!(list_limit(0).unwrap(), 100);
        assert_eq!(list_limit(5).unwrap(), 5);
        assert!(list_limit(1_001).is_err());
    }
}
