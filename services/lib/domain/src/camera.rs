//! Cameras: where they stand, who owns them, what they are.

use chrono::NaiveDate;
use vigil_proto::v1 as pb;

use crate::convert::{ConversionError, known_enum, optional, parse_date, required};
use crate::{CameraKind, CameraOwner};

/// A WGS84 position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
}

impl GeoPoint {
    /// A point, if both coordinates are on the globe.
    pub fn new(latitude: f64, longitude: f64) -> Option<Self> {
        ((-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude)).then_some(
            Self {
                latitude,
                longitude,
            },
        )
    }
}

/// A camera registered with the province.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub id: String,
    /// The village-level zone it stands in.
    pub zone_id: String,
    /// The edge agent (site) it reports through.
    pub site_id: Option<String>,
    pub position: GeoPoint,
    pub kind: CameraKind,
    pub owner: CameraOwner,
    pub installed_on: NaiveDate,
}

impl From<Camera> for pb::Camera {
    fn from(camera: Camera) -> Self {
        Self {
            id: camera.id,
            zone_id: camera.zone_id,
            site_id: camera.site_id.unwrap_or_default(),
            latitude: camera.position.latitude,
            longitude: camera.position.longitude,
            kind: camera.kind.into(),
            owner: camera.owner.into(),
            installed_on: camera.installed_on.format("%Y-%m-%d").to_string(),
        }
    }
}

impl TryFrom<pb::Camera> for Camera {
    type Error = ConversionError;

    fn try_from(camera: pb::Camera) -> Result<Self, Self::Error> {
        const MSG: &str = "Camera";
        let position = GeoPoint::new(camera.latitude, camera.longitude).ok_or_else(|| {
            ConversionError::new(
                MSG,
                "latitude",
                format!(
                    "({}, {}) is not a position on Earth",
                    camera.latitude, camera.longitude
                ),
            )
        })?;
        Ok(Self {
            id: required(MSG, "id", camera.id)?,
            zone_id: required(MSG, "zone_id", camera.zone_id)?,
            site_id: optional(camera.site_id),
            position,
            kind: known_enum(MSG, "kind", camera.kind)?,
            owner: known_enum(MSG, "owner", camera.owner)?,
            installed_on: parse_date(MSG, "installed_on", &camera.installed_on)?,
        })
    }
}
