//! Measures the spool's throughput on this machine's disk: single appends
//! (one fsync each), batches of 1,000 × 1,500 B records (one fsync per
//! batch), draining (read then remove, 1,000 at a time) and reopening.
//!
//! ```text
//! cargo run --release -p vigil-spool --example spool_rate [DIR]
//! ```
//!
//! `DIR` (default: the system temp directory) should be on the disk the
//! agent will spool to: fsync costs depend on it, and a tmpfs makes them free.

use std::time::{Duration, Instant};

use vigil_spool::{Spool, SpoolConfig};

const RECORD_BYTES: usize = 1_500;
const BATCH_RECORDS: usize = 1_000;
const BATCHES: usize = 50;
/// Single appends run for this long (or `SINGLE_MAX` appends).
const SINGLE_FOR: Duration = Duration::from_secs(3);
const SINGLE_MAX: usize = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let parent = std::env::args_os()
        .nth(1)
        .map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(&parent)?;
    let path = dir.path().join("spool.redb");
    let config = SpoolConfig {
        path: path.clone(),
        max_bytes: 1 << 30,
    };
    println!("spool: {}", path.display());
    let spool = Spool::open(config.clone())?;
    let record = vec![0xa5; RECORD_BYTES];

    let start = Instant::now();
    let mut singles = 0;
    while singles < SINGLE_MAX && start.elapsed() < SINGLE_FOR {
        spool.append(&record)?;
        singles += 1;
    }
    report("append (1 fsync per record)", singles, start.elapsed());

    let batch = vec![record; BATCH_RECORDS];
    let start = Instant::now();
    for _ in 0..BATCHES {
        spool.append_batch(&batch)?;
    }
    let elapsed = start.elapsed();
    report(
        "append_batch (1,000 records per fsync)",
        BATCHES * BATCH_RECORDS,
        elapsed,
    );
    println!(
        "  {:.1} ms per batch commit",
        elapsed.as_secs_f64() * 1e3 / BATCHES as f64
    );

    let stats = spool.stats();
    let file_bytes = std::fs::metadata(&path)?.len();
    println!(
        "held: {} records, {:.1} MB of payload in a {:.1} MB file",
        stats.entries,
        stats.bytes as f64 / 1e6,
        file_bytes as f64 / 1e6
    );

    drop(spool);
    let start = Instant::now();
    let spool = Spool::open(config)?;
    println!(
        "reopen (clean shutdown): {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );

    let start = Instant::now();
    let mut drained = 0;
    loop {
        let entries = spool.read_from(None, BATCH_RECORDS)?;
        if entries.is_empty() {
            break;
        }
        let seqs: Vec<u64> = entries.iter().map(|entry| entry.seq).collect();
        spool.remove(&seqs)?;
        drained += seqs.len();
    }
    report(
        "drain (read_from + remove, 1,000 per fsync)",
        drained,
        start.elapsed(),
    );
    println!(
        "file after draining: {:.1} MB",
        std::fs::metadata(&path)?.len() as f64 / 1e6
    );
    Ok(())
}

fn report(what: &str, records: usize, elapsed: Duration) {
    let per_second = records as f64 / elapsed.as_secs_f64();
    println!(
        "{what}: {records} records in {:.2} s = {per_second:.0} records/s, {:.1} MB/s",
        elapsed.as_secs_f64(),
        per_second * RECORD_BYTES as f64 / 1e6
    );
}
