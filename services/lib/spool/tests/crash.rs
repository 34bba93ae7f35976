//! Crash safety: a child process appends and removes records, printing each
//! operation once it has returned, until the parent kills it with SIGKILL;
//! the parent then reopens the spool and checks that every acknowledged
//! append is there with its payload, every completed removal is gone, and
//! sequence numbers carry on. Several rounds kill the same file at different
//! points.
//!
//! The child is this test binary re-executed to run the ignored
//! `crash_writer` test.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use vigil_spool::{Spool, SpoolConfig};

const PATH_VAR: &str = "VIGIL_SPOOL_CRASH_PATH";
const ROUND_VAR: &str = "VIGIL_SPOOL_CRASH_ROUND";

/// Large enough that nothing is evicted: every acknowledged record must stay.
const MAX_BYTES: u64 = 1 << 30;

/// The payload of the child's `i`-th record in `round`, so the parent can
/// check contents, not just presence. Lengths vary up to ~1.5 KB.
fn payload(round: u64, i: u64) -> Vec<u8> {
    let mut payload = format!("round {round} record {i} ").into_bytes();
    payload.resize(payload.len() + (i as usize * 37) % 1500, b'x');
    payload
}

fn open(path: &Path) -> Spool {
    Spool::open(SpoolConfig {
        path: path.to_path_buf(),
        max_bytes: MAX_BYTES,
    })
    .expect("open spool")
}

/// The child: appends (singly and in batches) and removes forever, printing
/// `ACK <seq> <round> <i>` after each append returns, and `REMOVING <seqs>`
/// and `REMOVED` around each removal. Bounded in time in case the parent
/// dies without killing it.
#[test]
#[ignore = "run by `survives_kill_9_at_any_point` as a child process"]
fn crash_writer() {
    let path = std::env::var(PATH_VAR).expect("crash_writer is run by the crash test");
    let round: u64 = std::env::var(ROUND_VAR).unwrap().parse().unwrap();
    let spool = open(Path::new(&path));
    let mut out = std::io::stdout().lock();
    // Ends libtest's unterminated "test crash_writer ... " line, so our
    // first line stands alone.
    writeln!(out).unwrap();
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    for iteration in 0u64.. {
        assert!(Instant::now() < deadline, "the parent never killed us");
        let count = if iteration % 5 == 0 {
            iteration % 8 + 1
        } else {
            1
        };
        let records: Vec<(u64, Vec<u8>)> = (i..i + count).map(|i| (i, payload(round, i))).collect();
        i += count;
        let outcomes = if count == 1 {
            vec![spool.append(&records[0].1).unwrap()]
        } else {
            let payloads: Vec<&[u8]> = records.iter().map(|(_, payload)| &payload[..]).collect();
            spool.append_batch(&payloads).unwrap()
        };
        for (outcome, (i, _)) in outcomes.iter().zip(&records) {
            writeln!(out, "ACK {} {round} {i}", outcome.seq).unwrap();
            acked.push(outcome.seq);
        }
        out.flush().unwrap();

        if iteration % 7 == 6 {
            // Out of order, as Kafka acks may come.
            let seqs = [acked[acked.len() - 2], acked[acked.len() / 2]];
            writeln!(out, "REMOVING {} {}", seqs[0], seqs[1]).unwrap();
            out.flush().unwrap();
            spool.remove(&seqs).unwrap();
            writeln!(out, "REMOVED").unwrap();
            out.flush().unwrap();
        }
    }
}

/// What the parent learned from the children's output.
#[derive(Debug, Default)]
struct Log {
    /// Acknowledged appends: seq to (round, i).
    acked: BTreeMap<u64, (u64, u64)>,
    /// Seqs whose removal started, possibly without finishing.
    removing: BTreeSet<u64>,
    /// Seqs whose removal returned.
    removed: BTreeSet<u64>,
    /// Seqs found in the spool without having been acknowledged: stored by
    /// the append a kill interrupted before it returned or printed.
    interrupted: BTreeSet<u64>,
}

/// Runs one child until it has acknowledged at least `kill_after` appends,
/// kills it, and records everything it printed.
fn run_child(path: &Path, round: u64, kill_after: usize, log: &mut Log) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_writer",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PATH_VAR, path)
        .env(ROUND_VAR, round.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    let stdout = BufReader::new(child.stdout.take().unwrap());

    let mut acked_this_round = 0;
    let mut killed = false;
    let mut pending_removal = Vec::new();
    // Reads on after the kill: lines already in the pipe were acknowledged too.
    for line in stdout.lines() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["ACK", seq, round, i] => {
                let seq = seq.parse().unwrap();
                let previous = log
                    .acked
                    .insert(seq, (round.parse().unwrap(), i.parse().unwrap()));
                assert_eq!(previous, None, "seq {seq} was acknowledged twice");
                acked_this_round += 1;
            }
            ["REMOVING", seqs @ ..] => {
                pending_removal = seqs.iter().map(|seq| seq.parse().unwrap()).collect();
                log.removing.extend(&pending_removal);
            }
            ["REMOVED"] => log.removed.extend(pending_removal.drain(..)),
            // libtest's own output.
            _ => {}
        }
        if !killed && acked_this_round >= kill_after {
            child.kill().expect("SIGKILL the writer");
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        killed,
        "the writer exited on its own ({status}) after {acked_this_round} appends"
    );
}

/// Checks the reopened spool against everything the children printed.
fn check(path: &Path, log: &mut Log) {
    let spool = open(path);
    let entries = spool.read_from(None, usize::MAX).unwrap();
    let present: BTreeMap<u64, &[u8]> = entries
        .iter()
        .map(|entry| (entry.seq, &entry.payload[..]))
        .collect();

    for (&seq, &(round, i)) in &log.acked {
        if log.removed.contains(&seq) {
            assert!(!present.contains_key(&seq), "removed seq {seq} is back");
        } else if !log.removing.contains(&seq) {
            assert_eq!(
                present.get(&seq).copied(),
                Some(&payload(round, i)[..]),
                "acknowledged seq {seq} is missing or altered"
            );
        }
    }
    // A record present but never acknowledged can only be from the append
    // this round's kill interrupted (after it committed, before or while it
    // printed), so it comes after the last acknowledged one.
    let last_acked = log.acked.keys().next_back().copied().unwrap_or(0);
    for &seq in present.keys() {
        if !log.acked.contains_key(&seq) && !log.interrupted.contains(&seq) {
            assert!(seq > last_acked, "seq {seq} was never appended");
            log.interrupted.insert(seq);
        }
    }

    let stats = spool.stats();
    assert_eq!(stats.entries, entries.len() as u64);
    assert_eq!(
        stats.bytes,
        entries
            .iter()
            .map(|entry| entry.payload.len() as u64)
            .sum::<u64>()
    );
    assert_eq!(stats.dropped_total, 0);

    // Numbering carries on past everything a child may have handed out.
    let last_seen = present.keys().next_back().copied().unwrap_or(0);
    let probe = spool.append(b"probe").unwrap().seq;
    assert!(probe > last_acked.max(last_seen), "seq {probe} reused");
    spool.remove(&[probe]).unwrap();
    log.removed.insert(probe);
}

#[test]
fn survives_kill_9_at_any_point() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("spool.redb");
    let mut log = Log::default();
    // Different kill points, each round reopening what the last one left.
    for (round, kill_after) in [(1, 150), (2, 41), (3, 263), (4, 1)] {
        run_child(&path, round, kill_after, &mut log);
        check(&path, &mut log);
    }
    assert!(log.acked.len() > 400, "only {} appends", log.acked.len());
    assert!(!log.removed.is_empty());
}
