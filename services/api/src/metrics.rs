//! The API's metrics: names in one place, served in Prometheus format on
//! `/metrics`. Labels are the gRPC method and status code only — never a
//! zone, token, plate or camera.

use std::time::Duration;

use tracing::{Span, field};
use vigil_domain::ZoneLevel;
use vigil_proto::v1::{self, Role, TimeWindow};
use vigil_runtime::telemetry;

/// Calls answered, by `method` and `code` (`Ok`, `PermissionDenied`, ...).
pub const REQUESTS: &str = "vigil_api_requests_total";
/// Time to answer a call, by `method`.
pub const REQUEST_LATENCY: &str = "vigil_api_request_duration_seconds";
/// Live-alert streams open now.
pub const ALERT_STREAMS: &str = "vigil_api_alert_streams";
/// Alerts sent to live streams.
pub const ALERTS_STREAMED: &str = "vigil_api_alerts_streamed_total";
/// Kafka clients reading the alerts topic now, by `reader`: `live` (the
/// one shared reader) or `replay` (a stream catching up from `since`).
pub const ALERT_READERS: &str = "vigil_api_alert_readers";
/// Live-alert streams closed because their client fell too far behind.
pub const ALERT_STREAMS_DROPPED: &str = "vigil_api_alert_streams_dropped_total";

/// Gives every metric its help text, once (from the first call or stream).
/// From an alert being raised to its acknowledgement, by `kind`.
pub const TIME_TO_ACKNOWLEDGE: &str = "vigil_api_alert_time_to_acknowledge_seconds";
/// Alerts not closed yet, by `commune`, recounted every 30 s.
pub const ALERTS_OPEN: &str = "vigil_api_alerts_open";

fn describe() {
    static DESCRIBED: std::sync::Once = std::sync::Once::new();
    DESCRIBED.call_once(|| {
        use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
        describe_counter!(
            REQUESTS,
            Unit::Count,
            "Calls answered, by method and status code."
        );
        describe_histogram!(
            REQUEST_LATENCY,
            Unit::Seconds,
            "Time to answer a call, by method."
        );
        describe_gauge!(ALERT_STREAMS, Unit::Count, "Live-alert streams open now.");
        describe_counter!(ALERTS_STREAMED, Unit::Count, "Alerts sent to live streams.");
        describe_gauge!(
            ALERT_READERS,
            Unit::Count,
            "Kafka clients reading the alerts topic now: the shared live reader, and replays."
        );
        describe_counter!(
            ALERT_STREAMS_DROPPED,
            Unit::Count,
            "Live-alert streams closed because their client fell too far behind."
        );
        describe_histogram!(
            TIME_TO_ACKNOWLEDGE,
            Unit::Seconds,
            "From an alert being raised to its acknowledgement, by kind."
        );
        describe_gauge!(
            ALERTS_OPEN,
            Unit::Count,
            "Alerts not closed yet, by commune."
        );
        metrics::counter!(ALERTS_STREAMED).increment(0);
        metrics::counter!(ALERT_STREAMS_DROPPED).increment(0);
        metrics::gauge!(ALERT_STREAMS).increment(0.0);
        for reader in ["live", "replay"] {
            metrics::gauge!(ALERT_READERS, "reader" => reader).increment(0.0);
        }
    });
}

pub(crate) fn acknowledged(kind: &'static str, after: Duration) {
    describe();
    metrics::histogram!(TIME_TO_ACKNOWLEDGE, "kind" => kind).record(after.as_secs_f64());
}

pub(crate) fn alerts_open(commune: &str, count: usize) {
    describe();
    #[allow(clippy::cast_precision_loss)] // counts of alerts
    metrics::gauge!(ALERTS_OPEN, "commune" => commune.to_owned()).set(count as f64);
}

pub(crate) fn request(method: &'static str, code: tonic::Code, latency: Duration) {
    describe();
    metrics::counter!(REQUESTS, "method" => method, "code" => format!("{code:?}")).increment(1);
    metrics::histogram!(REQUEST_LATENCY, "method" => method).record(latency.as_secs_f64());
}

pub(crate) fn alert_stream_opened() {
    describe();
    metrics::gauge!(ALERT_STREAMS).increment(1.0);
}

pub(crate) fn alert_stream_closed() {
    metrics::gauge!(ALERT_STREAMS).decrement(1.0);
}

pub(crate) fn alert_streamed() {
    metrics::counter!(ALERTS_STREAMED).increment(1);
}

pub(crate) fn alert_stream_dropped() {
    metrics::counter!(ALERT_STREAMS_DROPPED).increment(1);
}

/// A Kafka client reading alerts opened (`1.0`) or closed (`-1.0`);
/// `reader` is `live` or `replay`.
pub(crate) fn alert_reader(reader: &'static str, change: f64) {
    describe();
    metrics::gauge!(ALERT_READERS, "reader" => reader).increment(change);
}

/// What a call asked for, without who asked or for which plate, camera or
/// token: recorded on the call's trace span (never as metric labels).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Shape<'a> {
    /// The zone queried; the span carries its level only.
    pub(crate) zone_id: Option<&'a str>,
    pub(crate) window: Option<&'a TimeWindow>,
    pub(crate) page_size: Option<u32>,
    /// A continuation page (a page token was given).
    pub(crate) next_page: bool,
    /// Kinds filtered on, and cameras filtered on (counts only).
    pub(crate) kinds: usize,
    pub(crate) cameras: usize,
    /// A plate search (the plate itself is never recorded).
    pub(crate) plate: bool,
}

impl Shape<'_> {
    /// The window's length in seconds, when it has both ends.
    pub(crate) fn window_seconds(&self) -> Option<i64> {
        let window = self.window?;
        // Recorded before the request is checked: a hostile window must
        // not overflow here.
        window
            .end
            .as_ref()?
            .seconds
            .checked_sub(window.start.as_ref()?.seconds)
    }
}

/// A request of the API: its gRPC service, and its shape for the trace.
/// Implemented for every request type, so that a new method has to say
/// what of it may be recorded.
pub(crate) trait Shaped {
    /// The fully qualified gRPC service (`rpc.service`).
    const SERVICE: &'static str;

    fn shape(&self) -> Shape<'_> {
        Shape::default()
    }
}

const QUERY: &str = "vigil.v1.QueryService";
const REGISTRY: &str = "vigil.v1.RegistryService";
const EXTRACTION: &str = "vigil.v1.ExtractionService";
const AUDIT: &str = "vigil.v1.AuditService";
const ALERT: &str = "vigil.v1.AlertService";

impl Shaped for v1::ListAlertsRequest {
    const SERVICE: &'static str = ALERT;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            window: self.window.as_ref(),
            page_size: Some(self.page_size),
            next_page: !self.page_token.is_empty(),
            kinds: self.kinds.len(),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::GetAlertRequest {
    const SERVICE: &'static str = ALERT;
}

impl Shaped for v1::AcknowledgeAlertRequest {
    const SERVICE: &'static str = ALERT;
}

impl Shaped for v1::AssignAlertRequest {
    const SERVICE: &'static str = ALERT;
}

impl Shaped for v1::AddAlertNoteRequest {
    const SERVICE: &'static str = ALERT;
}

impl Shaped for v1::CloseAlertRequest {
    const SERVICE: &'static str = ALERT;
}

impl Shaped for v1::AlertStatsRequest {
    const SERVICE: &'static str = ALERT;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            window: self.window.as_ref(),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::ListEventsRequest {
    const SERVICE: &'static str = QUERY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            window: self.window.as_ref(),
            page_size: Some(self.page_size),
            next_page: !self.page_token.is_empty(),
            kinds: self.kinds.len(),
            cameras: self.camera_ids.len(),
            plate: false,
        }
    }
}

impl Shaped for v1::GetEventRequest {
    const SERVICE: &'static str = QUERY;
}

impl Shaped for v1::PlateTrajectoryRequest {
    const SERVICE: &'static str = QUERY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            window: self.window.as_ref(),
            page_size: Some(self.page_size),
            next_page: !self.page_token.is_empty(),
            plate: true,
            ..Shape::default()
        }
    }
}

impl Shaped for v1::CoverageRequest {
    const SERVICE: &'static str = QUERY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            window: self.window.as_ref(),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::CountEventsRequest {
    const SERVICE: &'static str = QUERY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            window: self.window.as_ref(),
            kinds: self.kinds.len(),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::FleetStatusRequest {
    const SERVICE: &'static str = QUERY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::StreamAlertsRequest {
    const SERVICE: &'static str = QUERY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            kinds: self.kinds.len(),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::ListZonesRequest {
    const SERVICE: &'static str = REGISTRY;
}

impl Shaped for v1::GetTeamRequest {
    const SERVICE: &'static str = REGISTRY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::ListCamerasRequest {
    const SERVICE: &'static str = REGISTRY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::ListWatchlistRequest {
    const SERVICE: &'static str = REGISTRY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.zone_id),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::AddWatchlistEntryRequest {
    const SERVICE: &'static str = REGISTRY;
    fn shape(&self) -> Shape<'_> {
        Shape {
            zone_id: Some(&self.owner_zone_id),
            plate: true,
            ..Shape::default()
        }
    }
}

impl Shaped for v1::RemoveWatchlistEntryRequest {
    const SERVICE: &'static str = REGISTRY;
}

impl Shaped for v1::WhoAmIRequest {
    const SERVICE: &'static str = REGISTRY;
}

impl Shaped for v1::CreateExtractionRequest {
    const SERVICE: &'static str = EXTRACTION;
    fn shape(&self) -> Shape<'_> {
        let Some(query) = &self.query else {
            return Shape::default();
        };
        Shape {
            zone_id: Some(&query.zone_id),
            window: query.window.as_ref(),
            kinds: query.kinds.len(),
            cameras: query.camera_ids.len(),
            plate: !query.plate.is_empty(),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::GetExtractionRequest {
    const SERVICE: &'static str = EXTRACTION;
}

impl Shaped for v1::ListExtractionsRequest {
    const SERVICE: &'static str = EXTRACTION;
    fn shape(&self) -> Shape<'_> {
        Shape {
            page_size: Some(self.limit),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::ExtractionStatsRequest {
    const SERVICE: &'static str = EXTRACTION;
    fn shape(&self) -> Shape<'_> {
        Shape {
            window: self.window.as_ref(),
            ..Shape::default()
        }
    }
}

impl Shaped for v1::ListAuditRequest {
    const SERVICE: &'static str = AUDIT;
    fn shape(&self) -> Shape<'_> {
        Shape {
            window: self.window.as_ref(),
            page_size: Some(self.limit),
            ..Shape::default()
        }
    }
}

/// The span of one call, after OpenTelemetry's RPC conventions
/// (`rpc.system`, `rpc.service`, `rpc.method`, kind SERVER), with the
/// query's shape; a child of the caller's `traceparent` when it sent one.
/// `zone_level` looks the queried zone up. No span with export off.
pub(crate) fn call_span<Req: Shaped>(
    method: &'static str,
    request: &tonic::Request<Req>,
    zone_level: impl FnOnce(&str) -> Option<ZoneLevel>,
) -> Span {
    if !telemetry::enabled() {
        return Span::none();
    }
    let shape = request.get_ref().shape();
    let level = shape
        .zone_id
        .filter(|zone| !zone.is_empty())
        .map(|zone| match zone_level(zone) {
            Some(ZoneLevel::Province) => "province",
            Some(ZoneLevel::Commune) => "commune",
            Some(ZoneLevel::Village) => "village",
            None => "unknown",
        });
    let span = tracing::info_span!(
        "call",
        "otel.name" = format!("{}/{method}", Req::SERVICE),
        "otel.kind" = "server",
        "otel.status_code" = field::Empty,
        "rpc.system" = "grpc",
        "rpc.service" = Req::SERVICE,
        "rpc.method" = method,
        "rpc.grpc.status_code" = field::Empty,
        "vigil.caller.role" = field::Empty,
        "vigil.query.zone_level" = level,
        "vigil.query.window_seconds" = shape.window_seconds(),
        "vigil.query.page_size" = shape.page_size,
        "vigil.query.next_page" = shape.next_page,
        "vigil.query.kinds" = shape.kinds,
        "vigil.query.cameras" = shape.cameras,
        "vigil.query.plate" = shape.plate,
    );
    let metadata = request.metadata();
    let carrier = ["traceparent", "tracestate"].into_iter().filter_map(|key| {
        let value = metadata.get(key)?.to_str().ok()?;
        Some((key, value))
    });
    telemetry::set_parent(&span, carrier);
    span
}

/// Records who called (the role only) on the call's span.
pub(crate) fn caller(span: &Span, role: Role) {
    span.record("vigil.caller.role", role.as_str_name());
}

/// Records the outcome on the call's span; the codes a server answers for
/// its own failures mark the span as an error.
pub(crate) fn outcome(span: &Span, code: tonic::Code) {
    span.record("rpc.grpc.status_code", code as i32);
    if matches!(
        code,
        tonic::Code::Unknown
            | tonic::Code::Internal
            | tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Unimplemented
            | tonic::Code::DataLoss
    ) {
        span.record("otel.status_code", "ERROR");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plate_search_records_that_it_is_one_but_not_the_plate() {
        let request = v1::PlateTrajectoryRequest {
            plate: "36A-123.45".into(),
            window: Some(TimeWindow {
                start: Some(prost_types::Timestamp {
                    seconds: 1_000,
                    nanos: 0,
                }),
                end: Some(prost_types::Timestamp {
                    seconds: 4_600,
                    nanos: 0,
                }),
            }),
            page_size: 50,
            ..Default::default()
        };
        let shape = request.shape();
        assert!(shape.plate);
        assert_eq!(shape.window_seconds(), Some(3_600));
        assert_eq!(shape.page_size, Some(50));
        assert!(!format!("{shape:?}").contains("36A"));
    }
}
