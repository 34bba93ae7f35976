//! `vigil.v1.RegistryService`: zone, team and camera lookups, and watchlist
//! management. Watchlist changes are stored, announced on the registry
//! changelog (the enricher alerts on a new entry within seconds) and
//! applied to this instance's registry at once, so a caller reads its own
//! write.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;
use vigil_domain::plate::normalize_plate;
use vigil_domain::{Registry, RegistryEntity, WatchlistEntry, ZoneLevel};
use vigil_proto::v1::registry_service_server::RegistryService;
use vigil_proto::v1::{
    AddWatchlistEntryRequest, GetTeamRequest, ListCamerasRequest, ListCamerasResponse,
    ListWatchlistRequest, ListWatchlistResponse, ListZonesRequest, ListZonesResponse,
    RemoveWatchlistEntryRequest, RemoveWatchlistEntryResponse, Role, Team, WhoAmIRequest,
    WhoAmIResponse,
};

use crate::auth::{Action, Caller, within};
use crate::backend::Backend;
use crate::error::{ApiError, ApiResult};
use vigil_request::audit::AuditQuery;
use vigil_request::{MAX_ID_BYTES, required_text};

/// The registry service over the shared backend.
#[derive(Debug, Clone)]
pub struct Registries {
    pub(crate) backend: Arc<Backend>,
}

/// Priority of a watchlist entry added without one.
const DEFAULT_PRIORITY: u32 = 3;

#[tonic::async_trait]
impl RegistryService for Registries {
    async fn list_zones(
        &self,
        request: Request<ListZonesRequest>,
    ) -> Result<Response<ListZonesResponse>, Status> {
        self.backend
            .serve(
                "ListZones",
                request,
                |backend, caller, request| async move {
                    caller.require(Action::ReadRegistry)?;
                    let registry = backend.registry();
                    if !request.parent_id.is_empty() && registry.zone(&request.parent_id).is_none()
                    {
                        return Err(ApiError::invalid(
                            "parent_id",
                            format!("no zone {:?}", request.parent_id),
                        ));
                    }
                    let mut zones: Vec<_> = registry
                        .zones()
                        .filter(|zone| {
                            zone.parent_id.as_deref().unwrap_or_default() == request.parent_id
                        })
                        .map(|zone| zone.clone().into())
                        .collect();
                    zones.sort_by(|a: &vigil_proto::v1::Zone, b| a.id.cmp(&b.id));
                    Ok(ListZonesResponse { zones })
                },
            )
            .await
    }

    async fn get_team(&self, request: Request<GetTeamRequest>) -> Result<Response<Team>, Status> {
        self.backend
            .serve("GetTeam", request, |backend, caller, request| async move {
                caller.require(Action::ReadRegistry)?;
                let registry = backend.registry();
                let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
                let team = registry
                    .team_for_zone(&zone_id)
                    .ok_or_else(|| ApiError::NotFound(format!("no team for zone {zone_id}")))?;
                let mut team: Team = team.clone().into();
                if !caller.sees_phones() {
                    for member in &mut team.members {
                        member.phone.clear();
                    }
                }
                Ok(team)
            })
            .await
    }

    async fn list_cameras(
        &self,
        request: Request<ListCamerasRequest>,
    ) -> Result<Response<ListCamerasResponse>, Status> {
        self.backend
            .serve(
                "ListCameras",
                request,
                |backend, caller, request| async move {
                    caller.require(Action::ReadRegistry)?;
                    let registry = backend.registry();
                    let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
                    let mut cameras: Vec<vigil_proto::v1::Camera> = registry
                        .cameras()
                        .filter(|camera| within(&registry, &camera.zone_id, &zone_id))
                        .map(|camera| camera.clone().into())
                        .collect();
                    cameras.sort_by(|a, b| a.id.cmp(&b.id));
                    Ok(ListCamerasResponse { cameras })
                },
            )
            .await
    }

    async fn list_watchlist(
        &self,
        request: Request<ListWatchlistRequest>,
    ) -> Result<Response<ListWatchlistResponse>, Status> {
        self.backend
            .serve(
                "ListWatchlist",
                request,
                |backend, caller, request| async move {
                    caller.require(Action::ReadRegistry)?;
                    let registry = backend.registry();
                    let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
                    let now = Utc::now();
                    // Entries that alert in the zone: owned by it, above it
                    // (province-wide entries) or below it.
                    let mut entries: Vec<vigil_proto::v1::WatchlistEntry> = registry
                        .watchlist()
                        .filter(|entry| {
                            within(&registry, &zone_id, &entry.owner_zone_id)
                                || within(&registry, &entry.owner_zone_id, &zone_id)
                        })
                        .filter(|entry| request.include_expired || entry.is_active(now))
                        .map(|entry| {
                            let mut entry: vigil_proto::v1::WatchlistEntry = entry.clone().into();
                            // Captains look out for the plate; why it is
                            // watched and who asked stay with the police.
                            if !caller.sees_plates() {
                                entry.reason.clear();
                                entry.created_by.clear();
                            }
                            entry
                        })
                        .collect();
                    entries.sort_by(|a, b| a.id.cmp(&b.id));
                    Ok(ListWatchlistResponse { entries })
                },
            )
            .await
    }

    async fn add_watchlist_entry(
        &self,
        request: Request<AddWatchlistEntryRequest>,
    ) -> Result<Response<vigil_proto::v1::WatchlistEntry>, Status> {
        self.backend
            .serve(
                "AddWatchlistEntry",
                request,
                |backend, caller, request| async move {
                    let query = AuditQuery::new()
                        .text("plate", &request.plate)
                        .text("priority", &request.priority.to_string())
                        .instant("expires", request.expires_at.as_ref())
                        .text("owner_zone", &request.owner_zone_id)
                        .flag("province_wide", request.province_wide);
                    let reason = request.reason.clone();
                    let act = add_watchlist_entry(Arc::clone(&backend), caller.clone(), request);
                    backend
                        .audited(&caller, "AddWatchlistEntry", &reason, &query, act)
                        .await
                },
            )
            .await
    }

    async fn remove_watchlist_entry(
        &self,
        request: Request<RemoveWatchlistEntryRequest>,
    ) -> Result<Response<RemoveWatchlistEntryResponse>, Status> {
        self.backend
            .serve(
                "RemoveWatchlistEntry",
                request,
                |backend, caller, request| async move {
                    let query = AuditQuery::new().text("entry", &request.entry_id);
                    let reason = request.reason.clone();
                    let act = remove_watchlist_entry(Arc::clone(&backend), caller.clone(), request);
                    backend
                        .audited(&caller, "RemoveWatchlistEntry", &reason, &query, act)
                        .await
                },
            )
            .await
    }

    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        self.backend
            .serve("WhoAmI", request, |backend, caller, _| async move {
                let zone_name = backend
                    .registry()
                    .zone(&caller.zone_id)
                    .map(|zone| zone.name.clone())
                    .unwrap_or_default();
                Ok(WhoAmIResponse {
                    token_id: caller.token_id,
                    name: caller.name,
                    role: caller.role.into(),
                    zone_id: caller.zone_id,
                    zone_name,
                })
            })
            .await
    }
}

/// Adds a watchlist entry (the audited act of AddWatchlistEntry).
async fn add_watchlist_entry(
    backend: Arc<Backend>,
    caller: Caller,
    request: AddWatchlistEntryRequest,
) -> ApiResult<(vigil_proto::v1::WatchlistEntry, usize)> {
    caller.require(Action::ManageWatchlist)?;
    let plate = normalize_plate(&request.plate)
        .map_err(|error| ApiError::invalid("plate", error.to_string()))?;
    let reason = required_text(&request.reason, "reason", "say why the plate is watched")?;
    let priority = match request.priority {
        0 => DEFAULT_PRIORITY,
        p => p,
    };
    let priority = u8::try_from(priority)
        .ok()
        .filter(|p| WatchlistEntry::PRIORITIES.contains(p))
        .ok_or_else(|| ApiError::invalid("priority", format!("{priority} is not 1..=5")))?;
    let expires_at = match &request.expires_at {
        None => None,
        Some(at) => {
            let at = DateTime::<Utc>::from_timestamp(at.seconds, 0)
                .filter(|at| *at > Utc::now())
                .ok_or_else(|| ApiError::invalid("expires_at", "must be in the future"))?;
            Some(at)
        }
    };
    let owner_zone_id = owner_zone(
        &caller,
        &backend.registry(),
        &request.owner_zone_id,
        request.province_wide,
    )?;
    let entry = WatchlistEntry {
        id: format!("wl-{}", Uuid::now_v7()),
        plate,
        reason: reason.to_owned(),
        priority,
        expires_at,
        owner_zone_id,
        created_by: Some(format!("{} ({})", caller.name, caller.token_id)),
    };
    let entity = RegistryEntity::Watchlist(entry.clone());
    backend.stores.registry.upsert(&entity).await?;
    backend.publisher.publish([entity.clone()]).await?;
    backend
        .registry
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .upsert(entity);
    Ok((entry.into(), 1))
}

/// The zone a new watchlist entry belongs to; it matches only there. By
/// default the caller's own zone (commune police: their commune), or a
/// commune or village named in `requested` within the caller's scope
/// (PERMISSION_DENIED outside it). A province-owned entry matches
/// everywhere, so it is never a default: only a province operator may ask
/// for one, with `province_wide`.
fn owner_zone(
    caller: &Caller,
    registry: &Registry,
    requested: &str,
    province_wide: bool,
) -> ApiResult<String> {
    if province_wide {
        if caller.role != Role::ProvinceOperator {
            return Err(ApiError::PermissionDenied(format!(
                "role {} may not add a province-wide watchlist entry",
                caller.role.as_str_name()
            )));
        }
        let zone = caller.scoped_zone(registry, "")?;
        if !is_province(registry, &zone) {
            return Err(ApiError::PermissionDenied(format!(
                "a province-wide entry needs a token scoped to the province, not {zone}"
            )));
        }
        if !requested.is_empty() && requested != zone {
            return Err(ApiError::invalid(
                "owner_zone_id",
                format!("{requested} conflicts with province_wide (owned by {zone})"),
            ));
        }
        return Ok(zone);
    }
    let zone = caller
        .scoped_zone(registry, requested)
        .map_err(|error| match error {
            ApiError::InvalidArgument { reason, .. } => ApiError::invalid("owner_zone_id", reason),
            other => other,
        })?;
    if is_province(registry, &zone) {
        return Err(ApiError::invalid(
            "owner_zone_id",
            format!(
                "name the commune or village that owns the entry; an entry of the whole province ({zone}) needs province_wide"
            ),
        ));
    }
    Ok(zone)
}

/// Whether `zone_id` is a province (the top of the hierarchy).
fn is_province(registry: &Registry, zone_id: &str) -> bool {
    registry
        .zone(zone_id)
        .is_some_and(|zone| zone.level() == ZoneLevel::Province)
}

/// Removes a watchlist entry (the audited act of RemoveWatchlistEntry).
async fn remove_watchlist_entry(
    backend: Arc<Backend>,
    caller: Caller,
    request: RemoveWatchlistEntryRequest,
) -> ApiResult<(RemoveWatchlistEntryResponse, usize)> {
    caller.require(Action::ManageWatchlist)?;
    required_text(&request.reason, "reason", "say why the entry is removed")?;
    {
        let registry = backend.registry();
        if request.entry_id.len() > MAX_ID_BYTES {
            return Err(ApiError::invalid(
                "entry_id",
                format!("at most {MAX_ID_BYTES} bytes"),
            ));
        }
        let unknown = || ApiError::unknown("watchlist entry", format!("{:?}", request.entry_id));
        let entry = registry
            .watchlist_entry(&request.entry_id)
            .ok_or_else(unknown)?;
        if !caller.covers(&registry, &entry.owner_zone_id) {
            return Err(unknown());
        }
    }
    let key = format!("watchlist/{}", request.entry_id);
    backend
        .stores
        .registry
        .delete_watchlist(&request.entry_id)
        .await?;
    backend.publisher.retract(&key).await?;
    backend
        .registry
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&key);
    Ok((RemoveWatchlistEntryResponse {}, 1))
}

#[cfg(test)]
mod tests {
    use vigil_domain::{Zone, ZoneKind};

    use super::*;

    fn registry() -> Registry {
        let mut registry = Registry::default();
        for (id, kind, parent) in [
            ("th", ZoneKind::Province, None),
            ("th.a", ZoneKind::Commune, Some("th")),
            ("th.a.v1", ZoneKind::Village, Some("th.a")),
            ("th.b", ZoneKind::Commune, Some("th")),
        ] {
            registry.upsert(RegistryEntity::Zone(Zone {
                id: id.into(),
                kind,
                name: id.into(),
                parent_id: parent.map(Into::into),
                path: vec![id.into()],
                police_unit: None,
                boundary: None,
            }));
        }
        registry
    }

    fn caller(role: Role, zone_id: &str) -> Caller {
        Caller {
            token_id: "t".into(),
            name: "n".into(),
            role,
            zone_id: zone_id.into(),
        }
    }

    /// The owner zone, or the refusal's code (and field, if any).
    fn owner(caller: &Caller, requested: &str, province_wide: bool) -> Result<String, String> {
        owner_zone(caller, &registry(), requested, province_wide).map_err(|error| match error {
            ApiError::InvalidArgument { field, .. } => format!("invalid {field}"),
            ApiError::PermissionDenied(_) => "denied".to_owned(),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn commune_police_own_entries_in_their_commune_only() {
        let police = caller(Role::CommunePolice, "th.a");
        assert_eq!(owner(&police, "", false).unwrap(), "th.a", "by default");
        assert_eq!(owner(&police, "th.a.v1", false).unwrap(), "th.a.v1");
        assert_eq!(owner(&police, "th.b", false).unwrap_err(), "denied");
        assert_eq!(owner(&police, "th", false).unwrap_err(), "denied");
        assert_eq!(owner(&police, "", true).unwrap_err(), "denied");
        assert_eq!(
            owner(&police, "th.nowhere", false).unwrap_err(),
            "invalid owner_zone_id"
        );
    }

    #[test]
    fn a_province_wide_entry_is_an_explicit_choice_of_a_province_operator() {
        let operator = caller(Role::ProvinceOperator, "th");
        assert_eq!(owner(&operator, "", true).unwrap(), "th");
        assert_eq!(owner(&operator, "th", true).unwrap(), "th");
        assert_eq!(owner(&operator, "th.b", false).unwrap(), "th.b");
        // Never by default, nor by naming the province alone.
        assert_eq!(
            owner(&operator, "", false).unwrap_err(),
            "invalid owner_zone_id"
        );
        assert_eq!(
            owner(&operator, "th", false).unwrap_err(),
            "invalid owner_zone_id"
        );
        assert_eq!(
            owner(&operator, "th.b", true).unwrap_err(),
            "invalid owner_zone_id"
        );
        // An operator's token scoped below the province cannot.
        let local = caller(Role::ProvinceOperator, "th.a");
        assert_eq!(owner(&local, "", true).unwrap_err(), "denied");
    }
}
