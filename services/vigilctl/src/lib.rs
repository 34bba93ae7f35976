//! `vigilctl`, the operator's command line: prepares a cluster (topics and
//! schema) and runs the demo. Each subcommand is a module with its own
//! arguments and a `run`.

pub mod demo;
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
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Setup(args) => setup::run(args).await,
            Command::Demo(args) => demo::run(args).await,
        }
    }
}
