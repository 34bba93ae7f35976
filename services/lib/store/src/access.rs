//! Who may call the API and what they did: bearer tokens (stored as the
//! SHA-256 of their secret, never the secret) and the append-only audit log.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prost::Message;
use scylla::DeserializeRow;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;
use vigil_proto::v1::AuditEntry;

use crate::{Keyspace, StoreError, day_bucket, execute, fetch_all, rows_error};

/// One API token as stored.
#[derive(Debug, Clone, PartialEq, DeserializeRow)]
pub struct TokenRecord {
    pub token_id: String,
    /// Lower-case hex SHA-256 of the token's secret part.
    pub secret_sha256: String,
    /// Who or what the token was issued to.
    pub name: String,
    /// `vigil.v1.Role`.
    pub role: i32,
    pub zone_id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const TOKEN_COLUMNS: &str =
    "token_id, secret_sha256, name, role, zone_id, created_at, expires_at, revoked_at";

/// Prepared statements over `api_tokens`.
#[derive(Debug, Clone)]
pub struct TokenStore {
    session: Arc<Session>,
    insert: PreparedStatement,
    select: PreparedStatement,
    select_all: PreparedStatement,
    revoke: PreparedStatement,
}

impl TokenStore {
    /// Prepares the statements against the migrated `keyspace`.
    pub async fn prepare(keyspace: &Keyspace) -> Result<Self, StoreError> {
        let table = keyspace.table("api_tokens");
        Ok(Self {
            insert: keyspace
                .prepare(
                    "insert into api_tokens",
                    &format!(
                        "INSERT INTO {table} ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                )
                .await?,
            select: keyspace
                .prepare(
                    "select from api_tokens",
                    &format!("SELECT {TOKEN_COLUMNS} FROM {table} WHERE token_id = ?"),
                )
                .await?,
            select_all: keyspace
                .prepare(
                    "scan of api_tokens",
                    &format!("SELECT {TOKEN_COLUMNS} FROM {table}"),
                )
                .await?,
            revoke: keyspace
                .prepare(
                    "revoke in api_tokens",
                    &format!("UPDATE {table} SET revoked_at = ? WHERE token_id = ?"),
                )
                .await?,
            session: Arc::clone(keyspace.session()),
        })
    }

    /// Stores a new token.
    pub async fn insert(&self, token: &TokenRecord) -> Result<(), StoreError> {
        execute(
            &self.session,
            &self.insert,
            (
                &token.token_id,
                &token.secret_sha256,
                &token.name,
                token.role,
                &token.zone_id,
                token.created_at,
                token.expires_at,
                token.revoked_at,
            ),
            || format!("storing token {}", token.token_id),
        )
        .await
    }

    /// The token with `token_id`, if any.
    pub async fn get(&self, token_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let rows: Vec<TokenRecord> = fetch_all(
            &self.session,
            &self.select,
            (token_id,),
            || format!("reading token {token_id}"),
            "api_tokens",
        )
        .await?;
        Ok(rows.into_iter().next())
    }

    /// Every token, revoked ones included.
    pub async fn list(&self) -> Result<Vec<TokenRecord>, StoreError> {
        fetch_all(
            &self.session,
            &self.select_all,
            (),
            || "reading api_tokens".to_owned(),
            "api_tokens",
        )
        .await
    }

    /// Marks `token_id` revoked as of `at`. Returns false if no such token.
    pub async fn revoke(&self, token_id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        if self.get(token_id).await?.is_none() {
            return Ok(false);
        }
        execute(&self.session, &self.revoke, (at, token_id), || {
            format!("revoking token {token_id}")
        })
        .await?;
        Ok(true)
    }
}

/// The audit log: inserted into, never updated.
#[derive(Debug, Clone)]
pub struct AuditStore {
    session: Arc<Session>,
    insert: PreparedStatement,
    select_day: PreparedStatement,
}

impl AuditStore {
    /// Prepares the statements against the migrated `keyspace`.
    pub async fn prepare(keyspace: &Keyspace) -> Result<Self, StoreError> {
        Ok(Self {
            insert: keyspace
                .prepare(
                    "insert into audit_log",
                    "INSERT INTO ${keyspace}.audit_log (day, at, audit_id, entry) VALUES (?, ?, ?, ?)",
                )
                .await?,
            select_day: keyspace
                .prepare(
                    "select from audit_log",
                    "SELECT entry FROM ${keyspace}.audit_log WHERE day = ? AND at >= ? AND at < ?",
                )
                .await?,
            session: Arc::clone(keyspace.session()),
        })
    }

    /// Appends `entry`, whose `audit_id` (a UUID) and `at` must be set.
    pub async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let invalid = |reason: &str| StoreError::InvalidEvent {
            event_id: entry.audit_id.clone(),
            reason: reason.to_owned(),
        };
        let audit_id = Uuid::parse_str(&entry.audit_id)
            .map_err(|e| invalid(&format!("audit_id is not a UUID: {e}")))?;
        let at = entry.at.as_ref().ok_or_else(|| invalid("no time"))?;
        let at_ms = at.seconds * 1000 + i64::from(at.nanos / 1_000_000);
        execute(
            &self.session,
            &self.insert,
            (
                CqlTimestamp(day_bucket(at_ms)),
                CqlTimestamp(at_ms),
                audit_id,
                entry.encode_to_vec(),
            ),
            || format!("appending audit entry {audit_id}"),
        )
        .await
    }

    /// The entries of the UTC day starting at `day` made in `[start_ms,
    /// end_ms)`, newest first.
    pub async fn day(
        &self,
        day: i64,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<(Vec<u8>,)> = fetch_all(
            &self.session,
            &self.select_day,
            (
                CqlTimestamp(day),
                CqlTimestamp(start_ms),
                CqlTimestamp(end_ms),
            ),
            || format!("reading the audit log of day {day}"),
            "audit_log",
        )
        .await?;
        rows.into_iter()
            .map(|(entry,)| {
                AuditEntry::decode(entry.as_slice()).map_err(|e| rows_error("audit_log", e))
            })
            .collect()
    }
}

/// Prefix of every API token, so a leaked one is easy to recognise (and to
/// grep for in logs and repositories).
const TOKEN_PREFIX: &str = "vgl";

/// Mints a token for `name` with `role` (a `vigil.v1.Role`) over `zone_id`:
/// returns the token text — shown once, never stored — and the record to
/// store, which keeps only the secret's digest.
pub fn mint_token(
    name: &str,
    role: i32,
    zone_id: &str,
    expires_at: Option<DateTime<Utc>>,
) -> (String, TokenRecord) {
    use rand::RngCore;
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut id);
    rand::rng().fill_bytes(&mut secret);
    let token_id = hex::encode(id);
    let secret = hex::encode(secret);
    let record = TokenRecord {
        secret_sha256: secret_digest(&secret),
        token_id: token_id.clone(),
        name: name.to_owned(),
        role,
        zone_id: zone_id.to_owned(),
        created_at: Utc::now(),
        expires_at,
        revoked_at: None,
    };
    (format!("{TOKEN_PREFIX}_{token_id}_{secret}"), record)
}

/// Splits a token into its id and secret; `None` if it is not shaped like
/// one.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id) && hex(secret)).then_some((id, secret))
}

/// Lower-case hex SHA-256 of a token's secret, as stored.
pub fn secret_digest(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_parses_back_and_only_its_digest_is_kept() {
        let (token, record) = mint_token("ops", 1, "th", None);
        let (id, secret) = parse_token(&token).expect("parses");
        assert_eq!(id, record.token_id);
        assert_eq!(secret_digest(secret), record.secret_sha256);
        assert!(!record.secret_sha256.contains(secret));
        let (other, _) = mint_token("ops", 1, "th", None);
        assert_ne!(token, other);
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        for bad in [
            "",
            "vgl",
            "vgl_",
            "vgl_abc",
            "xyz_ab_cd",
            "vgl_ab_",
            "vgl_zz_cd",
            "vgl__cd",
        ] {
            assert_eq!(parse_token(bad), None, "{bad:?}");
        }
    }
}
