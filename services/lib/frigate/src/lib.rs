//! Turns the messages a [Frigate] NVR publishes on `frigate/events` into
//! `vigil.v1.Detection`s, with no I/O: the edge agent's Frigate bridge
//! (`services/edge/src/source/frigate.rs`) feeds it MQTT payloads and hands
//! what comes out to its intake.
//!
//! [Frigate]: https://docs.frigate.video/integrations/mqtt/
//!
//! [`TrackedObject::parse`] reads a message, [`map_object`] decides with a
//! [`Tracker`] what it yields: messages are per change of a tracked object,
//! detections per sighting, so an object is reported once (and its plate
//! once). The fields read, the label → kind mapping and the emission rules
//! are in `docs/edge.md` (section "Frigate").

mod camera;
mod event;
mod tracker;

use std::collections::HashMap;

use tracing::debug;
use vigil_domain::plate::normalize_plate;
use vigil_proto::v1 as pb;

pub use camera::CameraMap;
pub use event::TrackedObject;
pub use tracker::{Checkpoint, Tracker};

use event::unit_interval;

/// Why a Frigate message yielded no detection.
#[derive(Debug, thiserror::Error)]
pub enum FrigateError {
    /// The payload is not JSON.
    #[error("payload is not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// A required field is absent or null.
    #[error("{0} is missing")]
    MissingField(&'static str),
    /// A field has the wrong JSON type or shape.
    #[error("{field}: {source}")]
    WrongType {
        /// Path of the field, e.g. `after.camera`.
        field: String,
        /// What serde found wrong with it.
        source: serde_json::Error,
    },
    /// A field has the right type but an unusable value.
    #[error("{field}: {problem}")]
    InvalidField {
        /// Path of the field, e.g. `after.start_time`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The Frigate camera is not in the camera map.
    #[error("Frigate camera {0:?} is not in --frigate-cameras")]
    UnmappedCamera(String),
}

impl FrigateError {
    /// Short reason, for metrics: `unmapped_camera` or `malformed`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnmappedCamera(_) => "unmapped_camera",
            _ => "malformed",
        }
    }

    /// A field's type error, named by its path; JSON syntax errors as such.
    fn from_json(error: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let field = error.path().to_string();
        let source = error.into_inner();
        if source.is_data() {
            Self::WrongType { field, source }
        } else {
            Self::Json(source)
        }
    }
}

/// Maps one `frigate/events` payload to the detections to emit (none, one or
/// two), updating `tracker`: [`TrackedObject::parse`], then [`map_object`].
pub fn map_event(
    payload: &[u8],
    cameras: &CameraMap,
    tracker: &mut Tracker,
) -> Result<Vec<pb::Detection>, FrigateError> {
    map_object(&TrackedObject::parse(payload)?, cameras, tracker)
}

/// What Vigil makes of a Frigate label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Person,
    Vehicle(pb::VehicleType),
    Plate,
    FireSmoke,
}

impl Class {
    fn of(label: &str) -> Option<Self> {
        use pb::VehicleType as V;
        Some(match label {
            "person" => Self::Person,
            "car" => Self::Vehicle(V::Car),
            "van" => Self::Vehicle(V::Van),
            "truck" => Self::Vehicle(V::Truck),
            "bus" | "school_bus" => Self::Vehicle(V::Bus),
            "motorcycle" => Self::Vehicle(V::Motorbike),
            "bicycle" => Self::Vehicle(V::Bicycle),
            "license_plate" => Self::Plate,
            "fire" | "smoke" => Self::FireSmoke,
            _ => return None,
        })
    }

    fn kind(self) -> pb::DetectionKind {
        match self {
            Self::Person => pb::DetectionKind::Person,
            Self::Vehicle(_) => pb::DetectionKind::Vehicle,
            Self::Plate => pb::DetectionKind::Plate,
            Self::FireSmoke => pb::DetectionKind::FireSmoke,
        }
    }

    fn vehicle(self) -> Option<pb::Vehicle> {
        match self {
            Self::Vehicle(vehicle_type) => Some(pb::Vehicle {
                r#type: vehicle_type.into(),
                ..Default::default()
            }),
            _ => None,
        }
    }
}

impl TrackedObject {
    /// Whether the sub label is the plate: on a vehicle or plate that
    /// Frigate read no plate for, and shaped like one.
    fn sub_label_is_plate(&self, class: Class) -> bool {
        self.recognized_plate.is_none()
            && matches!(class, Class::Vehicle(_) | Class::Plate)
            && self
                .sub_label
                .as_ref()
                .is_some_and(|sub_label| normalize_plate(&sub_label.text).is_ok())
    }

    /// The plate read on this object, if any.
    fn plate(&self, class: Class) -> Option<pb::Plate> {
        let read = if self.sub_label_is_plate(class) {
            self.sub_label.as_ref()
        } else {
            self.recognized_plate.as_ref()
        }?;
        Some(pb::Plate {
            text: read.text.clone(),
            // The intake normalizes.
            normalized: String::new(),
            confidence: read.score.map_or(0.0, unit_interval),
        })
    }

    fn detection(
        &self,
        class: Class,
        camera_id: &str,
        kind: pb::DetectionKind,
        captured_at: prost_types::Timestamp,
    ) -> pb::Detection {
        let mut labels = HashMap::from([
            ("frigate_event_id".to_owned(), self.id.clone()),
            ("frigate_camera".to_owned(), self.camera.clone()),
            ("frigate_label".to_owned(), self.label.clone()),
        ]);
        if !self.entered_zones.is_empty() {
            labels.insert("frigate_zones".to_owned(), self.entered_zones.join(","));
        }
        if self.has_snapshot {
            labels.insert(
                "frigate_snapshot".to_owned(),
                format!("/api/events/{}/snapshot.jpg", self.id),
            );
        }
        if let Some(sub_label) = &self.sub_label
            && !self.sub_label_is_plate(class)
        {
            labels.insert("frigate_sub_label".to_owned(), sub_label.text.clone());
        }
        pb::Detection {
            camera_id: camera_id.to_owned(),
            captured_at: Some(captured_at),
            kind: kind.into(),
            confidence: self.confidence,
            vehicle: class.vehicle(),
            labels,
            ..Default::default()
        }
    }
}

/// The detections one parsed message yields (none, one or two), updating
/// `tracker`; see `docs/edge.md` for the rules. An unmapped camera is an
/// error only when there is something to report.
pub fn map_object(
    object: &TrackedObject,
    cameras: &CameraMap,
    tracker: &mut Tracker,
) -> Result<Vec<pb::Detection>, FrigateError> {
    let Some(class) = Class::of(&object.label) else {
        debug!(label = %object.label, frigate_id = %object.id, "Skipped a Frigate object of a label Vigil does not track.");
        return Ok(Vec::new());
    };
    if object.false_positive {
        return Ok(Vec::new());
    }
    let plate = object.plate(class);
    let ending = object.ending;
    let (report_object, report_plate) = match tracker.plate_reported(&object.id) {
        // A plate object is only worth reporting with its text, which
        // Frigate reads after it starts tracking; wait for it until the end.
        None if class == Class::Plate && plate.is_none() && !ending => return Ok(Vec::new()),
        None => (true, class != Class::Plate && plate.is_some()),
        Some(plate_reported) => (false, !plate_reported && plate.is_some()),
    };
    if ending {
        tracker.forget(&object.id);
    } else {
        tracker.record(&object.id, plate.is_some());
    }
    if !report_object && !report_plate {
        return Ok(Vec::new());
    }
    // Resolved only now, so that an unmapped camera is refused once per
    // would-be detection rather than on every message.
    let camera_id = cameras
        .camera_id(&object.camera)
        .ok_or_else(|| FrigateError::UnmappedCamera(object.camera.clone()))?;
    let mut detections = Vec::with_capacity(2);
    if report_object {
        let mut detection = object.detection(class, &camera_id, class.kind(), object.first_seen);
        if class == Class::Plate {
            detection.plate = plate.clone();
        }
        detections.push(detection);
    }
    if report_plate {
        let mut detection =
            object.detection(class, &camera_id, pb::DetectionKind::Plate, object.seen);
        detection.plate = plate;
        detections.push(detection);
    }
    Ok(detections)
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::*;

    const PERSON_NEW: &str = include_str!("../fixtures/person_new.json");
    const PERSON_UPDATE_FACE: &str = include_str!("../fixtures/person_update_face.json");
    const CAR_NEW: &str = include_str!("../fixtures/car_new.json");
    const CAR_UPDATE_PLATE: &str = include_str!("../fixtures/car_update_plate.json");
    const CAR_END: &str = include_str!("../fixtures/car_end.json");
    const TRUCK_NEW_WITH_PLATE: &str = include_str!("../fixtures/truck_new_with_plate.json");
    const CAR_NEW_SUB_LABEL_PLATE: &str = include_str!("../fixtures/car_new_sub_label_plate.json");
    const PERSON_NEW_FALSE_POSITIVE: &str =
        include_str!("../fixtures/person_new_false_positive.json");
    const PERSON_UPDATE_CONFIRMED: &str = include_str!("../fixtures/person_update_confirmed.json");
    const LICENSE_PLATE_NEW: &str = include_str!("../fixtures/license_plate_new.json");
    const LICENSE_PLATE_UPDATE_READ: &str =
        include_str!("../fixtures/license_plate_update_read.json");
    const DOG_NEW: &str = include_str!("../fixtures/dog_new.json");

    fn cameras() -> CameraMap {
        "front_gate=cam-000017, market=cam-000018,toll_lpr=cam-000019"
            .parse()
            .unwrap()
    }

    fn map(payload: &str, tracker: &mut Tracker) -> Vec<pb::Detection> {
        map_event(payload.as_bytes(), &cameras(), tracker).unwrap()
    }

    fn map_one(payload: &str) -> pb::Detection {
        let mut detections = map(payload, &mut Tracker::default());
        assert_eq!(detections.len(), 1, "{detections:?}");
        detections.remove(0)
    }

    fn refused(payload: &str) -> FrigateError {
        map_event(payload.as_bytes(), &cameras(), &mut Tracker::default()).unwrap_err()
    }

    /// `payload` with `after` edited by `edit`.
    fn edited(payload: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut message: Value = serde_json::from_str(payload).unwrap();
        edit(message["after"].as_object_mut().unwrap());
        message.to_string()
    }

    fn label<'a>(detection: &'a pb::Detection, key: &str) -> Option<&'a str> {
        detection.labels.get(key).map(String::as_str)
    }

    /// What the intake checks, so a mapped detection is known to be accepted.
    fn assert_valid(detection: &pb::Detection) {
        let mut stamped = detection.clone();
        stamped.event_id = uuid::Uuid::now_v7().to_string();
        if let Err(e) = vigil_domain::Detection::try_from(stamped) {
            panic!("the intake would refuse {detection:?}: {e}");
        }
    }

    #[test]
    fn new_person_is_one_person_detection() {
        let detection = map_one(PERSON_NEW);
        assert_valid(&detection);
        assert_eq!(detection.kind(), pb::DetectionKind::Person);
        assert_eq!(detection.camera_id, "cam-000017");
        assert!(detection.event_id.is_empty(), "the intake mints event ids");
        assert_eq!(detection.confidence, 0.827_148_44);
        let captured_at = detection.captured_at.unwrap();
        assert_eq!(captured_at.seconds, 1_764_335_109);
        assert!(
            (captured_at.nanos - 120_000_000).abs() < 1_000,
            "{captured_at:?}"
        );
        assert_eq!(detection.bbox, None);
        assert_eq!(detection.snapshot, None);
        assert_eq!(detection.plate, None);
        assert_eq!(detection.vehicle, None);
        assert_eq!(
            label(&detection, "frigate_event_id"),
            Some("1764335109.120000-k3v9qa")
        );
        assert_eq!(label(&detection, "frigate_camera"), Some("front_gate"));
        assert_eq!(label(&detection, "frigate_label"), Some("person"));
        assert_eq!(label(&detection, "frigate_zones"), Some("gate"));
        assert_eq!(
            label(&detection, "frigate_snapshot"),
            Some("/api/events/1764335109.120000-k3v9qa/snapshot.jpg")
        );
        assert_eq!(label(&detection, "frigate_sub_label"), None);
    }

    #[test]
    fn updates_of_a_reported_object_emit_nothing() {
        let mut tracker = Tracker::default();
        assert_eq!(map(PERSON_NEW, &mut tracker).len(), 1);
        assert!(map(PERSON_UPDATE_FACE, &mut tracker).is_empty());
        // A redelivered `new` is not reported twice either.
        assert!(map(PERSON_NEW, &mut tracker).is_empty());
    }

    #[test]
    fn car_then_recognized_plate_is_a_vehicle_then_a_plate() {
        let mut tracker = Tracker::default();
        let first = map(CAR_NEW, &mut tracker);
        assert_eq!(first.len(), 1);
        let vehicle = &first[0];
        assert_valid(vehicle);
        assert_eq!(vehicle.kind(), pb::DetectionKind::Vehicle);
        assert_eq!(vehicle.camera_id, "cam-000018");
        assert_eq!(
            vehicle.vehicle.as_ref().unwrap().r#type(),
            pb::VehicleType::Car
        );
        assert_eq!(vehicle.plate, None);
        assert_eq!(label(vehicle, "frigate_zones"), None, "no zone entered yet");
        assert_eq!(
            label(vehicle, "frigate_snapshot"),
            None,
            "has_snapshot is false"
        );

        let second = map(CAR_UPDATE_PLATE, &mut tracker);
        assert_eq!(second.len(), 1);
        let plate = &second[0];
        assert_valid(plate);
        assert_eq!(plate.kind(), pb::DetectionKind::Plate);
        assert_eq!(plate.camera_id, "cam-000018");
        assert_eq!(
            plate.vehicle.as_ref().unwrap().r#type(),
            pb::VehicleType::Car
        );
        let read = plate.plate.as_ref().unwrap();
        assert_eq!(read.text, "36A12345");
        assert_eq!(read.confidence, 0.912);
        assert_eq!(plate.confidence, 0.863_281_25);
        // When the plate was read, not when the car appeared.
        assert_eq!(plate.captured_at.unwrap().seconds, 1_764_335_142);
        assert_eq!(label(plate, "frigate_zones"), Some("market_entrance"));
        assert_eq!(
            label(plate, "frigate_event_id"),
            Some("1764335140.482911-7hq2zd")
        );

        // The plate is reported once, and `end` forgets the object.
        assert!(map(CAR_END, &mut tracker).is_empty());
        assert!(tracker.is_empty());
    }

    #[test]
    fn first_message_with_a_plate_gives_both_detections() {
        // The documented string form with a separate score.
        let detections = map(TRUCK_NEW_WITH_PLATE, &mut Tracker::default());
        let kinds: Vec<_> = detections.iter().map(pb::Detection::kind).collect();
        assert_eq!(
            kinds,
            [pb::DetectionKind::Vehicle, pb::DetectionKind::Plate]
        );
        for detection in &detections {
            assert_valid(detection);
            assert_eq!(
                detection.vehicle.as_ref().unwrap().r#type(),
                pb::VehicleType::Truck
            );
        }
        assert_eq!(detections[0].plate, None, "the plate travels once");
        let read = detections[1].plate.as_ref().unwrap();
        assert_eq!(read.text, "36C-456.78");
        assert_eq!(read.confidence, 0.933_451);
    }

    #[test]
    fn plate_in_a_string_sub_label_is_read_as_a_plate() {
        let detections = map(CAR_NEW_SUB_LABEL_PLATE, &mut Tracker::default());
        assert_eq!(detections.len(), 2);
        let plate = &detections[1];
        assert_valid(plate);
        assert_eq!(plate.kind(), pb::DetectionKind::Plate);
        let read = plate.plate.as_ref().unwrap();
        assert_eq!(read.text, "36A-123.45");
        assert_eq!(read.confidence, 0.0, "a string sub label has no score");
        assert_eq!(label(plate, "frigate_sub_label"), None);
    }

    #[test]
    fn other_sub_labels_become_a_label() {
        // `[name, score]` as Frigate 0.13+ sends it.
        let detection = map_one(PERSON_UPDATE_FACE);
        assert_eq!(
            label(&detection, "frigate_sub_label"),
            Some("Nguyen Van An")
        );
        assert_eq!(detection.plate, None, "a face name is not a plate");
        assert_eq!(label(&detection, "frigate_zones"), Some("gate,yard"));
        // The plain string form, and a name that happens to look like a
        // plate on a person, which is still not a plate.
        let string = edited(PERSON_NEW, |after| {
            after.insert("sub_label".into(), "Tran Thi Binh".into());
        });
        assert_eq!(
            label(&map_one(&string), "frigate_sub_label"),
            Some("Tran Thi Binh")
        );
        let plate_like = edited(PERSON_NEW, |after| {
            after.insert("sub_label".into(), "36A12345".into());
        });
        let person = map_one(&plate_like);
        assert_eq!(person.plate, None);
        assert_eq!(label(&person, "frigate_sub_label"), Some("36A12345"));
        let cleared = edited(PERSON_NEW, |after| {
            after.insert("sub_label".into(), serde_json::json!([null, null]));
        });
        assert_eq!(label(&map_one(&cleared), "frigate_sub_label"), None);
    }

    #[test]
    fn false_positive_is_reported_when_confirmed() {
        let mut tracker = Tracker::default();
        assert!(map(PERSON_NEW_FALSE_POSITIVE, &mut tracker).is_empty());
        let confirmed = map(PERSON_UPDATE_CONFIRMED, &mut tracker);
        assert_eq!(confirmed.len(), 1);
        assert_eq!(confirmed[0].kind(), pb::DetectionKind::Person);
        // Seen since the object appeared, not since it was confirmed.
        assert_eq!(confirmed[0].captured_at.unwrap().seconds, 1_764_335_400);
        assert!(map(PERSON_UPDATE_CONFIRMED, &mut tracker).is_empty());
    }

    #[test]
    fn update_or_end_of_an_unknown_object_is_reported() {
        // The bridge started, or reconnected, after the object's `new`.
        let detections = map(CAR_UPDATE_PLATE, &mut Tracker::default());
        let kinds: Vec<_> = detections.iter().map(pb::Detection::kind).collect();
        assert_eq!(
            kinds,
            [pb::DetectionKind::Vehicle, pb::DetectionKind::Plate]
        );
        let mut tracker = Tracker::default();
        assert_eq!(map(CAR_END, &mut tracker).len(), 2);
        assert!(tracker.is_empty());
    }

    #[test]
    fn plate_object_waits_for_its_text() {
        let mut tracker = Tracker::default();
        assert!(map(LICENSE_PLATE_NEW, &mut tracker).is_empty());
        let read = map(LICENSE_PLATE_UPDATE_READ, &mut tracker);
        assert_eq!(read.len(), 1);
        let plate = &read[0];
        assert_valid(plate);
        assert_eq!(plate.kind(), pb::DetectionKind::Plate);
        assert_eq!(plate.camera_id, "cam-000019");
        assert_eq!(plate.vehicle, None);
        assert_eq!(plate.plate.as_ref().unwrap().text, "36A99881");
        // Frigate 0.16 names a known plate in the sub label.
        assert_eq!(
            label(plate, "frigate_sub_label"),
            Some("Commune police patrol car")
        );
        assert!(map(LICENSE_PLATE_UPDATE_READ, &mut tracker).is_empty());
    }

    #[test]
    fn unread_plate_object_is_reported_at_its_end() {
        let end = LICENSE_PLATE_NEW.replace(r#""type": "new""#, r#""type": "end""#);
        let mut tracker = Tracker::default();
        assert!(map(LICENSE_PLATE_NEW, &mut tracker).is_empty());
        let detections = map(&end, &mut tracker);
        assert_eq!(detections.len(), 1);
        assert_eq!(detections[0].kind(), pb::DetectionKind::Plate);
        assert_eq!(detections[0].plate, None);
        assert_valid(&detections[0]);
    }

    #[test]
    fn labels_map_to_kinds() {
        use pb::DetectionKind as K;
        use pb::VehicleType as V;
        let cases = [
            ("car", K::Vehicle, Some(V::Car)),
            ("van", K::Vehicle, Some(V::Van)),
            ("truck", K::Vehicle, Some(V::Truck)),
            ("bus", K::Vehicle, Some(V::Bus)),
            ("school_bus", K::Vehicle, Some(V::Bus)),
            ("motorcycle", K::Vehicle, Some(V::Motorbike)),
            ("bicycle", K::Vehicle, Some(V::Bicycle)),
            ("person", K::Person, None),
            ("fire", K::FireSmoke, None),
            ("smoke", K::FireSmoke, None),
        ];
        for (frigate_label, kind, vehicle_type) in cases {
            let payload = edited(PERSON_NEW, |after| {
                after.insert("label".into(), frigate_label.into());
            });
            let detection = map_one(&payload);
            assert_valid(&detection);
            assert_eq!(detection.kind(), kind, "{frigate_label}");
            assert_eq!(
                detection.vehicle.map(|v| v.r#type()),
                vehicle_type,
                "{frigate_label}"
            );
        }
    }

    #[test]
    fn untracked_labels_are_skipped() {
        let mut tracker = Tracker::default();
        assert!(map(DOG_NEW, &mut tracker).is_empty());
        assert!(tracker.is_empty());
    }

    #[test]
    fn unmapped_camera_is_refused_once_per_object() {
        let payload = edited(PERSON_NEW, |after| {
            after.insert("camera".into(), "backyard".into());
        });
        let mut tracker = Tracker::default();
        let error = map_event(payload.as_bytes(), &cameras(), &mut tracker).unwrap_err();
        assert!(matches!(&error, FrigateError::UnmappedCamera(name) if name == "backyard"));
        assert_eq!(error.reason(), "unmapped_camera");
        assert!(error.to_string().contains("backyard"), "{error}");
        // Its updates are not refused again.
        let update = payload.replace(r#""type": "new""#, r#""type": "update""#);
        assert!(
            map_event(update.as_bytes(), &cameras(), &mut tracker)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn empty_camera_map_uses_frigate_names() {
        let detections = map_event(
            PERSON_NEW.as_bytes(),
            &CameraMap::default(),
            &mut Tracker::default(),
        )
        .unwrap();
        assert_eq!(detections[0].camera_id, "frigate:front_gate");
        assert_valid(&detections[0]);
    }

    #[test]
    fn malformed_json_is_an_error() {
        let error = refused("{not json");
        assert!(matches!(error, FrigateError::Json(_)), "{error:?}");
        assert_eq!(error.reason(), "malformed");
        assert!(
            error.to_string().starts_with("payload is not JSON"),
            "{error}"
        );
        assert!(matches!(refused(""), FrigateError::Json(_)));
        assert!(
            matches!(
                refused(&format!("{PERSON_NEW} {{}}")),
                FrigateError::Json(_)
            ),
            "trailing data"
        );
        assert!(matches!(refused("[1, 2]"), FrigateError::WrongType { .. }));
        assert!(matches!(refused("5"), FrigateError::WrongType { .. }));
    }

    #[test]
    fn missing_fields_are_named() {
        let cases: [(String, &str); 7] = [
            (r#"{"type": "new"}"#.to_owned(), "after is missing"),
            (
                r#"{"type": "new", "after": null}"#.to_owned(),
                "after is missing",
            ),
            (r#"{"after": {}}"#.to_owned(), "type is missing"),
            (
                edited(PERSON_NEW, |a| {
                    a.remove("camera");
                }),
                "after.camera is missing",
            ),
            (
                edited(PERSON_NEW, |a| {
                    a.remove("label");
                }),
                "after.label is missing",
            ),
            (
                edited(PERSON_NEW, |a| {
                    a.remove("id");
                }),
                "after.id is missing",
            ),
            (
                edited(PERSON_NEW, |a| {
                    a.remove("start_time");
                    a.remove("frame_time");
                }),
                "after.start_time is missing",
            ),
        ];
        for (payload, message) in cases {
            let error = refused(&payload);
            assert!(matches!(error, FrigateError::MissingField(_)), "{error:?}");
            assert_eq!(error.to_string(), message);
        }
        let scoreless = edited(PERSON_NEW, |a| {
            a.remove("top_score");
            a.remove("score");
        });
        assert_eq!(
            refused(&scoreless).to_string(),
            "after.top_score is missing"
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let cases = [
            (
                "camera",
                serde_json::json!(5),
                "after.camera",
                "expected a string",
            ),
            (
                "frame_time",
                serde_json::json!("soon"),
                "after.frame_time",
                "expected f64",
            ),
            (
                "false_positive",
                serde_json::json!("no"),
                "after.false_positive",
                "expected a boolean",
            ),
            (
                "entered_zones",
                serde_json::json!("gate"),
                "after.entered_zones",
                "expected a sequence",
            ),
            (
                "entered_zones",
                serde_json::json!([1]),
                "after.entered_zones[0]",
                "expected a string",
            ),
            (
                "sub_label",
                serde_json::json!(7),
                "after.sub_label",
                "expected a string or a [string, score] array",
            ),
            (
                "sub_label",
                serde_json::json!(["a", "b"]),
                "after.sub_label[1]",
                "expected f64",
            ),
            (
                "sub_label",
                serde_json::json!(["a", 0.5, 1]),
                "after.sub_label",
                "expected a string or a [string, score] array",
            ),
            (
                "recognized_license_plate",
                serde_json::json!({"text": "36A12345"}),
                "after.recognized_license_plate",
                "expected a string or a [string, score] array",
            ),
        ];
        for (key, value, path, expected) in cases {
            let payload = edited(PERSON_NEW, |after| {
                after.insert(key.into(), value);
            });
            let error = refused(&payload);
            assert!(
                matches!(&error, FrigateError::WrongType { field, .. } if field == path),
                "{key}: {error:?}"
            );
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("{path}: invalid ")) && message.contains(expected),
                "{key}: {message}"
            );
            assert_eq!(error.reason(), "malformed");
        }
        let after = refused(r#"{"type": "new", "after": "soon"}"#).to_string();
        assert!(
            after.starts_with("after: invalid type: string \"soon\", expected an object"),
            "{after}"
        );
        let negative = edited(PERSON_NEW, |a| {
            a.insert("start_time".into(), serde_json::json!(-5.0));
        });
        assert!(matches!(
            refused(&negative),
            FrigateError::InvalidField {
                field: "after.start_time",
                ..
            }
        ));
    }

    #[test]
    fn unknown_fields_and_types_are_tolerated() {
        let payload = edited(PERSON_NEW, |after| {
            after.insert("some_future_field".into(), serde_json::json!({"x": [1, 2]}));
        })
        .replace(r#""type": "new""#, r#""type": "stationary""#);
        assert_eq!(map_one(&payload).kind(), pb::DetectionKind::Person);
    }

    #[test]
    fn restoring_a_checkpoint_undoes_a_message() {
        let mut tracker = Tracker::default();
        let before = tracker.checkpoint("1764335140.482911-7hq2zd");
        assert_eq!(map(CAR_NEW, &mut tracker).len(), 1);
        tracker.restore(before);
        assert!(tracker.is_empty());
        assert_eq!(
            map(CAR_NEW, &mut tracker).len(),
            1,
            "reported again on redelivery"
        );

        let before = tracker.checkpoint("1764335140.482911-7hq2zd");
        assert_eq!(map(CAR_UPDATE_PLATE, &mut tracker).len(), 1);
        tracker.restore(before);
        assert_eq!(
            map(CAR_UPDATE_PLATE, &mut tracker).len(),
            1,
            "plate again, not the car"
        );
    }
}
