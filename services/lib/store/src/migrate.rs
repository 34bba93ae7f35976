//! Versioned, idempotent CQL migrations.
//!
//! Each migration is a file under `migrations/`, compiled into the binary.
//! Applied versions are recorded in `schema_migrations` with a checksum, so
//! running `migrate` twice does nothing the second time, and an applied
//! migration that was edited afterwards is reported instead of silently
//! diverging.

use std::time::Duration;

use scylla::client::session::Session;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::StoreError;

/// One schema change.
#[derive(Debug)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub cql: &'static str,
}

/// Every migration, in the order they apply.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        cql: include_str!("../migrations/0001_events.cql"),
    },
    Migration {
        version: 2,
        name: "registry",
        cql: include_str!("../migrations/0002_registry.cql"),
    },
    Migration {
        version: 3,
        name: "counts_and_status",
        cql: include_str!("../migrations/0003_counts_and_status.cql"),
    },
    Migration {
        version: 4,
        name: "api",
        cql: include_str!("../migrations/0004_api.cql"),
    },
    Migration {
        version: 5,
        name: "synthetic_province",
        cql: include_str!("../migrations/0005_synthetic_province.cql"),
    },
    Migration {
        version: 6,
        name: "events_by_village_hour",
        cql: include_str!("../migrations/0006_events_by_village_hour.cql"),
    },
    Migration {
        version: 7,
        name: "alerts",
        cql: include_str!("../migrations/0007_alerts.cql"),
    },
    Migration {
        version: 8,
        name: "notifications",
        cql: include_str!("../migrations/0008_notifications.cql"),
    },
    Migration {
        version: 9,
        name: "zone_boundaries",
        cql: include_str!("../migrations/0009_zone_boundaries.cql"),
    },
];

impl Migration {
    fn checksum(&self) -> String {
        hex_digest(self.cql.as_bytes())
    }

    /// The statements of the file, without comments, with `${keyspace}`
    /// replaced by `keyspace`.
    fn statements<'a>(&'a self, keyspace: &'a str) -> impl Iterator<Item = String> + 'a {
        let without_comments: String = self
            .cql
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        without_comments
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|statement| statement.replace("${keyspace}", keyspace))
            .collect::<Vec<_>>()
            .into_iter()
    }
}

/// How long a keyspace's creation waits for the cluster to show as many
/// nodes as its replication factor.
const JOIN_WAIT: Duration = Duration::from_secs(60);

/// Counts the cluster's nodes, waiting up to [`JOIN_WAIT`] for `wanted` of
/// them: a cluster that has just started answers CQL on every node before
/// gossip has told the node we asked about all of its peers.
async fn nodes_joined(session: &Session, wanted: usize) -> usize {
    let deadline = tokio::time::Instant::now() + JOIN_WAIT;
    loop {
        let nodes = session.get_cluster_state().get_nodes_info().len();
        if nodes >= wanted || tokio::time::Instant::now() >= deadline {
            return nodes;
        }
        info!(nodes, wanted, "waiting for the cluster's nodes to join");
        tokio::time::sleep(Duration::from_secs(2)).await;
        if let Err(error) = session.refresh_metadata().await {
            warn!(%error, "refreshing the cluster's metadata");
        }
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates `keyspace` if needed and applies the migrations it lacks.
/// Returns the versions applied by this call.
pub async fn migrate(
    session: &Session,
    keyspace: &str,
    replication_factor: u32,
) -> Result<Vec<i32>, StoreError> {
    if !keyspace
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(StoreError::InvalidKeyspace(keyspace.to_owned()));
    }
    let wanted = usize::try_from(replication_factor).unwrap_or(usize::MAX);
    let nodes = nodes_joined(session, wanted).await;
    if wanted > nodes {
        return Err(StoreError::ReplicationAboveNodes {
            replication: replication_factor,
            nodes,
        });
    }
    run(
        session,
        format!(
            "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = \
             {{'class': 'NetworkTopologyStrategy', 'replication_factor': {replication_factor}}}"
        ),
    )
    .await?;
    run(
        session,
        format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations (\
             version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
        ),
    )
    .await?;

    let applied = applied_checksums(session, keyspace).await?;
    let mut newly_applied = Vec::new();
    for migration in MIGRATIONS {
        let current = migration.checksum();
        if let Some((_, checksum)) = applied.iter().find(|(v, _)| *v == migration.version) {
            if *checksum != current {
                return Err(StoreError::MigrationChanged {
                    version: migration.version,
                    name: migration.name,
                    applied: checksum.clone(),
                    current,
                });
            }
            continue;
        }
        for statement in migration.statements(keyspace) {
            run(session, statement).await?;
        }
        session
            .query_unpaged(
                format!(
                    "INSERT INTO {keyspace}.schema_migrations (version, name, checksum, applied_at) \
                     VALUES (?, ?, ?, toTimestamp(now()))"
                ),
                (migration.version, migration.name, &current),
            )
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("recording migration {}", migration.version),
                source: Box::new(source),
            })?;
        info!(version = migration.version, name = migration.name, %keyspace, "Migration applied.");
        newly_applied.push(migration.version);
    }
    Ok(newly_applied)
}

async fn applied_checksums(
    session: &Session,
    keyspace: &str,
) -> Result<Vec<(i32, String)>, StoreError> {
    let result = session
        .query_unpaged(
            format!("SELECT version, checksum FROM {keyspace}.schema_migrations"),
            &[],
        )
        .await
        .map_err(|source| StoreError::Execute {
            what: "reading schema_migrations".to_owned(),
            source: Box::new(source),
        })?;
    let rows_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Rows {
        what: "schema_migrations",
        source: e,
    };
    let rows = result.into_rows_result().map_err(|e| rows_err(e.into()))?;
    rows.rows::<(i32, String)>()
        .map_err(|e| rows_err(e.into()))?
        .collect::<Result<_, _>>()
        .map_err(|e| rows_err(e.into()))
}

async fn run(session: &Session, cql: String) -> Result<(), StoreError> {
    session
        .query_unpaged(cql.as_str(), &[])
        .await
        .map(drop)
        .map_err(|source| StoreError::Execute {
            what: format!("running `{}`", first_line(&cql)),
            source: Box::new(source),
        })
}

fn first_line(cql: &str) -> &str {
    cql.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_split_and_comments_dropped() {
        let migration = Migration {
            version: 9,
            name: "t",
            cql: "-- a comment; with a semicolon\nCREATE TABLE ${keyspace}.a (x int PRIMARY KEY);\n\n-- more\nCREATE TABLE ${keyspace}.b (y int PRIMARY KEY);\n",
        };
        let statements: Vec<String> = migration.statements("ks").collect();
        assert_eq!(
            statements,
            [
                "CREATE TABLE ks.a (x int PRIMARY KEY)",
                "CREATE TABLE ks.b (y int PRIMARY KEY)"
            ]
        );
    }

    #[test]
    fn versions_are_unique_and_increasing() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    }
}
