//! Trace export over OTLP, configured only by the standard `OTEL_*`
//! environment variables, and the helpers that carry a trace context across
//! Kafka headers and gRPC metadata.
//!
//! Export is on when `OTEL_TRACES_EXPORTER` says `otlp`, or when it is
//! unset and `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is
//! set; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it
//! off. Off, nothing here is installed: [`enabled`] is false, the services
//! create no spans and touch no headers, so the cost is a few relaxed
//! atomic loads per record. On, spans go through a batch processor (its own
//! thread; `OTEL_BSP_*` tune it) to an OTLP/gRPC endpoint. Honoured:
//! `OTEL_EXPORTER_OTLP_{,TRACES_}ENDPOINT`, `OTEL_EXPORTER_OTLP_{,TRACES_}PROTOCOL`
//! (`grpc` only), `OTEL_EXPORTER_OTLP_{HEADERS,TIMEOUT,COMPRESSION}`,
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`
//! and `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use tracing::{Level, Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

/// Whether spans are exported; set once, at start-up.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// The provider, for flushing and shutting down.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether trace export is on. Everything that builds spans or propagates
/// context checks this first.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// What the `OTEL_*` settings ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Export {
    Off,
    /// OTLP over gRPC to this endpoint (`None`: the exporter's default,
    /// `http://localhost:4317`).
    Otlp {
        endpoint: Option<String>,
    },
    /// Asked for something this build cannot do; the message names it.
    Unsupported(String),
}

impl Export {
    pub(crate) fn from_settings(get: &impl Fn(&str) -> Option<String>) -> Self {
        let set = |key: &str| {
            get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Self::Off;
        }
        let endpoint = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"));
        match set("OTEL_TRACES_EXPORTER") {
            None if endpoint.is_none() => return Self::Off,
            None => {}
            Some(exporters) => {
                let exporters: Vec<String> = exporters
                    .split(',')
                    .map(|e| e.trim().to_ascii_lowercase())
                    .filter(|e| !e.is_empty())
                    .collect();
                if !exporters.iter().any(|e| e == "otlp") {
                    return if exporters.iter().all(|e| e == "none") {
                        Self::Off
                    } else {
                        Self::Unsupported(format!(
                            "OTEL_TRACES_EXPORTER={} (this build exports otlp only)",
                            exporters.join(",")
                        ))
                    };
                }
            }
        }
        let protocol_key = [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]
        .into_iter()
        .find(|key| set(key).is_some());
        if let Some(key) = protocol_key {
            let protocol = set(key).unwrap_or_default();
            if !protocol.eq_ignore_ascii_case("grpc") {
                return Self::Unsupported(format!(
                    "{key}={protocol} (this build speaks OTLP over gRPC only: set it to grpc and point the endpoint at the collector's gRPC port, usually 4317)"
                ));
            }
        }
        Self::Otlp { endpoint }
    }
}

/// The sampler `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` name; the
/// default, as in the specification, is `parentbased_always_on`.
pub(crate) fn sampler(get: &impl Fn(&str) -> Option<String>) -> Result<Sampler, String> {
    let name = get("OTEL_TRACES_SAMPLER").map(|v| v.trim().to_ascii_lowercase());
    let ratio = || -> Result<f64, String> {
        match get("OTEL_TRACES_SAMPLER_ARG").map(|v| v.trim().to_owned()) {
            None => Ok(1.0),
            Some(arg) => arg
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("OTEL_TRACES_SAMPLER_ARG={arg} is not a ratio in [0, 1]")),
        }
    };
    Ok(match name.as_deref() {
        None | Some("" | "parentbased_always_on") => {
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
        }
        Some("always_on") => Sampler::AlwaysOn,
        Some("always_off") => Sampler::AlwaysOff,
        Some("traceidratio") => Sampler::TraceIdRatioBased(ratio()?),
        Some("parentbased_always_off") => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        Some("parentbased_traceidratio") => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio()?)))
        }
        Some(other) => return Err(format!("OTEL_TRACES_SAMPLER={other} is not supported")),
    })
}

/// The service name: `OTEL_SERVICE_NAME`, else a `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES` (the SDK reads it), else the executable's
/// name (`vigil-edge`, `vigil-writer`, ...).
fn service_name(get: &impl Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(name) = get("OTEL_SERVICE_NAME").filter(|n| !n.trim().is_empty()) {
        return Some(name.trim().to_owned());
    }
    let in_attributes = get("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attrs| {
        attrs
            .split(',')
            .any(|kv| kv.trim_start().starts_with("service.name="))
    });
    if in_attributes {
        return None;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
}

/// The layer that turns `tracing` spans into exported OpenTelemetry spans,
/// when the settings ask for export; `None` (and a message on standard
/// error) otherwise. Only spans of Vigil's crates are exported, and their
/// WARN and ERROR events as span events; the log level (`VIGIL_LOG`) does
/// not apply, so quieter logs never cost traces.
pub(crate) fn layer<S>(get: &impl Fn(&str) -> Option<String>) -> Option<impl Layer<S>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let endpoint = match Export::from_settings(get) {
        Export::Off => return None,
        Export::Unsupported(what) => {
            eprintln!("trace export stays off: {what}");
            return None;
        }
        Export::Otlp { endpoint } => endpoint,
    };
    let sampler = match sampler(get) {
        Ok(sampler) => sampler,
        Err(problem) => {
            eprintln!("trace export stays off: {problem}");
            return None;
        }
    };
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Some(endpoint) = endpoint {
        exporter = exporter.with_endpoint(endpoint);
    }
    let exporter = match exporter.build() {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("trace export stays off: building the OTLP exporter failed: {error}");
            return None;
        }
    };
    let mut resource = Resource::builder();
    if let Some(name) = service_name(get) {
        resource = resource.with_service_name(name);
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(Reported::new(exporter))
        .with_sampler(sampler)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("vigil");
    let _ = PROVIDER.set(provider);
    let only_vigil = filter_fn(|meta| {
        meta.target().starts_with("vigil") && (meta.is_span() || *meta.level() <= Level::WARN)
    });
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(only_vigil),
    )
}

/// The log target of export failures; outside `vigil*`, so the trace
/// layer never sees its own failures.
const EXPORT_LOG_TARGET: &str = "otlp_export";
/// Export failures are logged at WARN at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// An exporter whose failures are logged at WARN, at most once a minute:
/// a collector that is down costs traces, never detections, and is not
/// worth the SDK's ERROR line every few seconds.
#[derive(Debug)]
struct Reported<E> {
    inner: E,
    /// Unix millis of the last failure logged at WARN.
    last_warned_ms: AtomicI64,
}

impl<E> Reported<E> {
    fn new(inner: E) -> Self {
        Self {
            inner,
            last_warned_ms: AtomicI64::new(i64::MIN / 2),
        }
    }

    fn warn_now(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let last = self.last_warned_ms.load(Ordering::Relaxed);
        now - last >= WARN_EVERY.as_millis() as i64
            && self
                .last_warned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

impl<E: SpanExporter> SpanExporter for Reported<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        if let Err(error) = &result {
            if self.warn_now() {
                tracing::warn!(target: EXPORT_LOG_TARGET, %error, spans, "Exporting spans failed; they are dropped (more failures within a minute are logged at DEBUG).");
            } else {
                tracing::debug!(target: EXPORT_LOG_TARGET, %error, spans, "Exporting spans failed.");
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Called once the subscriber with the layer is installed.
pub(crate) fn enable() {
    ENABLED.store(PROVIDER.get().is_some(), Ordering::Relaxed);
}

/// Writes `span`'s W3C trace context (`traceparent`, `tracestate`) with
/// `set`. Nothing with export off.
pub fn inject(span: &Span, mut set: impl FnMut(&str, String)) {
    if !enabled() || span.is_none() {
        return;
    }
    struct Setter<F>(F);
    impl<F: FnMut(&str, String)> Injector for Setter<F> {
        fn set(&mut self, key: &str, value: String) {
            (self.0)(key, value);
        }
    }
    TraceContextPropagator::new().inject_context(&span.context(), &mut Setter(&mut set));
}

/// Makes `span` a child of the W3C trace context in `carrier` (header
/// name, value pairs), if it holds one. Nothing with export off.
pub fn set_parent<'a>(span: &Span, carrier: impl IntoIterator<Item = (&'a str, &'a str)>) {
    if !enabled() || span.is_none() {
        return;
    }
    struct Pairs<'a>(Vec<(&'a str, &'a str)>);
    impl Extractor for Pairs<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| *v)
        }
        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| *k).collect()
        }
    }
    let pairs = Pairs(carrier.into_iter().collect());
    if pairs.0.is_empty() {
        return;
    }
    let context = TraceContextPropagator::new().extract(&pairs);
    let _ = span.set_parent(context);
}

/// Exports the spans ended so far (blocks until the exporter answered).
/// A no-op with export off.
pub async fn flush() {
    if let Some(provider) = PROVIDER.get().cloned() {
        let _ = tokio::task::spawn_blocking(move || provider.force_flush()).await;
    }
}

/// Exports what is left and stops the exporter; call it last, before the
/// runtime ends (the gRPC exporter needs it). A no-op with export off.
pub async fn shutdown() {
    if let Some(provider) = PROVIDER.get().cloned() {
        let result = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = result {
            eprintln!("flushing traces at shutdown failed: {error}");
        }
    }
    ENABLED.store(false, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn export_is_off_unless_asked_for() {
        assert_eq!(Export::from_settings(&settings(&[])), Export::Off);
        assert_eq!(
            Export::from_settings(&settings(&[("OTEL_SERVICE_NAME", "x")])),
            Export::Off
        );
        assert_eq!(
            Export::from_settings(&settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_SDK_DISABLED", "true"),
            ])),
            Export::Off
        );
        assert_eq!(
            Export::from_settings(&settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ])),
            Export::Off
        );
    }

    #[test]
    fn an_endpoint_or_the_otlp_exporter_turns_export_on() {
        assert_eq!(
            Export::from_settings(&settings(&[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://collector:4317"
            )])),
            Export::Otlp {
                endpoint: Some("http://collector:4317".into())
            }
        );
        assert_eq!(
            Export::from_settings(&settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
            ])),
            Export::Otlp {
                endpoint: Some("http://traces:4317".into())
            }
        );
        assert_eq!(
            Export::from_settings(&settings(&[("OTEL_TRACES_EXPORTER", "otlp")])),
            Export::Otlp { endpoint: None }
        );
    }

    #[test]
    fn what_this_build_cannot_do_is_named() {
        let Export::Unsupported(what) = Export::from_settings(&settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ])) else {
            panic!("http/protobuf accepted");
        };
        assert!(
            what.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"),
            "{what}"
        );
        let Export::Unsupported(what) =
            Export::from_settings(&settings(&[("OTEL_TRACES_EXPORTER", "zipkin")]))
        else {
            panic!("zipkin accepted");
        };
        assert!(what.contains("zipkin"), "{what}");
    }

    #[test]
    fn samplers_follow_the_specification_names() {
        assert!(matches!(
            sampler(&settings(&[])).unwrap(),
            Sampler::ParentBased(_)
        ));
        assert!(matches!(
            sampler(&settings(&[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.25")
            ]))
            .unwrap(),
            Sampler::TraceIdRatioBased(r) if r == 0.25
        ));
        assert!(
            sampler(&settings(&[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "2")
            ]))
            .is_err()
        );
        assert!(sampler(&settings(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")])).is_err());
    }

    #[test]
    fn export_failures_warn_once_a_minute() {
        let reported = Reported::new(());
        assert!(reported.warn_now());
        assert!(!reported.warn_now());
    }

    #[test]
    fn with_export_off_context_helpers_do_nothing() {
        let span = tracing::info_span!("x");
        let mut written = Vec::new();
        inject(&span, |key, value| written.push((key.to_owned(), value)));
        assert!(written.is_empty());
        set_parent(
            &span,
            [(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )],
        );
    }
}
