//! Support for integration tests against the real Kafka and Cassandra.
//!
//! [`TestEnv::new`] makes sure the local stack is running (starting it with
//! `deploy/local/stack up` if needed, reusing it otherwise) and gives the
//! test a topic prefix and keyspace of its own, so tests run in parallel
//! without seeing each other's data. [`TestEnv::on_cluster`] does the same
//! on the three-node cluster of `deploy/local/stack --cluster`.

pub mod cluster;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use futures::{StreamExt as _, TryStreamExt as _};
use tokio::sync::OnceCell;
use vigil_bus::registry::RegistryPublisher;
use vigil_bus::{KafkaArgs, KafkaSecurity, TopicPlan};
use vigil_domain::Registry;
use vigil_store::{Keyspace, RegistryStore, StoreArgs};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// Starts the local stack unless it is already up; once per test process.
pub async fn ensure_stack() -> anyhow::Result<()> {
    static STACK: OnceCell<()> = OnceCell::const_new();
    STACK
        .get_or_try_init(|| async {
            run_stack(&["up"]).await?;
            drop_stale_keyspaces().await
        })
        .await
        .map(drop)
}

/// Runs `deploy/local/stack <args>` (its output goes to the test's output),
/// failing if it does.
async fn run_stack(args: &[&str]) -> anyhow::Result<()> {
    let script = repo_root().join("deploy/local/stack");
    let owned: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let status = tokio::task::spawn_blocking(move || {
        Command::new(&script)
            .args(&owned)
            // Tests create their own topics and keyspaces.
            .env_remove("VIGIL_STACK_SETUP")
            .status()
            .with_context(|| format!("running {}", script.display()))
    })
    .await??;
    if !status.success() {
        bail!(
            "deploy/local/stack {} failed ({status}); see its output above",
            args.join(" ")
        );
    }
    Ok(())
}

/// Keyspaces of test runs older than this are dropped when a test process
/// starts: tests never drop their own (a failed test's data helps), and on
/// a developer's machine thousands of tables would pile up across runs
/// until Cassandra's heap runs out.
const STALE_AFTER_MILLIS: u128 = 3 * 3600 * 1000;
/// [`unique_name`] keeps the milliseconds modulo this (about 27 hours).
const NAME_MILLIS_MODULUS: u128 = 100_000_000;

/// Drops the keyspaces [`unique_name`] made more than three hours ago.
async fn drop_stale_keyspaces() -> anyhow::Result<()> {
    let session = test_store("system").connect().await?;
    let rows = session
        .query_unpaged("SELECT keyspace_name FROM system_schema.keyspaces", ())
        .await?
        .into_rows_result()?;
    let now = now_millis() % NAME_MILLIS_MODULUS;
    for row in rows.rows::<(String,)>()? {
        let (name,) = row?;
        if stale(&name, now) {
            session
                .query_unpaged(format!("DROP KEYSPACE IF EXISTS {name}"), ())
                .await
                .with_context(|| format!("dropping the stale test keyspace {name}"))?;
        }
    }
    Ok(())
}

/// Whether `name` is a test keyspace made more than [`STALE_AFTER_MILLIS`]
/// before `now` (milliseconds modulo [`NAME_MILLIS_MODULUS`]).
fn stale(name: &str, now: u128) -> bool {
    let Some(rest) = name.strip_prefix("t_") else {
        return false;
    };
    let mut parts = rest.rsplit('_');
    let (Some(_counter), Some(millis), Some(_pid)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(millis) = millis.parse::<u128>() else {
        return false;
    };
    (now + NAME_MILLIS_MODULUS - millis % NAME_MILLIS_MODULUS) % NAME_MILLIS_MODULUS
        > STALE_AFTER_MILLIS
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// A name no other test (in this or another process) uses: lower-case
/// letters, digits and underscores, valid as a keyspace and topic prefix.
pub fn unique_name(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let millis = now_millis() % NAME_MILLIS_MODULUS;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("t_{tag}_{}_{millis}_{n}", std::process::id())
}

/// One test's slice of the real stack.
#[derive(Debug)]
pub struct TestEnv {
    pub kafka: KafkaArgs,
    pub store: StoreArgs,
    /// The test's keyspace, with the schema applied.
    pub keyspace: Keyspace,
}

impl TestEnv {
    /// Ensures the stack, creates the test's topics and migrates its keyspace.
    pub async fn new(tag: &str) -> anyhow::Result<Self> {
        ensure_stack().await?;
        Self::create(tag, "127.0.0.1:9092", "127.0.0.1:9042", 1).await
    }

    /// Ensures the three-node cluster, creates the test's topics (replication
    /// 3, min ISR 2) and migrates its keyspace (replication 3).
    pub async fn on_cluster(tag: &str) -> anyhow::Result<Self> {
        cluster::ensure().await?;
        Self::create(tag, cluster::BROKERS, cluster::CQL_NODES, 3).await
    }

    async fn create(
        tag: &str,
        brokers: &str,
        cql_nodes: &str,
        replication: u16,
    ) -> anyhow::Result<Self> {
        let name = unique_name(tag);
        let kafka = KafkaArgs {
            brokers: brokers.to_owned(),
            topic_prefix: format!("{name}."),
            security: KafkaSecurity::default(),
        };
        kafka
            .ensure_topics(&TopicPlan::single_node(3).replicated(replication.into()))
            .await
            .context("creating test topics")?;
        let store = StoreArgs {
            nodes: cql_nodes.to_owned(),
            keyspace_replication: replication.into(),
            ..test_store(&name)
        };
        let session = store.connect().await?;
        vigil_store::migrate(&session, &store.keyspace, store.keyspace_replication)
            .await
            .context("migrating test keyspace")?;
        Ok(Self {
            kafka,
            keyspace: Keyspace::new(Arc::new(session), &store.keyspace),
            store,
        })
    }
}

/// The local stack's Cassandra, keyspace `keyspace` (replication 1, events
/// kept a day).
fn test_store(keyspace: &str) -> StoreArgs {
    StoreArgs {
        nodes: "127.0.0.1:9042".to_owned(),
        keyspace: keyspace.to_owned(),
        keyspace_replication: 1,
        consistency: vigil_store::CqlConsistency::LocalQuorum,
        speculative_after: Duration::from_millis(500),
        event_ttl: Duration::from_secs(86_400),
        username: None,
        password: None,
        tls: Default::default(),
    }
}

/// A loopback port that is free right now, for a server the test starts
/// next and must know the address of (pass port 0 when it need not).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Writes `registry` where the services read it: the changelog topic that
/// every service follows, and the registry table the API answers from.
pub async fn install_registry(
    kafka: &KafkaArgs,
    keyspace: &Keyspace,
    registry: &Registry,
) -> anyhow::Result<()> {
    RegistryPublisher::new(kafka)?
        .publish(registry.entities())
        .await
        .context("publishing the registry")?;
    let store = RegistryStore::prepare(keyspace).await?;
    let entities: Vec<_> = registry.entities().collect();
    futures::stream::iter(entities.iter().map(|entity| store.upsert(entity)))
        .buffer_unordered(256)
        .try_collect::<()>()
        .await
        .context("writing the registry table")
}

/// How long integration tests wait for something that should happen soon.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Calls `check` every 250 ms until it returns `Some`, for at most
/// `patience`; the error names `what` was awaited.
pub async fn eventually<T, F, Fut>(
    what: &str,
    patience: Duration,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if started.elapsed() > patience {
            bail!("timed out after {patience:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Reads `topic` from the beginning in a fresh consumer group, showing each
/// record to `done` until it says enough, or `patience` passes. Returns what
/// was read either way; the test decides whether it is enough.
pub async fn read_topic(
    kafka: &KafkaArgs,
    topic: &str,
    mut done: impl FnMut(&rdkafka::message::OwnedMessage) -> bool,
    patience: Duration,
) -> anyhow::Result<Vec<rdkafka::message::OwnedMessage>> {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    let consumer: StreamConsumer = kafka.consumer_config(&unique_name("reader")).create()?;
    consumer.subscribe(&[topic])?;
    let mut messages = Vec::new();
    let started = std::time::Instant::now();
    loop {
        let remaining = patience.saturating_sub(started.elapsed());
        let Ok(message) = tokio::time::timeout(remaining, consumer.recv()).await else {
            break;
        };
        let message = message?.detach();
        let enough = done(&message);
        messages.push(message);
        if enough {
            break;
        }
    }
    Ok(messages)
}

/// Whether consumer group `group` has committed every record of `topic`.
pub async fn committed_to_end(env: &TestEnv, group: &str, topic: &str) -> anyhow::Result<bool> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = env.kafka.consumer_config(group).create()?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let timeout = Duration::from_secs(10);
        let metadata = consumer.fetch_metadata(Some(&topic), timeout)?;
        let partitions = metadata
            .topics()
            .first()
            .map(|t| t.partitions().len())
            .unwrap_or_default();
        let mut wanted = TopicPartitionList::new();
        for partition in 0..partitions as i32 {
            wanted.add_partition(&topic, partition);
        }
        let committed = consumer.committed_offsets(wanted, timeout)?;
        for element in committed.elements() {
            let (_, high) = consumer.fetch_watermarks(&topic, element.partition(), timeout)?;
            let done = match element.offset() {
                Offset::Offset(offset) => offset >= high,
                _ => high == 0,
            };
            if !done {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await?
}

/// A `read_topic` condition: stop after `n` records.
pub fn count(n: usize) -> impl FnMut(&rdkafka::message::OwnedMessage) -> bool {
    let mut seen = 0;
    move |_| {
        seen += 1;
        seen >= n
    }
}

/// The standard output of a finished command, or an error with its
/// standard error if it failed.
pub fn succeeded(output: std::process::Output) -> anyhow::Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "the command failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_test_keyspaces_are_stale() {
        let now = 50_000_000;
        let hour = 3_600_000;
        assert!(stale(
            &format!("t_api_events_123_{}_0", now - 4 * hour),
            now
        ));
        assert!(!stale(
            &format!("t_api_events_123_{}_0", now - 2 * hour),
            now
        ));
        // Made before the modulus wrapped.
        assert!(stale("t_x_1_99999999_3", 20 * hour));
        assert!(!stale("t_x_1_99999999_3", 1000));
        for kept in ["vigil", "system_schema", "t_short", "t_a_b_notanumber_1"] {
            assert!(!stale(kept, now), "{kept}");
        }
    }
}
