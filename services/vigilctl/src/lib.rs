//! `vigilctl`, the operator's command line: prepares a cluster (topics and
//! schema), manages the registry and API tokens, runs the demo, and queries
//! vigil-api (events, trajectories, coverage, counts, fleet, alerts,
//! watchlist, extractions, audit) printing tables or `--json`. Each
//! subcommand is a module (or a function of one) with its own arguments.

pub mod alerting;
pub mod channels;
pub mod client;
pub mod demo;
pub mod manage;
pub mod query;
pub mod registry;
pub mod report;
pub mod setup;
pub mod token;

use clap::{Parser, Subcommand};

/// Operate a Vigil deployment.
#[derive(Debug, Parser)]
#[command(name = "vigilctl", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the Kafka topics and apply the CQL migrations (idempotent).
    Setup(setup::SetupArgs),
    /// Send one detection through Kafka into the database and read it back.
    Demo(demo::DemoArgs),
    /// Seed, import, export and inspect the registry of zones, teams and cameras.
    Registry(registry::RegistryArgs),
    /// Issue, list and revoke API tokens.
    Token(token::TokenArgs),
    /// Where each zone's alerts are delivered (vigil-notifier).
    Channels(channels::ChannelsArgs),
    /// Events in a zone and time window, newest first.
    Events(query::EventsArgs),
    /// Where a plate was seen (needs --reason; audited).
    Trajectory(query::TrajectoryArgs),
    /// Which cameras of a zone were offline or silent in a window.
    Coverage(query::CoverageArgs),
    /// Events per zone, hour and kind.
    Counts(query::CountsArgs),
    /// Cameras online and offline per commune.
    Fleet(query::FleetArgs),
    /// Follow live alerts, or list, show and act on stored ones.
    Alerts(alerting::AlertCommands),
    /// Zones under a parent.
    Zones(manage::ZonesArgs),
    /// The team of a village.
    Team(manage::TeamArgs),
    /// Cameras of a zone.
    Cameras(manage::CamerasArgs),
    /// List, add and remove watchlist entries.
    Watchlist(manage::WatchlistArgs),
    /// Extract a case's events with snapshot hashes (audited).
    Extract(manage::ExtractArgs),
    /// Extractions per case or commune, and statistics.
    Extractions(manage::ExtractionsArgs),
    /// The audit log (auditors).
    Audit(manage::AuditArgs),
    /// Who the token is.
    Whoami(manage::WhoAmIArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Setup(args) => setup::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Registry(args) => registry::run(args).await,
            Command::Token(args) => token::run(args).await,
            Command::Channels(args) => channels::run(args).await,
            Command::Events(args) => query::events(args).await,
            Command::Trajectory(args) => query::trajectory(args).await,
            Command::Coverage(args) => query::coverage(args).await,
            Command::Counts(args) => query::counts(args).await,
            Command::Fleet(args) => query::fleet(args).await,
            Command::Alerts(args) => alerting::run(args).await,
            Command::Zones(args) => manage::zones(args).await,
            Command::Team(args) => manage::team(args).await,
            Command::Cameras(args) => manage::cameras(args).await,
            Command::Watchlist(args) => manage::watchlist(args).await,
            Command::Extract(args) => manage::extract(args).await,
            Command::Extractions(args) => manage::extractions(args).await,
            Command::Audit(args) => manage::audit(args).await,
            Command::Whoami(args) => manage::whoami(args).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn defaults_parse() {
        use clap::Parser;
        for args in [
            &["vigilctl", "setup"][..],
            &["vigilctl", "demo"],
            &["vigilctl", "registry", "seed"],
            &["vigilctl", "registry", "show", "--zone", "th"],
            &[
                "vigilctl",
                "events",
                "--token",
                "t",
                "--camera",
                "cam-000001",
            ],
            &[
                "vigilctl",
                "trajectory",
                "--token",
                "t",
                "36A-123.45",
                "--reason",
                "case 7",
            ],
            &[
                "vigilctl", "counts", "--token", "t", "--since", "24h", "--kind", "plate",
            ],
            &[
                "vigilctl", "token", "issue", "--name", "n", "--role", "auditor", "--zone", "th",
            ],
            &[
                "vigilctl",
                "extractions",
                "--token",
                "t",
                "--stats",
                "--since",
                "365days",
            ],
        ] {
            super::Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}
