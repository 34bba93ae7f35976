//! The writer's metrics: names in one place, recorded through the `metrics`
//! facade and served in Prometheus format on `/metrics`. No label ever
//! carries a camera id: the fleet is tens of thousands of cameras.

use std::time::Duration;

/// Enriched events stored in every table they belong in.
pub const EVENTS_WRITTEN: &str = "vigil_writer_events_written_total";
/// Time from taking an event up to its being stored, retries included.
pub const WRITE_LATENCY: &str = "vigil_writer_write_latency_seconds";
/// Database operations retried after an error (writes, status reads,
/// recounts).
pub const WRITE_RETRIES: &str = "vigil_writer_write_retries_total";
/// Records skipped because they cannot be decoded or stored, by `record`
/// (`event`, `heartbeat`) and `reason` (`decode`, `invalid`).
pub const UNDECODABLE: &str = "vigil_writer_undecodable_total";
/// Heartbeats recorded in `camera_status`.
pub const HEARTBEATS: &str = "vigil_writer_heartbeats_total";
/// Cameras this instance tracks that are offline now.
pub const CAMERAS_OFFLINE: &str = "vigil_writer_cameras_offline";
/// Commune-hours recounted into `event_counts`.
pub const ROLLUPS: &str = "vigil_writer_rollups_total";

/// Which kind of record was skipped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Record {
    Event,
    Heartbeat,
}

/// Why a record was skipped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unusable {
    /// Not a valid protobuf message of its topic's type.
    Decode,
    /// Decoded, but missing what storing it needs (an id, a commune, a time).
    Invalid,
}

pub(crate) fn written(latency: Duration) {
    metrics::counter!(EVENTS_WRITTEN).increment(1);
    metrics::histogram!(WRITE_LATENCY).record(latency.as_secs_f64());
}

pub(crate) fn retry() {
    metrics::counter!(WRITE_RETRIES).increment(1);
}

pub(crate) fn skipped(record: Record, why: Unusable) {
    let record = match record {
        Record::Event => "event",
        Record::Heartbeat => "heartbeat",
    };
    let reason = match why {
        Unusable::Decode => "decode",
        Unusable::Invalid => "invalid",
    };
    metrics::counter!(UNDECODABLE, "record" => record, "reason" => reason).increment(1);
}

pub(crate) fn heartbeat() {
    metrics::counter!(HEARTBEATS).increment(1);
}

pub(crate) fn cameras_offline(count: usize) {
    metrics::gauge!(CAMERAS_OFFLINE).set(count as f64);
}

pub(crate) fn rolled_up() {
    metrics::counter!(ROLLUPS).increment(1);
}
