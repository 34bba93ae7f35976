//! `vigil-api`: the gRPC API of the operations center, commune police and
//! team captains (`vigil.v1`): events by zone and time, plate trajectories,
//! coverage, counts, fleet status, live alerts, registry and watchlist,
//! audited extractions and the audit log.
//!
//! Reads the query-first tables vigil-writer fills, follows the registry
//! changelog for zones, teams and cameras, and reads `vigil.alerts.v1` for
//! live alerts. Every call is authenticated by a bearer token mapped to a
//! role and a zone scope (see `auth`); plate searches, extractions and
//! watchlist changes are written to the append-only audit log before they
//! answer. grpc.health.v1 and server reflection (v1 and v1alpha) are on, so
//! `grpcurl` works without the .proto files.
//!
//! Shutdown (SIGTERM): health turns NOT_SERVING, the server stops taking
//! calls and gives those in flight `--shutdown-grace` to finish.

mod alert_stats;
mod alerting;
mod alerts;
mod auth;
mod backend;
pub mod console;
mod error;
mod extractions;
mod fanout;
pub mod metrics;
mod query;
mod registry_api;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tracing::{info, warn};
use vigil_bus::KafkaArgs;
use vigil_bus::registry::RegistryPublisher;
use vigil_proto::v1::FILE_DESCRIPTOR_SET;
use vigil_proto::v1::alert_service_server::AlertServiceServer;
use vigil_proto::v1::audit_service_server::AuditServiceServer;
use vigil_proto::v1::extraction_service_server::ExtractionServiceServer;
use vigil_proto::v1::query_service_server::QueryServiceServer;
use vigil_proto::v1::registry_service_server::RegistryServiceServer;
use vigil_runtime::{LogArgs, ShutdownArgs};
use vigil_store::{
    AlertStore, AuditStore, CountStore, EventReader, EventStore, ExtractionStore,
    NotificationStore, RegistryStore, StatusStore, StoreArgs, TokenStore,
};

pub use alerting::Alerts;
pub use extractions::Extractions;
pub use query::Queries;
pub use registry_api::Registries;

use alerts::{LiveAlerts, StreamSlots};
use auth::Authenticator;
use backend::{Backend, Limits, Stores};
use vigil_bus::changes::AlertAnnouncer;
use vigil_notify::escalation::Targets;
use vigil_request::PageTokens;

/// The API's configuration: flags, or `VIGIL_*` environment variables.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "vigil-api",
    version,
    about = "Vigil API: province-level gRPC queries, live alerts, watchlist and audited extractions"
)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address the gRPC server listens on.
    #[arg(long, env = "VIGIL_API_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Address serving the operations console: its web page and the same
    /// services in gRPC-web (HTTP/1.1 or HTTP/2, TLS as --listen). Off
    /// when not given.
    #[arg(long, env = "VIGIL_CONSOLE_LISTEN")]
    pub console_listen: Option<SocketAddr>,
    /// Address serving /metrics (Prometheus) and /healthz.
    #[arg(long, env = "VIGIL_METRICS_LISTEN", default_value = "127.0.0.1:8073")]
    pub metrics_listen: SocketAddr,
    /// PEM certificate chain; with --tls-key, the server speaks TLS only.
    #[arg(long, env = "VIGIL_API_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "VIGIL_API_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Page size when a request does not give one.
    #[arg(long, env = "VIGIL_API_DEFAULT_PAGE_SIZE", default_value_t = 100, value_parser = vigil_runtime::flags::count::<usize>)]
    pub default_page_size: usize,
    /// Largest page a request may ask for.
    #[arg(long, env = "VIGIL_API_MAX_PAGE_SIZE", default_value_t = 1000, value_parser = vigil_runtime::flags::count::<usize>)]
    pub max_page_size: usize,
    /// Database partitions one request reads at once (province-wide
    /// queries fan out over every commune).
    #[arg(long, env = "VIGIL_API_FANOUT", default_value_t = 64, value_parser = vigil_runtime::flags::count::<usize>)]
    pub fanout: usize,
    /// Most events one extraction may hold.
    #[arg(long, env = "VIGIL_API_MAX_EXTRACTION", default_value_t = 10_000, value_parser = vigil_runtime::flags::count::<usize>)]
    pub max_extraction: usize,
    /// Alerts a live stream may fall behind the process's one alert reader
    /// before it is closed (RESOURCE_EXHAUSTED, saying where to resume);
    /// the ring holding them is shared by every stream.
    #[arg(long, env = "VIGIL_API_ALERT_STREAM_BUFFER", default_value_t = 1024, value_parser = vigil_runtime::flags::count::<usize>)]
    pub alert_stream_buffer: usize,
    /// Longest a call may take on the server (shorter if the client's
    /// grpc-timeout says so); answered DEADLINE_EXCEEDED after it.
    #[arg(long, env = "VIGIL_API_REQUEST_TIMEOUT", default_value = "60s", value_parser = vigil_runtime::flags::duration)]
    pub request_timeout: Duration,
    /// Calls one connection may have in progress at once; more wait.
    #[arg(long, env = "VIGIL_API_MAX_CONCURRENT_PER_CONNECTION", default_value_t = 64, value_parser = vigil_runtime::flags::count::<usize>)]
    pub max_concurrent_per_connection: usize,
    /// Live alert streams one token may hold open on this process.
    #[arg(long, env = "VIGIL_API_ALERT_STREAMS_PER_TOKEN", default_value_t = 16, value_parser = vigil_runtime::flags::count::<usize>)]
    pub alert_streams_per_token: usize,
    /// Live alert streams this process holds open in all.
    #[arg(long, env = "VIGIL_API_MAX_ALERT_STREAMS", default_value_t = 4096, value_parser = vigil_runtime::flags::count::<usize>)]
    pub max_alert_streams: usize,
    /// How often an open stream's token is checked again: a revoked or
    /// expired token ends its streams within this.
    #[arg(long, env = "VIGIL_API_TOKEN_RECHECK", default_value = "30s", value_parser = vigil_runtime::flags::duration)]
    pub token_recheck: Duration,
    /// Largest request message accepted, in bytes.
    #[arg(long, env = "VIGIL_API_MAX_REQUEST_BYTES", default_value_t = 1 << 20, value_parser = vigil_runtime::flags::byte_size::<usize>)]
    pub max_request_bytes: usize,
    /// File holding the secret that signs page tokens. Give every replica
    /// the same one (a Kubernetes Secret); without it each process makes a
    /// random key and page tokens do not survive a restart or cross
    /// replicas.
    #[arg(long, env = "VIGIL_API_PAGE_TOKEN_KEY_FILE")]
    pub page_token_key_file: Option<PathBuf>,
    /// The acknowledgement targets AlertStats counts against (give it the
    /// notifier's).
    #[command(flatten)]
    pub targets: Targets,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
}

/// Largest response message, in bytes (a full page of events with labels).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// The sockets the API serves on.
#[derive(Debug)]
pub struct Listeners {
    /// gRPC (HTTP/2).
    pub grpc: TcpListener,
    /// The console: its page and gRPC-web.
    pub console: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(grpc: TcpListener) -> Self {
        Self {
            grpc,
            console: None,
        }
    }
}

/// Binds `config.listen` (and `config.console_listen`) and serves until
/// `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let grpc = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the gRPC listener {}", config.listen))?;
    let console = match config.console_listen {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .with_context(|| format!("binding the console listener {address}"))?,
        ),
        None => None,
    };
    serve(config, Listeners { grpc, console }, shutdown).await
}

/// Serves the API on `listeners` until `shutdown` (tests bind port 0).
pub async fn serve(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Listeners {
        grpc: listener,
        console: console_listener,
    } = listeners.into();
    let metrics_server = vigil_runtime::serve_metrics(config.metrics_listen, shutdown.clone())
        .await
        .with_context(|| format!("binding the metrics listener {}", config.metrics_listen))?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let read = |path: &PathBuf| {
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))
            };
            Some(ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?)))
        }
        _ => None,
    };
    let page_key = match &config.page_token_key_file {
        Some(path) => {
            let key = std::fs::read(path)
                .with_context(|| format!("reading the page-token key {}", path.display()))?;
            anyhow::ensure!(
                key.trim_ascii().len() >= 16,
                "the page-token key in {} is shorter than 16 bytes",
                path.display()
            );
            key.trim_ascii().to_vec()
        }
        None => {
            warn!(
                "No --page-token-key-file: page tokens are signed with a random key of this process only."
            );
            use rand::RngCore;
            let mut key = vec![0u8; 32];
            rand::rng().fill_bytes(&mut key);
            key
        }
    };

    let keyspace = config.store.keyspace().await?;
    let ttl = config.store.event_ttl;
    let stores = Stores {
        reader: EventReader::prepare(&keyspace).await?,
        events: EventStore::prepare(&keyspace, ttl).await?,
        counts: CountStore::prepare(&keyspace, ttl).await?,
        statuses: StatusStore::prepare(&keyspace).await?,
        registry: RegistryStore::prepare(&keyspace).await?,
        extractions: ExtractionStore::prepare(&keyspace).await?,
        audit: AuditStore::prepare(&keyspace).await?,
        alerts: AlertStore::prepare(&keyspace).await?,
        notifications: NotificationStore::prepare(&keyspace).await?,
    };
    let auth = Authenticator::new(TokenStore::prepare(&keyspace).await?);
    let (registry, follower) = vigil_bus::registry::follow(&config.kafka, shutdown.clone()).await?;
    let (alerts, alert_reader) =
        LiveAlerts::start(&config.kafka, config.alert_stream_buffer, shutdown.clone()).await?;
    info!(
        zones = registry.read().map_or(0, |r| r.zones().len()),
        "Registry loaded."
    );
    let backend = Arc::new(Backend {
        stores,
        registry,
        publisher: RegistryPublisher::new(&config.kafka)?,
        auth,
        page_tokens: PageTokens::new(page_key),
        limits: Limits {
            default_page_size: config.default_page_size,
            max_page_size: config.max_page_size,
            fanout: config.fanout.max(1),
            max_extraction: config.max_extraction,
        },
        alerts,
        stream_slots: StreamSlots::new(config.alert_streams_per_token, config.max_alert_streams),
        token_recheck: config.token_recheck,
        targets: config.targets,
        announcer: AlertAnnouncer::new(&config.kafka)?,
        shutdown: shutdown.clone(),
    });

    let open_alerts = tokio::spawn(alerting::count_open(
        Arc::clone(&backend),
        Duration::from_secs(30),
        shutdown.clone(),
    ));

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<QueryServiceServer<Queries>>().await;
    health
        .set_serving::<RegistryServiceServer<Registries>>()
        .await;
    health
        .set_serving::<ExtractionServiceServer<Extractions>>()
        .await;
    health
        .set_serving::<AuditServiceServer<Extractions>>()
        .await;
    health.set_serving::<AlertServiceServer<Alerts>>().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    macro_rules! limited {
        ($server:expr) => {
            $server
                .max_decoding_message_size(config.max_request_bytes)
                .max_encoding_message_size(MAX_RESPONSE_BYTES)
        };
    }
    // A client's grpc-timeout is honoured when shorter; a stream's
    // timeout covers its opening, not its life.
    let mut builder = Server::builder()
        .timeout(config.request_timeout)
        .concurrency_limit_per_connection(config.max_concurrent_per_connection);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).context("configuring TLS")?;
    }
    let services = Routes::new(limited!(QueryServiceServer::new(Queries {
        backend: Arc::clone(&backend)
    })))
    .add_service(limited!(RegistryServiceServer::new(Registries {
        backend: Arc::clone(&backend)
    })))
    .add_service(limited!(ExtractionServiceServer::new(Extractions {
        backend: Arc::clone(&backend)
    })))
    .add_service(limited!(AuditServiceServer::new(Extractions {
        backend: Arc::clone(&backend)
    })))
    .add_service(limited!(AlertServiceServer::new(Alerts {
        backend: Arc::clone(&backend)
    })));
    // The console's origin: the same services in gRPC-web, with the same
    // limits and TLS, and the page's files.
    let console = match console_listener {
        Some(listener) => {
            let address = listener.local_addr()?;
            info!(%address, "Serving the console.");
            let server = builder
                .clone()
                .accept_http1(true)
                .add_routes(Routes::from(console::router(services.clone())))
                .serve_with_incoming_shutdown(
                    TcpIncoming::from(listener).with_nodelay(Some(true)),
                    shutdown.clone().cancelled_owned(),
                );
            Some(tokio::spawn(server))
        }
        None => None,
    };
    let router = builder
        .add_routes(services)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let address = listener.local_addr()?;
    info!(%address, tls = config.tls_cert.is_some(), "Serving vigil.v1.");
    let stopping = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.cancelled().await;
            // Load balancers stop routing here before the listener closes.
            health
                .set_not_serving::<QueryServiceServer<Queries>>()
                .await;
            health
                .set_not_serving::<RegistryServiceServer<Registries>>()
                .await;
            health
                .set_not_serving::<ExtractionServiceServer<Extractions>>()
                .await;
            health
                .set_not_serving::<AuditServiceServer<Extractions>>()
                .await;
            info!("Shutting down: refusing new calls, finishing those in flight.");
        }
    };
    // Small replies must not wait for delayed ACKs (Nagle): ~40 ms a call.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = router.serve_with_incoming_shutdown(incoming, stopping);
    let grace = config.shutdown.grace;
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result.context("serving gRPC")?,
        () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            warn!(?grace, "Calls still running after the grace period; stopping anyway.");
        }
    }
    if let Some(mut console) = console {
        // Its calls had the same grace, already spent when the gRPC server
        // needed it all.
        match tokio::time::timeout(grace, &mut console).await {
            Ok(Ok(result)) => result.context("serving the console")?,
            Ok(Err(_)) => {}
            Err(_) => {
                warn!("Console calls still running after the grace period; stopping anyway.");
                console.abort();
            }
        }
    }
    let _ = follower.await;
    let _ = alert_reader.await;
    let _ = open_alerts.await;
    let _ = metrics_server.await;
    info!("Stopped.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    #[test]
    fn command_line_is_well_formed() {
        super::Config::command().debug_assert();
    }

    #[test]
    fn an_empty_alert_ring_is_refused() {
        // A ring of zero slots would panic in the alert reader.
        let error = super::Config::try_parse_from(["vigil-api", "--alert-stream-buffer", "0"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--alert-stream-buffer"), "{error}");
    }

    #[test]
    fn defaults_parse_and_tls_needs_both_halves() {
        let config = super::Config::try_parse_from(["vigil-api"]).unwrap();
        assert_eq!(config.listen.port(), 50051);
        assert!(super::Config::try_parse_from(["vigil-api", "--tls-cert", "c.pem"]).is_err());
        assert!(
            super::Config::try_parse_from(["vigil-api", "--tls-cert", "c", "--tls-key", "k"])
                .is_ok()
        );
    }
}
