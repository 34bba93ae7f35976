//! Frigate bridge: subscribes to the MQTT topic on which a [Frigate] NVR
//! reports the objects it tracks (`frigate/events`) and turns them into
//! `vigil.v1.Detection`s for the [`Intake`].
//!
//! [Frigate]: https://docs.frigate.video/integrations/mqtt/
//!
//! # What Frigate sends
//!
//! One JSON message per change of a tracked object:
//! `{"type": "new" | "update" | "end", "before": {..}, "after": {..}}`, where
//! `before` and `after` are the object's state around the change. Only
//! `after` is read. Frigate sends `new` once, when the object stops being a
//! false positive; `update` when it changes (a better snapshot, a zone
//! change, ...); `end` when tracking stops (never for a false positive).
//! Every message about one object carries its `id`, e.g.
//! `1607123955.475377-mxklsc`.
//!
//! Fields read from `after` (anything else is ignored, so newer Frigate
//! versions keep working):
//!
//! | field | required | use |
//! |---|---|---|
//! | `id`, `camera`, `label` | yes | identity, camera, kind |
//! | `start_time`, `frame_time` | one of them | `captured_at` (seconds since the epoch) |
//! | `top_score`, `score` | one of them | `confidence`: `top_score` unless 0 (not yet computed), clamped to 0..=1 |
//! | `false_positive` | no (false) | nothing is emitted while it is true |
//! | `sub_label` | no | `null`, `"name"` (up to 0.12) or `["name", score]` (0.13+) |
//! | `recognized_license_plate` | no | 0.16+: `null`, `"text"` (as documented) or `["text", score]` (what Frigate's code sends) |
//! | `recognized_license_plate_score` | no | plate confidence for the string form |
//! | `entered_zones`, `has_snapshot` | no | labels |
//!
//! # Mapping
//!
//! | Frigate `label` | `kind` | `vehicle.type` |
//! |---|---|---|
//! | `person` | `PERSON` | |
//! | `car` | `VEHICLE` | `CAR` |
//! | `van` | `VEHICLE` | `VAN` |
//! | `truck` | `VEHICLE` | `TRUCK` |
//! | `bus`, `school_bus` | `VEHICLE` | `BUS` |
//! | `motorcycle` | `VEHICLE` | `MOTORBIKE` |
//! | `bicycle` | `VEHICLE` | `BICYCLE` |
//! | `license_plate` (dedicated LPR cameras) | `PLATE` | |
//! | `fire`, `smoke` (custom models) | `FIRE_SMOKE` | |
//! | anything else (`dog`, `package`, ...) | skipped, logged at debug | |
//!
//! * **Camera.** `camera` is looked up in `--frigate-cameras`; a camera
//!   missing from a non-empty map is refused ([`FrigateError::UnmappedCamera`]).
//!   With an empty map every camera maps to `frigate:<camera>`, which the
//!   registry must then know under that id.
//! * **Plate.** `recognized_license_plate` gives `plate.text` and
//!   `plate.confidence` (0 when Frigate gave no score). Plate readers that
//!   predate it wrote the plate into `sub_label`, so a vehicle's or plate's
//!   sub label that normalizes as a Vietnamese plate is read as one too.
//!   Frigate 0.16+ puts a *known* plate's configured name (not its text) in
//!   `sub_label`; that, and any other sub label (e.g. a recognized face), goes
//!   to the label `frigate_sub_label`.
//! * **Labels.** `frigate_event_id`, `frigate_camera`, `frigate_label`;
//!   `frigate_zones` (`entered_zones`, comma-joined) when not empty;
//!   `frigate_snapshot` (`/api/events/<id>/snapshot.jpg`, relative to the
//!   Frigate server) when `has_snapshot`.
//! * **Not set.** `bbox`: Frigate boxes are in pixels of a frame whose size
//!   the message does not carry, so they cannot be normalized. `snapshot`:
//!   Vigil requires the image's SHA-256, which Frigate does not send (see the
//!   `frigate_snapshot` label). `event_id` is minted by the intake.
//!
//! # What is emitted
//!
//! Messages are per object change, detections per sighting, so a [`Tracker`]
//! remembers which Frigate objects were already reported:
//!
//! * the first message about an object that is not a false positive (`new`,
//!   or an `update`/`end` when the bridge missed the earlier ones) emits
//!   one detection of the label's kind, `captured_at` = `start_time`;
//! * for a vehicle, the first message carrying a plate also emits a `PLATE`
//!   detection (with the vehicle type, `captured_at` = `frame_time`), once
//!   per object: one payload can thus yield two detections. The vehicle
//!   detection never carries the plate, so a watchlist matches once;
//! * a `license_plate` object is reported once, when its text is first read,
//!   or at `end` without text if it never was;
//! * `end` forgets the object. The tracker holds at most
//!   [`Tracker::DEFAULT_CAPACITY`] objects and forgets the oldest first (an
//!   object whose `end` was lost).
//!
//! A later, better reading of the same plate is not reported again.
//!
//! # Delivery
//!
//! The bridge subscribes at QoS 1 with a persistent session (the broker keeps
//! messages for it while it is away) and acknowledges a message only once
//! its detections are on disk, so a message in flight when the agent stops
//! is delivered again (at least once: a repeat may be reported twice after
//! a restart, the tracker being in memory). When the intake cannot store a
//! detection (spool failure), the bridge leaves the message unacknowledged
//! and reconnects after a pause, which makes the broker send it again.
//! Frigate itself publishes at its `mqtt.qos` setting, 0 by default; set it
//! to 1 to extend this to the Frigate-to-broker hop.
//!
//! Unreadable messages are counted in `vigil_edge_events_rejected_total`
//! (`source="frigate"`, reason `malformed` or `unmapped_camera`), logged,
//! acknowledged and skipped; a lost broker is reconnected with backoff.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, Publish, QoS, SubscribeReasonCode,
};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vigil_domain::plate::normalize_plate;
use vigil_proto::v1 as pb;

use crate::intake::{Intake, Source};
use crate::metrics;

/// Frigate bridge settings (flattened into the agent's command line).
#[derive(Clone, clap::Args)]
pub struct FrigateArgs {
    /// MQTT broker URL, `mqtt://host[:port]` (port 1883 by default), e.g.
    /// mqtt://127.0.0.1:1883; the bridge is off when unset.
    #[arg(long = "frigate-mqtt", env = "VIGIL_FRIGATE_MQTT", value_parser = checked_broker_url)]
    pub mqtt_url: Option<String>,
    /// Topic Frigate publishes events on (`<topic_prefix>/events`).
    #[arg(
        long = "frigate-topic",
        env = "VIGIL_FRIGATE_TOPIC",
        default_value = "frigate/events"
    )]
    pub topic: String,
    /// Frigate camera name to Vigil camera id, e.g.
    /// "front_gate=cam-000017,market=cam-000018". When empty, camera `x` is
    /// sent as `frigate:x`.
    #[arg(
        long = "frigate-cameras",
        env = "VIGIL_FRIGATE_CAMERAS",
        default_value = ""
    )]
    pub cameras: CameraMap,
    /// MQTT client id. Must be unique among the broker's clients (a second
    /// client with the same id disconnects the first); the broker keeps the
    /// session, and messages for it, under this id while the agent is away.
    #[arg(
        long = "frigate-client-id",
        env = "VIGIL_FRIGATE_CLIENT_ID",
        default_value = "vigil-edge"
    )]
    pub client_id: String,
    /// MQTT user name, if the broker requires one.
    #[arg(long = "frigate-mqtt-user", env = "VIGIL_FRIGATE_MQTT_USER")]
    pub user: Option<String>,
    /// MQTT password (prefer the environment variable to the flag, which
    /// other local users can see).
    #[arg(
        long = "frigate-mqtt-password",
        env = "VIGIL_FRIGATE_MQTT_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
}

// By hand, so that the password never reaches a log.
impl std::fmt::Debug for FrigateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrigateArgs")
            .field("mqtt_url", &self.mqtt_url)
            .field("topic", &self.topic)
            .field("cameras", &self.cameras)
            .field("client_id", &self.client_id)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Frigate camera names to Vigil camera ids, parsed from
/// `name=id,name=id` (whitespace around items is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CameraMap(BTreeMap<String, String>);

impl CameraMap {
    /// The Vigil camera id for Frigate camera `name`: its entry, or
    /// `frigate:<name>` when the map is empty, or `None` when `name` is
    /// missing from a non-empty map.
    pub fn camera_id(&self, name: &str) -> Option<String> {
        if self.0.is_empty() {
            return Some(format!("frigate:{name}"));
        }
        self.0.get(name).cloned()
    }

    /// Whether no camera is mapped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for CameraMap {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut map = BTreeMap::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let (name, id) = item
                .split_once('=')
                .map(|(name, id)| (name.trim(), id.trim()))
                .ok_or_else(|| format!("{item:?} is not frigate_camera=vigil_camera_id"))?;
            if name.is_empty() || id.is_empty() {
                return Err(format!("{item:?} has an empty camera name or id"));
            }
            if map.insert(name.to_owned(), id.to_owned()).is_some() {
                return Err(format!("camera {name:?} is mapped twice"));
            }
        }
        Ok(Self(map))
    }
}

/// Why a Frigate message yielded no detection.
#[derive(Debug, thiserror::Error)]
pub enum FrigateError {
    /// The payload is not JSON.
    #[error("payload is not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// A required field is absent or null.
    #[error("{0} is missing")]
    MissingField(&'static str),
    /// A field has the wrong JSON type.
    #[error("{field} must be {expected}")]
    WrongType {
        /// Path of the field, e.g. `after.camera`.
        field: &'static str,
        /// What it must be, e.g. `a string`.
        expected: &'static str,
    },
    /// A field has the right type but an unusable value.
    #[error("{field}: {problem}")]
    InvalidField {
        /// Path of the field, e.g. `after.start_time`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The Frigate camera is not in `--frigate-cameras`.
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
}

/// Which Frigate objects were already reported, so that the many messages
/// about one object yield one detection (and one plate). Bounded: past
/// capacity the oldest object is forgotten.
#[derive(Debug)]
pub struct Tracker {
    capacity: usize,
    next_seq: u64,
    objects: HashMap<String, Reported>,
    // Insertion order, for evicting the oldest.
    order: BTreeMap<u64, String>,
}

/// What was reported for one Frigate object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reported {
    seq: u64,
    plate: bool,
}

/// A tracker entry as it was before a message, to undo that message.
#[derive(Debug)]
struct Checkpoint {
    id: String,
    reported: Option<Reported>,
}

impl Tracker {
    /// Objects remembered by [`Tracker::default`]: far more than one NVR
    /// tracks at once.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A tracker remembering at most `capacity` objects (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            next_seq: 0,
            objects: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    /// Objects currently remembered.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether no object is remembered.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn get(&self, id: &str) -> Option<Reported> {
        self.objects.get(id).copied()
    }

    /// Remembers `id`, with whether its plate was reported.
    fn record(&mut self, id: &str, plate: bool) {
        if let Some(reported) = self.objects.get_mut(id) {
            reported.plate |= plate;
            return;
        }
        while self.objects.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.objects.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, id.to_owned());
        self.objects.insert(id.to_owned(), Reported { seq, plate });
    }

    fn forget(&mut self, id: &str) {
        if let Some(reported) = self.objects.remove(id) {
            self.order.remove(&reported.seq);
        }
    }

    fn checkpoint(&self, id: &str) -> Checkpoint {
        Checkpoint {
            id: id.to_owned(),
            reported: self.get(id),
        }
    }

    fn restore(&mut self, checkpoint: Checkpoint) {
        self.forget(&checkpoint.id);
        if let Some(reported) = checkpoint.reported {
            self.order.insert(reported.seq, checkpoint.id.clone());
            self.objects.insert(checkpoint.id, reported);
        }
    }
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

/// Maps one `frigate/events` payload to the detections to emit (none, one or
/// two), updating `tracker`. See the module documentation for the rules.
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

/// A name with an optional score: Frigate's `sub_label` and
/// `recognized_license_plate`.
#[derive(Debug, Clone, PartialEq)]
struct Scored {
    text: String,
    score: Option<f64>,
}

/// The parts of a `frigate/events` message the bridge uses.
#[derive(Debug)]
struct TrackedObject {
    /// `type` is `end`: Frigate stopped tracking the object.
    ending: bool,
    id: String,
    camera: String,
    label: String,
    /// When the object appeared: `start_time`, else `frame_time`.
    first_seen: prost_types::Timestamp,
    /// The frame this message describes: `frame_time`, else `start_time`.
    seen: prost_types::Timestamp,
    confidence: f32,
    false_positive: bool,
    sub_label: Option<Scored>,
    recognized_plate: Option<Scored>,
    entered_zones: Vec<String>,
    has_snapshot: bool,
}

impl TrackedObject {
    fn parse(payload: &[u8]) -> Result<Self, FrigateError> {
        let message: Value = serde_json::from_slice(payload).map_err(FrigateError::Json)?;
        let message = message.as_object().ok_or(FrigateError::WrongType {
            field: "message",
            expected: "a JSON object",
        })?;
        // `new` and `update` need no telling apart (the tracker knows what
        // was reported), and a type newer Frigate may add still describes
        // the object's current state.
        let ending = required_str(message, "type")? == "end";
        let after = field(message, "after")
            .ok_or(FrigateError::MissingField("after"))?
            .as_object()
            .ok_or(FrigateError::WrongType {
                field: "after",
                expected: "an object",
            })?;
        let top_score = optional_f64(after, "after.top_score")?;
        let score = optional_f64(after, "after.score")?;
        let start_time = optional_time(after, "after.start_time")?;
        let frame_time = optional_time(after, "after.frame_time")?;
        let (first_seen, seen) = match (start_time, frame_time) {
            (Some(start), Some(frame)) => (start, frame),
            (Some(time), None) | (None, Some(time)) => (time, time),
            (None, None) => return Err(FrigateError::MissingField("after.start_time")),
        };
        let mut recognized_plate = optional_scored(after, "after.recognized_license_plate")?;
        if let Some(plate) = recognized_plate.as_mut()
            && plate.score.is_none()
        {
            plate.score = optional_f64(after, "after.recognized_license_plate_score")?;
        }
        Ok(Self {
            ending,
            id: required_str(after, "after.id")?.to_owned(),
            camera: required_str(after, "after.camera")?.to_owned(),
            label: required_str(after, "after.label")?.to_owned(),
            first_seen,
            seen,
            confidence: unit_interval(
                top_score
                    .filter(|top| *top > 0.0)
                    .or(score)
                    .or(top_score)
                    .ok_or(FrigateError::MissingField("after.top_score"))?,
            ),
            false_positive: optional_bool(after, "after.false_positive")?.unwrap_or(false),
            sub_label: optional_scored(after, "after.sub_label")?,
            recognized_plate,
            entered_zones: optional_strings(after, "after.entered_zones")?,
            has_snapshot: optional_bool(after, "after.has_snapshot")?.unwrap_or(false),
        })
    }

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

fn map_object(
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
    let (report_object, report_plate) = match tracker.get(&object.id) {
        // A plate object is only worth reporting with its text, which
        // Frigate reads after it starts tracking; wait for it until the end.
        None if class == Class::Plate && plate.is_none() && !ending => return Ok(Vec::new()),
        None => (true, class != Class::Plate && plate.is_some()),
        Some(reported) => (false, !reported.plate && plate.is_some()),
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

/// A field's value; `None` when absent or null (Frigate writes null for
/// "not yet known").
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

/// The last component of a field path: `after.camera` → `camera`.
fn key(path: &'static str) -> &'static str {
    path.rsplit('.').next().unwrap_or(path)
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    path: &'static str,
) -> Result<&'a str, FrigateError> {
    field(object, key(path))
        .ok_or(FrigateError::MissingField(path))?
        .as_str()
        .ok_or(FrigateError::WrongType {
            field: path,
            expected: "a string",
        })
}

fn optional_f64(
    object: &Map<String, Value>,
    path: &'static str,
) -> Result<Option<f64>, FrigateError> {
    field(object, key(path))
        .map(|value| {
            value.as_f64().ok_or(FrigateError::WrongType {
                field: path,
                expected: "a number",
            })
        })
        .transpose()
}

fn optional_bool(
    object: &Map<String, Value>,
    path: &'static str,
) -> Result<Option<bool>, FrigateError> {
    field(object, key(path))
        .map(|value| {
            value.as_bool().ok_or(FrigateError::WrongType {
                field: path,
                expected: "true or false",
            })
        })
        .transpose()
}

fn optional_strings(
    object: &Map<String, Value>,
    path: &'static str,
) -> Result<Vec<String>, FrigateError> {
    let wrong = FrigateError::WrongType {
        field: path,
        expected: "an array of strings",
    };
    let Some(value) = field(object, key(path)) else {
        return Ok(Vec::new());
    };
    value
        .as_array()
        .ok_or(wrong)?
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or(FrigateError::WrongType {
                    field: path,
                    expected: "an array of strings",
                })
        })
        .collect()
}

/// `"text"`, `["text", score]` or `[null, null]` (Frigate's way of clearing
/// it); blank text counts as none.
fn optional_scored(
    object: &Map<String, Value>,
    path: &'static str,
) -> Result<Option<Scored>, FrigateError> {
    let wrong = || FrigateError::WrongType {
        field: path,
        expected: "a string or a [string, score] array",
    };
    let (text, score) = match field(object, key(path)) {
        None => return Ok(None),
        Some(Value::String(text)) => (Some(text.as_str()), None),
        Some(Value::Array(items)) if items.len() <= 2 => {
            let text = match items.first() {
                None | Some(Value::Null) => None,
                Some(Value::String(text)) => Some(text.as_str()),
                Some(_) => return Err(wrong()),
            };
            let score = match items.get(1) {
                None | Some(Value::Null) => None,
                Some(score) => Some(score.as_f64().ok_or_else(wrong)?),
            };
            (text, score)
        }
        Some(_) => return Err(wrong()),
    };
    Ok(text
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(|text| Scored {
            text: text.to_owned(),
            score,
        }))
}

/// Frigate scores are fractions; clamped so that rounding cannot push one
/// out of the range the intake accepts.
fn unit_interval(score: f64) -> f32 {
    score.clamp(0.0, 1.0) as f32
}

/// Seconds since the epoch, as Frigate writes times.
fn optional_time(
    object: &Map<String, Value>,
    path: &'static str,
) -> Result<Option<prost_types::Timestamp>, FrigateError> {
    let Some(seconds) = optional_f64(object, path)? else {
        return Ok(None);
    };
    let invalid = |problem: String| FrigateError::InvalidField {
        field: path,
        problem,
    };
    let since_epoch = Duration::try_from_secs_f64(seconds)
        .map_err(|e| invalid(format!("{seconds} is not a time after 1970: {e}")))?;
    Ok(Some(prost_types::Timestamp {
        seconds: i64::try_from(since_epoch.as_secs())
            .map_err(|_| invalid(format!("{seconds} is too far in the future")))?,
        nanos: i32::try_from(since_epoch.subsec_nanos()).unwrap_or(0),
    }))
}

/// `url` if it is a broker URL the bridge can use, so that a wrong one
/// stops the agent at startup.
fn checked_broker_url(url: &str) -> Result<String, String> {
    broker_address(url)
        .map(|_| url.to_owned())
        .map_err(|e| e.to_string())
}

/// `mqtt://host[:port]` (or `tcp://`) → host and port; IPv6 hosts stay in
/// brackets, which is how the client wants them.
fn broker_address(url: &str) -> anyhow::Result<(String, u16)> {
    let authority = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .with_context(|| {
            format!("{url:?} must start with mqtt:// (TLS brokers are not supported)")
        })?;
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    anyhow::ensure!(
        !authority.contains(['/', '?', '#', '@']),
        "{url:?} must be mqtt://host[:port]; give credentials with --frigate-mqtt-user and --frigate-mqtt-password"
    );
    let (host, port) = match authority.rfind(':') {
        // The colon of an IPv6 host is not a port separator.
        Some(colon) if !authority[colon..].contains(']') => {
            (&authority[..colon], Some(&authority[colon + 1..]))
        }
        _ => (authority, None),
    };
    anyhow::ensure!(!host.is_empty(), "{url:?} has no host");
    let port = port
        .map(|port| {
            port.parse::<u16>()
                .with_context(|| format!("{url:?} has an invalid port"))
        })
        .transpose()?
        .unwrap_or(1883);
    Ok((host.to_owned(), port))
}

/// A Frigate message holds two states of the object (with its path, in
/// recent versions) and can outgrow the client's default limit of 10 KB; a
/// message over the limit drops the connection.
const MAX_INCOMING_PACKET: usize = 4 * 1024 * 1024;
/// The bridge only sends control packets.
const MAX_OUTGOING_PACKET: usize = 64 * 1024;
const KEEP_ALIVE: Duration = Duration::from_secs(30);
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Wait before a message the intake could not store is tried again.
const REFUSED_PAUSE: Duration = Duration::from_secs(5);
/// How long shutdown waits to send the last acknowledgements.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How much of an unreadable payload a log line shows.
const LOGGED_PAYLOAD: usize = 256;

/// Runs the bridge until `shutdown` is cancelled: connects to the broker,
/// subscribes to the topic at QoS 1, and hands the detections of each message
/// to `intake`. Reconnects with backoff when the broker is lost and never
/// stops on a bad message. With no broker URL it does nothing until
/// shutdown, so callers can run it unconditionally. Fails only on invalid
/// settings.
pub async fn run(
    args: FrigateArgs,
    intake: Intake,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Some(url) = args.mqtt_url.as_deref() else {
        info!("Frigate bridge off (no --frigate-mqtt).");
        drop(intake);
        shutdown.cancelled().await;
        return Ok(());
    };
    let (host, port) = broker_address(url).context("--frigate-mqtt")?;
    let mut options = MqttOptions::new(args.client_id.clone(), host, port);
    options
        .set_keep_alive(KEEP_ALIVE)
        // A persistent session: the broker keeps the subscription and queues
        // QoS 1 messages while the agent is away.
        .set_clean_session(false)
        // Acknowledged only once the detections are on disk.
        .set_manual_acks(true)
        .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET);
    if let Some(user) = &args.user {
        options.set_credentials(user.clone(), args.password.clone().unwrap_or_default());
    }
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let mut bridge = Bridge {
        client,
        intake,
        cameras: args.cameras,
        tracker: Tracker::default(),
    };
    info!(broker = %url, topic = %args.topic, client_id = %args.client_id, "Frigate bridge starting.");
    if bridge.cameras.is_empty() {
        warn!("No --frigate-cameras: Frigate camera x is sent as camera frigate:x.");
    }
    let mut backoff = MIN_BACKOFF;
    // Set when the intake refused a message, until the reconnection that
    // brings it back.
    let mut paused = false;
    let mut connected = false;
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff = MIN_BACKOFF;
                paused = false;
                connected = true;
                info!(
                    session_present = ack.session_present,
                    "Connected to the Frigate MQTT broker."
                );
                // Also when the session survived: subscribing again is
                // harmless, and the session may predate a topic change.
                // `try_` because this task is the one draining the queue.
                if let Err(error) = bridge.client.try_subscribe(&args.topic, QoS::AtLeastOnce) {
                    warn!(%error, topic = %args.topic, "Could not subscribe to the Frigate topic.");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                    warn!(topic = %args.topic, "The MQTT broker refused the subscription to the Frigate topic.");
                } else {
                    info!(topic = %args.topic, "Subscribed to Frigate events.");
                }
            }
            // Left unacknowledged: the broker sends it again after the
            // reconnection.
            Ok(Event::Incoming(Packet::Publish(_))) if paused => {}
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if bridge.handle(publish).await == Outcome::Refused {
                    // A broker sends unacknowledged messages again only on
                    // a new connection: reconnect, after a pause.
                    paused = true;
                    backoff = REFUSED_PAUSE;
                    if let Err(error) = bridge.client.try_disconnect() {
                        warn!(%error, "Could not disconnect from the Frigate MQTT broker.");
                    }
                }
            }
            Ok(_) => {}
            Err(error) => {
                connected = false;
                if paused {
                    info!(%error, retry_in = ?backoff, "Disconnected from the Frigate MQTT broker, to be sent the refused message again.");
                } else {
                    warn!(%error, retry_in = ?backoff, "The Frigate MQTT connection failed; reconnecting.");
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    if connected {
        disconnect(&bridge.client, &mut eventloop).await;
    }
    info!("Frigate bridge stopped.");
    Ok(())
}

/// Sends the acknowledgements still queued, then a DISCONNECT (which keeps
/// the session), so that fewer messages are delivered again at the next
/// start; gives up after [`DISCONNECT_TIMEOUT`].
async fn disconnect(client: &AsyncClient, eventloop: &mut EventLoop) {
    if client.try_disconnect().is_err() {
        return;
    }
    let sent = tokio::time::timeout(DISCONNECT_TIMEOUT, async {
        // Requests go out in order, and the client reports the DISCONNECT
        // once it is written.
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    if sent.is_err() {
        warn!("Could not disconnect cleanly from the Frigate MQTT broker.");
    }
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Spooled, or skipped for good: acknowledge it.
    Done,
    /// The intake could not store it: leave it for redelivery.
    Refused,
}

/// The bridge's state between messages.
struct Bridge {
    client: AsyncClient,
    intake: Intake,
    cameras: CameraMap,
    tracker: Tracker,
}

impl Bridge {
    async fn handle(&mut self, publish: Publish) -> Outcome {
        let outcome = self.process(&publish.payload).await;
        if outcome == Outcome::Done
            && let Err(error) = self.client.try_ack(&publish)
        {
            warn!(%error, "Could not acknowledge a Frigate message; the broker will send it again after a reconnection.");
        }
        outcome
    }

    /// Maps and spools one message. When the intake cannot store a
    /// detection for reasons of its own, the tracker forgets the message so
    /// that its redelivery is reported.
    async fn process(&mut self, payload: &[u8]) -> Outcome {
        let object = match TrackedObject::parse(payload) {
            Ok(object) => object,
            Err(error) => {
                metrics::rejected(Source::Frigate, error.reason());
                let shown = &payload[..payload.len().min(LOGGED_PAYLOAD)];
                warn!(%error, bytes = payload.len(), payload = %String::from_utf8_lossy(shown), "Skipped an unreadable Frigate message.");
                return Outcome::Done;
            }
        };
        let checkpoint = self.tracker.checkpoint(&object.id);
        let detections = match map_object(&object, &self.cameras, &mut self.tracker) {
            Ok(detections) => detections,
            Err(error) => {
                metrics::rejected(Source::Frigate, error.reason());
                warn!(%error, frigate_id = %object.id, "Skipped a Frigate object.");
                return Outcome::Done;
            }
        };
        for detection in detections {
            match self.intake.accept(detection, Source::Frigate).await {
                Ok(event_id) => {
                    debug!(%event_id, frigate_id = %object.id, "Accepted a Frigate detection.");
                }
                Err(rejection) if rejection.is_client_error() => {
                    warn!(error = %rejection, frigate_id = %object.id, "The intake refused a Frigate detection.");
                }
                Err(rejection) => {
                    warn!(error = %rejection, frigate_id = %object.id, "Could not store a Frigate detection; leaving the message for redelivery.");
                    self.tracker.restore(checkpoint);
                    return Outcome::Refused;
                }
            }
        }
        Outcome::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERSON_NEW: &str = include_str!("../../tests/fixtures/frigate/person_new.json");
    const PERSON_UPDATE_FACE: &str =
        include_str!("../../tests/fixtures/frigate/person_update_face.json");
    const CAR_NEW: &str = include_str!("../../tests/fixtures/frigate/car_new.json");
    const CAR_UPDATE_PLATE: &str =
        include_str!("../../tests/fixtures/frigate/car_update_plate.json");
    const CAR_END: &str = include_str!("../../tests/fixtures/frigate/car_end.json");
    const TRUCK_NEW_WITH_PLATE: &str =
        include_str!("../../tests/fixtures/frigate/truck_new_with_plate.json");
    const CAR_NEW_SUB_LABEL_PLATE: &str =
        include_str!("../../tests/fixtures/frigate/car_new_sub_label_plate.json");
    const PERSON_NEW_FALSE_POSITIVE: &str =
        include_str!("../../tests/fixtures/frigate/person_new_false_positive.json");
    const PERSON_UPDATE_CONFIRMED: &str =
        include_str!("../../tests/fixtures/frigate/person_update_confirmed.json");
    const LICENSE_PLATE_NEW: &str =
        include_str!("../../tests/fixtures/frigate/license_plate_new.json");
    const LICENSE_PLATE_UPDATE_READ: &str =
        include_str!("../../tests/fixtures/frigate/license_plate_update_read.json");
    const DOG_NEW: &str = include_str!("../../tests/fixtures/frigate/dog_new.json");

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
        assert!(matches!(
            refused("[1, 2]"),
            FrigateError::WrongType {
                field: "message",
                ..
            }
        ));
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
                "after.camera must be a string",
            ),
            (
                "frame_time",
                serde_json::json!("soon"),
                "after.frame_time must be a number",
            ),
            (
                "false_positive",
                serde_json::json!("no"),
                "after.false_positive must be true or false",
            ),
            (
                "entered_zones",
                serde_json::json!("gate"),
                "after.entered_zones must be an array of strings",
            ),
            (
                "entered_zones",
                serde_json::json!([1]),
                "after.entered_zones must be an array of strings",
            ),
            (
                "sub_label",
                serde_json::json!(7),
                "after.sub_label must be a string or a [string, score] array",
            ),
            (
                "sub_label",
                serde_json::json!(["a", "b"]),
                "after.sub_label must be a string or a [string, score] array",
            ),
            (
                "recognized_license_plate",
                serde_json::json!({"text": "36A12345"}),
                "after.recognized_license_plate must be a string or a [string, score] array",
            ),
        ];
        for (key, value, message) in cases {
            let payload = edited(PERSON_NEW, |after| {
                after.insert(key.into(), value);
            });
            assert_eq!(refused(&payload).to_string(), message);
        }
        let after = r#"{"type": "new", "after": "soon"}"#;
        assert_eq!(refused(after).to_string(), "after must be an object");
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
    fn tracker_forgets_the_oldest_past_capacity() {
        let mut tracker = Tracker::new(2);
        tracker.record("a", false);
        tracker.record("b", false);
        tracker.record("a", true); // an update does not make "a" younger
        tracker.record("c", false);
        assert_eq!(tracker.len(), 2);
        assert_eq!(tracker.get("a"), None);
        assert!(tracker.get("b").is_some() && tracker.get("c").is_some());
        tracker.forget("b");
        tracker.record("d", false);
        assert_eq!(tracker.len(), 2, "forgetting frees the slot");
        assert!(tracker.get("c").is_some());
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

    #[test]
    fn camera_map_parses() {
        let map: CameraMap = " front_gate = cam-000017 ,market=cam-000018, "
            .parse()
            .unwrap();
        assert_eq!(map.camera_id("front_gate").as_deref(), Some("cam-000017"));
        assert_eq!(map.camera_id("market").as_deref(), Some("cam-000018"));
        assert_eq!(map.camera_id("backyard"), None);
        assert!("".parse::<CameraMap>().unwrap().is_empty());
        for bad in ["front_gate", "=cam-1", "gate=", "a=1,a=2"] {
            assert!(bad.parse::<CameraMap>().is_err(), "{bad}");
        }
    }

    #[test]
    fn broker_urls_parse() {
        let ok = |url: &str| broker_address(url).unwrap();
        assert_eq!(ok("mqtt://127.0.0.1:1883"), ("127.0.0.1".to_owned(), 1883));
        assert_eq!(ok("mqtt://broker.local"), ("broker.local".to_owned(), 1883));
        assert_eq!(ok("tcp://broker:11883/"), ("broker".to_owned(), 11883));
        assert_eq!(ok("mqtt://[::1]:1884"), ("[::1]".to_owned(), 1884));
        assert_eq!(ok("mqtt://[::1]"), ("[::1]".to_owned(), 1883));
        for bad in [
            "127.0.0.1:1883",
            "mqtts://broker:8883",
            "mqtt://user:pw@broker",
            "mqtt://broker:port",
            "mqtt://broker:70000",
            "mqtt://:1883",
            "mqtt://broker/topic",
        ] {
            assert!(broker_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn args_parse_and_hide_the_password() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            frigate: FrigateArgs,
        }
        let cli = Cli::try_parse_from([
            "vigil-edge",
            "--frigate-mqtt=mqtt://127.0.0.1:1883",
            "--frigate-cameras=front_gate=cam-000017",
            "--frigate-mqtt-password=hunter2",
        ])
        .unwrap();
        assert_eq!(cli.frigate.topic, "frigate/events");
        assert_eq!(cli.frigate.client_id, "vigil-edge");
        assert_eq!(
            cli.frigate.cameras.camera_id("front_gate").as_deref(),
            Some("cam-000017")
        );
        assert!(!format!("{cli:?}").contains("hunter2"));
        assert!(Cli::try_parse_from(["vigil-edge", "--frigate-cameras=nonsense"]).is_err());
        assert!(Cli::try_parse_from(["vigil-edge", "--frigate-mqtt=127.0.0.1:1883"]).is_err());
    }
}
