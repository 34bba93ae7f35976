//! `vigilctl token`: issue, list and revoke API tokens, directly in the
//! database (the API itself cannot mint tokens). A token is shown once, when
//! issued; only the SHA-256 of its secret is stored.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use vigil_domain::ZoneLevel;
use vigil_proto::v1::Role;
use vigil_store::{RegistryStore, StoreArgs, TokenStore, mint_token};

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
}

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
        /// Lifetime, e.g. 90days; default no expiry.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
        /// Also write the token to this file (mode 600).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// List tokens (ids and holders, never secrets).
    List,
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
            output,
        } => {
            let registry = RegistryStore::prepare(&keyspace).await?.load().await?;
            let Some(found) = registry.zone(&zone) else {
                bail!("--zone {zone:?} is not in the registry (seed or import it first)");
            };
            if found.level() != role.level() {
                bail!(
                    "a {role:?} token needs a {:?}-level zone; {zone} is a {:?}",
                    role.level(),
                    found.level()
                );
            }
            let expires_at = expires_in
                .map(|d| chrono::Duration::from_std(d).map(|d| Utc::now() + d))
                .transpose()
                .context("--expires-in is too long")?;
            let (token, record) = mint_token(&name, role.role().into(), &zone, expires_at);
            tokens.insert(&record).await?;
            if let Some(path) = output {
                write_secret(&path, &token)?;
                eprintln!("token {} written to {}", record.token_id, path.display());
            }
            println!("{token}");
        }
        TokenCommand::List => {
            for t in tokens.list().await? {
                let role = Role::try_from(t.role).map_or("?", |r| r.as_str_name());
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(at), _) => format!("revoked {}", at.to_rfc3339()),
                    (None, Some(at)) if at <= Utc::now() => format!("expired {}", at.to_rfc3339()),
                    (None, Some(at)) => format!("expires {}", at.to_rfc3339()),
                    (None, None) => "active".to_owned(),
                };
                println!(
                    "{}  {:<24} {:<22} {:<24} {state}",
                    t.token_id, t.name, role, t.zone_id
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
