//! Detections: what a camera's analytics saw, as minted at the edge.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vigil_proto::v1 as pb;

use crate::convert::{
    ConversionError, from_timestamp, known_enum, optional, required, required_timestamp,
    to_timestamp,
};
use crate::{DetectionKind, VehicleType};

const MSG: &str = "Detection";

/// A plate as the reader saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlateRead {
    /// Exactly as read, e.g. `36A-123.45`.
    pub text: String,
    /// Canonical form, if the text could be normalized.
    pub normalized: Option<String>,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vehicle {
    pub vehicle_type: VehicleType,
    pub colour: Option<String>,
    pub make: Option<String>,
}

/// An image kept in object storage; only the reference travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub uri: String,
    /// Lower-case hex SHA-256 of the image.
    pub sha256: String,
}

/// Where in the frame, as fractions of its width and height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// One detection event.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// UUIDv7 minted at the edge; every downstream write is keyed by it.
    pub event_id: Uuid,
    pub camera_id: String,
    pub site_id: Option<String>,
    pub captured_at: DateTime<Utc>,
    /// When the edge agent accepted it.
    pub received_at: Option<DateTime<Utc>>,
    pub kind: DetectionKind,
    /// 0 to 1.
    pub confidence: f32,
    pub bbox: Option<BoundingBox>,
    pub plate: Option<PlateRead>,
    pub vehicle: Option<Vehicle>,
    pub snapshot: Option<Snapshot>,
    pub labels: BTreeMap<String, String>,
}

fn unit_interval(field: &'static str, value: f32) -> Result<f32, ConversionError> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(ConversionError::new(
            MSG,
            field,
            format!("{value} is not within 0..=1"),
        ))
    }
}

impl From<Detection> for pb::Detection {
    fn from(d: Detection) -> Self {
        Self {
            event_id: d.event_id.to_string(),
            camera_id: d.camera_id,
            captured_at: Some(to_timestamp(d.captured_at)),
            kind: d.kind.into(),
            confidence: d.confidence,
            bbox: d.bbox.map(|b| pb::BoundingBox {
                x: b.x,
                y: b.y,
                width: b.width,
                height: b.height,
            }),
            plate: d.plate.map(|p| pb::Plate {
                text: p.text,
                normalized: p.normalized.unwrap_or_default(),
                confidence: p.confidence,
            }),
            vehicle: d.vehicle.map(|v| pb::Vehicle {
                r#type: v.vehicle_type.into(),
                colour: v.colour.unwrap_or_default(),
                make: v.make.unwrap_or_default(),
            }),
            snapshot: d.snapshot.map(|s| pb::Snapshot {
                uri: s.uri,
                sha256: s.sha256,
            }),
            labels: d.labels.into_iter().collect(),
            received_at: d.received_at.map(to_timestamp),
            site_id: d.site_id.unwrap_or_default(),
        }
    }
}

impl TryFrom<pb::Detection> for Detection {
    type Error = ConversionError;

    fn try_from(d: pb::Detection) -> Result<Self, Self::Error> {
        let event_id = Uuid::parse_str(&d.event_id).map_err(|e| {
            ConversionError::new(
                MSG,
                "event_id",
                format!("{:?} is not a UUID: {e}", d.event_id),
            )
        })?;
        let bbox = d
            .bbox
            .map(|b| {
                Ok::<_, ConversionError>(BoundingBox {
                    x: unit_interval("bbox.x", b.x)?,
                    y: unit_interval("bbox.y", b.y)?,
                    width: unit_interval("bbox.width", b.width)?,
                    height: unit_interval("bbox.height", b.height)?,
                })
            })
            .transpose()?;
        let plate = d
            .plate
            .map(|p| {
                Ok::<_, ConversionError>(PlateRead {
                    text: required(MSG, "plate.text", p.text)?,
                    normalized: optional(p.normalized),
                    confidence: unit_interval("plate.confidence", p.confidence)?,
                })
            })
            .transpose()?;
        let vehicle = d
            .vehicle
            .map(|v| {
                Ok::<_, ConversionError>(Vehicle {
                    vehicle_type: known_enum(MSG, "vehicle.type", v.r#type)?,
                    colour: optional(v.colour),
                    make: optional(v.make),
                })
            })
            .transpose()?;
        let snapshot = d
            .snapshot
            .map(|s| {
                let is_sha256 = s.sha256.len() == 64
                    && s.sha256
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                if !is_sha256 {
                    return Err(ConversionError::new(
                        MSG,
                        "snapshot.sha256",
                        "must be 64 lower-case hex digits",
                    ));
                }
                Ok(Snapshot {
                    uri: required(MSG, "snapshot.uri", s.uri)?,
                    sha256: s.sha256,
                })
            })
            .transpose()?;
        Ok(Self {
            event_id,
            camera_id: required(MSG, "camera_id", d.camera_id)?,
            site_id: optional(d.site_id),
            captured_at: required_timestamp(MSG, "captured_at", d.captured_at)?,
            received_at: from_timestamp(MSG, "received_at", d.received_at)?,
            kind: known_enum(MSG, "kind", d.kind)?,
            confidence: unit_interval("confidence", d.confidence)?,
            bbox,
            plate,
            vehicle,
            snapshot,
            labels: d.labels.into_iter().collect(),
        })
    }
}
