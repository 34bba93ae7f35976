//! The query subcommands: events, plate trajectories, coverage, counts,
//! fleet status and live alerts, through vigil-api.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use futures::StreamExt;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{
    AlertKind, CountEventsRequest, CoverageRequest, CoverageState, DetectionKind,
    EnrichedDetection, FleetStatusRequest, ListEventsRequest, PlateTrajectoryRequest,
    StreamAlertsRequest,
};

use crate::client::{
    Api, ApiArgs, Row, WindowArgs, alert_kind_name, kind_name, local_time, place, state_name,
    timestamp,
};

/// `plate` → `DETECTION_KIND_PLATE`'s number.
fn detection_kind(name: &str) -> Result<i32, String> {
    DetectionKind::from_short_name(name)
        .map(Into::into)
        .ok_or_else(|| expected(DetectionKind::ALL.iter().map(|k| k.short_name())))
}

/// `watchlist` → `ALERT_KIND_WATCHLIST`'s number.
pub(crate) fn alert_kind(name: &str) -> Result<i32, String> {
    AlertKind::from_short_name(name)
        .map(Into::into)
        .ok_or_else(|| expected(AlertKind::ALL.iter().map(|k| k.short_name())))
}

fn expected(names: impl Iterator<Item = &'static str>) -> String {
    format!("expected one of {}", names.collect::<Vec<_>>().join(", "))
}

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Province, commune or village zone id; default the token's zone.
    #[arg(long, default_value = "")]
    zone: String,
    #[command(flatten)]
    window: WindowArgs,
    /// Only these kinds (repeatable): plate, vehicle, person, intrusion, ...
    #[arg(long = "kind", value_parser = detection_kind)]
    kinds: Vec<i32>,
    /// Only these cameras (repeatable).
    #[arg(long = "camera")]
    cameras: Vec<String>,
    /// Events per page.
    #[arg(long, default_value_t = 20, value_parser = vigil_runtime::flags::count::<u32>)]
    page_size: u32,
    /// Pages to fetch (newest first).
    #[arg(long, default_value_t = 1, value_parser = vigil_runtime::flags::count::<u32>)]
    pages: u32,
}

fn event_row(event: EnrichedDetection) -> Row {
    let detection = event.detection.unwrap_or_default();
    let team = event.team.unwrap_or_default();
    vec![
        (
            "captured (UTC+7)",
            local_time(detection.captured_at.as_ref()),
        ),
        ("kind", kind_name(detection.kind)),
        ("plate", detection.plate.map(|p| p.text).unwrap_or_default()),
        ("camera", detection.camera_id),
        ("zone", place(&event.zone_path)),
        (
            "on duty",
            format!("{} {}", team.on_duty_name, team.on_duty_phone)
                .trim()
                .to_owned(),
        ),
        (
            "watchlist",
            event
                .watchlist_hits
                .iter()
                .map(|h| format!("{} (p{})", h.plate_normalized, h.priority))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ]
}

pub async fn events(args: EventsArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let mut client = QueryServiceClient::new(api.channel.clone());
    let mut rows = Vec::new();
    let mut page_token = String::new();
    for _ in 0..args.pages.max(1) {
        let page = client
            .list_events(api.request(ListEventsRequest {
                zone_id: args.zone.clone(),
                window: Some(args.window.window()?),
                kinds: args.kinds.clone(),
                camera_ids: args.cameras.clone(),
                page_size: args.page_size,
                page_token: page_token.clone(),
            }))
            .await?
            .into_inner();
        rows.extend(page.events.into_iter().map(event_row));
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    api.print(&rows);
    if !page_token.is_empty() && !api.json {
        println!("(more: raise --pages)");
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct TrajectoryArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The plate, as read or typed, e.g. 36A-123.45.
    plate: String,
    /// Why you are searching (case number, incident); audited.
    #[arg(long)]
    reason: String,
    /// Also match reads that differ by OCR confusions (0/O/D, 1/I/L, 8/B, ...).
    #[arg(long)]
    fuzzy: bool,
    #[command(flatten)]
    window: WindowArgs,
    /// Also show, for each commune passed, which cameras were offline or
    /// silent in the window (not seen vs not covered).
    #[arg(long)]
    coverage: bool,
}

pub async fn trajectory(args: TrajectoryArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let mut client = QueryServiceClient::new(api.channel.clone());
    let window = args.window.window()?;
    let mut sightings = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .plate_trajectory(api.request(PlateTrajectoryRequest {
                plate: args.plate.clone(),
                window: Some(window),
                fuzzy: args.fuzzy,
                reason: args.reason.clone(),
                page_size: 1000,
                page_token: page_token.clone(),
            }))
            .await?
            .into_inner();
        sightings.extend(page.sightings);
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    let mut communes: Vec<String> = sightings.iter().map(|s| s.commune_id.clone()).collect();
    communes.sort();
    communes.dedup();
    let rows: Vec<Row> = sightings
        .into_iter()
        .map(|s| {
            vec![
                ("captured (UTC+7)", local_time(s.captured_at.as_ref())),
                ("plate read", s.plate_text),
                ("fuzzy", if s.fuzzy { "yes".into() } else { String::new() }),
                ("camera", s.camera_id),
                ("zone", place(&s.zone_path)),
                ("position", format!("{:.5}, {:.5}", s.latitude, s.longitude)),
            ]
        })
        .collect();
    api.print(&rows);
    if args.coverage {
        let mut coverage = Vec::new();
        for commune in communes {
            let report = client
                .coverage(api.request(CoverageRequest {
                    zone_id: commune.clone(),
                    window: Some(window),
                }))
                .await?
                .into_inner();
            coverage.push(vec![
                ("commune", commune),
                ("covered", report.covered.to_string()),
                ("silent", report.silent.to_string()),
                ("offline", report.offline.to_string()),
                ("unknown", report.unknown.to_string()),
            ]);
        }
        api.print(&coverage);
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Zone id; default the token's zone.
    #[arg(long, default_value = "")]
    zone: String,
    #[command(flatten)]
    window: WindowArgs,
    /// List only cameras that were not covering (offline, silent, unknown).
    #[arg(long)]
    gaps: bool,
}

pub async fn coverage(args: CoverageArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let report = QueryServiceClient::new(api.channel.clone())
        .coverage(api.request(CoverageRequest {
            zone_id: args.zone.clone(),
            window: Some(args.window.window()?),
        }))
        .await?
        .into_inner();
    let rows: Vec<Row> = report
        .cameras
        .into_iter()
        .filter(|c| !args.gaps || c.state != CoverageState::Covered as i32)
        .map(|c| {
            vec![
                ("camera", c.camera_id),
                ("village", c.village_id),
                ("state", state_name(c.state)),
                ("events", c.events.to_string()),
                (
                    "offline (UTC+7)",
                    c.offline
                        .iter()
                        .map(|w| {
                            format!(
                                "{} – {}",
                                local_time(w.start.as_ref()),
                                local_time(w.end.as_ref())
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            ]
        })
        .collect();
    api.print(&rows);
    if !api.json {
        println!(
            "covered {}, silent {}, offline {}, unknown {}",
            report.covered, report.silent, report.offline, report.unknown
        );
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct CountsArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Province, commune or village zone id; default the token's zone.
    #[arg(long, default_value = "")]
    zone: String,
    #[command(flatten)]
    window: WindowArgs,
    /// Only these kinds (repeatable).
    #[arg(long = "kind", value_parser = detection_kind)]
    kinds: Vec<i32>,
    /// For the province: one row per commune.
    #[arg(long)]
    per_commune: bool,
}

pub async fn counts(args: CountsArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let report = QueryServiceClient::new(api.channel.clone())
        .count_events(api.request(CountEventsRequest {
            zone_id: args.zone.clone(),
            window: Some(args.window.window()?),
            kinds: args.kinds.clone(),
            per_commune: args.per_commune,
        }))
        .await?
        .into_inner();
    let rows: Vec<Row> = report
        .counts
        .into_iter()
        .map(|c| {
            vec![
                ("zone", c.zone_id),
                ("hour (UTC+7)", local_time(c.hour.as_ref())),
                ("kind", kind_name(c.kind)),
                ("count", c.count.to_string()),
            ]
        })
        .collect();
    api.print(&rows);
    if !api.json {
        println!("total {}", report.total);
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Zone id; default the token's zone.
    #[arg(long, default_value = "")]
    zone: String,
    /// List every camera, not only the per-commune summary.
    #[arg(long)]
    cameras: bool,
}

pub async fn fleet(args: FleetArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let report = QueryServiceClient::new(api.channel.clone())
        .fleet_status(api.request(FleetStatusRequest {
            zone_id: args.zone.clone(),
            include_cameras: args.cameras,
        }))
        .await?
        .into_inner();
    if args.cameras {
        let rows: Vec<Row> = report
            .cameras
            .into_iter()
            .map(|c| {
                vec![
                    ("camera", c.camera_id),
                    ("village", c.village_id),
                    ("state", state_name(c.state).replace("covered", "online")),
                    (
                        "last heartbeat (UTC+7)",
                        local_time(c.last_heartbeat.as_ref()),
                    ),
                    ("buffered", c.buffer_depth.to_string()),
                ]
            })
            .collect();
        api.print(&rows);
        return Ok(());
    }
    let rows: Vec<Row> = report
        .communes
        .into_iter()
        .map(|c| {
            vec![
                ("commune", c.commune_id),
                ("name", c.name),
                ("cameras", c.cameras.to_string()),
                ("online", c.online.to_string()),
                ("offline", c.offline.to_string()),
                ("never heard", c.unknown.to_string()),
                ("buffered", c.buffered.to_string()),
                (
                    "oldest heartbeat (UTC+7)",
                    local_time(c.oldest_heartbeat.as_ref()),
                ),
            ]
        })
        .collect();
    api.print(&rows);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Zone id; default the token's zone.
    #[arg(long, default_value = "")]
    zone: String,
    /// Replay alerts raised since then first (RFC 3339); default only new ones.
    #[arg(long)]
    from: Option<DateTime<FixedOffset>>,
    /// Only these kinds (repeatable): watchlist, camera_offline, camera_online.
    #[arg(long = "kind", value_parser = alert_kind)]
    kinds: Vec<i32>,
    /// Stop after this many alerts.
    #[arg(long)]
    limit: Option<usize>,
    /// Stop after this long (e.g. 30s); default never.
    #[arg(long, value_parser = vigil_runtime::flags::duration)]
    duration: Option<Duration>,
}

pub async fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let mut stream = QueryServiceClient::new(api.channel.clone())
        .stream_alerts(api.request(StreamAlertsRequest {
            zone_id: args.zone.clone(),
            since: args.from.map(|at| timestamp(at.with_timezone(&Utc))),
            kinds: args.kinds.clone(),
        }))
        .await?
        .into_inner();
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let mut seen = 0;
    while args.limit.is_none_or(|limit| seen < limit) {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, stream.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            None => stream.next().await,
        };
        let Some(alert) = next else { break };
        let alert = alert.context("the alert stream failed")?;
        seen += 1;
        // A move on a stored alert reads as its new state and who made it.
        let (state, summary) = match &alert.change {
            None => ("raised".to_owned(), alert.summary.clone()),
            Some(change) => (
                change.state.clone(),
                format!(
                    "{} by {}{}",
                    change.action,
                    change.actor,
                    if change.detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", change.detail)
                    }
                ),
            ),
        };
        let row = vec![
            ("raised (UTC+7)", local_time(alert.raised_at.as_ref())),
            ("alert", alert.alert_id.clone()),
            ("state", state),
            ("kind", alert_kind_name(alert.kind)),
            ("priority", alert.priority.to_string()),
            ("camera", alert.camera_id.clone()),
            ("zone", place(&alert.zone_path)),
            ("summary", summary),
        ];
        print_streamed(&api, &row);
    }
    Ok(())
}

/// Prints one streamed row at once (a line of JSON, or tab-separated).
fn print_streamed(api: &Api, row: &Row) {
    if api.json {
        let object: serde_json::Map<String, serde_json::Value> = row
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone().into()))
            .collect();
        println!("{}", serde_json::Value::Object(object));
    } else {
        println!(
            "{}",
            row.iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join("  ")
        );
    }
}
