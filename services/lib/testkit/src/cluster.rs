//! The three-node cluster of `deploy/local/stack --cluster`: Kafka brokers
//! and Cassandra nodes on 127.0.0.11-13, and the stack commands tests use to
//! crash, pause and restart them.

use anyhow::bail;
use tokio::sync::OnceCell;

/// The cluster's Kafka bootstrap servers.
pub const BROKERS: &str = "127.0.0.11:9092,127.0.0.12:9092,127.0.0.13:9092";
/// The cluster's CQL contact points.
pub const CQL_NODES: &str = "127.0.0.11:9042,127.0.0.12:9042,127.0.0.13:9042";

/// The node name (`kafka-2`, `cassandra-3`) of the node listening on
/// `address` (`127.0.0.12:9092`).
pub fn node_at(kind: &str, address: &str) -> anyhow::Result<String> {
    let host = address.split(':').next().unwrap_or_default();
    match host.strip_prefix("127.0.0.1") {
        Some(n @ ("1" | "2" | "3")) => Ok(format!("{kind}-{n}")),
        _ => bail!("{address} is not a node of the local cluster"),
    }
}

/// Starts the cluster unless it is already up; once per test process.
pub async fn ensure() -> anyhow::Result<()> {
    static CLUSTER: OnceCell<()> = OnceCell::const_new();
    CLUSTER.get_or_try_init(|| stack("up")).await.map(drop)
}

/// Runs `deploy/local/stack --cluster <command>` (e.g. `kill-kafka-2`,
/// `start-kafka-2`, which waits until the node has rejoined); its output
/// goes to the test's output.
pub async fn stack(command: &str) -> anyhow::Result<()> {
    crate::run_stack(&["--cluster", command]).await
}
