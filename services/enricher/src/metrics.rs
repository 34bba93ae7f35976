//! The enricher's metrics: names in one place, recorded through the
//! `metrics` facade and served in Prometheus format on `/metrics`. Labels
//! are the DLQ reason and the consumed partition only, never a camera or
//! an event. The catalogue with meanings: `docs/observability.md`.

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Detections enriched and published to `vigil.enriched.v1`.
pub const ENRICHED: &str = "vigil_enricher_events_enriched_total";
/// Detections sent to `vigil.dlq.v1`, by `reason` (a rejection's, or
/// `output_rejected` when Kafka refused an output for good).
pub const DEAD_LETTERED: &str = "vigil_enricher_events_dead_lettered_total";
/// Enriched detections flagged late (captured long before they arrived).
pub const LATE: &str = "vigil_enricher_events_late_total";
/// Watchlist alerts published to `vigil.alerts.v1`.
pub const ALERTS: &str = "vigil_enricher_alerts_raised_total";
/// From taking a detection up to Kafka acknowledging all its outputs.
pub const PROCESS_DURATION: &str = "vigil_enricher_process_duration_seconds";
/// Cameras in the registry when the enricher started.
pub const REGISTRY_CAMERAS: &str = "vigil_enricher_registry_cameras";
/// Records of `topic` / `partition` not yet committed by this instance's
/// consumer group (0 for partitions it no longer owns).
pub const CONSUMER_LAG: &str = "vigil_enricher_consumer_lag_records";

pub(crate) fn enriched(late: bool, alerts: usize) {
    metrics::counter!(ENRICHED).increment(1);
    if late {
        metrics::counter!(LATE).increment(1);
    }
    metrics::counter!(ALERTS).increment(alerts as u64);
}

pub(crate) fn dead_lettered(reason: &'static str) {
    metrics::counter!(DEAD_LETTERED, "reason" => reason).increment(1);
}

pub(crate) fn processed(duration: Duration) {
    metrics::histogram!(PROCESS_DURATION).record(duration.as_secs_f64());
}

pub(crate) fn registry_cameras(count: usize) {
    metrics::gauge!(REGISTRY_CAMERAS).set(count as f64);
}

/// Gives every metric its help text, and the counters a first 0 so that
/// they are scraped (and `rate()` works) before the first event.
pub(crate) fn describe() {
    describe_counter!(ENRICHED, Unit::Count, "Detections enriched and published.");
    describe_counter!(
        DEAD_LETTERED,
        Unit::Count,
        "Detections sent to the dead-letter topic, by reason."
    );
    describe_counter!(LATE, Unit::Count, "Enriched detections flagged late.");
    describe_counter!(ALERTS, Unit::Count, "Watchlist alerts published.");
    describe_histogram!(
        PROCESS_DURATION,
        Unit::Seconds,
        "From taking a detection up to Kafka acknowledging its outputs."
    );
    describe_gauge!(
        REGISTRY_CAMERAS,
        Unit::Count,
        "Cameras in the registry at start."
    );
    describe_gauge!(
        CONSUMER_LAG,
        Unit::Count,
        "Records not yet committed, by topic and partition."
    );
    for counter in [ENRICHED, LATE, ALERTS] {
        metrics::counter!(counter).increment(0);
    }
    let reasons = vigil_enrich::Rejection::REASONS.into_iter();
    for reason in reasons.chain([crate::OUTPUT_REJECTED]) {
        metrics::counter!(DEAD_LETTERED, "reason" => reason).increment(0);
    }
}
