//! Watchlist entries: plates the province wants to hear about.

use chrono::{DateTime, Utc};
use vigil_proto::v1 as pb;

use crate::convert::{ConversionError, from_timestamp, optional, required, to_timestamp};
use crate::plate::NormalizedPlate;

/// A plate under watch, with why and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchlistEntry {
    pub id: String,
    pub plate: NormalizedPlate,
    pub reason: String,
    /// 1 (highest) to 5 (lowest).
    pub priority: u8,
    /// `None` means the entry does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// Zone that owns the entry.
    pub owner_zone_id: String,
    pub created_by: Option<String>,
}

impl WatchlistEntry {
    /// Highest and lowest priority.
    pub const PRIORITIES: std::ops::RangeInclusive<u8> = 1..=5;

    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

impl From<WatchlistEntry> for pb::WatchlistEntry {
    fn from(entry: WatchlistEntry) -> Self {
        Self {
            id: entry.id,
            plate_normalized: entry.plate.as_str().to_owned(),
            reason: entry.reason,
            priority: entry.priority.into(),
            expires_at: entry.expires_at.map(to_timestamp),
            owner_zone_id: entry.owner_zone_id,
            created_by: entry.created_by.unwrap_or_default(),
        }
    }
}

impl TryFrom<pb::WatchlistEntry> for WatchlistEntry {
    type Error = ConversionError;

    fn try_from(entry: pb::WatchlistEntry) -> Result<Self, Self::Error> {
        const MSG: &str = "WatchlistEntry";
        let plate = entry
            .plate_normalized
            .parse::<NormalizedPlate>()
            .map_err(|e| ConversionError::new(MSG, "plate_normalized", e.to_string()))?;
        let priority = u8::try_from(entry.priority)
            .ok()
            .filter(|p| Self::PRIORITIES.contains(p))
            .ok_or_else(|| {
                ConversionError::new(
                    MSG,
                    "priority",
                    format!("{} is not in 1..=5", entry.priority),
                )
            })?;
        Ok(Self {
            id: required(MSG, "id", entry.id)?,
            plate,
            reason: required(MSG, "reason", entry.reason)?,
            priority,
            expires_at: from_timestamp(MSG, "expires_at", entry.expires_at)?,
            owner_zone_id: required(MSG, "owner_zone_id", entry.owner_zone_id)?,
            created_by: optional(entry.created_by),
        })
    }
}
