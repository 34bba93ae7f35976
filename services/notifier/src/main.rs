use clap::Parser;
use vigil_notifier::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    config.log.init();
    let shutdown = vigil_runtime::shutdown_on_signals();
    let result = vigil_notifier::run(config, shutdown).await;
    // The last spans, then exit.
    vigil_runtime::telemetry::shutdown().await;
    Ok(result?)
}
