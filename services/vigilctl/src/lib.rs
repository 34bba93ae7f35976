//! `vigilctl`, the operator's command line: prepares a cluster (topics and
//! schema), manages the registry, and runs the demo. Each subcommand is a module with its own
//! arguments and a `run`.

pub mod demo;
pub mod events;
pub mod registry;
pub mod setup;

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
    /// The latest stored events of one camera.
    Events(events::EventsArgs),
    /// Seed, import, export and inspect the registry of zones, teams and cameras.
    Registry(registry::RegistryArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Setup(args) => setup::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Events(args) => events::run(args).await,
            Command::Registry(args) => registry::run(args).await,
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
            &["vigilctl", "events", "--camera", "cam-000001"],
        ] {
            super::Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}
