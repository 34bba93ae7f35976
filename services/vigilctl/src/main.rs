use clap::Parser;
use tracing_subscriber::EnvFilter;
use vigilctl::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,librdkafka=error,rdkafka=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    Cli::parse().run().await
}
