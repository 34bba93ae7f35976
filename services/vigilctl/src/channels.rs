//! `vigilctl channels`: where each zone's alerts are delivered by
//! vigil-notifier (a team's village, else its commune, else the province),
//! set directly in the database like tokens. A channel is checked before it
//! is stored: an http(s) URL without credentials, a known format and
//! language, a phone number or nothing as recipient, a zone the registry
//! knows.

use anyhow::{Context, bail};
use chrono::Utc;
use vigil_notify::channel::{Channel, Format, Language};
use vigil_store::{NotificationStore, RegistryStore, StoreArgs, StoredChannel};

#[derive(Debug, clap::Args)]
pub struct ChannelsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: ChannelsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ChannelsCommand {
    /// Set (or replace) the channel of a village, commune or the province.
    Set {
        /// The zone whose alerts go there, e.g. th.ba-thuoc.
        #[arg(long)]
        zone: String,
        /// The receiver's webhook (http or https, no user or password).
        #[arg(long)]
        url: String,
        /// webhook (Vigil's JSON) or sms_gateway ({"to", "text", "reference"}).
        #[arg(long, default_value = "webhook", value_parser = parse_format)]
        format: Format,
        /// Message language: vi or en.
        #[arg(long, default_value = "vi", value_parser = parse_language)]
        language: Language,
        /// For SMS gateways: the phone to text; default the on-duty
        /// member's phone.
        #[arg(long, default_value = "")]
        recipient: String,
        /// Who set it, kept with the channel.
        #[arg(long, default_value = "vigilctl")]
        by: String,
    },
    /// Every channel.
    List {
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Remove a zone's channel (its alerts then go to the next zone up).
    Remove {
        #[arg(long)]
        zone: String,
    },
}

fn parse_format(value: &str) -> Result<Format, String> {
    Format::parse(value).ok_or_else(|| format!("{value:?} is neither webhook nor sms_gateway"))
}

fn parse_language(value: &str) -> Result<Language, String> {
    Language::parse(value).ok_or_else(|| format!("{value:?} is neither vi nor en"))
}

pub async fn run(args: ChannelsArgs) -> anyhow::Result<()> {
    let keyspace = args.store.keyspace().await?;
    let channels = NotificationStore::prepare(&keyspace)
        .await
        .context("preparing the channel table (run `vigilctl setup` first)")?;
    match args.command {
        ChannelsCommand::Set {
            zone,
            url,
            format,
            language,
            recipient,
            by,
        } => {
            let channel = Channel::new(zone.as_str(), &url, format, language, recipient.as_str())?;
            let registry = RegistryStore::prepare(&keyspace).await?.load().await?;
            if registry.zone(&zone).is_none() {
                bail!("--zone {zone:?} is not in the registry (seed or import it first)");
            }
            channels
                .put_channel(&StoredChannel {
                    zone_id: channel.zone_id.clone(),
                    url: channel.url.clone(),
                    format: channel.format.as_str().to_owned(),
                    language: channel.language.as_str().to_owned(),
                    recipient: channel.recipient.clone(),
                    updated_by: by,
                    updated_at: Some(Utc::now()),
                })
                .await?;
            println!(
                "alerts of {} now go to {} ({}, {})",
                channel.zone_id, channel.url, channel.format, channel.language
            );
        }
        ChannelsCommand::List { json } => {
            let all = channels.channels().await?;
            if json {
                let objects: Vec<serde_json::Value> = all
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "zone_id": c.zone_id,
                            "url": c.url,
                            "format": c.format,
                            "language": c.language,
                            "recipient": c.recipient,
                            "updated_by": c.updated_by,
                            "updated_at": c.updated_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&objects)?);
                return Ok(());
            }
            if all.is_empty() {
                println!("(no channels: alerts cannot be delivered until one is set)");
            }
            for c in &all {
                println!(
                    "{:<28} {:<12} {:<3} {}",
                    c.zone_id, c.format, c.language, c.url
                );
            }
        }
        ChannelsCommand::Remove { zone } => {
            channels.remove_channel(&zone).await?;
            println!("removed the channel of {zone} (if it had one)");
        }
    }
    Ok(())
}
