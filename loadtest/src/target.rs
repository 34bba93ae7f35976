//! What a load test runs against. By default a fresh namespace on the local
//! stack (its own topic prefix and keyspace, a synthetic province seeded
//! into both) with the enricher, writer and API running inside this process
//! — the real services' code, so the tool needs nothing else started. With
//! `--external`, an existing deployment: its topics and keyspace, and the
//! services already running.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vigil_bus::registry::RegistryPublisher;
use vigil_bus::{KafkaArgs, TopicPlan};
use vigil_domain::Registry;
use vigil_store::{Keyspace, RegistryStore, StoreArgs};
use vigil_synth::{ProvinceSpec, province};

/// Where to run and what to start.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TargetArgs {
    #[command(flatten)]
    pub(crate) kafka: KafkaArgs,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Use the deployment at --kafka-brokers/--topic-prefix/--keyspace as
    /// it is (services running, registry seeded) instead of a fresh
    /// namespace with in-process services.
    #[arg(long)]
    pub(crate) external: bool,
    /// With --external: the API's address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub(crate) api: String,
    /// With --external: consumer groups whose lag is sampled.
    #[arg(long, default_value = "vigil-enricher")]
    pub(crate) enricher_group: String,
    #[arg(long, default_value = "vigil-writer")]
    pub(crate) writer_group: String,
    /// Cameras in the fleet (fresh namespaces get a province with this many).
    #[arg(long, default_value_t = 10_000, value_parser = vigil_runtime::flags::count::<usize>)]
    pub(crate) cameras: usize,
    /// Partitions of the detections and enriched topics of a fresh
    /// namespace.
    #[arg(long, default_value_t = 6, value_parser = vigil_runtime::flags::count::<i32>)]
    pub(crate) partitions: i32,
    /// Replication of a fresh namespace's topics (3 on the cluster, which
    /// `deploy/local/stack --cluster env` sets); its keyspace takes
    /// --cql-replication.
    #[arg(long, env = "VIGIL_TOPIC_REPLICATION", default_value_t = 1, value_parser = vigil_runtime::flags::count::<i32>)]
    pub(crate) topic_replication: i32,
}

/// A running target: where it is, its registry, and the in-process
/// services (if any), stopped by `shutdown`.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) kafka: KafkaArgs,
    /// Replication of the topics the tool makes (scratch topics).
    pub(crate) topic_replication: i32,
    pub(crate) keyspace: Keyspace,
    pub(crate) store: StoreArgs,
    pub(crate) registry: Registry,
    pub(crate) api: String,
    pub(crate) enricher_group: String,
    pub(crate) writer_group: String,
    shutdown: CancellationToken,
    services: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

/// Fails with a message naming what is down when Kafka or the database
/// cannot be reached.
pub(crate) async fn check_reachable(kafka: &KafkaArgs, store: &StoreArgs) -> anyhow::Result<()> {
    let brokers = kafka.brokers.clone();
    let probe: BaseConsumer = kafka.consumer_config("vigil-loadtest-probe").create()?;
    tokio::task::spawn_blocking(move || probe.fetch_metadata(None, Duration::from_secs(5)))
        .await?
        .map_err(|e| {
            anyhow::anyhow!(
                "Kafka at {brokers} is not reachable ({e}); start the stack with `deploy/local/stack up`"
            )
        })?;
    tokio::time::timeout(Duration::from_secs(15), store.connect())
        .await
        .map_err(|_| anyhow::anyhow!("no answer from CQL nodes {} within 15 s", store.nodes))?
        .map_err(|e| anyhow::anyhow!("{e}; start the stack with `deploy/local/stack up`"))?;
    Ok(())
}

fn unique(tag: &str) -> String {
    format!("lt_{tag}_{}", chrono::Utc::now().format("%Y%m%d%H%M%S%3f"))
}

/// A fresh topic prefix and keyspace on the stack, with the schema applied
/// and a synthetic province in the registry (topic and tables).
#[derive(Debug)]
pub(crate) struct Namespace {
    pub(crate) name: String,
    pub(crate) kafka: KafkaArgs,
    pub(crate) store: StoreArgs,
    pub(crate) keyspace: Keyspace,
    pub(crate) registry: Registry,
}

impl Namespace {
    pub(crate) async fn fresh(args: &TargetArgs, tag: &str) -> anyhow::Result<Self> {
        let name = unique(tag);
        let kafka = KafkaArgs {
            topic_prefix: format!("{name}."),
            ..args.kafka.clone()
        };
        kafka
            .ensure_topics(
                &TopicPlan::single_node(args.partitions).replicated(args.topic_replication),
            )
            .await
            .context("creating topics")?;
        let store = StoreArgs {
            keyspace: name.clone(),
            ..args.store.clone()
        };
        let session = Arc::new(store.connect().await?);
        vigil_store::migrate(&session, &store.keyspace, store.keyspace_replication)
            .await
            .context("creating the keyspace")?;
        let keyspace = Keyspace::new(session, &store.keyspace);
        let registry = province(&ProvinceSpec {
            cameras: args.cameras,
            seed: 36,
        });
        RegistryPublisher::new(&kafka)?
            .publish(registry.entities())
            .await?;
        let registry_store = RegistryStore::prepare(&keyspace).await?;
        let entities: Vec<_> = registry.entities().collect();
        futures::stream::iter(entities.iter().map(|e| registry_store.upsert(e)))
            .buffer_unordered(256)
            .try_collect::<()>()
            .await?;

        Ok(Self {
            name,
            kafka,
            store,
            keyspace,
            registry,
        })
    }
}

/// Drops `keyspace` (fresh namespaces only: a local Cassandra holds every
/// table in one heap, and left-over test keyspaces add up).
pub(crate) async fn drop_keyspace(keyspace: &Keyspace) -> anyhow::Result<()> {
    // A node restarted moments ago (a fault scenario) may not have the
    // latest schema yet; a drop it misses leaves it with tables the others
    // no longer know ("Unknown CF" on later schema changes).
    tokio::time::timeout(
        Duration::from_secs(60),
        keyspace.session().await_schema_agreement(),
    )
    .await
    .context("the nodes did not agree on the schema within a minute")?
    .context("waiting for schema agreement")?;
    keyspace
        .session()
        .query_unpaged(format!("DROP KEYSPACE IF EXISTS {}", keyspace.name()), ())
        .await
        .with_context(|| format!("dropping keyspace {}", keyspace.name()))?;
    Ok(())
}

impl Target {
    /// Checks the stack, then prepares the namespace and starts the
    /// services (unless `--external`).
    pub(crate) async fn start(args: &TargetArgs, tag: &str) -> anyhow::Result<Self> {
        check_reachable(&args.kafka, &args.store).await?;
        let shutdown = CancellationToken::new();
        if args.external {
            let keyspace = args.store.keyspace().await?;
            let registry = RegistryStore::prepare(&keyspace)
                .await
                .context("the keyspace is not set up (run `vigilctl setup`)")?
                .load()
                .await?;
            if registry.cameras().len() == 0 {
                bail!(
                    "the registry of keyspace {} has no cameras; run `vigilctl registry seed`",
                    args.store.keyspace
                );
            }
            return Ok(Self {
                kafka: args.kafka.clone(),
                topic_replication: args.topic_replication,
                store: args.store.clone(),
                keyspace,
                registry,
                api: args.api.clone(),
                enricher_group: args.enricher_group.clone(),
                writer_group: args.writer_group.clone(),
                shutdown,
                services: Vec::new(),
            });
        }

        let Namespace {
            name,
            kafka,
            store,
            keyspace,
            registry,
        } = Namespace::fresh(args, tag).await?;
        let enricher_group = format!("{name}-enricher");
        let writer_group = format!("{name}-writer");
        let common = |binary: &str| {
            vec![
                binary.to_owned(),
                "--kafka-brokers".to_owned(),
                kafka.brokers.clone(),
                "--topic-prefix".to_owned(),
                kafka.topic_prefix.clone(),
                "--metrics-listen".to_owned(),
                // Any free port: nothing needs to find it.
                "127.0.0.1:0".to_owned(),
                "--log".to_owned(),
                "warn".to_owned(),
            ]
        };
        let mut enricher = common("vigil-enricher");
        enricher.extend(["--group".to_owned(), enricher_group.clone()]);
        let mut writer = common("vigil-writer");
        writer.extend([
            "--group".to_owned(),
            writer_group.clone(),
            "--cql-nodes".to_owned(),
            store.nodes.clone(),
            "--keyspace".to_owned(),
            store.keyspace.clone(),
        ]);
        let mut api = common("vigil-api");
        api.extend([
            "--cql-nodes".to_owned(),
            store.nodes.clone(),
            "--keyspace".to_owned(),
            store.keyspace.clone(),
        ]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api_url = format!("http://{}", listener.local_addr()?);
        let services = vec![
            (
                "enricher",
                tokio::spawn(vigil_enricher::run(
                    vigil_enricher::Config::try_parse_from(enricher)?,
                    shutdown.clone(),
                )),
            ),
            ("writer", {
                let config = vigil_writer::Config::try_parse_from(writer)?;
                let shutdown = shutdown.clone();
                tokio::spawn(async move { Ok(vigil_writer::run(config, shutdown).await?) })
            }),
            (
                "api",
                tokio::spawn(vigil_api::serve(
                    vigil_api::Config::try_parse_from(api)?,
                    listener,
                    shutdown.clone(),
                )),
            ),
        ];
        let target = Self {
            kafka,
            topic_replication: args.topic_replication,
            store,
            keyspace,
            registry,
            api: api_url,
            enricher_group,
            writer_group,
            shutdown,
            services,
        };
        if target.in_process() {
            target.wait_for_consumers().await?;
        }
        Ok(target)
    }

    /// Waits until the in-process enricher and writer own their
    /// partitions. Load offered before that waits for the groups to form (a
    /// second or more), which a 60 s run counted as its latency tail.
    async fn wait_for_consumers(&self) -> anyhow::Result<()> {
        const PATIENCE: Duration = Duration::from_secs(60);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        for group in [&self.enricher_group, &self.writer_group] {
            while self.kafka.stable_members(group).await?.is_none() {
                self.check_services()?;
                if tokio::time::Instant::now() > deadline {
                    bail!(
                        "consumer group {group} of the in-process services did not form within {PATIENCE:?}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// Camera ids of the fleet, sorted.
    pub(crate) fn cameras(&self, limit: usize) -> Vec<String> {
        let mut cameras: Vec<String> = self.registry.cameras().map(|c| c.id.clone()).collect();
        cameras.sort();
        cameras.truncate(limit.max(1));
        cameras
    }

    /// Whether the services run in this process (not `--external`).
    pub(crate) fn in_process(&self) -> bool {
        !self.services.is_empty()
    }

    /// Fails if an in-process service stopped on its own.
    pub(crate) fn check_services(&self) -> anyhow::Result<()> {
        for (name, task) in &self.services {
            if task.is_finished() {
                bail!("the in-process {name} stopped; see the log above");
            }
        }
        Ok(())
    }

    /// Stops the in-process services and drops a fresh namespace's
    /// keyspace (its topics expire with Kafka's retention).
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let fresh = !self.services.is_empty();
        for (name, task) in self.services {
            task.await
                .with_context(|| format!("{name} panicked"))?
                .with_context(|| format!("{name} failed"))?;
        }
        if fresh {
            drop_keyspace(&self.keyspace).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn namespaces_are_valid_keyspace_and_topic_names() {
        let name = super::unique("ingest");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert!(name.len() < 48, "{name}");
    }
}
