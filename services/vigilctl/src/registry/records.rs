//! The registry's file format, for `import` and `export`: flat records, one
//! kind per CSV file (recognised by its header) or all kinds in one JSON
//! document `{"zones": [...], "members": [...], "cameras": [...],
//! "watchlist": [...]}`. Enumerations are written in lower case
//! (`plate_reader`, `household`, `captain`, `ward`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vigil_domain::plate::NormalizedPlate;
use vigil_domain::{
    Boundary, Camera, CameraKind, CameraOwner, GeoPoint, Member, MemberRole, Registry, Team,
    WatchlistEntry, Zone, ZoneKind,
};

/// A zone; its path of names is derived from its parents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneRecord {
    pub zone_id: String,
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub parent_id: String,
    #[serde(default)]
    pub police_unit: String,
    /// Its outline, a GeoJSON geometry object; empty keeps the outline the
    /// registry has (`registry import FILE.geojson` sets outlines alone).
    #[serde(default)]
    pub boundary_geojson: String,
}

/// One member of a team; a team is the set of rows sharing `team_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub team_id: String,
    pub team_name: String,
    pub zone_id: String,
    pub member_id: String,
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraRecord {
    pub camera_id: String,
    pub zone_id: String,
    #[serde(default)]
    pub site_id: String,
    pub latitude: f64,
    pub longitude: f64,
    pub kind: String,
    pub owner: String,
    /// `YYYY-MM-DD`.
    pub installed_on: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchlistRecord {
    pub entry_id: String,
    /// Any common written form; stored normalized.
    pub plate: String,
    pub reason: String,
    pub priority: u8,
    /// RFC 3339; empty for no expiry.
    #[serde(default)]
    pub expires_at: String,
    pub owner_zone_id: String,
    #[serde(default)]
    pub created_by: String,
}

/// All kinds together: the JSON document, or the CSV files merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryDocument {
    #[serde(default)]
    pub zones: Vec<ZoneRecord>,
    #[serde(default)]
    pub members: Vec<MemberRecord>,
    #[serde(default)]
    pub cameras: Vec<CameraRecord>,
    #[serde(default)]
    pub watchlist: Vec<WatchlistRecord>,
}

/// Lower-case short name of a protobuf enum value: `CAMERA_KIND_PLATE_READER` -> `plate_reader`.
fn short_name(full: &str, prefix: &str) -> String {
    full.trim_start_matches(prefix).to_ascii_lowercase()
}

/// Parses a short enum name; names the accepted values on failure.
fn parse_enum<E: Copy>(
    text: &str,
    prefix: &str,
    from_str_name: fn(&str) -> Option<E>,
    all: &[E],
    name_of: fn(&E) -> &'static str,
) -> Result<E, String> {
    let full = format!("{prefix}{}", text.trim().to_ascii_uppercase());
    from_str_name(&full)
        .filter(|_| !text.trim().eq_ignore_ascii_case("unspecified"))
        .ok_or_else(|| {
            let accepted: Vec<String> =
                all.iter().map(|e| short_name(name_of(e), prefix)).collect();
            format!("{text:?} is not one of {}", accepted.join(", "))
        })
}

/// A record that could not become a registry entity: which field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub problem: String,
}

fn field_error(field: &'static str, problem: impl Into<String>) -> FieldError {
    FieldError {
        field,
        problem: problem.into(),
    }
}

fn required(field: &'static str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        Err(field_error(field, "is required"))
    } else {
        Ok(value.to_owned())
    }
}

fn optional(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

impl ZoneRecord {
    /// The zone, with an empty path (filled in by [`assign_paths`]).
    pub fn to_zone(&self) -> Result<Zone, FieldError> {
        const P: &str = "ZONE_KIND_";
        const ALL: &[ZoneKind] = &[
            ZoneKind::Province,
            ZoneKind::Commune,
            ZoneKind::Ward,
            ZoneKind::Village,
            ZoneKind::Hamlet,
            ZoneKind::ResidentialGroup,
        ];
        let kind = parse_enum(
            &self.kind,
            P,
            ZoneKind::from_str_name,
            ALL,
            ZoneKind::as_str_name,
        )
        .map_err(|p| field_error("kind", p))?;
        let parent_id = optional(&self.parent_id);
        if (kind == ZoneKind::Province) != parent_id.is_none() {
            return Err(field_error(
                "parent_id",
                "must be empty exactly for the province",
            ));
        }
        Ok(Zone {
            id: required("zone_id", &self.zone_id)?,
            kind,
            name: required("name", &self.name)?,
            parent_id,
            path: Vec::new(),
            police_unit: optional(&self.police_unit),
            boundary: optional(&self.boundary_geojson)
                .map(|text| Boundary::from_geojson(&text))
                .transpose()
                .map_err(|error| field_error("boundary_geojson", error.to_string()))?,
        })
    }

    pub fn from_zone(zone: &Zone) -> Self {
        Self {
            zone_id: zone.id.clone(),
            kind: short_name(zone.kind.as_str_name(), "ZONE_KIND_"),
            name: zone.name.clone(),
            parent_id: zone.parent_id.clone().unwrap_or_default(),
            police_unit: zone.police_unit.clone().unwrap_or_default(),
            boundary_geojson: zone
                .boundary
                .as_ref()
                .map(Boundary::to_geojson)
                .unwrap_or_default(),
        }
    }
}

/// Sets every zone's path from its chain of parents (looked up among
/// `zones` first, then `known`). Returns the ids whose chain is broken.
pub fn assign_paths(zones: &mut [Zone], known: &Registry) -> Vec<String> {
    let by_id: BTreeMap<String, (String, Option<String>)> = zones
        .iter()
        .map(|z| (z.id.clone(), (z.name.clone(), z.parent_id.clone())))
        .collect();
    let mut broken = Vec::new();
    for zone in zones.iter_mut() {
        let mut path = vec![zone.name.clone()];
        let mut parent = zone.parent_id.clone();
        let mut depth = 0;
        while let Some(id) = parent {
            depth += 1;
            let next = match (by_id.get(&id), known.zone(&id)) {
                (Some((name, grand)), _) => Some((name.clone(), grand.clone())),
                (None, Some(z)) => Some((z.name.clone(), z.parent_id.clone())),
                (None, None) => None,
            };
            let Some((name, grand)) = next.filter(|_| depth < 8) else {
                broken.push(zone.id.clone());
                break;
            };
            path.insert(0, name);
            parent = grand;
        }
        zone.path = path;
    }
    broken
}

impl MemberRecord {
    pub fn to_member(&self) -> Result<Member, FieldError> {
        const P: &str = "MEMBER_ROLE_";
        const ALL: &[MemberRole] = &[MemberRole::Captain, MemberRole::Deputy, MemberRole::Member];
        Ok(Member {
            id: required("member_id", &self.member_id)?,
            name: required("name", &self.name)?,
            role: parse_enum(
                &self.role,
                P,
                MemberRole::from_str_name,
                ALL,
                MemberRole::as_str_name,
            )
            .map_err(|p| field_error("role", p))?,
            phone: self.phone.trim().to_owned(),
        })
    }

    /// The team this row belongs to, without members.
    pub fn to_team(&self) -> Result<Team, FieldError> {
        Ok(Team {
            id: required("team_id", &self.team_id)?,
            zone_id: required("zone_id", &self.zone_id)?,
            name: required("team_name", &self.team_name)?,
            members: Vec::new(),
            on_duty_member_id: None,
        })
    }

    pub fn from_team(team: &Team) -> Vec<Self> {
        team.members
            .iter()
            .map(|m| Self {
                team_id: team.id.clone(),
                team_name: team.name.clone(),
                zone_id: team.zone_id.clone(),
                member_id: m.id.clone(),
                name: m.name.clone(),
                role: short_name(m.role.as_str_name(), "MEMBER_ROLE_"),
                phone: m.phone.clone(),
            })
            .collect()
    }
}

impl CameraRecord {
    pub fn to_camera(&self) -> Result<Camera, FieldError> {
        const K: &str = "CAMERA_KIND_";
        const O: &str = "CAMERA_OWNER_";
        const KINDS: &[CameraKind] = &[CameraKind::Fixed, CameraKind::Ptz, CameraKind::PlateReader];
        const OWNERS: &[CameraOwner] = &[
            CameraOwner::Police,
            CameraOwner::Commune,
            CameraOwner::Household,
            CameraOwner::Business,
        ];
        let position = GeoPoint::new(self.latitude, self.longitude).ok_or_else(|| {
            field_error(
                "latitude",
                format!(
                    "({}, {}) is not a position on Earth",
                    self.latitude, self.longitude
                ),
            )
        })?;
        Ok(Camera {
            id: required("camera_id", &self.camera_id)?,
            zone_id: required("zone_id", &self.zone_id)?,
            site_id: optional(&self.site_id),
            position,
            kind: parse_enum(
                &self.kind,
                K,
                CameraKind::from_str_name,
                KINDS,
                CameraKind::as_str_name,
            )
            .map_err(|p| field_error("kind", p))?,
            owner: parse_enum(
                &self.owner,
                O,
                CameraOwner::from_str_name,
                OWNERS,
                CameraOwner::as_str_name,
            )
            .map_err(|p| field_error("owner", p))?,
            installed_on: NaiveDate::parse_from_str(self.installed_on.trim(), "%Y-%m-%d").map_err(
                |e| {
                    field_error(
                        "installed_on",
                        format!("{:?} is not a YYYY-MM-DD date: {e}", self.installed_on),
                    )
                },
            )?,
        })
    }

    pub fn from_camera(camera: &Camera) -> Self {
        Self {
            camera_id: camera.id.clone(),
            zone_id: camera.zone_id.clone(),
            site_id: camera.site_id.clone().unwrap_or_default(),
            latitude: camera.position.latitude,
            longitude: camera.position.longitude,
            kind: short_name(camera.kind.as_str_name(), "CAMERA_KIND_"),
            owner: short_name(camera.owner.as_str_name(), "CAMERA_OWNER_"),
            installed_on: camera.installed_on.format("%Y-%m-%d").to_string(),
        }
    }
}

impl WatchlistRecord {
    pub fn to_entry(&self) -> Result<WatchlistEntry, FieldError> {
        let plate: NormalizedPlate = self
            .plate
            .parse()
            .map_err(|e| field_error("plate", format!("{e}")))?;
        if !WatchlistEntry::PRIORITIES.contains(&self.priority) {
            return Err(field_error(
                "priority",
                format!("{} is not in 1..=5", self.priority),
            ));
        }
        let expires_at = optional(&self.expires_at)
            .map(|text| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|e| {
                        field_error(
                            "expires_at",
                            format!("{text:?} is not an RFC 3339 time: {e}"),
                        )
                    })
            })
            .transpose()?;
        Ok(WatchlistEntry {
            id: required("entry_id", &self.entry_id)?,
            plate,
            reason: required("reason", &self.reason)?,
            priority: self.priority,
            expires_at,
            owner_zone_id: required("owner_zone_id", &self.owner_zone_id)?,
            created_by: optional(&self.created_by),
        })
    }

    pub fn from_entry(entry: &WatchlistEntry) -> Self {
        Self {
            entry_id: entry.id.clone(),
            plate: entry.plate.as_str().to_owned(),
            reason: entry.reason.clone(),
            priority: entry.priority,
            expires_at: entry
                .expires_at
                .map(|at| at.to_rfc3339())
                .unwrap_or_default(),
            owner_zone_id: entry.owner_zone_id.clone(),
            created_by: entry.created_by.clone().unwrap_or_default(),
        }
    }
}

impl RegistryDocument {
    /// The whole registry as records.
    pub fn from_registry(registry: &Registry) -> Self {
        Self {
            zones: registry.zones().map(ZoneRecord::from_zone).collect(),
            members: registry.teams().flat_map(MemberRecord::from_team).collect(),
            cameras: registry.cameras().map(CameraRecord::from_camera).collect(),
            watchlist: registry
                .watchlist()
                .map(WatchlistRecord::from_entry)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_are_short_and_lower_case() {
        let camera = CameraRecord {
            camera_id: "cam-1".into(),
            zone_id: "th.x.v001".into(),
            site_id: String::new(),
            latitude: 19.8,
            longitude: 105.7,
            kind: "Plate_Reader".into(),
            owner: "household".into(),
            installed_on: "2024-05-01".into(),
        };
        let parsed = camera.to_camera().unwrap();
        assert_eq!(parsed.kind, CameraKind::PlateReader);
        assert_eq!(CameraRecord::from_camera(&parsed).kind, "plate_reader");
    }

    #[test]
    fn unknown_enum_names_list_the_accepted_ones() {
        let member = MemberRecord {
            team_id: "t".into(),
            team_name: "T".into(),
            zone_id: "z".into(),
            member_id: "m".into(),
            name: "Le Van An".into(),
            role: "boss".into(),
            phone: String::new(),
        };
        let error = member.to_member().unwrap_err();
        assert_eq!(error.field, "role");
        assert!(
            error.problem.contains("captain, deputy, member"),
            "{}",
            error.problem
        );
    }

    #[test]
    fn paths_follow_parents_in_the_file_and_the_registry() {
        let mut known = Registry::default();
        known.upsert(vigil_domain::RegistryEntity::Zone(Zone {
            id: "th".into(),
            kind: ZoneKind::Province,
            name: "Thanh Hoa".into(),
            parent_id: None,
            path: vec!["Thanh Hoa".into()],
            police_unit: None,
            boundary: None,
        }));
        let record = |id: &str, kind: &str, name: &str, parent: &str| ZoneRecord {
            zone_id: id.into(),
            kind: kind.into(),
            name: name.into(),
            parent_id: parent.into(),
            police_unit: String::new(),
            boundary_geojson: String::new(),
        };
        let mut zones = vec![
            record("th.a.v1", "village", "Thon 1", "th.a")
                .to_zone()
                .unwrap(),
            record("th.a", "commune", "A", "th").to_zone().unwrap(),
            record("th.b.v1", "village", "Thon 1", "th.missing")
                .to_zone()
                .unwrap(),
        ];
        let broken = assign_paths(&mut zones, &known);
        assert_eq!(zones[0].path, ["Thanh Hoa", "A", "Thon 1"]);
        assert_eq!(broken, ["th.b.v1"]);
    }
}
