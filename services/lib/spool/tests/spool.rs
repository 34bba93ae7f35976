//! Behaviour of the spool through its public API: order, removal, restarts,
//! eviction and errors.

use std::path::Path;

use tempfile::TempDir;
use vigil_spool::{AppendOutcome, Entry, Spool, SpoolConfig, SpoolError, SpoolStats};

fn open(dir: &TempDir, max_bytes: u64) -> Spool {
    open_at(&dir.path().join("spool.redb"), max_bytes)
}

fn open_at(path: &Path, max_bytes: u64) -> Spool {
    Spool::open(SpoolConfig {
        path: path.to_path_buf(),
        max_bytes,
    })
    .expect("open spool")
}

fn all(spool: &Spool) -> Vec<Entry> {
    spool.read_from(None, usize::MAX).expect("read spool")
}

fn seqs(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|entry| entry.seq).collect()
}

fn entry(seq: u64, payload: &[u8]) -> Entry {
    Entry {
        seq,
        payload: payload.to_vec(),
    }
}

#[test]
fn reads_records_oldest_first_with_consecutive_seqs_from_one() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 1 << 20);

    assert_eq!(
        spool.append(b"a").unwrap(),
        AppendOutcome { seq: 1, dropped: 0 }
    );
    let batch = spool
        .append_batch(&[b"b".to_vec(), Vec::new(), b"d".to_vec()])
        .unwrap();
    assert_eq!(
        batch.iter().map(|outcome| outcome.seq).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert_eq!(spool.append(b"e").unwrap().seq, 5);

    assert_eq!(
        all(&spool),
        [
            entry(1, b"a"),
            entry(2, b"b"),
            entry(3, b""),
            entry(4, b"d"),
            entry(5, b"e"),
        ]
    );
    assert_eq!(seqs(&spool.read_from(Some(2), 2).unwrap()), [3, 4]);
    assert_eq!(seqs(&spool.read_from(Some(5), 10).unwrap()), [] as [u64; 0]);
    assert_eq!(spool.read_from(None, 0).unwrap(), []);
    assert_eq!(
        spool.stats(),
        SpoolStats {
            entries: 5,
            bytes: 4,
            dropped_total: 0
        }
    );
}

#[test]
fn empty_batch_stores_nothing() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 100);
    assert_eq!(spool.append_batch::<Vec<u8>>(&[]).unwrap(), []);
    assert_eq!(spool.append(b"x").unwrap().seq, 1);
}

#[test]
fn read_from_skips_records_removed_out_of_order() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 1 << 20);
    let payloads: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 3]).collect();
    spool.append_batch(&payloads).unwrap();

    spool.remove(&[7, 2]).unwrap();
    spool.remove(&[5]).unwrap();
    spool.remove(&[1, 10]).unwrap();

    assert_eq!(seqs(&all(&spool)), [3, 4, 6, 8, 9]);
    assert_eq!(seqs(&spool.read_from(Some(4), 2).unwrap()), [6, 8]);
    assert_eq!(spool.read_from(Some(7), 1).unwrap(), [entry(8, &[7; 3])]);
    assert_eq!(
        spool.stats(),
        SpoolStats {
            entries: 5,
            bytes: 15,
            dropped_total: 0
        }
    );
}

#[test]
fn remove_is_idempotent() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 1 << 20);
    spool.append_batch(&[b"one", b"two"]).unwrap();

    spool.remove(&[1]).unwrap();
    spool.remove(&[1, 1]).unwrap();
    // Never appended, and nothing at all.
    spool.remove(&[42, u64::MAX]).unwrap();
    spool.remove(&[]).unwrap();

    assert_eq!(all(&spool), [entry(2, b"two")]);
    assert_eq!(spool.stats().entries, 1);
    assert_eq!(spool.stats().bytes, 3);
}

#[test]
fn reopening_preserves_records_stats_and_next_seq() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 1 << 20);
    spool
        .append_batch(&[&b"alpha"[..], b"beta", b"gamma"])
        .unwrap();
    spool.remove(&[2]).unwrap();
    let stats = spool.stats();
    drop(spool);

    let spool = open(&dir, 1 << 20);
    assert_eq!(all(&spool), [entry(1, b"alpha"), entry(3, b"gamma")]);
    assert_eq!(spool.stats(), stats);
    assert_eq!(spool.append(b"delta").unwrap().seq, 4);
}

#[test]
fn seqs_are_never_reused_after_draining() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 1 << 20);
    spool.append_batch(&[b"a", b"b", b"c"]).unwrap();
    spool.remove(&[3, 1, 2]).unwrap();
    assert_eq!(spool.stats(), SpoolStats::default());
    drop(spool);

    let spool = open(&dir, 1 << 20);
    assert_eq!(all(&spool), []);
    assert_eq!(spool.append(b"d").unwrap().seq, 4);
}

#[test]
fn creates_missing_parent_directories() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("var/lib/vigil/spool.redb");
    let spool = open_at(&path, 100);
    spool.append(b"x").unwrap();
    assert!(path.is_file());
}

#[test]
fn full_spool_evicts_oldest_records_and_persists_the_count() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 10);
    spool.append_batch(&[[1u8; 4], [2; 4]]).unwrap();

    // 8 + 4 > 10: the oldest record goes.
    assert_eq!(
        spool.append(&[3; 4]).unwrap(),
        AppendOutcome { seq: 3, dropped: 1 }
    );
    // 8 + 10 > 10: everything goes.
    assert_eq!(
        spool.append(&[4; 10]).unwrap(),
        AppendOutcome { seq: 4, dropped: 2 }
    );
    assert_eq!(all(&spool), [entry(4, &[4; 10])]);
    assert_eq!(
        spool.stats(),
        SpoolStats {
            entries: 1,
            bytes: 10,
            dropped_total: 3
        }
    );
    drop(spool);

    let spool = open(&dir, 10);
    assert_eq!(spool.stats().dropped_total, 3);
    assert_eq!(
        spool.append(&[5; 1]).unwrap(),
        AppendOutcome { seq: 5, dropped: 1 }
    );
    assert_eq!(spool.stats().dropped_total, 4);
}

#[test]
fn batch_larger_than_the_spool_keeps_its_newest_records() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 10);
    spool.append(&[0; 3]).unwrap();

    let outcomes = spool.append_batch(&[[1u8; 4], [2; 4], [3; 4]]).unwrap();
    assert_eq!(
        outcomes,
        [
            AppendOutcome { seq: 2, dropped: 0 },
            AppendOutcome { seq: 3, dropped: 1 },
            AppendOutcome { seq: 4, dropped: 1 },
        ]
    );
    assert_eq!(all(&spool), [entry(3, &[2; 4]), entry(4, &[3; 4])]);
    assert_eq!(spool.stats().dropped_total, 2);
}

#[test]
fn lowering_the_bound_evicts_on_the_next_append() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 100);
    spool.append_batch(&[[1u8; 10], [2; 10], [3; 10]]).unwrap();
    drop(spool);

    let spool = open(&dir, 15);
    assert_eq!(spool.stats().bytes, 30);
    assert_eq!(spool.append(&[4; 5]).unwrap().dropped, 2);
    assert_eq!(seqs(&all(&spool)), [3, 4]);
}

#[test]
fn record_larger_than_the_spool_is_rejected_and_stores_nothing() {
    let dir = TempDir::new().unwrap();
    let spool = open(&dir, 8);
    spool.append(&[1; 8]).unwrap();

    let error = spool.append(&[2; 9]).unwrap_err();
    assert!(
        matches!(error, SpoolError::RecordTooLarge { size: 9, max: 8 }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "record of 9 bytes exceeds the spool's capacity of 8 bytes"
    );

    // One oversized record fails the whole batch, before any eviction.
    let error = spool.append_batch(&[vec![3; 1], vec![4; 100]]).unwrap_err();
    assert!(matches!(
        error,
        SpoolError::RecordTooLarge { size: 100, .. }
    ));

    assert_eq!(all(&spool), [entry(1, &[1; 8])]);
    assert_eq!(spool.stats().dropped_total, 0);
    assert_eq!(spool.append(&[5; 1]).unwrap().seq, 2);
}

#[test]
fn errors_name_the_operation_and_the_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("spool.redb");
    let _spool = open_at(&path, 100);

    // redb allows one open handle per file.
    let error = Spool::open(SpoolConfig {
        path: path.clone(),
        max_bytes: 100,
    })
    .unwrap_err();
    assert!(matches!(error, SpoolError::Open { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("opening spool {}: ", path.display())),
        "{error}"
    );

    let not_a_spool = dir.path().join("not-a-spool");
    std::fs::write(&not_a_spool, b"certainly not a redb file").unwrap();
    let error = Spool::open(SpoolConfig {
        path: not_a_spool,
        max_bytes: 100,
    })
    .unwrap_err();
    assert!(matches!(error, SpoolError::Open { .. }), "{error:?}");
}

#[test]
fn is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Spool>();

    let dir = TempDir::new().unwrap();
    let spool = std::sync::Arc::new(open(&dir, 1 << 20));
    let writers: Vec<_> = (0..4u8)
        .map(|writer| {
            let spool = spool.clone();
            std::thread::spawn(move || {
                for i in 0..25u8 {
                    spool.append(&[writer, i]).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }

    let entries = all(&spool);
    assert_eq!(seqs(&entries), (1..=100).collect::<Vec<_>>());
    assert_eq!(
        spool.stats(),
        SpoolStats {
            entries: 100,
            bytes: 200,
            dropped_total: 0
        }
    );
}

#[test]
fn a_full_disk_is_told_apart() {
    let path = Path::new("spool.redb").to_path_buf();
    let io = |kind| redb::Error::Io(std::io::Error::from(kind));
    let full = SpoolError::Append {
        path: path.clone(),
        source: io(std::io::ErrorKind::StorageFull),
    };
    assert!(full.is_disk_full(), "{full}");
    let quota = SpoolError::Open {
        path: path.clone(),
        source: io(std::io::ErrorKind::QuotaExceeded),
    };
    assert!(quota.is_disk_full(), "{quota}");
    let other = SpoolError::Append {
        path,
        source: io(std::io::ErrorKind::PermissionDenied),
    };
    assert!(!other.is_disk_full(), "{other}");
    assert!(!SpoolError::RecordTooLarge { size: 2, max: 1 }.is_disk_full());
}
