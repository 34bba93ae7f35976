//! The API's metrics: names in one place, served in Prometheus format on
//! `/metrics`. Labels are the gRPC method and status code only — never a
//! zone, token, plate or camera.

use std::time::Duration;

/// Calls answered, by `method` and `code` (`Ok`, `PermissionDenied`, ...).
pub const REQUESTS: &str = "vigil_api_requests_total";
/// Time to answer a call, by `method`.
pub const REQUEST_LATENCY: &str = "vigil_api_request_duration_seconds";
/// Live-alert streams open now.
pub const ALERT_STREAMS: &str = "vigil_api_alert_streams";
/// Alerts sent to live streams.
pub const ALERTS_STREAMED: &str = "vigil_api_alerts_streamed_total";

pub(crate) fn request(method: &'static str, code: tonic::Code, latency: Duration) {
    metrics::counter!(REQUESTS, "method" => method, "code" => format!("{code:?}")).increment(1);
    metrics::histogram!(REQUEST_LATENCY, "method" => method).record(latency.as_secs_f64());
}

pub(crate) fn alert_stream_opened() {
    metrics::gauge!(ALERT_STREAMS).increment(1.0);
}

pub(crate) fn alert_stream_closed() {
    metrics::gauge!(ALERT_STREAMS).decrement(1.0);
}

pub(crate) fn alert_streamed() {
    metrics::counter!(ALERTS_STREAMED).increment(1);
}
