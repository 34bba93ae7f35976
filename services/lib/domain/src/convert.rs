//! Helpers shared by the protobuf conversions.

use chrono::{DateTime, NaiveDate, Utc};

/// A protobuf message that cannot become a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}.{field}: {problem}")]
pub struct ConversionError {
    /// The protobuf message, e.g. `Camera`.
    pub message: &'static str,
    /// The offending field, e.g. `zone_id`.
    pub field: &'static str,
    pub problem: String,
}

impl ConversionError {
    pub(crate) fn new(
        message: &'static str,
        field: &'static str,
        problem: impl Into<String>,
    ) -> Self {
        Self {
            message,
            field,
            problem: problem.into(),
        }
    }
}

/// Checks a required text field.
pub(crate) fn required(
    message: &'static str,
    field: &'static str,
    value: String,
) -> Result<String, ConversionError> {
    if value.trim().is_empty() {
        Err(ConversionError::new(message, field, "is required"))
    } else {
        Ok(value)
    }
}

/// Empty text means "not set".
pub(crate) fn optional(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// Decodes an enum field, refusing unknown and `*_UNSPECIFIED` values (which
/// are always 0 in Vigil's protos).
pub(crate) fn known_enum<E>(
    message: &'static str,
    field: &'static str,
    value: i32,
) -> Result<E, ConversionError>
where
    E: TryFrom<i32>,
{
    if value == 0 {
        return Err(ConversionError::new(message, field, "is unspecified"));
    }
    E::try_from(value)
        .map_err(|_| ConversionError::new(message, field, format!("unknown value {value}")))
}

/// `at` as a protobuf timestamp, to the nanosecond.
pub fn to_timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub(crate) fn from_timestamp(
    message: &'static str,
    field: &'static str,
    at: Option<prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, ConversionError> {
    at.map(|ts| {
        u32::try_from(ts.nanos)
            .ok()
            .and_then(|nanos| DateTime::from_timestamp(ts.seconds, nanos))
            .ok_or_else(|| ConversionError::new(message, field, format!("{ts:?} is out of range")))
    })
    .transpose()
}

pub(crate) fn required_timestamp(
    message: &'static str,
    field: &'static str,
    at: Option<prost_types::Timestamp>,
) -> Result<DateTime<Utc>, ConversionError> {
    from_timestamp(message, field, at)?
        .ok_or_else(|| ConversionError::new(message, field, "is required"))
}

pub(crate) fn parse_date(
    message: &'static str,
    field: &'static str,
    text: &str,
) -> Result<NaiveDate, ConversionError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| {
        ConversionError::new(
            message,
            field,
            format!("{text:?} is not a YYYY-MM-DD date: {e}"),
        )
    })
}
