//! Zones: the administrative hierarchy province > commune or ward > village,
//! hamlet or residential group.

use vigil_proto::v1 as pb;

use crate::ZoneKind;
use crate::boundary::Boundary;
use crate::convert::{ConversionError, known_enum, optional, required};

/// The three levels of the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ZoneLevel {
    Province,
    /// Commune or ward.
    Commune,
    /// Village, hamlet or residential group: where a security team works.
    Village,
}

impl ZoneLevel {
    /// The level a zone of `kind` sits at.
    pub fn of(kind: ZoneKind) -> Self {
        match kind {
            ZoneKind::Province | ZoneKind::Unspecified => Self::Province,
            ZoneKind::Commune | ZoneKind::Ward => Self::Commune,
            ZoneKind::Village | ZoneKind::Hamlet | ZoneKind::ResidentialGroup => Self::Village,
        }
    }
}

/// A node of the hierarchy with a stable id and its path of names.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Stable id, e.g. `th`, `th.ba-thuoc`, `th.ba-thuoc.v012`.
    pub id: String,
    pub kind: ZoneKind,
    pub name: String,
    /// `None` only for the province.
    pub parent_id: Option<String>,
    /// Names from the province down to this zone.
    pub path: Vec<String>,
    /// Police unit responsible for a commune or ward.
    pub police_unit: Option<String>,
    /// Its outline on the map, when known.
    pub boundary: Option<Boundary>,
}

impl Zone {
    pub fn level(&self) -> ZoneLevel {
        ZoneLevel::of(self.kind)
    }
}

impl From<Zone> for pb::Zone {
    fn from(zone: Zone) -> Self {
        Self {
            id: zone.id,
            kind: zone.kind.into(),
            name: zone.name,
            parent_id: zone.parent_id.unwrap_or_default(),
            path: zone.path,
            police_unit: zone.police_unit.unwrap_or_default(),
            boundary_geojson: zone
                .boundary
                .as_ref()
                .map(Boundary::to_geojson)
                .unwrap_or_default(),
        }
    }
}

impl TryFrom<pb::Zone> for Zone {
    type Error = ConversionError;

    fn try_from(zone: pb::Zone) -> Result<Self, Self::Error> {
        const MSG: &str = "Zone";
        let kind: ZoneKind = known_enum(MSG, "kind", zone.kind)?;
        let parent_id = optional(zone.parent_id);
        if (kind == ZoneKind::Province) != parent_id.is_none() {
            return Err(ConversionError::new(
                MSG,
                "parent_id",
                "must be empty exactly for the province",
            ));
        }
        Ok(Self {
            id: required(MSG, "id", zone.id)?,
            kind,
            name: required(MSG, "name", zone.name)?,
            parent_id,
            path: zone.path,
            police_unit: optional(zone.police_unit),
            boundary: optional(zone.boundary_geojson)
                .map(|text| Boundary::from_geojson(&text))
                .transpose()
                .map_err(|error| {
                    ConversionError::new(MSG, "boundary_geojson", error.to_string())
                })?,
        })
    }
}
