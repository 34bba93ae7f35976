//! `vigil-loadtest`: load generation and benchmarks against a running
//! Vigil. By default each run makes a fresh namespace on the local stack
//! (topics, keyspace, a synthetic province) and runs the enricher, writer
//! and API in-process; `--external` measures an existing deployment.
//! Every run prints a summary table and writes `report.json` and
//! `report.png` (see `--report-dir`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

mod alerts;
mod ceiling;
mod chaos;
mod fill;
mod ingest;
mod query;
mod report;
mod stages;
mod streams;
mod target;
mod tracing_cost;

use report::{Curve, Percentiles};
use target::{Target, TargetArgs};

/// Load Vigil and measure it.
#[derive(Debug, Parser)]
#[command(name = "vigil-loadtest", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Publish synthetic history (detections spread over past days) to the
    /// detections topic, for the pipeline to enrich and store — e.g. a
    /// million events to measure queries against.
    Fill(fill::FillArgs),
    /// Offer a fleet's detections on a fixed schedule; measure accepted
    /// rate, consumer lag over time and capture-to-readable latency.
    Ingest(IngestArgs),
    /// A mixed query workload against the API at a fixed rate, with
    /// ingestion running; latency percentiles per query shape.
    Query(QueryArgs),
    /// Raw Kafka and CQL ceilings, alone and together, the highest pipeline
    /// rate with bounded lag, and the ratios between them.
    Ceiling(CeilingArgs),
    /// The fault matrix: Kafka and Cassandra outages, kill -9 of each
    /// service, a rebalance, a flood of duplicates — each ending with an
    /// exact accounting by event id. Exits non-zero if anything was lost or
    /// duplicated.
    Chaos(chaos::ChaosArgs),
    /// The throughput cost of tracing: the same backlog drained by the
    /// enricher and writer with tracing off, then exporting every span.
    TracingCost(tracing_cost::TracingArgs),
    /// Many live alert streams on one API process while alerts are raised
    /// at a fixed rate: raised-to-received latency over every stream, and
    /// the API process's memory and CPU.
    Streams(streams::StreamsArgs),
    /// The alert loop at a fixed background rate: watch-listed plates
    /// raise alerts, the notifier delivers them to a webhook receiver here,
    /// which acknowledges each through the API; raised-to-webhook,
    /// acknowledgement and acknowledged-to-live-stream latency, and the
    /// run's AlertStats.
    Alerts(alerts::AlertsArgs),
}

#[derive(Debug, clap::Args)]
struct IngestArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    load: ingest::LoadArgs,
    /// Where report.json and report.png go (default .vigil/loadtest/<command>-<time>).
    #[arg(long)]
    report_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct QueryArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Calls per second, mixed over the query shapes.
    #[arg(long, default_value_t = 20.0, value_parser = vigil_runtime::flags::rate)]
    rate: f64,
    /// How long to run.
    #[arg(long, default_value = "60s", value_parser = vigil_runtime::flags::duration)]
    duration: Duration,
    /// Events/s ingested meanwhile (0: none).
    #[arg(long, default_value_t = 200.0, value_parser = vigil_runtime::flags::rate)]
    ingest_rate: f64,
    /// Bearer token; default a fresh province-operator token in the
    /// target's keyspace.
    #[arg(long, env = "VIGIL_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long)]
    report_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct CeilingArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Length of each measurement.
    #[arg(long, default_value = "15s", value_parser = vigil_runtime::flags::duration)]
    step: Duration,
    /// CQL concurrencies tried (requests in flight).
    #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
    concurrency: Vec<usize>,
    /// Pipeline runs of the search (grown by half while lag stays bounded,
    /// then bisected), starting at the co-located ceiling.
    #[arg(long, default_value_t = 5, value_parser = vigil_runtime::flags::count::<usize>)]
    search_steps: usize,
    /// Length of each pipeline run.
    #[arg(long, default_value = "30s", value_parser = vigil_runtime::flags::duration)]
    pipeline_step: Duration,
    #[arg(long)]
    report_dir: Option<PathBuf>,
}

fn progress(length: Duration, what: &str) -> anyhow::Result<ProgressBar> {
    let bar = ProgressBar::new(length.as_secs().max(1)).with_style(ProgressStyle::with_template(
        &format!("{what} {{bar:30}} {{pos}}/{{len}} s  {{msg}}"),
    )?);
    Ok(bar)
}

#[derive(Debug, Serialize)]
struct IngestReport {
    command: &'static str,
    cameras: usize,
    offered_rate: Option<f64>,
    duration_s: f64,
    offered: u64,
    accepted: u64,
    failed: u64,
    /// Why the first deliveries failed.
    failures: Vec<String>,
    accepted_per_s: f64,
    max_lag: i64,
    final_lag: i64,
    e2e_latency: Percentiles,
    e2e_unresolved: u64,
    /// Where the time from capture to readable went (empty with
    /// `--external` services, whose histograms this process cannot read).
    stages: Vec<stages::StageLatency>,
    seconds: Vec<ingest::Second>,
}

/// Each stage's share of capture → readable: the producer's
/// acknowledgement (measured here), then the in-process services'
/// histograms over the run, then the end-to-end samples.
fn stage_latencies(
    target: &Target,
    run: &ingest::IngestRun,
    before: &stages::Snapshot,
) -> Vec<stages::StageLatency> {
    if !target.in_process() {
        return Vec::new();
    }
    let topics = target.kafka.topics();
    let measured = stages::between(
        before,
        &stages::Snapshot::now(),
        &[
            stages::Stage {
                name: "sent -> enricher takes it",
                metric: vigil_bus::pipeline::RECORD_WAIT,
                label: Some(("topic", topics.detections)),
            },
            stages::Stage {
                name: "enricher: taken -> outputs acked",
                metric: vigil_enricher::metrics::PROCESS_DURATION,
                label: None,
            },
            stages::Stage {
                name: "enriched sent -> writer takes it",
                metric: vigil_bus::pipeline::RECORD_WAIT,
                label: Some(("topic", topics.enriched)),
            },
            stages::Stage {
                name: "writer: taken -> stored",
                metric: vigil_writer::metrics::WRITE_DURATION,
                label: None,
            },
        ],
    );
    let exact = |stage, histogram: &hdrhistogram::Histogram<u64>| {
        let p = Percentiles::of_micros(histogram);
        stages::StageLatency {
            stage,
            count: p.count,
            p50_ms: p.p50_ms,
            p99_ms: p.p99_ms,
        }
    };
    std::iter::once(exact("produce -> acked by Kafka", &run.acked_after))
        .chain(measured)
        .chain(std::iter::once(exact(
            "capture -> readable (sampled)",
            &run.e2e,
        )))
        .collect()
}

async fn run_ingest(args: IngestArgs) -> anyhow::Result<()> {
    let target = Target::start(&args.target, "ingest").await?;
    let dir = report::directory(args.report_dir.as_deref(), "ingest")?;
    let bar = progress(args.load.duration, "ingest")?;
    let before = stages::Snapshot::now();
    let run = ingest::run(&target, &args.load, &bar, "").await?;
    bar.finish_and_clear();
    let stages = stage_latencies(&target, &run, &before);
    let report = IngestReport {
        command: "ingest",
        cameras: target.registry.cameras().len(),
        offered_rate: args.load.rate,
        duration_s: run.duration.as_secs_f64(),
        offered: run.offered,
        accepted: run.accepted,
        failed: run.failed,
        failures: run.failures.clone(),
        accepted_per_s: run.accepted_per_s(),
        max_lag: run
            .seconds
            .iter()
            .map(|s| s.enricher_lag + s.writer_lag)
            .max()
            .unwrap_or(0),
        final_lag: run.final_lag(),
        e2e_latency: run.e2e_ms(),
        e2e_unresolved: run.unresolved,
        stages,
        seconds: run.seconds.clone(),
    };
    let e = report.e2e_latency;
    report::print_table(
        "ingestion",
        &[
            "offered",
            "accepted",
            "accepted/s",
            "max lag",
            "final lag",
            "e2e p50 ms",
            "p90",
            "p99",
            "p99.9",
            "max",
            "samples",
        ],
        vec![vec![
            report.offered.to_string(),
            report.accepted.to_string(),
            format!("{:.0}", report.accepted_per_s),
            report.max_lag.to_string(),
            report.final_lag.to_string(),
            format!("{:.1}", e.p50_ms),
            format!("{:.1}", e.p90_ms),
            format!("{:.1}", e.p99_ms),
            format!("{:.1}", e.p999_ms),
            format!("{:.1}", e.max_ms),
            format!("{} ({} unresolved)", e.count, report.e2e_unresolved),
        ]],
    );
    if !report.stages.is_empty() {
        report::print_table(
            "where the time goes (stages overlap: each is timed on its own)",
            &["stage", "records", "p50 ms", "p99 ms"],
            report
                .stages
                .iter()
                .map(|s| {
                    vec![
                        s.stage.to_owned(),
                        s.count.to_string(),
                        format!("{:.1}", s.p50_ms),
                        format!("{:.1}", s.p99_ms),
                    ]
                })
                .collect(),
        );
    }
    for reason in &report.failures {
        println!("a delivery failed: {reason}");
    }
    let json = report::write_json(&dir, &report)?;
    let png = report::chart(
        &dir,
        "vigil-loadtest ingest",
        &run.seconds,
        &[Curve {
            name: "capture to readable",
            histogram: &run.e2e,
        }],
    )?;
    println!("report: {} and {}", json.display(), png.display());
    target.stop().await
}

#[derive(Debug, Serialize)]
struct QueryShapeReport {
    shape: &'static str,
    calls: u64,
    errors: u64,
    latency: Percentiles,
}

#[derive(Debug, Serialize)]
struct QueryReport {
    command: &'static str,
    rate: f64,
    duration_s: f64,
    ingest_rate: f64,
    ingest_accepted_per_s: f64,
    shapes: Vec<QueryShapeReport>,
}

async fn run_query(args: QueryArgs) -> anyhow::Result<()> {
    let target = Target::start(&args.target, "query").await?;
    let dir = report::directory(args.report_dir.as_deref(), "query")?;
    let token = query::token(&target.keyspace, &target.registry, args.token.as_deref()).await?;
    let bar = progress(args.duration, "query")?;
    let ingestion = async {
        if args.ingest_rate <= 0.0 {
            return Ok(None);
        }
        let load = ingest::LoadArgs::fixed(args.ingest_rate, args.duration);
        ingest::run(&target, &load, &ProgressBar::hidden(), "")
            .await
            .map(Some)
    };
    let (results, ingested) = tokio::join!(
        query::run(&target, &token, args.rate, args.duration, &bar),
        ingestion
    );
    bar.finish_and_clear();
    let (results, ingested) = (results?, ingested?);
    let report = QueryReport {
        command: "query",
        rate: args.rate,
        duration_s: args.duration.as_secs_f64(),
        ingest_rate: args.ingest_rate,
        ingest_accepted_per_s: ingested
            .as_ref()
            .map_or(0.0, ingest::IngestRun::accepted_per_s),
        shapes: results
            .iter()
            .map(|(shape, r)| QueryShapeReport {
                shape,
                calls: r.calls,
                errors: r.errors,
                latency: Percentiles::of_micros(&r.histogram),
            })
            .collect(),
    };
    report::print_table(
        &format!(
            "queries at {}/s for {:?}, ingesting {:.0}/s meanwhile",
            args.rate, args.duration, report.ingest_accepted_per_s
        ),
        &[
            "shape", "calls", "errors", "p50 ms", "p90", "p99", "p99.9", "max",
        ],
        report
            .shapes
            .iter()
            .map(|s| {
                vec![
                    s.shape.to_owned(),
                    s.calls.to_string(),
                    s.errors.to_string(),
                    format!("{:.1}", s.latency.p50_ms),
                    format!("{:.1}", s.latency.p90_ms),
                    format!("{:.1}", s.latency.p99_ms),
                    format!("{:.1}", s.latency.p999_ms),
                    format!("{:.1}", s.latency.max_ms),
                ]
            })
            .collect(),
    );
    let json = report::write_json(&dir, &report)?;
    let curves: Vec<Curve<'_>> = results
        .iter()
        .map(|(shape, r)| Curve {
            name: shape,
            histogram: &r.histogram,
        })
        .collect();
    let seconds = ingested.as_ref().map_or(&[][..], |run| &run.seconds[..]);
    let png = report::chart(&dir, "vigil-loadtest query", seconds, &curves)?;
    println!("report: {} and {}", json.display(), png.display());
    target.stop().await
}

#[derive(Debug, Serialize)]
struct CqlStep {
    concurrency: usize,
    events_per_s: f64,
}

#[derive(Debug, Serialize)]
struct CeilingReport {
    command: &'static str,
    message_bytes: usize,
    kafka_per_s: f64,
    cql: Vec<CqlStep>,
    cql_per_s: f64,
    colocated_per_s: f64,
    pipeline_per_s: f64,
    pipeline_steps: Vec<ceiling::Step>,
    pipeline_over_colocated: f64,
    pipeline_over_min_single: f64,
}

async fn run_ceiling(args: CeilingArgs) -> anyhow::Result<()> {
    let target = Target::start(&args.target, "ceiling").await?;
    let dir = report::directory(args.report_dir.as_deref(), "ceiling")?;
    let pool = ceiling::Pool::new(&target)?;
    let (scratch_kafka, scratch_keyspace) =
        ceiling::scratch(&target, args.target.partitions).await?;
    let topic = scratch_kafka.topics().detections;
    let say = |line: String| eprintln!("ceiling: {line}");

    let kafka_per_s = ceiling::kafka(&scratch_kafka, &topic, &pool, args.step).await?;
    say(format!("Kafka alone: {kafka_per_s:.0} events/s"));
    let mut cql = Vec::new();
    // More in flight than the database keeps up with ends in client-side
    // timeouts (on the three-node cluster here, from 256 or 1,024): such a step
    // ends the climb, and the best step before it stands.
    let overloaded = |what: &str, concurrency: usize, error: anyhow::Error| {
        say(format!(
            "{what}, {concurrency} in flight: failed ({error:#}); not going higher"
        ));
    };
    for &concurrency in &args.concurrency {
        let events_per_s =
            match ceiling::cql(&scratch_keyspace, &pool, concurrency, args.step).await {
                Ok(events_per_s) => events_per_s,
                Err(error) if !cql.is_empty() => {
                    overloaded("CQL alone", concurrency, error);
                    break;
                }
                Err(error) => return Err(error),
            };
        say(format!(
            "CQL alone at {concurrency} in flight: {events_per_s:.0} events/s"
        ));
        cql.push(CqlStep {
            concurrency,
            events_per_s,
        });
    }
    let best = cql
        .iter()
        .max_by(|a, b| a.events_per_s.total_cmp(&b.events_per_s))
        .map_or((64, 0.0), |s| (s.concurrency, s.events_per_s));
    // Each slot also waits for Kafka's acknowledgement, so more in flight
    // than CQL alone needs; the best of a few.
    let mut colocated: f64 = 0.0;
    for concurrency in [best.0, best.0 * 4, best.0 * 16] {
        let rate = match ceiling::colocated(
            &scratch_kafka,
            &topic,
            &scratch_keyspace,
            &pool,
            concurrency,
            args.step,
        )
        .await
        {
            Ok(rate) => rate,
            Err(error) if colocated > 0.0 => {
                overloaded("together", concurrency, error);
                break;
            }
            Err(error) => return Err(error),
        };
        say(format!(
            "together (each event produced and inserted), {concurrency} in flight: {rate:.0} events/s"
        ));
        colocated = colocated.max(rate);
    }
    target::drop_keyspace(&scratch_keyspace).await?;

    let bar = progress(args.pipeline_step, "pipeline")?;
    let (pipeline, steps) = ceiling::pipeline(
        &target,
        colocated.max(1.0),
        args.search_steps,
        args.pipeline_step,
        &bar,
    )
    .await?;
    bar.finish_and_clear();
    let report = CeilingReport {
        command: "ceiling",
        message_bytes: pool.mean_bytes(),
        kafka_per_s,
        cql_per_s: best.1,
        cql,
        colocated_per_s: colocated,
        pipeline_per_s: pipeline,
        pipeline_steps: steps,
        pipeline_over_colocated: pipeline / colocated.max(f64::MIN_POSITIVE),
        pipeline_over_min_single: pipeline / kafka_per_s.min(best.1).max(f64::MIN_POSITIVE),
    };
    report::print_table(
        "ceilings (events/s)",
        &["measure", "events/s"],
        vec![
            vec![
                "Kafka produce alone".into(),
                format!("{:.0}", report.kafka_per_s),
            ],
            vec![
                format!("CQL inserts alone (best, {} in flight)", best.0),
                format!("{:.0}", report.cql_per_s),
            ],
            vec![
                "co-located: each event produced and inserted".into(),
                format!("{:.0}", report.colocated_per_s),
            ],
            vec![
                "pipeline, lag bounded".into(),
                format!("{:.0}", report.pipeline_per_s),
            ],
            vec![
                "pipeline / co-located".into(),
                format!("{:.2}", report.pipeline_over_colocated),
            ],
            vec![
                "pipeline / min(Kafka, CQL)".into(),
                format!("{:.2}", report.pipeline_over_min_single),
            ],
        ],
    );
    let json = report::write_json(&dir, &report)?;
    println!("report: {}", json.display());
    target.stop().await
}

#[derive(Debug, Serialize)]
struct ChaosReport {
    command: &'static str,
    cluster: bool,
    rate: u32,
    load_s: f64,
    outage_s: f64,
    scenarios: Vec<chaos::Outcome>,
}

async fn run_chaos(args: chaos::ChaosArgs) -> anyhow::Result<()> {
    let dir = report::directory(args.report_dir.as_deref(), "chaos")?;
    let count = args.wanted()?.len();
    let bar = ProgressBar::new(count as u64).with_style(ProgressStyle::with_template(
        "chaos {bar:30} {pos}/{len}  {msg}",
    )?);
    let outcomes = chaos::run(&args, &bar).await?;
    bar.finish_and_clear();
    report::print_table(
        if args.cluster {
            "fault matrix on the three-node cluster (exact accounting by event id; API during the fault)"
        } else {
            "fault matrix (exact accounting by event id; API during the fault)"
        },
        &[
            "scenario",
            "accepted",
            "stored",
            "lost",
            "duplicated",
            "counts",
            "API lists",
            "API OK %",
            "API p99 ms",
            "converged s",
        ],
        outcomes
            .iter()
            .map(|o| {
                vec![
                    o.scenario.clone(),
                    o.accepted.to_string(),
                    o.stored.to_string(),
                    o.lost.to_string(),
                    o.duplicated.to_string(),
                    if o.counts_exact { "exact" } else { "WRONG" }.to_owned(),
                    if o.api_exact { "exact" } else { "WRONG" }.to_owned(),
                    format!("{:.1}", o.api_during_fault.ok_share * 100.0),
                    format!("{:.0}", o.api_during_fault.p99_ms),
                    format!("{:.0}", o.seconds_to_converge),
                ]
            })
            .collect(),
    );
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed())
        .map(|o| o.scenario.clone())
        .collect();
    let json = report::write_json(
        &dir,
        &ChaosReport {
            command: "chaos",
            cluster: args.cluster,
            rate: args.rate,
            load_s: args.load.as_secs_f64(),
            outage_s: args.outage.as_secs_f64(),
            scenarios: outcomes,
        },
    )?;
    println!("report: {}", json.display());
    anyhow::ensure!(
        failed.is_empty(),
        "scenarios with lost, duplicated or miscounted events: {failed:?}"
    );
    Ok(())
}

#[derive(Debug, Serialize)]
struct TracingReport {
    command: &'static str,
    off: tracing_cost::Pass,
    on: tracing_cost::Pass,
    /// Throughput with tracing on ÷ off.
    on_over_off: f64,
}

async fn run_tracing_cost(args: tracing_cost::TracingArgs) -> anyhow::Result<()> {
    let dir = report::directory(args.report_dir.as_deref(), "tracing-cost")?;
    eprintln!(
        "tracing-cost: draining {} events twice (tracing off, then on)",
        args.events
    );
    let (off, on) = tracing_cost::run(&args).await?;
    let on_over_off = on.events_per_s / off.events_per_s.max(f64::MIN_POSITIVE);
    report::print_table(
        "enricher + writer draining the same backlog",
        &["tracing", "events", "seconds", "events/s", "spans exported"],
        [&off, &on]
            .iter()
            .map(|p| {
                vec![
                    if p.tracing {
                        "on (OTLP, every span)"
                    } else {
                        "off"
                    }
                    .to_owned(),
                    p.events.to_string(),
                    format!("{:.1}", p.seconds),
                    format!("{:.0}", p.events_per_s),
                    p.spans.to_string(),
                ]
            })
            .collect(),
    );
    println!("throughput with tracing on / off: {on_over_off:.2}");
    let json = report::write_json(
        &dir,
        &TracingReport {
            command: "tracing-cost",
            off,
            on,
            on_over_off,
        },
    )?;
    println!("report: {}", json.display());
    Ok(())
}

#[derive(Debug, Serialize)]
struct StreamsReport {
    command: &'static str,
    streams: usize,
    per_connection: usize,
    rate: f64,
    duration_s: f64,
    produced: u64,
    received: u64,
    expected: u64,
    ended_early: Vec<String>,
    latency: Percentiles,
    rss_before_streams_mib: f64,
    rss_streams_open_mib: f64,
    rss_peak_mib: f64,
    cpu_mean_percent: f64,
    cpu_max_percent: f64,
    samples: Vec<streams::Sample>,
}

async fn run_streams(args: streams::StreamsArgs) -> anyhow::Result<()> {
    let dir = report::directory(args.report_dir.as_deref(), "streams")?;
    let bar = progress(args.duration, "streams")?;
    let run = streams::run(&args, &bar).await?;
    bar.finish_and_clear();
    let cpu: Vec<f64> = run.samples.iter().map(|s| s.cpu_percent).collect();
    let report = StreamsReport {
        command: "streams",
        streams: args.streams,
        per_connection: args.per_connection,
        rate: args.rate,
        duration_s: args.duration.as_secs_f64(),
        produced: run.produced,
        received: run.received,
        expected: run.expected,
        ended_early: run.ended.clone(),
        latency: Percentiles::of_micros(&run.latency),
        rss_before_streams_mib: run.rss_before_mib,
        rss_streams_open_mib: run.rss_open_mib,
        rss_peak_mib: run
            .samples
            .iter()
            .map(|s| s.rss_mib)
            .fold(run.rss_open_mib, f64::max),
        cpu_mean_percent: cpu.iter().sum::<f64>() / cpu.len().max(1) as f64,
        cpu_max_percent: cpu.iter().copied().fold(0.0, f64::max),
        samples: run.samples.clone(),
    };
    let l = report.latency;
    report::print_table(
        &format!(
            "{} live alert streams on one API process, {} alerts/s for {:?}",
            args.streams, args.rate, args.duration
        ),
        &[
            "received / expected",
            "ended early",
            "latency p50 ms",
            "p99",
            "p99.9",
            "max",
            "RSS MiB before / open / peak",
            "CPU % mean / max",
        ],
        vec![vec![
            format!("{} / {}", report.received, report.expected),
            report.ended_early.len().to_string(),
            format!("{:.1}", l.p50_ms),
            format!("{:.1}", l.p99_ms),
            format!("{:.1}", l.p999_ms),
            format!("{:.1}", l.max_ms),
            format!(
                "{:.0} / {:.0} / {:.0}",
                report.rss_before_streams_mib, report.rss_streams_open_mib, report.rss_peak_mib
            ),
            format!(
                "{:.1} / {:.1}",
                report.cpu_mean_percent, report.cpu_max_percent
            ),
        ]],
    );
    for reason in report.ended_early.iter().take(3) {
        println!("a stream ended early: {reason}");
    }
    let json = report::write_json(&dir, &report)?;
    let png = report::chart(
        &dir,
        "vigil-loadtest streams",
        &[],
        &[Curve {
            name: "raised to received",
            histogram: &run.latency,
        }],
    )?;
    println!("report: {} and {}", json.display(), png.display());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The in-process services log problems only; RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,librdkafka=error,rdkafka=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Fill(args) => fill::run(args).await,
        Command::Ingest(args) => run_ingest(args).await,
        Command::Query(args) => run_query(args).await,
        Command::Ceiling(args) => run_ceiling(args).await,
        Command::Chaos(args) => run_chaos(args).await,
        Command::TracingCost(args) => run_tracing_cost(args).await,
        Command::Streams(args) => run_streams(args).await,
        Command::Alerts(args) => alerts::run(args).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
