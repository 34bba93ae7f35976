//! Vigil's domain model: the province's zones, teams, cameras and
//! watchlists, the detections cameras make, and Vietnamese plate
//! normalization. No I/O happens here; services wrap these types.
//!
//! Each type converts to its `vigil.v1` protobuf message with `From` and
//! back with `TryFrom`, which checks what the wire format cannot express
//! (required fields, known enum values, valid ids) and names the field that
//! is wrong.

pub mod boundary;
pub mod camera;
mod convert;
pub mod detection;
pub mod plate;
pub mod registry;
pub mod team;
pub mod watchlist;
pub mod zone;

#[cfg(test)]
mod roundtrip_tests;

pub use boundary::Boundary;
pub use camera::{Camera, GeoPoint};
pub use convert::{ConversionError, to_timestamp};
pub use detection::Detection;
pub use registry::{Registry, RegistryEntity, WatchMatch};
pub use team::{Member, Team};
pub use watchlist::WatchlistEntry;
pub use zone::{Zone, ZoneLevel};

/// Enumerations shared with the wire format; `*_UNSPECIFIED` values never
/// pass a conversion into the domain.
pub use vigil_proto::v1::{
    CameraKind, CameraOwner, DetectionKind, MemberRole, VehicleType, ZoneKind,
};
