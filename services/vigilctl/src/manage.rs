//! Registry lookups, watchlist management, extractions and the audit log,
//! through vigil-api.

use chrono::{DateTime, FixedOffset, Utc};
use vigil_proto::v1::audit_service_client::AuditServiceClient;
use vigil_proto::v1::extraction_service_client::ExtractionServiceClient;
use vigil_proto::v1::registry_service_client::RegistryServiceClient;
use vigil_proto::v1::{
    AddWatchlistEntryRequest, AuditEntry, CreateExtractionRequest, Extraction, ExtractionQuery,
    ExtractionStatsRequest, GetExtractionRequest, GetTeamRequest, ListAuditRequest,
    ListCamerasRequest, ListExtractionsRequest, ListWatchlistRequest, ListZonesRequest,
    RemoveWatchlistEntryRequest, WhoAmIRequest, list_extractions_request::Filter,
};

use crate::client::{ApiArgs, Row, WindowArgs, enum_name, kind_name, local_time, timestamp};
use crate::token::role_name;

#[derive(Debug, clap::Args)]
pub struct ZonesArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// List the zones under this one; default the top level.
    #[arg(long, default_value = "")]
    parent: String,
}

pub async fn zones(args: ZonesArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let zones = RegistryServiceClient::new(api.channel.clone())
        .list_zones(api.request(ListZonesRequest {
            parent_id: args.parent.clone(),
        }))
        .await?
        .into_inner()
        .zones;
    let rows: Vec<Row> = zones
        .into_iter()
        .map(|z| {
            let kind = enum_name(z.kind().as_str_name().into(), "ZONE_KIND_");
            vec![
                ("zone", z.id),
                ("name", z.name),
                ("kind", kind),
                ("police unit", z.police_unit),
            ]
        })
        .collect();
    api.print(&rows);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct TeamArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The village zone whose team to show.
    #[arg(long)]
    zone: String,
}

pub async fn team(args: TeamArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let team = RegistryServiceClient::new(api.channel.clone())
        .get_team(api.request(GetTeamRequest {
            zone_id: args.zone.clone(),
        }))
        .await?
        .into_inner();
    let rows: Vec<Row> = team
        .members
        .into_iter()
        .map(|m| {
            let role = enum_name(m.role().as_str_name().into(), "MEMBER_ROLE_");
            vec![
                ("team", team.name.clone()),
                ("member", m.name),
                ("role", role),
                ("phone", m.phone),
                (
                    "on duty",
                    if m.id == team.on_duty_member_id {
                        "yes".into()
                    } else {
                        String::new()
                    },
                ),
            ]
        })
        .collect();
    api.print(&rows);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct CamerasArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Zone id; default the token's zone.
    #[arg(long, default_value = "")]
    zone: String,
}

pub async fn cameras(args: CamerasArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let cameras = RegistryServiceClient::new(api.channel.clone())
        .list_cameras(api.request(ListCamerasRequest {
            zone_id: args.zone.clone(),
        }))
        .await?
        .into_inner()
        .cameras;
    let rows: Vec<Row> = cameras
        .into_iter()
        .map(|c| {
            vec![
                ("camera", c.id.clone()),
                ("village", c.zone_id.clone()),
                ("site", c.site_id.clone()),
                (
                    "kind",
                    enum_name(c.kind().as_str_name().into(), "CAMERA_KIND_"),
                ),
                (
                    "owner",
                    enum_name(c.owner().as_str_name().into(), "CAMERA_OWNER_"),
                ),
                ("position", format!("{:.5}, {:.5}", c.latitude, c.longitude)),
            ]
        })
        .collect();
    api.print(&rows);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct WatchlistArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: WatchlistCommand,
}

#[derive(Debug, clap::Subcommand)]
enum WatchlistCommand {
    /// Entries that alert in a zone.
    List {
        /// Zone id; default the token's zone.
        #[arg(long, default_value = "")]
        zone: String,
        /// Also expired entries.
        #[arg(long)]
        expired: bool,
    },
    /// Watch a plate (audited).
    Add {
        plate: String,
        /// Why (case, incident).
        #[arg(long)]
        reason: String,
        /// 1 (highest) to 5.
        #[arg(long, default_value_t = 3, value_parser = vigil_runtime::flags::count::<u32>)]
        priority: u32,
        /// When to stop watching (RFC 3339).
        #[arg(long)]
        expires: Option<DateTime<FixedOffset>>,
        /// Owning commune or village: the entry matches only there.
        /// Default the token's zone (commune police: their commune).
        #[arg(long, default_value = "")]
        zone: String,
        /// An entry of the whole province, matching everywhere (province
        /// operators only; never a default).
        #[arg(long)]
        province_wide: bool,
    },
    /// Stop watching (audited).
    Remove {
        entry_id: String,
        #[arg(long)]
        reason: String,
    },
}

pub async fn watchlist(args: WatchlistArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let mut client = RegistryServiceClient::new(api.channel.clone());
    let entries = match args.command {
        WatchlistCommand::List { zone, expired } => {
            client
                .list_watchlist(api.request(ListWatchlistRequest {
                    zone_id: zone,
                    include_expired: expired,
                }))
                .await?
                .into_inner()
                .entries
        }
        WatchlistCommand::Add {
            plate,
            reason,
            priority,
            expires,
            zone,
            province_wide,
        } => vec![
            client
                .add_watchlist_entry(api.request(AddWatchlistEntryRequest {
                    plate,
                    reason,
                    priority,
                    expires_at: expires.map(|at| timestamp(at.with_timezone(&Utc))),
                    owner_zone_id: zone,
                    province_wide,
                }))
                .await?
                .into_inner(),
        ],
        WatchlistCommand::Remove { entry_id, reason } => {
            client
                .remove_watchlist_entry(api.request(RemoveWatchlistEntryRequest {
                    entry_id: entry_id.clone(),
                    reason,
                }))
                .await?;
            println!("removed {entry_id}");
            return Ok(());
        }
    };
    let rows: Vec<Row> = entries
        .into_iter()
        .map(|e| {
            vec![
                ("entry", e.id),
                ("plate", e.plate_normalized),
                ("priority", e.priority.to_string()),
                ("reason", e.reason),
                ("zone", e.owner_zone_id),
                ("expires (UTC+7)", local_time(e.expires_at.as_ref())),
                ("by", e.created_by),
            ]
        })
        .collect();
    api.print(&rows);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Case id the extraction is for.
    #[arg(long = "case")]
    case_id: String,
    /// Why the data is needed; audited.
    #[arg(long)]
    reason: String,
    /// Zone whose events to extract; default the token's zone.
    #[arg(long, default_value = "")]
    zone: String,
    #[command(flatten)]
    window: WindowArgs,
    /// Extract the sightings of this plate instead of a zone's events.
    #[arg(long)]
    plate: Option<String>,
    /// With --plate: match OCR confusions too.
    #[arg(long)]
    fuzzy: bool,
    /// Only these cameras (repeatable).
    #[arg(long = "camera")]
    cameras: Vec<String>,
}

fn extraction_row(e: &Extraction) -> Row {
    vec![
        ("extraction", e.extraction_id.clone()),
        ("case", e.case_id.clone()),
        ("commune", e.commune_id.clone()),
        ("created (UTC+7)", local_time(e.created_at.as_ref())),
        ("by", e.requester_name.clone()),
        ("events", e.event_count.to_string()),
        ("manifest sha256", e.manifest_sha256.clone()),
    ]
}

pub async fn extract(args: ExtractArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let extraction = ExtractionServiceClient::new(api.channel.clone())
        .create_extraction(api.request(CreateExtractionRequest {
            case_id: args.case_id.clone(),
            reason: args.reason.clone(),
            query: Some(ExtractionQuery {
                zone_id: args.zone.clone(),
                window: Some(args.window.window()?),
                kinds: Vec::new(),
                camera_ids: args.cameras.clone(),
                plate: args.plate.clone().unwrap_or_default(),
                fuzzy: args.fuzzy,
            }),
        }))
        .await?
        .into_inner();
    api.print(&[extraction_row(&extraction)]);
    let items: Vec<Row> = extraction
        .items
        .into_iter()
        .map(|i| {
            vec![
                ("event", i.event_id),
                ("captured (UTC+7)", local_time(i.captured_at.as_ref())),
                ("camera", i.camera_id),
                ("kind", kind_name(i.kind)),
                ("snapshot", i.snapshot_uri),
                ("sha256", i.snapshot_sha256),
            ]
        })
        .collect();
    api.print(&items);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ExtractionsArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Extractions of this case.
    #[arg(long = "case", conflicts_with_all = ["commune", "id", "stats"])]
    case_id: Option<String>,
    /// Extractions filed under this commune.
    #[arg(long, conflicts_with_all = ["id", "stats"])]
    commune: Option<String>,
    /// One extraction with its items' manifest hash.
    #[arg(long, conflicts_with = "stats")]
    id: Option<String>,
    /// Extractions and distinct cases per commune over --since/--from/--to.
    #[arg(long)]
    stats: bool,
    #[command(flatten)]
    window: WindowArgs,
}

pub async fn extractions(args: ExtractionsArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let mut client = ExtractionServiceClient::new(api.channel.clone());
    if args.stats {
        let stats = client
            .extraction_stats(api.request(ExtractionStatsRequest {
                window: Some(args.window.window()?),
            }))
            .await?
            .into_inner();
        let rows: Vec<Row> = stats
            .communes
            .into_iter()
            .map(|c| {
                vec![
                    ("commune", c.commune_id),
                    ("extractions", c.extractions.to_string()),
                    ("cases", c.cases.to_string()),
                    ("events", c.events.to_string()),
                ]
            })
            .collect();
        api.print(&rows);
        if !api.json {
            println!(
                "{} extractions -> {} cases ({} events)",
                stats.extractions, stats.cases, stats.events
            );
        }
        return Ok(());
    }
    let list = match (args.case_id, args.commune, args.id) {
        (_, _, Some(id)) => vec![
            client
                .get_extraction(api.request(GetExtractionRequest { extraction_id: id }))
                .await?
                .into_inner(),
        ],
        (Some(case_id), _, _) => {
            client
                .list_extractions(api.request(ListExtractionsRequest {
                    filter: Some(Filter::CaseId(case_id)),
                    limit: 0,
                }))
                .await?
                .into_inner()
                .extractions
        }
        (None, Some(commune), None) => {
            client
                .list_extractions(api.request(ListExtractionsRequest {
                    filter: Some(Filter::CommuneId(commune)),
                    limit: 0,
                }))
                .await?
                .into_inner()
                .extractions
        }
        (None, None, None) => anyhow::bail!("give --case, --commune, --id or --stats"),
    };
    let rows: Vec<Row> = list.iter().map(extraction_row).collect();
    api.print(&rows);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    window: WindowArgs,
    /// Only this token's calls.
    #[arg(long)]
    token_id: Option<String>,
    /// Only this action, e.g. PlateTrajectory, CreateExtraction.
    #[arg(long)]
    action: Option<String>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let entries = AuditServiceClient::new(api.channel.clone())
        .list_audit(api.request(ListAuditRequest {
            window: Some(args.window.window()?),
            token_id: args.token_id.clone().unwrap_or_default(),
            action: args.action.clone().unwrap_or_default(),
            limit: args.limit,
        }))
        .await?
        .into_inner()
        .entries;
    if api.json {
        // The query as structured fields rather than one line of text.
        let objects: Vec<serde_json::Value> = entries.iter().map(audit_json).collect();
        println!("{}", serde_json::to_string_pretty(&objects)?);
        return Ok(());
    }
    let rows: Vec<Row> = entries
        .into_iter()
        .map(|e| {
            vec![
                ("at (UTC+7)", local_time(e.at.as_ref())),
                ("who", format!("{} ({})", e.actor_name, e.token_id)),
                ("role", role_name(e.role)),
                ("action", e.action),
                ("reason", e.reason),
                ("query", e.query),
                ("results", e.result_count.to_string()),
                ("outcome", e.outcome),
            ]
        })
        .collect();
    api.print(&rows);
    Ok(())
}

/// An audit entry for `--json`: the query as an object of its fields
/// (`{"plate": "36B123456", "fuzzy": "true", ...}`).
fn audit_json(entry: &AuditEntry) -> serde_json::Value {
    let query: serde_json::Map<String, serde_json::Value> = entry
        .query_fields
        .iter()
        .map(|field| (field.name.clone(), field.value.clone().into()))
        .collect();
    serde_json::json!({
        "at": entry
            .at
            .as_ref()
            .and_then(|at| DateTime::from_timestamp(at.seconds, 0))
            .map(|at| at.to_rfc3339()),
        "who": entry.actor_name,
        "token_id": entry.token_id,
        "role": role_name(entry.role),
        "action": entry.action,
        "reason": entry.reason,
        "query": query,
        "query_text": entry.query,
        "results": entry.result_count,
        "outcome": entry.outcome,
    })
}

#[derive(Debug, clap::Args)]
pub struct WhoAmIArgs {
    #[command(flatten)]
    api: ApiArgs,
}

pub async fn whoami(args: WhoAmIArgs) -> anyhow::Result<()> {
    let api = args.api.connect().await?;
    let me = RegistryServiceClient::new(api.channel.clone())
        .who_am_i(api.request(WhoAmIRequest {}))
        .await?
        .into_inner();
    api.print(&[vec![
        ("token", me.token_id.clone()),
        ("name", me.name.clone()),
        ("role", role_name(me.role)),
        ("zone", me.zone_id),
    ]]);
    Ok(())
}
