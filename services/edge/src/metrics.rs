//! The edge agent's metrics: names in one place, recorded through the
//! `metrics` facade and served in Prometheus format on `/metrics`.

use std::time::Duration;

use crate::intake::Source;

pub const ACCEPTED: &str = "vigil_edge_events_accepted_total";
pub const REJECTED: &str = "vigil_edge_events_rejected_total";
pub const SENT: &str = "vigil_edge_events_sent_total";
pub const SEND_RETRIES: &str = "vigil_edge_send_retries_total";
pub const SEND_LATENCY: &str = "vigil_edge_send_latency_seconds";
pub const SPOOL_DROPPED: &str = "vigil_edge_spool_dropped_total";
pub const SPOOL_ENTRIES: &str = "vigil_edge_spool_entries";
pub const SPOOL_BYTES: &str = "vigil_edge_spool_bytes";
pub const HEARTBEATS_SENT: &str = "vigil_edge_heartbeats_sent_total";
pub const HEARTBEATS_FAILED: &str = "vigil_edge_heartbeats_failed_total";
pub const LINK_UP: &str = "vigil_edge_link_up";

pub(crate) fn accepted(source: Source) {
    metrics::counter!(ACCEPTED, "source" => source.as_str()).increment(1);
}

pub(crate) fn rejected(source: Source, reason: &'static str) {
    metrics::counter!(REJECTED, "source" => source.as_str(), "reason" => reason).increment(1);
}

pub(crate) fn sent(latency: Duration) {
    metrics::counter!(SENT).increment(1);
    metrics::histogram!(SEND_LATENCY).record(latency.as_secs_f64());
}

pub(crate) fn send_retry() {
    metrics::counter!(SEND_RETRIES).increment(1);
}

pub(crate) fn spool_dropped(count: u64) {
    if count > 0 {
        metrics::counter!(SPOOL_DROPPED).increment(count);
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
