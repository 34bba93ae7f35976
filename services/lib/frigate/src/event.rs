//! One `frigate/events` message, read with serde: absent and `null` fields
//! alike are `None` (Frigate writes `null` for "not yet known"), fields
//! Vigil does not use are ignored, so newer Frigate versions keep working.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};

use crate::FrigateError;

/// A message as Frigate sends it; only `after` is read.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a JSON object")]
struct Message {
    /// `new`, `update` or `end`.
    #[serde(rename = "type")]
    kind: Option<String>,
    after: Option<After>,
}

/// The tracked object's state after the change the message reports.
#[derive(Debug, Deserialize)]
#[serde(expecting = "an object")]
struct After {
    id: Option<String>,
    camera: Option<String>,
    label: Option<String>,
    start_time: Option<f64>,
    frame_time: Option<f64>,
    top_score: Option<f64>,
    score: Option<f64>,
    false_positive: Option<bool>,
    sub_label: Option<RawScored>,
    recognized_license_plate: Option<RawScored>,
    recognized_license_plate_score: Option<f64>,
    entered_zones: Option<Vec<String>>,
    has_snapshot: Option<bool>,
}

/// `"text"` or `["text", score]`, either part possibly `null` (`[null,
/// null]` is how Frigate clears a sub label).
#[derive(Debug, Default)]
struct RawScored {
    text: Option<String>,
    score: Option<f64>,
}

impl<'de> Deserialize<'de> for RawScored {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScoredVisitor;

        impl<'de> Visitor<'de> for ScoredVisitor {
            type Value = RawScored;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string or a [string, score] array")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawScored, E> {
                Ok(RawScored {
                    text: Some(text.to_owned()),
                    score: None,
                })
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<RawScored, A::Error> {
                let text = items.next_element::<Option<String>>()?.flatten();
                let score = items.next_element::<Option<f64>>()?.flatten();
                if items.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(RawScored { text, score })
            }
        }

        deserializer.deserialize_any(ScoredVisitor)
    }
}

/// A name with an optional score: Frigate's `sub_label` and
/// `recognized_license_plate`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scored {
    pub(crate) text: String,
    pub(crate) score: Option<f64>,
}

impl RawScored {
    /// Blank or missing text counts as no name.
    fn named(self) -> Option<Scored> {
        let text = self.text?.trim().to_owned();
        (!text.is_empty()).then_some(Scored {
            text,
            score: self.score,
        })
    }
}

/// The parts of a `frigate/events` message that Vigil uses, checked.
#[derive(Debug)]
pub struct TrackedObject {
    /// `type` is `end`: Frigate stopped tracking the object.
    pub(crate) ending: bool,
    pub(crate) id: String,
    pub(crate) camera: String,
    pub(crate) label: String,
    /// When the object appeared: `start_time`, else `frame_time`.
    pub(crate) first_seen: prost_types::Timestamp,
    /// The frame this message describes: `frame_time`, else `start_time`.
    pub(crate) seen: prost_types::Timestamp,
    pub(crate) confidence: f32,
    pub(crate) false_positive: bool,
    pub(crate) sub_label: Option<Scored>,
    pub(crate) recognized_plate: Option<Scored>,
    pub(crate) entered_zones: Vec<String>,
    pub(crate) has_snapshot: bool,
}

impl TrackedObject {
    /// Reads one `frigate/events` payload. Errors name the field at fault
    /// (`after.camera is missing`, `after.camera: invalid type: ...`).
    pub fn parse(payload: &[u8]) -> Result<Self, FrigateError> {
        let mut json = serde_json::Deserializer::from_slice(payload);
        let message: Message =
            serde_path_to_error::deserialize(&mut json).map_err(FrigateError::from_json)?;
        json.end().map_err(FrigateError::Json)?;
        // `new` and `update` need no telling apart (the tracker knows what
        // was reported), and a type newer Frigate may add still describes
        // the object's current state.
        let ending = required(message.kind, "type")? == "end";
        let after = required(message.after, "after")?;
        let start_time = after
            .start_time
            .map(|time| timestamp(time, "after.start_time"))
            .transpose()?;
        let frame_time = after
            .frame_time
            .map(|time| timestamp(time, "after.frame_time"))
            .transpose()?;
        let (first_seen, seen) = match (start_time, frame_time) {
            (Some(start), Some(frame)) => (start, frame),
            (Some(time), None) | (None, Some(time)) => (time, time),
            (None, None) => return Err(FrigateError::MissingField("after.start_time")),
        };
        // `top_score` is 0 until Frigate has computed it.
        let confidence = after
            .top_score
            .filter(|top| *top > 0.0)
            .or(after.score)
            .or(after.top_score)
            .ok_or(FrigateError::MissingField("after.top_score"))?;
        let mut recognized_plate = after.recognized_license_plate.and_then(RawScored::named);
        if let Some(plate) = recognized_plate.as_mut() {
            plate.score = plate.score.or(after.recognized_license_plate_score);
        }
        Ok(Self {
            ending,
            id: required(after.id, "after.id")?,
            camera: required(after.camera, "after.camera")?,
            label: required(after.label, "after.label")?,
            first_seen,
            seen,
            confidence: unit_interval(confidence),
            false_positive: after.false_positive.unwrap_or(false),
            sub_label: after.sub_label.and_then(RawScored::named),
            recognized_plate,
            entered_zones: after.entered_zones.unwrap_or_default(),
            has_snapshot: after.has_snapshot.unwrap_or(false),
        })
    }

    /// Frigate's id of the object, e.g. `1607123955.475377-mxklsc`.
    pub fn id(&self) -> &str {
        &self.id
    }
}

fn required<T>(value: Option<T>, path: &'static str) -> Result<T, FrigateError> {
    value.ok_or(FrigateError::MissingField(path))
}

/// Frigate scores are fractions; clamped so that rounding cannot push one
/// out of the range the intake accepts.
pub(crate) fn unit_interval(score: f64) -> f32 {
    score.clamp(0.0, 1.0) as f32
}

/// Seconds since the epoch, as Frigate writes times.
fn timestamp(seconds: f64, path: &'static str) -> Result<prost_types::Timestamp, FrigateError> {
    let invalid = |problem: String| FrigateError::InvalidField {
        field: path,
        problem,
    };
    let since_epoch = Duration::try_from_secs_f64(seconds)
        .map_err(|e| invalid(format!("{seconds} is not a time after 1970: {e}")))?;
    Ok(prost_types::Timestamp {
        seconds: i64::try_from(since_epoch.as_secs())
            .map_err(|_| invalid(format!("{seconds} is too far in the future")))?,
        nanos: i32::try_from(since_epoch.subsec_nanos()).unwrap_or(0),
    })
}
