//! `vigilctl setup`: everything a cluster needs before the services start.
//! The local stack runs it after start-up; the Helm chart runs it as a hook.

use anyhow::Context;
use vigil_bus::{KafkaArgs, TopicPlan};
use vigil_store::StoreArgs;

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    topics: TopicPlan,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn run(args: SetupArgs) -> anyhow::Result<()> {
    let created = args
        .kafka
        .ensure_topics(&args.topics)
        .await
        .with_context(|| format!("creating topics on {}", args.kafka.brokers))?;
    if created.is_empty() {
        println!("topics: all present");
    } else {
        println!("topics: created {}", created.join(", "));
    }

    let session = args.store.connect().await?;
    let applied = vigil_store::migrate(
        &session,
        &args.store.keyspace,
        args.store.keyspace_replication,
    )
    .await
    .with_context(|| format!("migrating keyspace {}", args.store.keyspace))?;
    if applied.is_empty() {
        println!("schema: keyspace {} up to date", args.store.keyspace);
    } else {
        println!(
            "schema: keyspace {} applied migrations {applied:?}",
            args.store.keyspace
        );
    }
    Ok(())
}
