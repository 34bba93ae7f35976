//! The writer's metrics: names in one place, recorded through the `metrics`
//! facade and served in Prometheus format on `/metrics`. No label ever
//! carries a camera or an event id: the fleet is tens of thousands of
//! cameras. Communes (166) and partitions are bounded, and fine. The
//! catalogue with meanings: `docs/observability.md`.

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use vigil_proto::v1::AlertKind;

/// Enriched events stored in every table they belong in.
pub const EVENTS_WRITTEN: &str = "vigil_writer_events_written_total";
/// Events dropped because their id is stored with another detection.
pub const EVENTS_CONFLICTING: &str = "vigil_writer_events_conflicting_total";
/// Time from taking an event up to its being stored, retries included.
pub const WRITE_DURATION: &str = "vigil_writer_write_duration_seconds";
/// Database operations retried after an error (writes, status reads,
/// recounts).
pub const WRITE_RETRIES: &str = "vigil_writer_write_retries_total";
/// Records skipped because they cannot be decoded or stored, by `record`
/// (`event`, `heartbeat`) and `reason` (`decode`, `invalid`).
pub const RECORDS_SKIPPED: &str = "vigil_writer_records_skipped_total";
/// Heartbeats recorded in `camera_status`.
pub const HEARTBEATS_STORED: &str = "vigil_writer_heartbeats_stored_total";
/// Heartbeats ignored, by `reason` (`site_mismatch`: sent by another site
/// than the one the registry places the camera at).
pub const HEARTBEATS_REJECTED: &str = "vigil_writer_heartbeats_rejected_total";
/// Cameras this instance tracks that are offline now, by `commune` (the
/// commune id; `unknown` for cameras the registry does not place).
pub const CAMERAS_OFFLINE: &str = "vigil_writer_cameras_offline";
/// Camera alerts published to `vigil.alerts.v1`, by `kind`
/// (`camera_offline`, `camera_online`).
pub const ALERTS_RAISED: &str = "vigil_writer_alerts_raised_total";
/// Alerts of `vigil.alerts.v1` stored for people to act on, by `first`
/// (`true` the first time; `false` for a redelivery or a replay, which
/// changes nothing).
pub const ALERTS_STORED: &str = "vigil_writer_alerts_stored_total";
/// Commune-hours recounted into `event_counts`.
pub const ROLLUPS: &str = "vigil_writer_rollups_total";
/// Records of `topic` / `partition` not yet committed by this instance's
/// consumer group (0 for partitions it no longer owns).
pub const CONSUMER_LAG: &str = "vigil_writer_consumer_lag_records";

/// Which kind of record was skipped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Record {
    Event,
    Heartbeat,
    Alert,
}

/// Why a record was skipped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unusable {
    /// Not a valid protobuf message of its topic's type.
    Decode,
    /// Decoded, but missing what storing it needs (an id, a commune, a time).
    Invalid,
}

/// Gives every metric its help text, and the counters a first 0 so that
/// they are scraped (and `rate()` works) before the first event.
pub(crate) fn describe() {
    describe_counter!(
        ALERTS_STORED,
        Unit::Count,
        "Alerts stored for people to act on (first: first time or again)."
    );
    describe_counter!(
        EVENTS_WRITTEN,
        Unit::Count,
        "Enriched events stored in every table."
    );
    describe_counter!(
        EVENTS_CONFLICTING,
        Unit::Count,
        "Events dropped because their id is stored with another detection."
    );
    describe_histogram!(
        WRITE_DURATION,
        Unit::Seconds,
        "From taking an event up to its being stored, retries included."
    );
    describe_counter!(
        WRITE_RETRIES,
        Unit::Count,
        "Database operations retried after an error."
    );
    describe_counter!(
        RECORDS_SKIPPED,
        Unit::Count,
        "Records skipped as undecodable or unstorable, by record and reason."
    );
    describe_counter!(
        HEARTBEATS_STORED,
        Unit::Count,
        "Heartbeats recorded in camera_status."
    );
    describe_counter!(
        HEARTBEATS_REJECTED,
        Unit::Count,
        "Heartbeats ignored, by reason (site_mismatch: not from the camera's own site)."
    );
    describe_gauge!(
        CAMERAS_OFFLINE,
        Unit::Count,
        "Tracked cameras offline now, by commune."
    );
    describe_counter!(
        ALERTS_RAISED,
        Unit::Count,
        "Camera alerts published, by kind."
    );
    describe_counter!(
        ROLLUPS,
        Unit::Count,
        "Commune-hours recounted into event_counts."
    );
    describe_gauge!(
        CONSUMER_LAG,
        Unit::Count,
        "Records not yet committed, by topic and partition."
    );
    for counter in [
        EVENTS_WRITTEN,
        EVENTS_CONFLICTING,
        WRITE_RETRIES,
        HEARTBEATS_STORED,
        ROLLUPS,
    ] {
        metrics::counter!(counter).increment(0);
    }
    for record in ["event", "heartbeat"] {
        for reason in ["decode", "invalid"] {
            metrics::counter!(RECORDS_SKIPPED, "record" => record, "reason" => reason).increment(0);
        }
    }
    metrics::counter!(HEARTBEATS_REJECTED, "reason" => "site_mismatch").increment(0);
    for kind in [AlertKind::CameraOffline, AlertKind::CameraOnline] {
        metrics::counter!(ALERTS_RAISED, "kind" => kind.short_name()).increment(0);
    }
}

pub(crate) fn written(duration: Duration) {
    metrics::counter!(EVENTS_WRITTEN).increment(1);
    metrics::histogram!(WRITE_DURATION).record(duration.as_secs_f64());
}

pub(crate) fn alert_stored(first: bool) {
    metrics::counter!(ALERTS_STORED, "first" => if first { "true" } else { "false" }).increment(1);
}

pub(crate) fn retry() {
    metrics::counter!(WRITE_RETRIES).increment(1);
}

pub(crate) fn skipped(record: Record, why: Unusable) {
    let record = match record {
        Record::Event => "event",
        Record::Heartbeat => "heartbeat",
        Record::Alert => "alert",
    };
    let reason = match why {
        Unusable::Decode => "decode",
        Unusable::Invalid => "invalid",
    };
    metrics::counter!(RECORDS_SKIPPED, "record" => record, "reason" => reason).increment(1);
}

pub(crate) fn heartbeat() {
    metrics::counter!(HEARTBEATS_STORED).increment(1);
}

/// An event dropped: its id is stored with another detection.
pub(crate) fn conflicting() {
    metrics::counter!(EVENTS_CONFLICTING).increment(1);
}

/// A heartbeat from another site than the camera's, ignored.
pub(crate) fn heartbeat_from_another_site() {
    metrics::counter!(HEARTBEATS_REJECTED, "reason" => "site_mismatch").increment(1);
}

pub(crate) fn cameras_offline(commune: &str, count: usize) {
    metrics::gauge!(CAMERAS_OFFLINE, "commune" => commune.to_owned()).set(count as f64);
}

pub(crate) fn alert_raised(kind: AlertKind) {
    metrics::counter!(ALERTS_RAISED, "kind" => kind.short_name()).increment(1);
}

pub(crate) fn rolled_up() {
    metrics::counter!(ROLLUPS).increment(1);
}
