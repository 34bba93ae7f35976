//! Property tests: every domain value survives a trip through its protobuf
//! message unchanged.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use uuid::Uuid;
use vigil_proto::v1 as pb;

use crate::detection::{BoundingBox, PlateRead, Snapshot, Vehicle};
use crate::{
    Camera, CameraKind, CameraOwner, Detection, DetectionKind, GeoPoint, Member, MemberRole,
    RegistryEntity, Team, VehicleType, WatchlistEntry, Zone, ZoneKind,
};

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9 ._-]{0,23}"
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_000_000_000, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

fn unit() -> impl Strategy<Value = f32> {
    0.0f32..=1.0
}

fn zone() -> impl Strategy<Value = Zone> {
    let kinds = prop_oneof![
        Just(ZoneKind::Province),
        Just(ZoneKind::Commune),
        Just(ZoneKind::Ward),
        Just(ZoneKind::Village),
        Just(ZoneKind::Hamlet),
        Just(ZoneKind::ResidentialGroup),
    ];
    (
        text(),
        kinds,
        text(),
        text(),
        proptest::collection::vec(text(), 1..4),
        optional_text(),
    )
        .prop_map(|(id, kind, name, parent, path, police_unit)| Zone {
            id,
            kind,
            name,
            parent_id: (kind != ZoneKind::Province).then_some(parent),
            path,
            police_unit,
            boundary: None,
        })
}

fn team() -> impl Strategy<Value = Team> {
    let role = prop_oneof![
        Just(MemberRole::Captain),
        Just(MemberRole::Deputy),
        Just(MemberRole::Member)
    ];
    let member = (text(), text(), role, "[0-9]{10}").prop_map(|(id, name, role, phone)| Member {
        id,
        name,
        role,
        phone,
    });
    (
        text(),
        text(),
        text(),
        proptest::collection::vec(member, 1..4),
        any::<bool>(),
    )
        .prop_map(|(id, zone_id, name, members, on_duty)| Team {
            on_duty_member_id: on_duty.then(|| members[0].id.clone()),
            id,
            zone_id,
            name,
            members,
        })
}

fn camera() -> impl Strategy<Value = Camera> {
    let kind = prop_oneof![
        Just(CameraKind::Fixed),
        Just(CameraKind::Ptz),
        Just(CameraKind::PlateReader)
    ];
    let owner = prop_oneof![
        Just(CameraOwner::Police),
        Just(CameraOwner::Commune),
        Just(CameraOwner::Household),
        Just(CameraOwner::Business),
    ];
    (
        text(),
        text(),
        optional_text(),
        -90.0f64..=90.0,
        -180.0f64..=180.0,
        kind,
        owner,
        0u64..20_000,
    )
        .prop_map(
            |(id, zone_id, site_id, latitude, longitude, kind, owner, days)| Camera {
                id,
                zone_id,
                site_id,
                position: GeoPoint {
                    latitude,
                    longitude,
                },
                kind,
                owner,
                installed_on: NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()
                    + chrono::Days::new(days),
            },
        )
}

fn watchlist_entry() -> impl Strategy<Value = WatchlistEntry> {
    let plate = (11u8..=99, "[A-HKLMNPSUVXYZ]", 0u32..100_000)
        .prop_map(|(p, s, n)| format!("{p}{s}{n:05}"));
    (
        text(),
        plate,
        text(),
        1u8..=5,
        proptest::option::of(instant()),
        text(),
        optional_text(),
    )
        .prop_map(
            |(id, plate, reason, priority, expires_at, owner_zone_id, created_by)| WatchlistEntry {
                id,
                plate: plate.parse().expect("generated plates are valid"),
                reason,
                priority,
                expires_at,
                owner_zone_id,
                created_by,
            },
        )
}

fn detection() -> impl Strategy<Value = Detection> {
    let kind = prop_oneof![
        Just(DetectionKind::Vehicle),
        Just(DetectionKind::Plate),
        Just(DetectionKind::Person),
        Just(DetectionKind::Intrusion),
        Just(DetectionKind::Tamper),
    ];
    let bbox = proptest::option::of((unit(), unit(), unit(), unit()).prop_map(
        |(x, y, width, height)| BoundingBox {
            x,
            y,
            width,
            height,
        },
    ));
    let plate = proptest::option::of((text(), optional_text(), unit()).prop_map(
        |(text, normalized, confidence)| PlateRead {
            text,
            normalized,
            confidence,
        },
    ));
    let vehicle_type = prop_oneof![
        Just(VehicleType::Motorbike),
        Just(VehicleType::Car),
        Just(VehicleType::Truck)
    ];
    let vehicle = proptest::option::of((vehicle_type, optional_text(), optional_text()).prop_map(
        |(vehicle_type, colour, make)| Vehicle {
            vehicle_type,
            colour,
            make,
        },
    ));
    let snapshot = proptest::option::of(
        (text(), "[0-9a-f]{64}").prop_map(|(uri, sha256)| Snapshot { uri, sha256 }),
    );
    let labels = proptest::collection::btree_map(text(), text(), 0..5);
    (
        (
            any::<u128>(),
            text(),
            optional_text(),
            instant(),
            proptest::option::of(instant()),
        ),
        (kind, unit(), bbox, plate, vehicle, snapshot, labels),
    )
        .prop_map(
            |(
                (id, camera_id, site_id, captured_at, received_at),
                (kind, confidence, bbox, plate, vehicle, snapshot, labels),
            )| {
                Detection {
                    event_id: Uuid::from_u128(id),
                    camera_id,
                    site_id,
                    captured_at,
                    received_at,
                    kind,
                    confidence,
                    bbox,
                    plate,
                    vehicle,
                    snapshot,
                    labels: labels.into_iter().collect::<BTreeMap<_, _>>(),
                }
            },
        )
}

fn round_trips<T, P>(value: T) -> Result<(), TestCaseError>
where
    T: Clone + PartialEq + std::fmt::Debug + Into<P> + TryFrom<P>,
    <T as TryFrom<P>>::Error: std::fmt::Debug,
{
    let back = T::try_from(value.clone().into());
    prop_assert_eq!(back.ok(), Some(value));
    Ok(())
}

proptest! {
    #[test]
    fn zones_round_trip(value in zone()) { round_trips::<_, pb::Zone>(value)?; }

    #[test]
    fn teams_round_trip(value in team()) { round_trips::<_, pb::Team>(value)?; }

    #[test]
    fn cameras_round_trip(value in camera()) { round_trips::<_, pb::Camera>(value)?; }

    #[test]
    fn watchlist_entries_round_trip(value in watchlist_entry()) { round_trips::<_, pb::WatchlistEntry>(value)?; }

    #[test]
    fn detections_round_trip(value in detection()) { round_trips::<_, pb::Detection>(value)?; }

    #[test]
    fn registry_changes_round_trip(value in camera()) {
        let entity = RegistryEntity::Camera(value);
        let change = entity.clone().into_change(Utc::now());
        prop_assert_eq!(RegistryEntity::try_from(change).ok(), Some(entity));
    }
}
