//! A durable, crash-safe, bounded FIFO of opaque byte records on local disk:
//! the store-and-forward buffer of Vigil's edge agent.
//!
//! A camera's detections must survive the uplink or Kafka being down, and the
//! agent being killed or losing power. The agent appends each record here and
//! acknowledges its source only once [`Spool::append`] (or
//! [`Spool::append_batch`]) has returned; a forwarder reads the oldest records
//! with [`Spool::read_from`], produces them to Kafka, and calls
//! [`Spool::remove`] with the sequence numbers Kafka acknowledged (in any
//! order). Delivery is at least once: after a crash between Kafka's
//! acknowledgement and the removal, a record is sent again, so consumers
//! deduplicate on the sequence number.
//!
//! # Sequence numbers
//!
//! Every record gets a sequence number, starting at 1 and increasing by one
//! per appended record. The next number is persisted with the records, so
//! numbers are never reused, not even after the spool drains or the process
//! restarts: downstream may already have seen a number.
//!
//! # Bound and drop-oldest policy
//!
//! The spool holds at most [`SpoolConfig::max_bytes`] bytes of payload (the sum
//! of payload lengths; the file itself is larger, by redb's pages and
//! bookkeeping). When an append would exceed the bound, the oldest records are
//! evicted, in the same transaction, until the new one fits: on a live
//! platform the newest evidence is the most valuable, and the edge must keep
//! accepting detections during a long outage. Evictions are counted in
//! [`AppendOutcome::dropped`] and in [`SpoolStats::dropped_total`] (persisted)
//! and logged as a warning. A single record larger than the bound is an error,
//! never silently dropped.
//!
//! # Durability
//!
//! Records live in one [redb](https://www.redb.org) file. Every operation that
//! changes it (append, append batch, remove) is one transaction committed with
//! [`redb::Durability::Immediate`]: the commit is fsync'd before the call
//! returns, so what returned `Ok` survives `kill -9` and power loss, and a
//! transaction interrupted by a crash is rolled back as a whole when the file
//! is reopened. An fsync costs milliseconds, so the throughput path is
//! [`Spool::append_batch`], which commits many records with one fsync; acks
//! are likewise best removed in batches.
//!
//! Everything is synchronous: async callers use `tokio::task::spawn_blocking`.
//! A [`Spool`] is `Send + Sync`; share it with an `Arc`. Only one `Spool` may
//! have a file open at a time, within and across processes.
//!
//! # Failures
//!
//! After an I/O error (a full disk, a failing device) redb refuses every
//! further operation until the file is closed and opened again, which
//! repairs it to its last commit. The spool does that itself: the operation
//! after a failed one first reopens the file, so once the cause is gone (space
//! freed) the spool works again without a restart, and every commit that
//! returned `Ok` is still there. A failure caused by a full disk says so
//! ([`SpoolError::is_disk_full`]).

use std::io::ErrorKind;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, Table,
    TableDefinition,
};
use tracing::{info, warn};

/// Records by sequence number. redb orders `u64` keys numerically, so a range
/// scan yields records oldest first.
const RECORDS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("records");

/// Counters that must survive restarts, updated in the same transaction as the
/// records they describe so the two never disagree.
const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");
const META_NEXT_SEQ: &str = "next_seq";
const META_BYTES: &str = "bytes";
const META_DROPPED_TOTAL: &str = "dropped_total";

/// The first sequence number of a new spool. Not 0, which protobuf and many
/// consumers read as "unset".
const FIRST_SEQ: u64 = 1;

/// Where a spool lives and how much it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The spool's file; its parent directories are created on open.
    pub path: PathBuf,
    /// The most payload bytes the spool holds before it evicts its oldest
    /// records. Enforced on append, so lowering it between runs takes effect
    /// at the next append.
    pub max_bytes: u64,
}

/// A record read back from the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The record's sequence number, unique for the spool's lifetime.
    pub seq: u64,
    /// The bytes that were appended.
    pub payload: Vec<u8>,
}

/// What appending one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The sequence number the record was stored under.
    pub seq: u64,
    /// How many of the oldest records were evicted to make room for it.
    pub dropped: u64,
}

/// A snapshot of the spool's size and losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpoolStats {
    /// Records currently held.
    pub entries: u64,
    /// Sum of the payload lengths of the records held.
    pub bytes: u64,
    /// Records evicted by the drop-oldest policy over the spool's lifetime,
    /// persisted across restarts.
    pub dropped_total: u64,
}

/// Why a spool operation failed; each variant names the operation and the
/// spool's file.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool's directory could not be created or synced.
    #[error("preparing the directory of spool {}: {source}", path.display())]
    Directory {
        /// The spool's file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The spool's file could not be opened, created or recovered.
    #[error("opening spool {}: {source}", path.display())]
    Open {
        /// The spool's file.
        path: PathBuf,
        /// The underlying database error.
        source: redb::Error,
    },
    /// Appending failed; none of the records passed to the call were stored.
    #[error("appending to spool {}: {source}", path.display())]
    Append {
        /// The spool's file.
        path: PathBuf,
        /// The underlying database error.
        source: redb::Error,
    },
    /// Reading records failed.
    #[error("reading spool {}: {source}", path.display())]
    Read {
        /// The spool's file.
        path: PathBuf,
        /// The underlying database error.
        source: redb::Error,
    },
    /// Removing records failed; none of the records passed to the call were
    /// removed.
    #[error("removing from spool {}: {source}", path.display())]
    Remove {
        /// The spool's file.
        path: PathBuf,
        /// The underlying database error.
        source: redb::Error,
    },
    /// A record cannot fit even in an empty spool; nothing was stored.
    #[error("record of {size} bytes exceeds the spool's capacity of {max} bytes")]
    RecordTooLarge {
        /// The record's length.
        size: u64,
        /// The spool's [`SpoolConfig::max_bytes`].
        max: u64,
    },
}

impl SpoolError {
    /// Whether the operation failed because the disk, or the user's quota,
    /// is full: the spool works again once space is freed.
    pub fn is_disk_full(&self) -> bool {
        let io = match self {
            Self::Directory { source, .. } => Some(source),
            Self::Open { source, .. }
            | Self::Append { source, .. }
            | Self::Read { source, .. }
            | Self::Remove { source, .. } => match source {
                redb::Error::Io(source) => Some(source),
                _ => None,
            },
            Self::RecordTooLarge { .. } => None,
        };
        io.is_some_and(|io| matches!(io.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded))
    }
}

/// A durable, bounded FIFO of byte records in one file; see the crate docs.
pub struct Spool {
    /// The open file; `None` only while reopening it has failed (the next
    /// operation tries again). Operations hold the read lock, reopening the
    /// write lock, so no transaction is live when the file is closed.
    db: RwLock<Option<Database>>,
    /// Set by a failed operation: the next one reopens the file first.
    failed: AtomicBool,
    path: PathBuf,
    max_bytes: u64,
    /// Held across each write transaction and the publication of its stats,
    /// so the published stats are always those of the latest commit. (redb
    /// serializes writers itself, but not what happens after commit.)
    writer: Mutex<()>,
    /// The stats of the latest commit, so `stats()` needs no transaction.
    stats: Mutex<SpoolStats>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("path", &self.path)
            .field("max_bytes", &self.max_bytes)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Spool {
    /// Opens the spool at `config.path`, creating it and its parent
    /// directories if needed. After a crash, redb recovers the file to its
    /// last commit; that rescans the file, about 2 s for a 1 GB file here.
    ///
    /// Fails if the file is open elsewhere (in this or another process), or
    /// is not a spool.
    pub fn open(config: SpoolConfig) -> Result<Self, SpoolError> {
        let SpoolConfig { path, max_bytes } = config;
        let db = open_database(&path)?;
        let spool = Self {
            db: RwLock::new(Some(db)),
            failed: AtomicBool::new(false),
            path,
            max_bytes,
            writer: Mutex::new(()),
            stats: Mutex::new(SpoolStats::default()),
        };
        // Creates the tables of a new spool (so readers always find them) and
        // publishes the stats of an existing one.
        spool
            .write(|_, _| Ok(()))
            .map_err(|source| SpoolError::Open {
                path: spool.path.clone(),
                source,
            })?;
        Ok(spool)
    }

    /// Appends one record and returns once it is durable, so the caller may
    /// then acknowledge its source. Evicts the oldest records if the spool is
    /// full.
    pub fn append(&self, payload: &[u8]) -> Result<AppendOutcome, SpoolError> {
        let outcomes = self.append_batch(&[payload])?;
        Ok(outcomes[0])
    }

    /// Appends records in order, in one transaction with one fsync: the
    /// throughput path. All or none are stored.
    ///
    /// Returns one outcome per record, in order; the sequence numbers are
    /// consecutive. A record's `dropped` counts the evictions made to fit it;
    /// if the batch alone exceeds the bound, its own first records are
    /// evicted by its later ones and counted likewise.
    pub fn append_batch<P: AsRef<[u8]>>(
        &self,
        payloads: &[P],
    ) -> Result<Vec<AppendOutcome>, SpoolError> {
        // Checked before the transaction so a too-large record fails the
        // whole batch without evicting anything.
        if let Some(size) = payloads
            .iter()
            .map(|payload| payload.as_ref().len() as u64)
            .find(|&size| size > self.max_bytes)
        {
            return Err(SpoolError::RecordTooLarge {
                size,
                max: self.max_bytes,
            });
        }
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        let (outcomes, stats) = self
            .write(|records, counters| {
                payloads
                    .iter()
                    .map(|payload| self.insert(records, counters, payload.as_ref()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|source| SpoolError::Append {
                path: self.path.clone(),
                source,
            })?;
        let dropped: u64 = outcomes.iter().map(|outcome| outcome.dropped).sum();
        if dropped > 0 {
            warn!(
                dropped,
                dropped_total = stats.dropped_total,
                spool = %self.path.display(),
                "Spool full: dropped oldest entries."
            );
        }
        Ok(outcomes)
    }

    /// Returns up to `max` records with a sequence number greater than
    /// `after_seq` (all records if `None`), oldest first. Removed and evicted
    /// records are skipped.
    pub fn read_from(&self, after_seq: Option<u64>, max: usize) -> Result<Vec<Entry>, SpoolError> {
        self.read(after_seq, max)
            .map_err(|source| SpoolError::Read {
                path: self.path.clone(),
                source,
            })
    }

    /// Removes the records with these sequence numbers, durably, in one
    /// transaction. Numbers not in the spool (already removed or evicted, or
    /// never appended) are ignored, so repeating a removal is harmless.
    pub fn remove(&self, seqs: &[u64]) -> Result<(), SpoolError> {
        if seqs.is_empty() {
            return Ok(());
        }
        self.write(|records, counters| {
            for &seq in seqs {
                if let Some(payload) = records.remove(seq)? {
                    counters.bytes -= payload.value().len() as u64;
                }
            }
            Ok(())
        })
        .map(|((), _stats)| ())
        .map_err(|source| SpoolError::Remove {
            path: self.path.clone(),
            source,
        })
    }

    /// The spool's size and losses as of the latest commit; kept in memory,
    /// so this is cheap.
    pub fn stats(&self) -> SpoolStats {
        *lock(&self.stats)
    }

    /// Stores one record under the next sequence number, first evicting the
    /// oldest records until it fits. The caller has checked that it fits in
    /// an empty spool.
    fn insert(
        &self,
        records: &mut Table<'_, u64, &[u8]>,
        counters: &mut Counters,
        payload: &[u8],
    ) -> Result<AppendOutcome, redb::Error> {
        let size = payload.len() as u64;
        let mut dropped = 0;
        while counters.bytes.saturating_add(size) > self.max_bytes {
            let Some((_, evicted)) = records.pop_first()? else {
                // An empty table holds no bytes.
                counters.bytes = 0;
                break;
            };
            counters.bytes -= evicted.value().len() as u64;
            dropped += 1;
        }
        let seq = counters.next_seq;
        records.insert(seq, payload)?;
        counters.next_seq += 1;
        counters.bytes += size;
        counters.dropped_total += dropped;
        Ok(AppendOutcome { seq, dropped })
    }

    fn read(&self, after_seq: Option<u64>, max: usize) -> Result<Vec<Entry>, redb::Error> {
        self.with_database(|db| {
            let txn = db.begin_read()?;
            let records = txn.open_table(RECORDS)?;
            let start = after_seq.map_or(Bound::Unbounded, Bound::Excluded);
            records
                .range::<u64>((start, Bound::Unbounded))?
                .take(max)
                .map(|item| {
                    let (seq, payload) = item?;
                    Ok(Entry {
                        seq: seq.value(),
                        payload: payload.value().to_vec(),
                    })
                })
                .collect()
        })
    }

    /// Runs `operation` on the open file, first reopening it if an earlier
    /// operation failed; a failure of `operation` has the next one reopen.
    fn with_database<T>(
        &self,
        operation: impl FnOnce(&Database) -> Result<T, redb::Error>,
    ) -> Result<T, redb::Error> {
        if self.failed.load(Ordering::Acquire) {
            self.reopen()?;
        }
        let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
        // `None` when another thread's reopen failed since the check above.
        let result = db
            .as_ref()
            .ok_or(redb::Error::DatabaseClosed)
            .and_then(operation);
        if result.is_err() {
            self.failed.store(true, Ordering::Release);
        }
        result
    }

    /// Closes the file and opens it again, which has redb repair it to its
    /// last commit. Leaves the spool marked failed if opening fails.
    fn reopen(&self) -> Result<(), redb::Error> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if !self.failed.load(Ordering::Acquire) {
            // Another thread reopened it while this one waited.
            return Ok(());
        }
        // Closed before opening: a file is open once at a time. A database
        // that failed cannot be closed cleanly, hence the repair on open.
        drop(db.take());
        *db = Some(Database::create(&self.path)?);
        self.failed.store(false, Ordering::Release);
        info!(spool = %self.path.display(), "Spool reopened after a failed operation.");
        Ok(())
    }

    /// Runs `change` in a write transaction, persists the counters it
    /// updated, commits durably, and publishes and returns the resulting
    /// stats. The
    /// counters are read from the file rather than from memory, so a commit
    /// that failed yet reached the disk cannot lead to a reused sequence
    /// number.
    fn write<T>(
        &self,
        change: impl FnOnce(&mut Table<'_, u64, &[u8]>, &mut Counters) -> Result<T, redb::Error>,
    ) -> Result<(T, SpoolStats), redb::Error> {
        let _writer = lock(&self.writer);
        let (output, stats) = self.with_database(|db| {
            let mut txn = db.begin_write()?;
            // redb's default, stated because the whole crate relies on it:
            // the commit is fsync'd before it returns.
            txn.set_durability(Durability::Immediate)?;
            let (output, stats) = {
                let mut records = txn.open_table(RECORDS)?;
                let mut meta = txn.open_table(META)?;
                let mut counters = Counters::load(&meta)?;
                let output = change(&mut records, &mut counters)?;
                counters.store(&mut meta)?;
                let stats = SpoolStats {
                    entries: records.len()?,
                    bytes: counters.bytes,
                    dropped_total: counters.dropped_total,
                };
                (output, stats)
            };
            txn.commit()?;
            Ok((output, stats))
        })?;
        *lock(&self.stats) = stats;
        Ok((output, stats))
    }
}

/// The persisted counters, as read and written within one transaction.
#[derive(Debug)]
struct Counters {
    next_seq: u64,
    bytes: u64,
    dropped_total: u64,
}

impl Counters {
    fn load(meta: &Table<'_, &str, u64>) -> Result<Self, redb::Error> {
        let get = |key| -> Result<Option<u64>, redb::Error> {
            Ok(meta.get(key)?.map(|value| value.value()))
        };
        Ok(Self {
            next_seq: get(META_NEXT_SEQ)?.unwrap_or(FIRST_SEQ),
            bytes: get(META_BYTES)?.unwrap_or(0),
            dropped_total: get(META_DROPPED_TOTAL)?.unwrap_or(0),
        })
    }

    fn store(&self, meta: &mut Table<'_, &str, u64>) -> Result<(), redb::Error> {
        meta.insert(META_NEXT_SEQ, self.next_seq)?;
        meta.insert(META_BYTES, self.bytes)?;
        meta.insert(META_DROPPED_TOTAL, self.dropped_total)?;
        Ok(())
    }
}

/// Creates the spool's directory and opens (or creates) its file.
fn open_database(path: &Path) -> Result<Database, SpoolError> {
    let directory_error = |source| SpoolError::Directory {
        path: path.to_path_buf(),
        source,
    };
    let parent = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty());
    if let Some(parent) = parent {
        std::fs::create_dir_all(parent).map_err(directory_error)?;
    }
    let db = Database::create(path).map_err(|source| SpoolError::Open {
        path: path.to_path_buf(),
        source: source.into(),
    })?;
    // redb fsyncs the file but not the directory entry of a file it just
    // created; without this, a power loss could lose the whole spool.
    #[cfg(unix)]
    std::fs::File::open(parent.unwrap_or(Path::new(".")))
        .and_then(|directory| directory.sync_all())
        .map_err(directory_error)?;
    Ok(db)
}

/// Locks `mutex`, ignoring poisoning: neither lock guards data a panic could
/// leave half-updated (the writer lock guards none, and stats are replaced
/// whole), and an aborted transaction leaves the file unchanged.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
