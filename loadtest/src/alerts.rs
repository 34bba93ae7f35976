//! The alert loop under load: background detections at a fixed rate (half
//! the pipeline's sustained rate, say) through the in-process enricher and
//! writer, plus `--alerts-per-s` detections reading a watch-listed plate.
//! The notifier (in process too) delivers each alert to a webhook receiver
//! in this process, which acknowledges it through the API at once, as a
//! team captain on duty would. Measures alert raised → webhook received,
//! the AcknowledgeAlert call, and acknowledgement → seen on an open live
//! stream (what every console waits for); ends with the run's AlertStats.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use clap::Parser as _;
use futures::StreamExt;
use hdrhistogram::Histogram;
use prost::Message as _;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use vigil_bus::registry::RegistryPublisher;
use vigil_domain::{RegistryEntity, WatchlistEntry, ZoneLevel, to_timestamp};
use vigil_proto::v1::alert_service_client::AlertServiceClient;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{
    AcknowledgeAlertRequest, AlertStatsRequest, AlertStatsRow, StreamAlertsRequest, TimeWindow,
};
use vigil_store::{NotificationStore, RegistryStore, StoredChannel};
use vigil_synth::DetectionFactory;

use crate::ingest::{self, LoadArgs};
use crate::query::{authorized, token};
use crate::report::{self, Percentiles};
use crate::target::{Target, TargetArgs};

/// The watch-listed plate the alert detections read.
const PLATE: &str = "36A99999";

#[derive(Debug, clap::Args)]
pub(crate) struct AlertsArgs {
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Background detections per second (e.g. half the sustained rate
    /// `vigil-loadtest ceiling` measured).
    #[arg(long, default_value_t = 500.0, value_parser = vigil_runtime::flags::rate)]
    pub(crate) rate: f64,
    /// Detections per second reading the watch-listed plate: alerts raised.
    #[arg(long, default_value_t = 2.0, value_parser = vigil_runtime::flags::rate)]
    pub(crate) alerts_per_s: f64,
    /// How long load is offered.
    #[arg(long, default_value = "60s", value_parser = vigil_runtime::flags::duration)]
    pub(crate) duration: Duration,
    #[arg(long)]
    pub(crate) report_dir: Option<std::path::PathBuf>,
}

/// What one run measured.
#[derive(Debug, Serialize)]
pub(crate) struct AlertsReport {
    command: &'static str,
    background_rate: f64,
    background_accepted_per_s: f64,
    alerts_offered: u64,
    webhooks_received: u64,
    acknowledged: u64,
    acks_seen_live: u64,
    raised_to_webhook: Percentiles,
    ack_call: Percentiles,
    ack_to_live: Percentiles,
    stats_total: Option<StatsRow>,
}

/// The AlertStats total, as reported.
#[derive(Debug, Serialize)]
struct StatsRow {
    raised: u32,
    acknowledged: u32,
    acknowledged_within_target: u32,
    median_seconds_to_acknowledge: f64,
    p90_seconds_to_acknowledge: f64,
    escalated: u32,
    open: u32,
}

impl From<&AlertStatsRow> for StatsRow {
    fn from(row: &AlertStatsRow) -> Self {
        Self {
            raised: row.raised,
            acknowledged: row.acknowledged,
            acknowledged_within_target: row.acknowledged_within_target,
            median_seconds_to_acknowledge: row.median_seconds_to_acknowledge,
            p90_seconds_to_acknowledge: row.p90_seconds_to_acknowledge,
            escalated: row.escalated,
            open: row.open,
        }
    }
}

/// A team notification the receiver took.
struct Webhook {
    alert_id: String,
    raised_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn micros(d: chrono::Duration) -> u64 {
    u64::try_from(d.num_microseconds().unwrap_or(0))
        .unwrap_or(0)
        .max(1)
}

pub(crate) async fn run(args: AlertsArgs) -> anyhow::Result<()> {
    if args.target.external {
        bail!(
            "alerts runs its own notifier and receiver: it needs a fresh namespace (no --external)"
        );
    }
    let target = Target::start(&args.target, "alerts").await?;
    let province = target
        .registry
        .zones()
        .find(|z| z.level() == ZoneLevel::Province)
        .context("the registry has no province")?
        .id
        .clone();

    // A province-wide watchlist entry for the plate.
    let entry = RegistryEntity::Watchlist(WatchlistEntry {
        id: "wl-loadtest-alerts".to_owned(),
        plate: PLATE.parse()?,
        reason: "vigil-loadtest alerts".to_owned(),
        priority: 1,
        expires_at: None,
        owner_zone_id: province.clone(),
        created_by: None,
    });
    RegistryPublisher::new(&target.kafka)?
        .publish(std::iter::once(entry.clone()))
        .await?;
    RegistryStore::prepare(&target.keyspace)
        .await?
        .upsert(&entry)
        .await?;

    // The receiver, as the province's channel.
    let (webhooks_tx, mut webhooks_rx) = mpsc::unbounded_channel::<Webhook>();
    let router = axum::Router::new().fallback(move |body: Bytes| {
        let webhooks_tx = webhooks_tx.clone();
        async move {
            let received_at = Utc::now();
            let Ok(message) = serde_json::from_slice::<serde_json::Value>(&body) else {
                return axum::http::StatusCode::BAD_REQUEST;
            };
            let raised_at = message["raised_at"]
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok());
            if let (Some(alert_id), Some(raised_at), Some("team")) = (
                message["alert_id"].as_str(),
                raised_at,
                message["audience"].as_str(),
            ) {
                let _ = webhooks_tx.send(Webhook {
                    alert_id: alert_id.to_owned(),
                    raised_at: raised_at.with_timezone(&Utc),
                    received_at,
                });
            }
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/province", listener.local_addr()?);
    let receiver = tokio::spawn(async move { axum::serve(listener, router).await });
    NotificationStore::prepare(&target.keyspace)
        .await?
        .put_channel(&StoredChannel {
            zone_id: province.clone(),
            url,
            format: "webhook".to_owned(),
            language: "vi".to_owned(),
            recipient: String::new(),
            updated_by: "vigil-loadtest".to_owned(),
            updated_at: Some(Utc::now()),
        })
        .await?;

    // The notifier.
    let key_file =
        std::env::temp_dir().join(format!("vigil-loadtest-{}.key", target.keyspace.name()));
    std::fs::write(
        &key_file,
        uuid::Uuid::new_v4().simple().to_string().repeat(2),
    )?;
    let notifier_config = vigil_notifier::Config::try_parse_from([
        "vigil-notifier",
        "--kafka-brokers",
        &target.kafka.brokers,
        "--topic-prefix",
        &target.kafka.topic_prefix,
        "--cql-nodes",
        &target.store.nodes,
        "--keyspace",
        &target.store.keyspace,
        "--group",
        &format!("{}-notifier", target.keyspace.name()),
        "--signing-key-file",
        &key_file.display().to_string(),
        "--metrics-listen",
        "127.0.0.1:0",
        "--log",
        "warn",
    ])?;
    let stop_notifier = tokio_util::sync::CancellationToken::new();
    let notifier = tokio::spawn(vigil_notifier::run(notifier_config, stop_notifier.clone()));

    // The API: a token, a live stream watching for acknowledgements.
    let token = token(&target.keyspace, &target.registry, None).await?;
    let channel = Channel::from_shared(target.api.clone())?.connect().await?;
    let acks_seen: Arc<Mutex<HashMap<String, DateTime<Utc>>>> = Arc::default();
    let mut live = QueryServiceClient::new(channel.clone())
        .stream_alerts(authorized(StreamAlertsRequest::default(), &token))
        .await?
        .into_inner();
    let watcher = {
        let acks_seen = Arc::clone(&acks_seen);
        tokio::spawn(async move {
            while let Some(Ok(alert)) = live.next().await {
                if alert
                    .change
                    .as_ref()
                    .is_some_and(|c| c.action == "acknowledge")
                {
                    acks_seen
                        .lock()
                        .expect("not poisoned")
                        .insert(alert.alert_id, Utc::now());
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Each webhook is acknowledged at once.
    let acks_sent: Arc<Mutex<HashMap<String, DateTime<Utc>>>> = Arc::default();
    let acker = {
        let (channel, token, acks_sent) = (channel.clone(), token.clone(), Arc::clone(&acks_sent));
        tokio::spawn(async move {
            let mut raised_to_webhook = histogram();
            let mut ack_call = histogram();
            let mut calls = futures::stream::FuturesUnordered::new();
            let mut received = 0u64;
            let mut acknowledged = 0u64;
            loop {
                tokio::select! {
                    webhook = webhooks_rx.recv() => {
                        let Some(webhook) = webhook else { break };
                        received += 1;
                        let _ = raised_to_webhook
                            .record(micros(webhook.received_at - webhook.raised_at));
                        let mut client = AlertServiceClient::new(channel.clone());
                        let request = authorized(
                            AcknowledgeAlertRequest {
                                alert_id: webhook.alert_id.clone(),
                                note: "on my way".to_owned(),
                            },
                            &token,
                        );
                        let acks_sent = Arc::clone(&acks_sent);
                        calls.push(async move {
                            acks_sent
                                .lock()
                                .expect("not poisoned")
                                .insert(webhook.alert_id, Utc::now());
                            let started = Instant::now();
                            let ok = client.acknowledge_alert(request).await.is_ok();
                            (ok, started.elapsed())
                        });
                    }
                    Some((ok, took)) = calls.next(), if !calls.is_empty() => {
                        if ok {
                            acknowledged += 1;
                            let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                            let _ = ack_call.record(micros.max(1));
                        }
                    }
                }
            }
            while let Some((ok, took)) = calls.next().await {
                if ok {
                    acknowledged += 1;
                    let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                    let _ = ack_call.record(micros.max(1));
                }
            }
            (received, acknowledged, raised_to_webhook, ack_call)
        })
    };

    // The load: background detections, and the watch-listed ones.
    let started_at = Utc::now();
    let bar = crate::progress(args.duration, "alerts")?;
    let load = LoadArgs::fixed(args.rate, args.duration);
    let background = ingest::run(&target, &load, &bar, "");
    let alerting = produce_alerts(&target, args.alerts_per_s, args.duration);
    let (background, offered) = tokio::join!(background, alerting);
    let (background, offered) = (background?, offered?);
    bar.finish_and_clear();

    // Wait for the last deliveries and acknowledgements, then stop.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(60) {
        let seen = acks_seen.lock().expect("not poisoned").len() as u64;
        if seen >= offered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stats = AlertServiceClient::new(channel.clone())
        .alert_stats(authorized(
            AlertStatsRequest {
                zone_id: String::new(),
                window: Some(TimeWindow {
                    start: Some(to_timestamp(started_at - chrono::Duration::minutes(1))),
                    end: Some(to_timestamp(Utc::now() + chrono::Duration::minutes(1))),
                }),
            },
            &token,
        ))
        .await?
        .into_inner();
    stop_notifier.cancel();
    notifier.await??;
    receiver.abort();
    watcher.abort();
    // The receiver's sender went with the router: the acker ends.
    let (received, acknowledged, raised_to_webhook, ack_call) = acker.await?;
    let mut ack_to_live = histogram();
    {
        let sent = acks_sent.lock().expect("not poisoned");
        let seen = acks_seen.lock().expect("not poisoned");
        for (alert_id, seen_at) in seen.iter() {
            if let Some(sent_at) = sent.get(alert_id) {
                let _ = ack_to_live.record(micros(*seen_at - *sent_at));
            }
        }
    }
    let _ = std::fs::remove_file(&key_file);

    let report = AlertsReport {
        command: "alerts",
        background_rate: args.rate,
        background_accepted_per_s: background.accepted_per_s(),
        alerts_offered: offered,
        webhooks_received: received,
        acknowledged,
        acks_seen_live: ack_to_live.len(),
        raised_to_webhook: Percentiles::of_micros(&raised_to_webhook),
        ack_call: Percentiles::of_micros(&ack_call),
        ack_to_live: Percentiles::of_micros(&ack_to_live),
        stats_total: stats.total.as_ref().map(StatsRow::from),
    };
    let row = |name: &str, p: &Percentiles| {
        vec![
            name.to_owned(),
            p.count.to_string(),
            format!("{:.1}", p.p50_ms),
            format!("{:.1}", p.p90_ms),
            format!("{:.1}", p.p99_ms),
            format!("{:.1}", p.max_ms),
        ]
    };
    report::print_table(
        &format!(
            "alert loop: {} alerts over {:.0} background detections/s accepted",
            offered, report.background_accepted_per_s
        ),
        &["latency", "count", "p50 ms", "p90", "p99", "max"],
        vec![
            row("raised → webhook received", &report.raised_to_webhook),
            row("AcknowledgeAlert call", &report.ack_call),
            row("acknowledged → seen on a live stream", &report.ack_to_live),
        ],
    );
    if let Some(total) = &stats.total {
        report::print_table(
            "AlertStats of the run (province total)",
            &[
                "raised",
                "acknowledged",
                "within target",
                "median ack s",
                "p90 ack s",
                "escalated",
                "open",
            ],
            vec![vec![
                total.raised.to_string(),
                total.acknowledged.to_string(),
                total.acknowledged_within_target.to_string(),
                format!("{:.2}", total.median_seconds_to_acknowledge),
                format!("{:.2}", total.p90_seconds_to_acknowledge),
                total.escalated.to_string(),
                total.open.to_string(),
            ]],
        );
    }
    let dir = report::directory(args.report_dir.as_deref(), "alerts")?;
    report::write_json(&dir, &report)?;
    target.stop().await
}

/// Produces `per_s` detections a second reading the watch-listed plate,
/// from cameras across the fleet, for `duration`; returns how many.
async fn produce_alerts(target: &Target, per_s: f64, duration: Duration) -> anyhow::Result<u64> {
    let cameras = target.cameras(usize::MAX);
    let producer: FutureProducer = target.kafka.producer_config().create()?;
    let topic = target.kafka.topics().detections;
    let mut factory = DetectionFactory::new(99);
    let interval = Duration::from_secs_f64(1.0 / per_s);
    let started = Instant::now();
    let mut produced: u64 = 0;
    while started.elapsed() < duration {
        let due = started + interval.mul_f64(produced as f64);
        tokio::time::sleep_until(due.into()).await;
        let camera =
            &cameras[usize::try_from(produced.wrapping_mul(7_919)).unwrap_or(0) % cameras.len()];
        let mut detection = factory.plate_read(camera, Utc::now(), PLATE, false);
        detection.site_id = "loadtest".to_owned();
        detection.received_at = detection.captured_at;
        let payload = detection.encode_to_vec();
        let headers = OwnedHeaders::new().insert(Header {
            key: "vigil-schema",
            value: Some(vigil_proto::SCHEMA_VERSION),
        });
        producer
            .send(
                FutureRecord::to(&topic)
                    .key(&detection.camera_id)
                    .payload(&payload)
                    .headers(headers),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(error, _)| error)
            .context("producing a watch-listed detection")?;
        produced += 1;
    }
    Ok(produced)
}
