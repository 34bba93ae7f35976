//! Faults on the nodes of the stack: which node to hit (the broker leading
//! the most partitions, the active controller) and when a restarted broker
//! has caught up, through `deploy/local/stack [--cluster]`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::process::Command;
use vigil_bus::KafkaArgs;

/// Nodes of each kind in the cluster, and so the replication of its topics.
const NODES: usize = 3;

/// How long a rolling restart lets a restarted Cassandra node settle
/// before it stops the next.
const CASSANDRA_SETTLE: Duration = Duration::from_secs(30);

/// The stack script and whether it runs the cluster.
#[derive(Debug, Clone)]
pub(crate) struct Stack {
    pub(crate) script: PathBuf,
    pub(crate) cluster: bool,
}

impl Stack {
    fn command(&self, command: &str) -> Command {
        let mut process = Command::new(&self.script);
        if self.cluster {
            process.arg("--cluster");
        }
        process.arg(command);
        process
    }

    /// Runs a stack command (`kill-kafka-2`, `start-cassandra`, ...).
    pub(crate) async fn run(&self, command: &str) -> anyhow::Result<()> {
        let status = self
            .command(command)
            .stdout(Stdio::null())
            .status()
            .await
            .with_context(|| format!("running {} {command}", self.script.display()))?;
        anyhow::ensure!(
            status.success(),
            "{} {command} failed ({status})",
            self.script.display()
        );
        Ok(())
    }

    /// Runs a stack command and returns what it printed.
    pub(crate) async fn output(&self, command: &str) -> anyhow::Result<String> {
        let output = self
            .command(command)
            .output()
            .await
            .with_context(|| format!("running {} {command}", self.script.display()))?;
        anyhow::ensure!(
            output.status.success(),
            "{} {command} failed: {}",
            self.script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The services' settings for this stack (`stack env`), by name.
    pub(crate) async fn env(&self) -> anyhow::Result<BTreeMap<String, String>> {
        Ok(self
            .output("env")
            .await?
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect())
    }

    /// Stops and restarts each node of `kind` in turn, waiting until it has
    /// rejoined (for brokers, until every partition of `kafka`'s topics has
    /// all its replicas in sync again; for Cassandra nodes, until it has
    /// settled for [`CASSANDRA_SETTLE`]) before the next.
    pub(crate) async fn rolling_restart(
        &self,
        kind: &str,
        kafka: &KafkaArgs,
    ) -> anyhow::Result<()> {
        for n in 1..=NODES {
            let node = format!("{kind}-{n}");
            self.run(&format!("stop-{node}")).await?;
            self.run(&format!("start-{node}")).await?;
            if kind == "kafka" {
                wait_in_sync(kafka, NODES).await?;
            } else {
                // As an operator (or a StatefulSet's `minReadySeconds`)
                // would: the next node stops only once this one has
                // settled. With replication 3, while the next is down this
                // one is in every quorum, and a JVM that has just started
                // answers slowly for a while. The last one's settling is
                // part of the fault too.
                tokio::time::sleep(CASSANDRA_SETTLE).await;
            }
        }
        Ok(())
    }
}

/// The node name of the broker at `host` (`127.0.0.12` is `kafka-2`).
pub(crate) fn broker_node(host: &str) -> anyhow::Result<String> {
    match host.strip_prefix("127.0.0.1") {
        Some(n @ ("1" | "2" | "3")) => Ok(format!("kafka-{n}")),
        _ => bail!("broker {host} is not a node of the local cluster"),
    }
}

/// Per partition of the topics under `kafka`'s prefix: its leader's host
/// and how many replicas are in sync.
async fn partitions(kafka: &KafkaArgs) -> anyhow::Result<Vec<(String, usize)>> {
    let consumer: BaseConsumer = kafka.consumer_config("vigil-chaos-metadata").create()?;
    let prefix = kafka.topic_prefix.clone();
    tokio::task::spawn_blocking(move || {
        let metadata = consumer.fetch_metadata(None, Duration::from_secs(10))?;
        let hosts: BTreeMap<i32, String> = metadata
            .brokers()
            .iter()
            .map(|b| (b.id(), b.host().to_owned()))
            .collect();
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.name().starts_with(&prefix))
            .flat_map(|t| t.partitions())
            .map(|p| {
                let leader = hosts.get(&p.leader()).cloned().unwrap_or_default();
                (leader, p.isr().len())
            })
            .collect())
    })
    .await?
}

/// The broker leading the most partitions of `kafka`'s topics.
pub(crate) async fn busiest_broker(kafka: &KafkaArgs) -> anyhow::Result<String> {
    let mut led: BTreeMap<String, usize> = BTreeMap::new();
    for (leader, _) in partitions(kafka).await? {
        *led.entry(leader).or_default() += 1;
    }
    let (host, _) = led
        .into_iter()
        .max_by_key(|(_, count)| *count)
        .context("the topics have no partitions")?;
    broker_node(&host)
}

/// Waits (two minutes at most) until every partition has `replication`
/// replicas in sync.
async fn wait_in_sync(kafka: &KafkaArgs, replication: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let lagging = partitions(kafka)
            .await
            .map(|all| all.iter().filter(|(_, isr)| *isr < replication).count())
            .unwrap_or(usize::MAX);
        if lagging == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("partitions still under-replicated two minutes after a broker restart");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_are_named_by_their_address() {
        assert_eq!(broker_node("127.0.0.12").unwrap(), "kafka-2");
        assert!(broker_node("127.0.0.1").is_err());
        assert!(broker_node("127.0.0.14").is_err());
    }
}
