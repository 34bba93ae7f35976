//! `vigilctl events`: the latest events of one camera, as stored by the
//! writer — a first look at what the pipeline produced.

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use vigil_proto::v1::DetectionKind;
use vigil_store::{EventStore, StoreArgs};

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Camera whose events to list.
    #[arg(long)]
    camera: String,
    /// How many of the newest events today (UTC) to show.
    #[arg(long, default_value_t = 10)]
    limit: i32,
}

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let keyspace = args.store.keyspace().await?;
    let store = EventStore::prepare(&keyspace, args.store.event_ttl)
        .await
        .with_context(|| {
            format!(
                "preparing keyspace {} (run `vigilctl setup` first)",
                args.store.keyspace
            )
        })?;
    let events = store
        .recent_by_camera(&args.camera, Utc::now().timestamp_millis(), args.limit)
        .await?;
    if events.is_empty() {
        println!("no events from {} today", args.camera);
        return Ok(());
    }
    // Vietnam time: what the province's operators read.
    let local = FixedOffset::east_opt(7 * 3600).context("UTC+7")?;
    println!(
        "{:<19}  {:<10}  {:<13}  {:<30}  on duty",
        "captured (UTC+7)", "kind", "plate", "zone"
    );
    for event in events {
        let Some(detection) = event.detection else {
            continue;
        };
        let captured = detection
            .captured_at
            .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
            .map(|t| {
                t.with_timezone(&local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        let kind = DetectionKind::try_from(detection.kind)
            .map(|k| {
                k.as_str_name()
                    .trim_start_matches("DETECTION_KIND_")
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let plate = detection.plate.map(|p| p.text).unwrap_or_default();
        let zone = event
            .zone_path
            .iter()
            .skip(1)
            .cloned()
            .collect::<Vec<_>>()
            .join(" > ");
        let duty = event
            .team
            .map(|t| format!("{} {}", t.on_duty_name, t.on_duty_phone))
            .unwrap_or_default();
        let flags = if event.watchlist_hits.is_empty() {
            ""
        } else {
            "  WATCHLIST"
        };
        println!("{captured:<19}  {kind:<10}  {plate:<13}  {zone:<30}  {duty}{flags}");
    }
    Ok(())
}
