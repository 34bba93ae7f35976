//! Who is calling and what they may do. Every call carries
//! `authorization: Bearer vgl_<id>_<secret>`; the token's record gives a
//! role and a zone scope. Scope is enforced by refusing (PERMISSION_DENIED)
//! any zone outside it — never by silently returning less.

use chrono::{DateTime, Utc};
use tonic::metadata::MetadataMap;
use vigil_domain::Registry;
use vigil_proto::v1::Role;
use vigil_store::{TokenStore, parse_token, secret_digest};

use crate::error::{ApiError, ApiResult};
use vigil_request::constant_time_eq;

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    pub(crate) token_id: String,
    pub(crate) name: String,
    pub(crate) role: Role,
    /// The zone the caller may see: the province, a commune or a village.
    pub(crate) zone_id: String,
}

/// What a call does, for the role check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Events, counts, coverage, fleet status, live alerts.
    ReadEvents,
    /// Zones, teams, cameras, the watchlist.
    ReadRegistry,
    SearchPlates,
    ManageWatchlist,
    CreateExtraction,
    ReadExtractions,
    ReadAudit,
    /// Stored alerts and their histories.
    ReadAlerts,
    /// Acknowledge, assign, annotate and close alerts.
    ActOnAlerts,
}

impl Caller {
    /// Refuses `action` if the caller's role may not do it.
    pub(crate) fn require(&self, action: Action) -> ApiResult<()> {
        use Action::*;
        let allowed = match self.role {
            Role::ProvinceOperator | Role::CommunePolice => action != ReadAudit,
            Role::TeamCaptain => {
                matches!(action, ReadEvents | ReadRegistry | ReadAlerts | ActOnAlerts)
            }
            Role::Auditor => matches!(
                action,
                ReadAudit | ReadExtractions | ReadRegistry | ReadAlerts
            ),
            Role::Unspecified => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied(format!(
                "role {} may not {action:?}",
                self.role.as_str_name()
            )))
        }
    }

    /// Whether this caller sees team members' phone numbers: only the roles
    /// that dispatch teams.
    pub(crate) fn sees_phones(&self) -> bool {
        matches!(self.role, Role::ProvinceOperator | Role::CommunePolice)
    }

    /// Whether this caller sees plate text in event listings: only the
    /// roles that may search plates.
    pub(crate) fn sees_plates(&self) -> bool {
        matches!(self.role, Role::ProvinceOperator | Role::CommunePolice)
    }

    /// `zone_id`, or the caller's own zone when it is empty, after checking
    /// that it exists and lies within the caller's scope.
    pub(crate) fn scoped_zone(&self, registry: &Registry, zone_id: &str) -> ApiResult<String> {
        let zone_id = if zone_id.is_empty() {
            &self.zone_id
        } else {
            zone_id
        };
        if registry.zone(zone_id).is_none() {
            return Err(ApiError::invalid(
                "zone_id",
                format!("no zone {zone_id:?} in the registry"),
            ));
        }
        if !within(registry, zone_id, &self.zone_id) {
            return Err(ApiError::PermissionDenied(format!(
                "zone {zone_id} is outside this token's scope ({})",
                self.zone_id
            )));
        }
        Ok(zone_id.to_owned())
    }

    /// Whether an event or record of `zone_id` is within the caller's scope.
    pub(crate) fn covers(&self, registry: &Registry, zone_id: &str) -> bool {
        within(registry, zone_id, &self.zone_id)
    }
}

/// Whether `zone_id` is `ancestor` or lies below it.
pub(crate) fn within(registry: &Registry, zone_id: &str, ancestor: &str) -> bool {
    let mut current = Some(zone_id);
    // The hierarchy has three levels; the bound guards against a cycle in a
    // corrupt registry.
    for _ in 0..8 {
        let Some(id) = current else { return false };
        if id == ancestor {
            return true;
        }
        current = registry.zone(id).and_then(|zone| zone.parent_id.as_deref());
    }
    false
}

/// Checks bearer tokens against the token table.
#[derive(Debug, Clone)]
pub(crate) struct Authenticator {
    tokens: TokenStore,
}

impl Authenticator {
    pub(crate) fn new(tokens: TokenStore) -> Self {
        Self { tokens }
    }

    /// The caller presenting the request's bearer token, if it is valid,
    /// unexpired and not revoked.
    pub(crate) async fn caller(&self, metadata: &MetadataMap) -> ApiResult<Caller> {
        let header = metadata
            .get("authorization")
            .ok_or_else(|| {
                ApiError::Unauthenticated("missing `authorization: Bearer <token>`".into())
            })?
            .to_str()
            .map_err(|_| ApiError::Unauthenticated("authorization is not text".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::Unauthenticated("authorization is not `Bearer <token>`".into())
            })?
            .trim();
        let refused = || ApiError::Unauthenticated("unknown or malformed token".into());
        let (token_id, secret) = parse_token(token).ok_or_else(refused)?;
        let record = self.tokens.get(token_id).await?.ok_or_else(refused)?;
        if !constant_time_eq(
            secret_digest(secret).as_bytes(),
            record.secret_sha256.as_bytes(),
        ) {
            return Err(refused());
        }
        check_validity(record.revoked_at, record.expires_at, Utc::now())?;
        let role = Role::try_from(record.role).unwrap_or(Role::Unspecified);
        Ok(Caller {
            token_id: record.token_id,
            name: record.name,
            role,
            zone_id: record.zone_id,
        })
    }

    /// Whether the token `token_id` is still valid (not revoked, not
    /// expired, not deleted): re-checked while a stream stays open, so a
    /// revocation takes effect on open streams too.
    pub(crate) async fn still_valid(&self, token_id: &str) -> ApiResult<()> {
        let record = self
            .tokens
            .get(token_id)
            .await?
            .ok_or_else(|| ApiError::Unauthenticated("the token no longer exists".into()))?;
        check_validity(record.revoked_at, record.expires_at, Utc::now())
    }
}

fn check_validity(
    revoked_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if let Some(at) = revoked_at {
        return Err(ApiError::Unauthenticated(format!(
            "token revoked at {}",
            at.to_rfc3339()
        )));
    }
    if let Some(at) = expires_at
        && at <= now
    {
        return Err(ApiError::Unauthenticated(format!(
            "token expired at {}",
            at.to_rfc3339()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_domain::{RegistryEntity, Zone};
    use vigil_proto::v1::ZoneKind;

    fn zone(id: &str, kind: ZoneKind, parent: Option<&str>) -> RegistryEntity {
        RegistryEntity::Zone(Zone {
            id: id.to_owned(),
            kind,
            name: id.to_owned(),
            parent_id: parent.map(str::to_owned),
            path: vec![],
            police_unit: None,
            boundary: None,
        })
    }

    fn registry() -> Registry {
        let mut registry = Registry::default();
        registry.upsert(zone("th", ZoneKind::Province, None));
        registry.upsert(zone("th.a", ZoneKind::Commune, Some("th")));
        registry.upsert(zone("th.a.v1", ZoneKind::Village, Some("th.a")));
        registry.upsert(zone("th.b", ZoneKind::Commune, Some("th")));
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

    #[test]
    fn scope_admits_the_zone_and_below_only() {
        let registry = registry();
        let police = caller(Role::CommunePolice, "th.a");
        assert_eq!(police.scoped_zone(&registry, "").unwrap(), "th.a");
        assert_eq!(police.scoped_zone(&registry, "th.a.v1").unwrap(), "th.a.v1");
        for outside in ["th", "th.b"] {
            assert!(matches!(
                police.scoped_zone(&registry, outside),
                Err(ApiError::PermissionDenied(_))
            ));
        }
        assert!(matches!(
            police.scoped_zone(&registry, "th.nowhere"),
            Err(ApiError::InvalidArgument {
                field: "zone_id",
                ..
            })
        ));
        let operator = caller(Role::ProvinceOperator, "th");
        assert!(operator.scoped_zone(&registry, "th.b").is_ok());
    }

    #[test]
    fn roles_allow_what_they_need() {
        let captain = caller(Role::TeamCaptain, "th.a.v1");
        assert!(captain.require(Action::ReadEvents).is_ok());
        assert!(captain.require(Action::SearchPlates).is_err());
        assert!(!captain.sees_phones());
        let auditor = caller(Role::Auditor, "th");
        assert!(auditor.require(Action::ReadAudit).is_ok());
        assert!(auditor.require(Action::ReadEvents).is_err());
        let police = caller(Role::CommunePolice, "th.a");
        assert!(police.require(Action::CreateExtraction).is_ok());
        assert!(police.require(Action::ReadAudit).is_err());
        assert!(police.sees_phones());
    }

    #[test]
    fn revoked_and_expired_tokens_are_refused() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        assert!(check_validity(None, None, now).is_ok());
        assert!(check_validity(None, Some(now + hour), now).is_ok());
        assert!(check_validity(None, Some(now - hour), now).is_err());
        assert!(check_validity(Some(now - hour), None, now).is_err());
    }
}
