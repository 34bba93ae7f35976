//! The edge agent's metrics: names in one place, recorded through the
//! `metrics` facade and served in Prometheus format on `/metrics`. Labels
//! are the source and the reason only, never a camera or an event.
//! The catalogue with meanings: `docs/observability.md`.

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

use crate::intake::Source;

/// Detections acknowledged to their source (spooled), by `source`.
pub const ACCEPTED: &str = "vigil_edge_events_accepted_total";
/// Detections refused at intake, by `source` and `reason`.
pub const REJECTED: &str = "vigil_edge_events_rejected_total";
/// Detections Kafka acknowledged.
pub const SENT: &str = "vigil_edge_events_sent_total";
/// Deliveries to Kafka retried.
pub const SEND_RETRIES: &str = "vigil_edge_send_retries_total";
/// From taking a detection out of the spool to Kafka's acknowledgement.
pub const SEND_DURATION: &str = "vigil_edge_send_duration_seconds";
/// Spooled detections dropped, oldest first, because the spool was full.
pub const DROPPED: &str = "vigil_edge_events_dropped_total";
/// Detections in the spool (the buffer depth).
pub const SPOOL_ENTRIES: &str = "vigil_edge_spool_entries";
/// Bytes of detections in the spool.
pub const SPOOL_BYTES: &str = "vigil_edge_spool_bytes";
/// Heartbeats Kafka acknowledged.
pub const HEARTBEATS_SENT: &str = "vigil_edge_heartbeats_sent_total";
/// Heartbeats not acknowledged within 5 s (not retried).
pub const HEARTBEATS_FAILED: &str = "vigil_edge_heartbeats_failed_total";
/// 1 while the uplink to Kafka is up or degraded, 0 when down.
pub const LINK_UP: &str = "vigil_edge_link_up";

/// Gives every metric its help text, and the counters a first 0 so that
/// they are scraped (and `rate()` works) before the first event.
pub(crate) fn describe() {
    describe_counter!(
        ACCEPTED,
        Unit::Count,
        "Detections spooled and acknowledged to their source, by source."
    );
    describe_counter!(
        REJECTED,
        Unit::Count,
        "Detections refused at intake, by source and reason."
    );
    describe_counter!(SENT, Unit::Count, "Detections Kafka acknowledged.");
    describe_counter!(SEND_RETRIES, Unit::Count, "Deliveries to Kafka retried.");
    describe_histogram!(
        SEND_DURATION,
        Unit::Seconds,
        "From taking a detection out of the spool to Kafka's acknowledgement."
    );
    describe_counter!(
        DROPPED,
        Unit::Count,
        "Spooled detections dropped, oldest first, because the spool was full."
    );
    describe_gauge!(SPOOL_ENTRIES, Unit::Count, "Detections in the spool.");
    describe_gauge!(
        SPOOL_BYTES,
        Unit::Bytes,
        "Bytes of detections in the spool."
    );
    describe_counter!(
        HEARTBEATS_SENT,
        Unit::Count,
        "Heartbeats Kafka acknowledged."
    );
    describe_counter!(
        HEARTBEATS_FAILED,
        Unit::Count,
        "Heartbeats not acknowledged in time."
    );
    describe_gauge!(
        LINK_UP,
        "1 while the uplink to Kafka is up or degraded, 0 when down."
    );
    for counter in [
        SENT,
        SEND_RETRIES,
        DROPPED,
        HEARTBEATS_SENT,
        HEARTBEATS_FAILED,
    ] {
        metrics::counter!(counter).increment(0);
    }
}

pub(crate) fn accepted(source: Source) {
    metrics::counter!(ACCEPTED, "source" => source.as_str()).increment(1);
}

pub(crate) fn rejected(source: Source, reason: &'static str) {
    metrics::counter!(REJECTED, "source" => source.as_str(), "reason" => reason).increment(1);
}

pub(crate) fn sent(latency: Duration) {
    metrics::counter!(SENT).increment(1);
    metrics::histogram!(SEND_DURATION).record(latency.as_secs_f64());
}

pub(crate) fn send_retry() {
    metrics::counter!(SEND_RETRIES).increment(1);
}

pub(crate) fn spool_dropped(count: u64) {
    if count > 0 {
        metrics::counter!(DROPPED).increment(count);
    }
}

pub(crate) fn spool_depth(entries: u64, bytes: u64) {
    metrics::gauge!(SPOOL_ENTRIES).set(entries as f64);
    metrics::gauge!(SPOOL_BYTES).set(bytes as f64);
}

pub(crate) fn heartbeat(ok: bool) {
    metrics::counter!(if ok {
        HEARTBEATS_SENT
    } else {
        HEARTBEATS_FAILED
    })
    .increment(1);
}

pub(crate) fn link_up(up: bool) {
    metrics::gauge!(LINK_UP).set(if up { 1.0 } else { 0.0 });
}
