//! What every Vigil service binary starts with: structured logging, trace
//! export when the `OTEL_*` environment asks for it ([`telemetry`]), a
//! cancellation token fired by SIGTERM or Ctrl-C, and the Prometheus
//! recorder whose rendering the service serves on `/metrics`; and
//! credentials that never show in logs ([`Secret`]); the one retry policy
//! ([`retry`]) and the value parsers every command line uses ([`flags`]).

pub mod flags;
pub mod retry;
mod secret;
pub mod telemetry;

pub use secret::Secret;

use std::io::IsTerminal as _;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;
use tracing::info;
use tracing_subscriber::filter::{FilterExt as _, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry};

/// Logging options shared by every service.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log filter, e.g. `info` or `vigil_edge=debug,rdkafka=warn`.
    #[arg(long = "log", env = "VIGIL_LOG", default_value = "info", value_parser = log_filter)]
    pub filter: String,
    /// Log as JSON lines (for log shippers) instead of text.
    #[arg(long = "log-json", env = "VIGIL_LOG_JSON")]
    pub json: bool,
}

impl LogArgs {
    /// Installs the global subscriber: logs to standard error, and trace
    /// export when the `OTEL_*` environment variables ask for it (see
    /// [`telemetry`]). Call [`telemetry::shutdown`] before exiting, so the
    /// last spans are sent.
    pub fn init(&self) {
        self.init_with(|key| std::env::var(key).ok());
    }

    /// [`Self::init`] with the `OTEL_*` settings read through `settings`
    /// instead of the process environment (for tests, which cannot set
    /// environment variables safely).
    pub fn init_with(&self, settings: impl Fn(&str) -> Option<String>) {
        // Colour only for a person at a terminal: escape codes in a file,
        // a pipe or a log shipper are noise.
        let ansi = std::io::stderr().is_terminal();
        let logs: Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync> = if self.json {
            Box::new(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
        } else {
            Box::new(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
        };
        // Spans are for traces: log lines stay as they are, without the
        // span context in front of them.
        let logs = logs.with_filter(self.env_filter().and(filter_fn(|meta| !meta.is_span())));
        let traces = telemetry::layer(&settings);
        let installed = tracing_subscriber::registry()
            .with(logs)
            .with(traces)
            .try_init();
        match installed {
            Ok(()) => telemetry::enable(),
            Err(error) => eprintln!("logging was set up already ({error}); keeping that"),
        }
    }

    fn env_filter(&self) -> EnvFilter {
        // Checked by `log_filter` when parsed from the command line.
        EnvFilter::new(&self.filter)
    }
}

/// Refuses a `--log` filter `EnvFilter` cannot parse, instead of
/// silently logging at another level than asked.
fn log_filter(value: &str) -> Result<String, String> {
    EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|error| format!("not a log filter (e.g. info or vigil_edge=debug,warn): {error}"))
}

/// A token cancelled on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => info!(signal = "SIGINT", "Shutting down."),
            () = terminate => info!(signal = "SIGTERM", "Shutting down."),
        }
        trigger.cancel();
    });
    token
}

/// Latency buckets in seconds, from 100 µs to 30 s: from 10 ms to 1 s,
/// where the pipeline's percentiles fall, no two bounds more than 1.5×
/// apart, so that one estimated from them (`histogram_quantile`) is off by
/// at most its bucket's width.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1,
    0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the process-wide Prometheus recorder (once; later calls return
/// the same handle). Histograms whose names end in `_seconds` get latency
/// buckets. Render the handle on `/metrics`.
pub fn metrics_recorder() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed, e.g. two services
            // in one test process: they then share that one.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Serves `/metrics` (Prometheus text) and `/healthz` on `address` until
/// `shutdown`. Binds before returning, so a busy port fails at start-up.
pub async fn serve_metrics(
    address: std::net::SocketAddr,
    shutdown: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let recorder = metrics_recorder();
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || std::future::ready(recorder.render())),
        )
        .route("/healthz", axum::routing::get(|| async { "ok\n" }));
    Ok(tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .into_future(),
    ))
}

/// How long a service may take to drain after the shutdown signal; shorter
/// than Kubernetes' default 30 s termination grace period.
#[derive(Debug, Clone, clap::Args)]
pub struct ShutdownArgs {
    /// Time allowed to drain in-flight work after SIGTERM.
    #[arg(long = "shutdown-grace", env = "VIGIL_SHUTDOWN_GRACE", default_value = "20s", value_parser = flags::duration)]
    pub grace: Duration,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::LogArgs;

    #[derive(Debug, clap::Parser)]
    struct Flags {
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn a_valid_log_filter_is_kept() {
        let flags = Flags::try_parse_from(["x", "--log", "vigil_edge=debug,warn"]).unwrap();
        assert_eq!(flags.log.filter, "vigil_edge=debug,warn");
    }

    #[test]
    fn an_invalid_log_filter_is_refused_naming_the_flag() {
        let error = Flags::try_parse_from(["x", "--log", "vigil_edge=loud"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--log"), "{error}");
        assert!(error.contains("not a log filter"), "{error}");
    }
}
