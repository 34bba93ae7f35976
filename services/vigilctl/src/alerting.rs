//! `vigilctl alerts`: follow live alerts (the default), or list, show and
//! act on stored alerts (acknowledge, assign, note, close), and report how
//! they were taken (stats).

use tonic::transport::Channel;
use vigil_proto::v1::alert_service_client::AlertServiceClient;
use vigil_proto::v1::{
    AcknowledgeAlertRequest, AddAlertNoteRequest, AlertOutcome, AlertState, AlertStatsRequest,
    AlertStatsRow, AssignAlertRequest, CloseAlertRequest, GetAlertRequest, ListAlertsRequest,
    StoredAlert,
};

use crate::client::{Api, ApiArgs, Row, WindowArgs, alert_kind_name, enum_name, local_time, place};
use crate::query;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AlertCommands {
    #[command(subcommand)]
    command: Option<AlertsCommand>,
    /// With no subcommand: follow live alerts.
    #[command(flatten)]
    follow: query::AlertsArgs,
}

#[derive(Debug, clap::Subcommand)]
enum AlertsCommand {
    /// Follow live alerts (what `vigilctl alerts` does with no subcommand).
    Follow(query::AlertsArgs),
    /// Stored alerts of a zone in a window, newest first, with their state.
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Zone id; default the token's zone.
        #[arg(long, default_value = "")]
        zone: String,
        #[command(flatten)]
        window: WindowArgs,
        /// Only these states (repeatable): raised, notified, escalated,
        /// acknowledged, closed.
        #[arg(long = "state", value_parser = state)]
        states: Vec<i32>,
        /// Only these kinds (repeatable): watchlist, camera_offline, camera_online.
        #[arg(long = "kind", value_parser = query::alert_kind)]
        kinds: Vec<i32>,
        /// Only this priority or higher (1 is highest).
        #[arg(long, default_value_t = 0)]
        max_priority: u32,
        /// Alerts per page.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One alert with its history.
    Show {
        #[command(flatten)]
        api: ApiArgs,
        alert_id: String,
    },
    /// Take an alert (acknowledge it).
    Ack {
        #[command(flatten)]
        api: ApiArgs,
        alert_id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Hand an alert to a member of the responsible team.
    Assign {
        #[command(flatten)]
        api: ApiArgs,
        alert_id: String,
        /// Member id (see `vigilctl team <village>`).
        member_id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Add a remark to an alert's history.
    Note {
        #[command(flatten)]
        api: ApiArgs,
        alert_id: String,
        note: String,
    },
    /// Close an acknowledged alert with its outcome.
    Close {
        #[command(flatten)]
        api: ApiArgs,
        alert_id: String,
        /// confirmed, false_positive, no_action or duplicate.
        #[arg(long, value_parser = outcome)]
        outcome: i32,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// How alerts were taken per commune: raised, acknowledged within
    /// target, median and p90 time to acknowledge, escalated, outcomes.
    Stats {
        #[command(flatten)]
        api: ApiArgs,
        /// Zone id; default the token's zone.
        #[arg(long, default_value = "")]
        zone: String,
        #[command(flatten)]
        window: WindowArgs,
    },
}

fn state(name: &str) -> Result<i32, String> {
    AlertState::from_str_name(&format!("ALERT_STATE_{}", name.to_ascii_uppercase()))
        .filter(|s| *s != AlertState::Unspecified)
        .map(Into::into)
        .ok_or_else(|| "expected raised, notified, escalated, acknowledged or closed".to_owned())
}

fn outcome(name: &str) -> Result<i32, String> {
    AlertOutcome::from_str_name(&format!("ALERT_OUTCOME_{}", name.to_ascii_uppercase()))
        .filter(|o| *o != AlertOutcome::Unspecified)
        .map(Into::into)
        .ok_or_else(|| "expected confirmed, false_positive, no_action or duplicate".to_owned())
}

pub async fn run(args: AlertCommands) -> anyhow::Result<()> {
    let command = match args.command {
        None => return query::alerts(args.follow).await,
        Some(AlertsCommand::Follow(follow)) => return query::alerts(follow).await,
        Some(command) => command,
    };
    match command {
        AlertsCommand::Follow(_) => unreachable!("handled above"),
        AlertsCommand::List {
            api,
            zone,
            window,
            states,
            kinds,
            max_priority,
            limit,
        } => {
            let api = api.connect().await?;
            let listed = AlertServiceClient::new(api.channel.clone())
                .list_alerts(api.request(ListAlertsRequest {
                    zone_id: zone,
                    window: Some(window.window()?),
                    states,
                    kinds,
                    max_priority,
                    page_size: limit,
                    page_token: String::new(),
                }))
                .await?
                .into_inner();
            let rows: Vec<Row> = listed.alerts.iter().map(summary).collect();
            api.print(&rows);
        }
        AlertsCommand::Show { api, alert_id } => {
            let api = api.connect().await?;
            let shown = AlertServiceClient::new(api.channel.clone())
                .get_alert(api.request(GetAlertRequest { alert_id }))
                .await?
                .into_inner()
                .alert
                .unwrap_or_default();
            api.print(&[summary(&shown)]);
            let history: Vec<Row> = shown
                .history
                .iter()
                .map(|h| {
                    vec![
                        ("at (UTC+7)", local_time(h.at.as_ref())),
                        ("action", h.action.clone()),
                        ("by", h.actor.clone()),
                        ("role", h.role.clone()),
                        ("state", state_name(h.to_state)),
                        ("detail", h.detail.clone()),
                    ]
                })
                .collect();
            api.print(&history);
            let deliveries: Vec<Row> = shown
                .deliveries
                .iter()
                .map(|d| {
                    vec![
                        ("delivery at (UTC+7)", local_time(d.at.as_ref())),
                        ("to", d.audience.clone()),
                        ("attempt", d.attempt.to_string()),
                        ("outcome", d.outcome.clone()),
                        (
                            "status",
                            match d.http_status {
                                0 => "-".to_owned(),
                                status => status.to_string(),
                            },
                        ),
                        ("ms", d.latency_ms.to_string()),
                        ("channel", d.channel_zone_id.clone()),
                        ("endpoint", d.endpoint.clone()),
                        ("error", d.error.clone()),
                    ]
                })
                .collect();
            api.print(&deliveries);
        }
        AlertsCommand::Ack {
            api,
            alert_id,
            note,
        } => {
            act(api, async |client, api| {
                let request = api.request(AcknowledgeAlertRequest { alert_id, note });
                Ok(client.acknowledge_alert(request).await?.into_inner().alert)
            })
            .await?;
        }
        AlertsCommand::Assign {
            api,
            alert_id,
            member_id,
            note,
        } => {
            act(api, async |client, api| {
                let request = api.request(AssignAlertRequest {
                    alert_id,
                    member_id,
                    note,
                });
                Ok(client.assign_alert(request).await?.into_inner().alert)
            })
            .await?;
        }
        AlertsCommand::Note {
            api,
            alert_id,
            note,
        } => {
            act(api, async |client, api| {
                let request = api.request(AddAlertNoteRequest { alert_id, note });
                Ok(client.add_alert_note(request).await?.into_inner().alert)
            })
            .await?;
        }
        AlertsCommand::Close {
            api,
            alert_id,
            outcome,
            note,
        } => {
            act(api, async |client, api| {
                let request = api.request(CloseAlertRequest {
                    alert_id,
                    outcome,
                    note,
                });
                Ok(client.close_alert(request).await?.into_inner().alert)
            })
            .await?;
        }
        AlertsCommand::Stats { api, zone, window } => {
            let api = api.connect().await?;
            let stats = AlertServiceClient::new(api.channel.clone())
                .alert_stats(api.request(AlertStatsRequest {
                    zone_id: zone,
                    window: Some(window.window()?),
                }))
                .await?
                .into_inner();
            let rows: Vec<Row> = stats
                .communes
                .iter()
                .chain(stats.total.as_ref())
                .map(stats_row)
                .collect();
            api.print(&rows);
        }
    }
    Ok(())
}

/// One line of `alerts stats`.
fn stats_row(row: &AlertStatsRow) -> Row {
    let seconds = |s: f64| {
        if row.acknowledged == 0 {
            "-".to_owned()
        } else {
            humantime::format_duration(std::time::Duration::from_secs_f64(s.round())).to_string()
        }
    };
    let mut cells = vec![
        (
            "commune",
            if row.commune_id.is_empty() {
                "(total)".to_owned()
            } else {
                format!("{} {}", row.commune_id, row.commune_name)
            },
        ),
        ("raised", row.raised.to_string()),
        ("acked", row.acknowledged.to_string()),
        ("in target", row.acknowledged_within_target.to_string()),
        ("median ack", seconds(row.median_seconds_to_acknowledge)),
        ("p90 ack", seconds(row.p90_seconds_to_acknowledge)),
        ("escalated", row.escalated.to_string()),
        ("open", row.open.to_string()),
    ];
    for count in &row.outcomes {
        let name = match AlertOutcome::try_from(count.outcome) {
            Ok(AlertOutcome::Confirmed) => "confirmed",
            Ok(AlertOutcome::FalsePositive) => "false pos.",
            Ok(AlertOutcome::NoAction) => "no action",
            Ok(AlertOutcome::Duplicate) => "duplicate",
            _ => continue,
        };
        cells.push((name, count.count.to_string()));
    }
    cells
}

/// Connects, makes one move on an alert, and prints the alert as it now
/// stands.
async fn act(
    args: ApiArgs,
    call: impl AsyncFnOnce(
        &mut AlertServiceClient<Channel>,
        &Api,
    ) -> Result<Option<StoredAlert>, tonic::Status>,
) -> anyhow::Result<()> {
    let api = args.connect().await?;
    let mut client = AlertServiceClient::new(api.channel.clone());
    let moved = call(&mut client, &api).await?.unwrap_or_default();
    api.print(&[summary(&moved)]);
    Ok(())
}

fn state_name(state: i32) -> String {
    enum_name(
        AlertState::try_from(state).ok().map(|s| s.as_str_name()),
        "ALERT_STATE_",
    )
}

/// One line per alert: when, what, where, and where it stands.
fn summary(stored: &StoredAlert) -> Row {
    let alert = stored.alert.clone().unwrap_or_default();
    vec![
        ("alert", alert.alert_id),
        ("raised (UTC+7)", local_time(alert.raised_at.as_ref())),
        ("kind", alert_kind_name(alert.kind)),
        ("priority", alert.priority.to_string()),
        ("zone", place(&alert.zone_path)),
        ("state", state_name(stored.state)),
        ("by", stored.acknowledged_by.clone()),
        ("assignee", stored.assignee.clone()),
        (
            "outcome",
            enum_name(
                AlertOutcome::try_from(stored.outcome)
                    .ok()
                    .filter(|o| *o != AlertOutcome::Unspecified)
                    .map(|o| o.as_str_name()),
                "ALERT_OUTCOME_",
            ),
        ),
        ("summary", alert.summary),
    ]
}
