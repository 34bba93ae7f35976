//! `vigilctl token`: issue, list and revoke API tokens, directly in the
//! database (the API itself cannot mint tokens). A token is shown once, when
//! issued; only the SHA-256 of its secret is stored.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::ValueEnum;
use serde::Serialize;
use vigil_domain::ZoneLevel;
use vigil_proto::v1::Role;
use vigil_store::{RegistryStore, StoreArgs, TokenRecord, TokenStore, mint_token};

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: TokenCommand,
}

/// The roles a token can carry, as typed on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    /// Provincial operations center (scope: the province).
    ProvinceOperator,
    /// Commune police (scope: a commune).
    CommunePolice,
    /// Village team captain (scope: a village).
    TeamCaptain,
    /// Reads the audit log and extraction records (scope: the province).
    Auditor,
}

impl RoleArg {
    fn of(role: Role) -> Option<Self> {
        match role {
            Role::ProvinceOperator => Some(Self::ProvinceOperator),
            Role::CommunePolice => Some(Self::CommunePolice),
            Role::TeamCaptain => Some(Self::TeamCaptain),
            Role::Auditor => Some(Self::Auditor),
            Role::Unspecified => None,
        }
    }

    fn role(self) -> Role {
        match self {
            Self::ProvinceOperator => Role::ProvinceOperator,
            Self::CommunePolice => Role::CommunePolice,
            Self::TeamCaptain => Role::TeamCaptain,
            Self::Auditor => Role::Auditor,
        }
    }

    /// The zone level the role's scope must be.
    fn level(self) -> ZoneLevel {
        match self {
            Self::ProvinceOperator | Self::Auditor => ZoneLevel::Province,
            Self::CommunePolice => ZoneLevel::Commune,
            Self::TeamCaptain => ZoneLevel::Village,
        }
    }

    /// As typed after `--role`: `team-captain`.
    fn name(self) -> String {
        self.to_possible_value()
            .map(|value| value.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// A role's number as typed after `--role`, e.g. `team-captain`
/// (`unspecified` for a number no role has).
pub fn role_name(role: i32) -> String {
    Role::try_from(role)
        .ok()
        .and_then(RoleArg::of)
        .map_or_else(|| "unspecified".to_owned(), RoleArg::name)
}

fn level_name(level: ZoneLevel) -> &'static str {
    match level {
        ZoneLevel::Province => "province",
        ZoneLevel::Commune => "commune",
        ZoneLevel::Village => "village",
    }
}

/// A token as `token list --json` and `token issue --json` print it.
#[derive(Debug, Serialize)]
struct TokenView {
    token_id: String,
    name: String,
    role: String,
    zone: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    /// `active`, `expired` or `revoked`.
    state: &'static str,
    /// The bearer token itself: only when issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl TokenView {
    fn of(record: &TokenRecord, now: DateTime<Utc>) -> Self {
        let state = match (record.revoked_at, record.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(at)) if at <= now => "expired",
            (None, _) => "active",
        };
        Self {
            token_id: record.token_id.clone(),
            name: record.name.clone(),
            role: role_name(record.role),
            zone: record.zone_id.clone(),
            created_at: record.created_at,
            expires_at: record.expires_at,
            revoked_at: record.revoked_at,
            state,
            token: None,
        }
    }
}

/// How long a `--console` token lives: one shift.
const CONSOLE_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Mint a token and print it (shown only this once).
    Issue {
        /// Who the token is for, e.g. "ops-center-desk-1".
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The zone it may see: the province for operators and auditors, a
        /// commune for police, a village for captains.
        #[arg(long)]
        zone: String,
        /// Lifetime, e.g. 90days; default no expiry (12h with --console).
        #[arg(long, value_parser = vigil_runtime::flags::duration)]
        expires_in: Option<Duration>,
        /// A token for signing in to the operations console: short-lived
        /// (12 hours, a shift, unless --expires-in says otherwise).
        #[arg(long)]
        console: bool,
        /// Also write the token to this file (mode 600).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Print the token and its record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (ids and holders, never secrets).
    List {
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id; the API refuses it from the next call.
    Revoke { token_id: String },
}

pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let keyspace = args.store.keyspace().await?;
    let tokens = TokenStore::prepare(&keyspace)
        .await
        .context("preparing the token table (run `vigilctl setup` first)")?;
    match args.command {
        TokenCommand::Issue {
            name,
            role,
            zone,
            expires_in,
            console,
            output,
            json,
        } => {
            let registry = RegistryStore::prepare(&keyspace).await?.load().await?;
            let Some(found) = registry.zone(&zone) else {
                bail!("--zone {zone:?} is not in the registry (seed or import it first)");
            };
            if found.level() != role.level() {
                bail!(
                    "a {} token needs a {}-level zone; {zone} is {}-level",
                    role.name(),
                    level_name(role.level()),
                    level_name(found.level())
                );
            }
            let expires_at = expires_in
                .or(console.then_some(CONSOLE_TOKEN_LIFETIME))
                .map(|d| chrono::Duration::from_std(d).map(|d| Utc::now() + d))
                .transpose()
                .context("--expires-in is too long")?;
            let (token, record) = mint_token(&name, role.role().into(), &zone, expires_at);
            tokens.insert(&record).await?;
            if let Some(path) = output {
                write_secret(&path, &token)?;
                eprintln!("token {} written to {}", record.token_id, path.display());
            }
            if json {
                let view = TokenView {
                    token: Some(token),
                    ..TokenView::of(&record, Utc::now())
                };
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                println!("{token}");
            }
        }
        TokenCommand::List { json } => {
            let now = Utc::now();
            let views: Vec<TokenView> = tokens
                .list()
                .await?
                .iter()
                .map(|t| TokenView::of(t, now))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
                return Ok(());
            }
            for t in &views {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(at), _) => format!("revoked {}", at.to_rfc3339()),
                    (None, Some(at)) if t.state == "expired" => {
                        format!("expired {}", at.to_rfc3339())
                    }
                    (None, Some(at)) => format!("expires {}", at.to_rfc3339()),
                    (None, None) => t.state.to_owned(),
                };
                println!(
                    "{}  {:<24} {:<22} {:<24} {state}",
                    t.token_id, t.name, t.role, t.zone
                );
            }
        }
        TokenCommand::Revoke { token_id } => {
            if !tokens.revoke(&token_id, Utc::now()).await? {
                bail!("no token {token_id}");
            }
            println!("revoked {token_id}");
        }
    }
    Ok(())
}

fn write_secret(path: &std::path::Path, token: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{token}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_print_as_typed() {
        assert_eq!(role_name(Role::TeamCaptain.into()), "team-captain");
        assert_eq!(
            role_name(Role::ProvinceOperator.into()),
            "province-operator"
        );
        assert_eq!(role_name(0), "unspecified");
        assert_eq!(role_name(99), "unspecified");
    }
}
