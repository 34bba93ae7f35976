//! The notifier's metrics, served in Prometheus format on `/metrics`. No
//! label carries an alert, a camera or a URL; audiences, outcomes and
//! levels are a handful of fixed names. The catalogue with meanings:
//! `docs/observability.md`.

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Delivery attempts, by `audience` (team, commune_police, province) and
/// `outcome` (delivered, retry, failed, circuit_open, no_channel).
pub const DELIVERIES: &str = "vigil_notifier_deliveries_total";
/// From an alert being raised to its notification being accepted by the
/// receiver, by `audience`.
pub const RAISED_TO_DELIVERED: &str = "vigil_notifier_raised_to_delivered_seconds";
/// One HTTP request to a receiver, answered or not.
pub const REQUEST_DURATION: &str = "vigil_notifier_request_duration_seconds";
/// Alerts escalated, by `level` (1 commune police, 2 province).
pub const ESCALATIONS: &str = "vigil_notifier_escalations_total";
/// Escalation timers not yet fired that were due at the last poll.
pub const TIMERS_DUE: &str = "vigil_notifier_escalation_timers_due";
/// Alerts of the alert topic skipped as undecodable or without an id.
pub const ALERTS_SKIPPED: &str = "vigil_notifier_alerts_skipped_total";
/// Database operations retried after an error.
pub const STORE_RETRIES: &str = "vigil_notifier_store_retries_total";
/// Records of `topic` / `partition` not yet committed by this instance.
pub const CONSUMER_LAG: &str = "vigil_notifier_consumer_lag_records";

/// Every audience and outcome label, so each series exists from the start.
const AUDIENCES: [&str; 3] = ["team", "commune_police", "province"];
const OUTCOMES: [&str; 5] = ["delivered", "retry", "failed", "circuit_open", "no_channel"];

/// Gives every metric its help text, and the counters a first 0.
pub(crate) fn describe() {
    describe_counter!(
        DELIVERIES,
        Unit::Count,
        "Delivery attempts, by audience and outcome."
    );
    describe_histogram!(
        RAISED_TO_DELIVERED,
        Unit::Seconds,
        "From an alert being raised to a receiver accepting its notification, by audience."
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "One HTTP request to a receiver."
    );
    describe_counter!(
        ESCALATIONS,
        Unit::Count,
        "Alerts escalated, by level (1 commune police, 2 province)."
    );
    describe_gauge!(
        TIMERS_DUE,
        Unit::Count,
        "Escalation timers due at the last poll."
    );
    describe_counter!(
        ALERTS_SKIPPED,
        Unit::Count,
        "Alert records skipped as undecodable or without an id."
    );
    describe_counter!(
        STORE_RETRIES,
        Unit::Count,
        "Database operations retried after an error."
    );
    describe_gauge!(
        CONSUMER_LAG,
        Unit::Count,
        "Records not yet committed, by topic and partition."
    );
    for audience in AUDIENCES {
        for outcome in OUTCOMES {
            metrics::counter!(DELIVERIES, "audience" => audience, "outcome" => outcome)
                .increment(0);
        }
    }
    for level in ["1", "2"] {
        metrics::counter!(ESCALATIONS, "level" => level).increment(0);
    }
    metrics::counter!(ALERTS_SKIPPED).increment(0);
    metrics::counter!(STORE_RETRIES).increment(0);
}

pub(crate) fn attempt(audience: &'static str, outcome: &'static str) {
    metrics::counter!(DELIVERIES, "audience" => audience, "outcome" => outcome).increment(1);
}

pub(crate) fn delivered(audience: &'static str, since_raised: Duration) {
    metrics::histogram!(RAISED_TO_DELIVERED, "audience" => audience).record(since_raised);
}

pub(crate) fn request(duration: Duration) {
    metrics::histogram!(REQUEST_DURATION).record(duration);
}

pub(crate) fn escalated(level: u8) {
    metrics::counter!(ESCALATIONS, "level" => level.to_string()).increment(1);
}

pub(crate) fn timers_due(count: usize) {
    #[allow(clippy::cast_precision_loss)] // a poll reads at most 200
    metrics::gauge!(TIMERS_DUE).set(count as f64);
}

pub(crate) fn skipped() {
    metrics::counter!(ALERTS_SKIPPED).increment(1);
}

pub(crate) fn store_retry() {
    metrics::counter!(STORE_RETRIES).increment(1);
}
