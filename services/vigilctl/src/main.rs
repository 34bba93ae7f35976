use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use vigilctl::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,librdkafka=error,rdkafka=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", vigilctl::report::error_text(&error));
            ExitCode::FAILURE
        }
    }
}
