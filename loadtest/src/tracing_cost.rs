//! The throughput cost of tracing: the same backlog of detections is
//! drained by the enricher and writer (real processes) twice in one run —
//! once with tracing off (no OTEL_* variables), once exporting every span
//! over OTLP to a receiver inside this tool — and the two rates compared.
//! Each pass has its own namespace, so both do exactly the same work.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use vigil_synth::DetectionFactory;

use crate::chaos::{Fleet, bin_dir};
use crate::ingest::group_lag;
use crate::target::{Namespace, TargetArgs, check_reachable, drop_keyspace};

#[derive(Debug, clap::Args)]
pub(crate) struct TracingArgs {
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Detections in the backlog each pass drains.
    #[arg(long, default_value_t = 30_000, value_parser = vigil_runtime::flags::count::<usize>)]
    pub(crate) events: usize,
    /// Folder of the service binaries; default this binary's.
    #[arg(long)]
    pub(crate) bin_dir: Option<std::path::PathBuf>,
    #[arg(long)]
    pub(crate) report_dir: Option<std::path::PathBuf>,
}

/// One pass.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Pass {
    pub(crate) tracing: bool,
    pub(crate) events: usize,
    pub(crate) seconds: f64,
    pub(crate) events_per_s: f64,
    /// Spans the receiver got during the pass.
    pub(crate) spans: u64,
}

/// Counts the spans it is sent.
#[derive(Debug, Clone, Default)]
struct Receiver {
    spans: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn backlog(ns: &Namespace, events: usize) -> anyhow::Result<()> {
    let producer: FutureProducer = ns.kafka.producer_config().create()?;
    let topic = ns.kafka.topics().detections;
    let mut cameras: Vec<String> = ns.registry.cameras().map(|c| c.id.clone()).collect();
    cameras.sort();
    let mut factory = DetectionFactory::new(3);
    let now = chrono::Utc::now();
    let sends: Vec<_> = (0..events)
        .map(|i| {
            let mut detection = factory.detection(&cameras[i % cameras.len()], now);
            detection.site_id = "tracing-cost".to_owned();
            detection.received_at = detection.captured_at;
            (detection.camera_id.clone(), detection.encode_to_vec())
        })
        .collect();
    let producer = &producer;
    let topic = &topic;
    futures::future::try_join_all(sends.iter().map(|(key, payload)| async move {
        producer
            .send(
                FutureRecord::to(topic).key(key).payload(payload),
                Duration::from_secs(60),
            )
            .await
            .map_err(|(e, _)| e)
    }))
    .await?;
    Ok(())
}

/// Drains `events` detections through a fresh namespace; `otlp` turns
/// tracing on, exporting there.
async fn pass(
    args: &TracingArgs,
    events: usize,
    otlp: Option<&str>,
    spans: &AtomicU64,
) -> anyhow::Result<Pass> {
    let ns = Namespace::fresh(
        &args.target,
        if otlp.is_some() {
            "trace_on"
        } else {
            "trace_off"
        },
    )
    .await?;
    backlog(&ns, events).await?;
    let mut fleet = Fleet::new(
        ns,
        bin_dir(args.bin_dir.as_deref(), &["enricher", "writer"])?,
    )?;
    if let Some(endpoint) = otlp {
        fleet.env = vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                endpoint.to_owned(),
            ),
            ("OTEL_TRACES_SAMPLER".to_owned(), "always_on".to_owned()),
        ];
    }
    let before = spans.load(Ordering::Relaxed);
    let started = Instant::now();
    fleet.spawn("enricher")?;
    fleet.spawn("writer")?;
    let enricher: BaseConsumer = fleet
        .ns
        .kafka
        .consumer_config(&fleet.enricher_group)
        .create()?;
    let writer: BaseConsumer = fleet
        .ns
        .kafka
        .consumer_config(&fleet.writer_group)
        .create()?;
    let (enricher, writer) = (Arc::new(enricher), Arc::new(writer));
    let topics = fleet.ns.kafka.topics();
    loop {
        fleet.check()?;
        let (e, w) = (Arc::clone(&enricher), Arc::clone(&writer));
        let (detections, enriched) = (topics.detections.clone(), topics.enriched.clone());
        let (lag_in, lag_out, written) = tokio::task::spawn_blocking(move || {
            let lag_in = group_lag(&e, &detections).unwrap_or(-1);
            let lag_out = group_lag(&w, &enriched).unwrap_or(-1);
            // Everything the enricher produced, so a drained writer is not
            // mistaken for one that has not started.
            let produced = w
                .fetch_watermarks(&enriched, 0, Duration::from_secs(5))
                .map(|(_, high)| high)
                .unwrap_or(0);
            (lag_in, lag_out, produced)
        })
        .await?;
        if lag_in == 0 && lag_out == 0 && written > 0 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(900),
            "the pipeline did not drain {events} events in 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    fleet.stop("enricher").await?;
    fleet.stop("writer").await?;
    drop_keyspace(&fleet.ns.keyspace).await?;
    Ok(Pass {
        tracing: otlp.is_some(),
        events,
        seconds,
        events_per_s: events as f64 / seconds,
        spans: spans.load(Ordering::Relaxed) - before,
    })
}

/// Runs both passes; returns (off, on).
pub(crate) async fn run(args: &TracingArgs) -> anyhow::Result<(Pass, Pass)> {
    check_reachable(&args.target.kafka, &args.target.store).await?;
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let off = pass(args, args.events, None, &receiver.spans)
        .await
        .context("the pass without tracing")?;
    let on = pass(args, args.events, Some(&endpoint), &receiver.spans)
        .await
        .context("the pass with tracing")?;
    server.abort();
    Ok((off, on))
}
