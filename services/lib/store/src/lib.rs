//! The ScyllaDB side of Vigil: connecting, applying the versioned CQL
//! migrations, and the query-first event tables that vigil-writer fills and
//! vigil-api reads.
//!
//! Only CQL that both ScyllaDB (production) and Apache Cassandra 5 (the
//! local stack and CI) accept is used: no `WITH tablets`, `USING TIMEOUT`,
//! `BYPASS CACHE`, CDC or materialized views.

mod access;
mod alerts;
mod counts;
mod events;
mod extractions;
mod lwt;
mod migrate;
mod notifications;
mod reads;
mod registry;
mod retry;
mod status;
mod tls;

pub use access::{AuditStore, TokenRecord, TokenStore, mint_token, parse_token, secret_digest};
pub use alerts::{AlertRecord, AlertRow, AlertStore, Raised};
pub use counts::{CommuneHour, CountStore, HourCount, KindCount};
pub use events::{EventStore, Written, day_bucket, hour_bucket, month_bucket};
pub use extractions::ExtractionStore;
pub use migrate::{MIGRATIONS, Migration, migrate};
pub use notifications::{DeliveryAttempt, NotificationStore, StoredChannel, Timer};
pub use reads::{Direction, EventReader, EventRow, Partition};
pub use registry::{RegistryStore, SyntheticProvince};
pub use retry::until_ok;
pub use status::{CameraStatus, StatusChange, StatusStore};
pub use tls::CqlTls;

use std::sync::Arc;
use std::time::Duration;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::speculative_execution::{
    SimpleSpeculativeExecutionPolicy, SpeculativeExecutionPolicy,
};
use scylla::statement::prepared::PreparedStatement;
use vigil_runtime::Secret;

/// Errors from the store; each names the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("connecting to CQL nodes {nodes}: {source}")]
    Connect {
        nodes: String,
        source: Box<scylla::errors::NewSessionError>,
    },
    #[error("preparing {what}: {source}")]
    Prepare {
        what: &'static str,
        source: Box<scylla::errors::PrepareError>,
    },
    #[error("{what}: {source}")]
    Execute {
        what: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("reading rows of {what}: {source}")]
    Rows {
        what: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "migration {version} ({name}) was changed after it was applied: checksum {applied} in the database, {current} in this build"
    )]
    MigrationChanged {
        version: i32,
        name: &'static str,
        applied: String,
        current: String,
    },
    #[error("CQL TLS: {0}")]
    Tls(String),
    #[error(
        "keyspace replication {replication} needs {replication} nodes, but the cluster has {nodes}; \
         lower --cql-replication or add nodes"
    )]
    ReplicationAboveNodes { replication: u32, nodes: usize },
    #[error("keyspace name {0:?} must be letters, digits and underscores")]
    InvalidKeyspace(String),
    #[error("event {event_id:?} cannot be stored: {reason}")]
    InvalidEvent { event_id: String, reason: String },
    #[error("decoding stored event {event_id}: {source}")]
    Decode {
        event_id: uuid::Uuid,
        source: prost::DecodeError,
    },
}

/// Where the database is and how data is kept; flattened into every
/// service's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// CQL contact points, comma-separated host:port.
    #[arg(
        long = "cql-nodes",
        env = "VIGIL_CQL_NODES",
        default_value = "127.0.0.1:9042"
    )]
    pub nodes: String,
    /// Keyspace holding Vigil's tables.
    #[arg(long = "keyspace", env = "VIGIL_CQL_KEYSPACE", default_value = "vigil")]
    pub keyspace: String,
    /// Replication factor of the keyspace when it is created (3 in production).
    #[arg(
        long = "cql-replication",
        env = "VIGIL_CQL_REPLICATION",
        default_value_t = 1,
        value_parser = vigil_runtime::flags::count::<u32>
    )]
    pub keyspace_replication: u32,
    /// Consistency level of every read and write. LOCAL_QUORUM: with
    /// replication 3, an acknowledged write is on two replicas and every
    /// read sees it, with any one node down.
    #[arg(
        long = "cql-consistency",
        env = "VIGIL_CQL_CONSISTENCY",
        value_enum,
        default_value_t = CqlConsistency::LocalQuorum
    )]
    pub consistency: CqlConsistency,
    /// How long an idempotent statement (every read and upsert) may go
    /// unanswered before the driver also sends it to another node, up to
    /// twice; `0s` turns this off. A node that is slow rather than dead
    /// (a long GC pause, a stalled disk) then costs this delay, not the
    /// request timeout.
    #[arg(
        long = "cql-speculative-after",
        env = "VIGIL_CQL_SPECULATIVE_AFTER",
        default_value = "500ms",
        value_parser = vigil_runtime::flags::duration_or_off
    )]
    pub speculative_after: Duration,
    /// How long events are kept (e.g. "90days"); 0s keeps them forever.
    #[arg(long = "event-ttl", env = "VIGIL_EVENT_TTL", default_value = "90days", value_parser = vigil_runtime::flags::ttl)]
    pub event_ttl: Duration,
    /// User name when the cluster requires authentication.
    #[arg(
        long = "cql-username",
        env = "VIGIL_CQL_USERNAME",
        requires = "password"
    )]
    pub username: Option<String>,
    /// File holding the password of --cql-username (a mounted Secret), or
    /// `env:` to take VIGIL_CQL_PASSWORD. Never logged.
    #[arg(
        id = "password",
        long = "cql-password-file",
        env = "VIGIL_CQL_PASSWORD_FILE",
        value_parser = Secret::parser("VIGIL_CQL_PASSWORD")
    )]
    pub password: Option<Secret>,
    /// TLS towards the nodes (off by default).
    #[command(flatten)]
    pub tls: CqlTls,
}

/// The consistency levels an operator may choose for reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CqlConsistency {
    /// One replica anywhere: survives losing all but one, reads may be stale.
    One,
    /// One replica in the local datacenter.
    LocalOne,
    /// A majority of the local datacenter's replicas (the default).
    LocalQuorum,
    /// A majority of all replicas across datacenters.
    Quorum,
    /// Every replica: any node down fails the request.
    All,
}

impl From<CqlConsistency> for scylla::statement::Consistency {
    fn from(level: CqlConsistency) -> Self {
        match level {
            CqlConsistency::One => Self::One,
            CqlConsistency::LocalOne => Self::LocalOne,
            CqlConsistency::LocalQuorum => Self::LocalQuorum,
            CqlConsistency::Quorum => Self::Quorum,
            CqlConsistency::All => Self::All,
        }
    }
}

/// A session and the keyspace Vigil's tables live in. Statements name their
/// tables fully qualified (`keyspace.table`) rather than relying on `USE`,
/// which is ambiguous with prepared statements.
#[derive(Debug, Clone)]
pub struct Keyspace {
    session: Arc<Session>,
    name: String,
}

impl Keyspace {
    pub fn new(session: Arc<Session>, name: impl Into<String>) -> Self {
        Self {
            session,
            name: name.into(),
        }
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `keyspace.table`.
    pub(crate) fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.name)
    }

    /// Prepares `cql` (with `${keyspace}` replaced by this keyspace) as an
    /// idempotent statement: an upsert by key or a read, which the driver
    /// may retry and speculate freely.
    pub(crate) async fn prepare(
        &self,
        what: &'static str,
        cql: &str,
    ) -> Result<PreparedStatement, StoreError> {
        let mut statement = self.prepare_conditional(what, cql).await?;
        statement.set_is_idempotent(true);
        Ok(statement)
    }

    /// Prepares a lightweight transaction (`IF ...`). It is not idempotent:
    /// a retry of one that applied reports "not applied" (the condition
    /// now fails on its own write), so the driver must not retry or
    /// speculate; callers re-read instead.
    pub(crate) async fn prepare_conditional(
        &self,
        what: &'static str,
        cql: &str,
    ) -> Result<PreparedStatement, StoreError> {
        let mut statement = self
            .session
            .prepare(cql.replace("${keyspace}", &self.name))
            .await
            .map_err(|source| StoreError::Prepare {
                what,
                source: Box::new(source),
            })?;
        statement.set_is_idempotent(false);
        Ok(statement)
    }
}

/// Runs `statement` and collects every row (paging through them), naming
/// `what` in errors.
pub(crate) async fn fetch_all<T>(
    session: &Session,
    statement: &PreparedStatement,
    values: impl scylla::serialize::row::SerializeRow,
    what: impl FnOnce() -> String,
    table: &'static str,
) -> Result<Vec<T>, StoreError>
where
    T: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + 'static,
{
    use futures::TryStreamExt;
    let pager = session
        .execute_iter(statement.clone(), values)
        .await
        .map_err(|source| StoreError::Execute {
            what: what(),
            source: Box::new(source),
        })?;
    pager
        .rows_stream::<T>()
        .map_err(|e| rows_error(table, e))?
        .try_collect()
        .await
        .map_err(|e| rows_error(table, e))
}

/// Runs `statement` (an insert or update), naming `what` in errors.
pub(crate) async fn execute(
    session: &Session,
    statement: &PreparedStatement,
    values: impl scylla::serialize::row::SerializeRow,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    session
        .execute_unpaged(statement, values)
        .await
        .map(drop)
        .map_err(|source| StoreError::Execute {
            what: what(),
            source: Box::new(source),
        })
}

/// A row-decoding error of `table`.
pub(crate) fn rows_error(
    table: &'static str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StoreError {
    StoreError::Rows {
        what: table,
        source: source.into(),
    }
}

impl StoreArgs {
    /// Connects and pairs the session with the configured keyspace (which
    /// `vigilctl setup` creates).
    pub async fn keyspace(&self) -> Result<Keyspace, StoreError> {
        Ok(Keyspace::new(
            Arc::new(self.connect().await?),
            &self.keyspace,
        ))
    }

    /// Opens a session to the cluster.
    pub async fn connect(&self) -> Result<Session, StoreError> {
        let nodes: Vec<&str> = self.nodes.split(',').map(str::trim).collect();
        let speculation: Option<Arc<dyn SpeculativeExecutionPolicy>> =
            (!self.speculative_after.is_zero()).then(|| {
                Arc::new(SimpleSpeculativeExecutionPolicy {
                    max_retry_count: 2,
                    retry_interval: self.speculative_after,
                }) as Arc<dyn SpeculativeExecutionPolicy>
            });
        let profile = ExecutionProfile::builder()
            .consistency(self.consistency.into())
            .speculative_execution_policy(speculation)
            .build();
        let mut builder = SessionBuilder::new()
            .known_nodes(&nodes)
            .connection_timeout(Duration::from_secs(10))
            .default_execution_profile_handle(profile.into_handle());
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            builder = builder.user(user, password.expose());
        }
        builder = builder.tls_context(self.tls.context()?);
        builder.build().await.map_err(|source| StoreError::Connect {
            nodes: self.nodes.clone(),
            source: Box::new(source),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        store: StoreArgs,
    }

    #[test]
    fn passwords_come_from_files_and_never_show() {
        let path = std::env::temp_dir().join(format!("vigil-pw-{}", std::process::id()));
        std::fs::write(&path, "s3cret-pw\n").unwrap();
        let cli = Cli::try_parse_from([
            "x",
            "--cql-username",
            "vigil",
            "--cql-password-file",
            path.to_str().unwrap(),
        ])
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(cli.store.password.as_ref().unwrap().expose(), "s3cret-pw");
        let shown = format!("{cli:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
        // A user without a password, or a missing file, is refused at start-up.
        assert!(Cli::try_parse_from(["x", "--cql-username", "vigil"]).is_err());
        assert!(
            Cli::try_parse_from([
                "x",
                "--cql-username",
                "u",
                "--cql-password-file",
                "/nonexistent"
            ])
            .is_err()
        );
    }
}
