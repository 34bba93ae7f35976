//! Random sequences of appends, removals, reads and reopens, checked against
//! an in-memory model of a bounded drop-oldest FIFO.

use std::collections::VecDeque;

use proptest::prelude::*;
use proptest::sample::Index;
use tempfile::TempDir;
use vigil_spool::{AppendOutcome, Entry, Spool, SpoolConfig, SpoolError, SpoolStats};

/// Small, so that eviction happens often.
const MAX_BYTES: u64 = 64;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    AppendBatch(Vec<Vec<u8>>),
    /// Removes the records at these positions in the spool (acks arrive in
    /// any order, and may repeat).
    RemoveHeld(Vec<Index>),
    /// Removes any sequence number, held or not.
    RemoveSeq(u64),
    Read {
        after: Option<u64>,
        max: usize,
    },
    Reopen,
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        9 => prop::collection::vec(any::<u8>(), 0..=24),
        // Larger than the spool: must be rejected.
        1 => prop::collection::vec(any::<u8>(), (MAX_BYTES as usize + 1)..=80),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => payload().prop_map(Op::Append),
        3 => prop::collection::vec(payload(), 0..6).prop_map(Op::AppendBatch),
        3 => prop::collection::vec(any::<Index>(), 0..5).prop_map(Op::RemoveHeld),
        1 => (0u64..60).prop_map(Op::RemoveSeq),
        2 => (prop::option::of(0u64..60), 0usize..8)
            .prop_map(|(after, max)| Op::Read { after, max }),
        1 => Just(Op::Reopen),
    ]
}

/// What the spool should hold.
#[derive(Debug)]
struct Model {
    entries: VecDeque<Entry>,
    next_seq: u64,
    dropped_total: u64,
}

impl Model {
    fn new() -> Self {
        Self {
            entries: VecDeque::new(),
            next_seq: 1,
            dropped_total: 0,
        }
    }

    fn bytes(&self) -> u64 {
        self.entries
            .iter()
            .map(|entry| entry.payload.len() as u64)
            .sum()
    }

    /// `None` when the batch holds a record too large for the spool, in
    /// which case nothing changes.
    fn append_batch(&mut self, payloads: &[Vec<u8>]) -> Option<Vec<AppendOutcome>> {
        if payloads
            .iter()
            .any(|payload| payload.len() as u64 > MAX_BYTES)
        {
            return None;
        }
        let outcomes = payloads
            .iter()
            .map(|payload| {
                let mut dropped = 0;
                while self.bytes() + payload.len() as u64 > MAX_BYTES {
                    self.entries.pop_front();
                    dropped += 1;
                }
                let seq = self.next_seq;
                self.next_seq += 1;
                self.dropped_total += dropped;
                self.entries.push_back(Entry {
                    seq,
                    payload: payload.clone(),
                });
                AppendOutcome { seq, dropped }
            })
            .collect();
        Some(outcomes)
    }

    fn remove(&mut self, seqs: &[u64]) {
        self.entries.retain(|entry| !seqs.contains(&entry.seq));
    }

    fn read_from(&self, after: Option<u64>, max: usize) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|entry| after.is_none_or(|after| entry.seq > after))
            .take(max)
            .cloned()
            .collect()
    }

    fn stats(&self) -> SpoolStats {
        SpoolStats {
            entries: self.entries.len() as u64,
            bytes: self.bytes(),
            dropped_total: self.dropped_total,
        }
    }
}

fn open(dir: &TempDir) -> Spool {
    Spool::open(SpoolConfig {
        path: dir.path().join("spool.redb"),
        max_bytes: MAX_BYTES,
    })
    .expect("open spool")
}

/// Checks a batch outcome against the model's expectation.
fn check_append(
    result: Result<Vec<AppendOutcome>, SpoolError>,
    expected: Option<Vec<AppendOutcome>>,
) -> Result<(), TestCaseError> {
    match (result, expected) {
        (Ok(outcomes), Some(expected)) => prop_assert_eq!(outcomes, expected),
        (Err(SpoolError::RecordTooLarge { .. }), None) => {}
        (result, expected) => {
            prop_assert!(false, "spool gave {result:?}, model expected {expected:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn spool_behaves_like_a_bounded_drop_oldest_fifo(ops in prop::collection::vec(op(), 1..40)) {
        let dir = TempDir::new().unwrap();
        let mut spool = open(&dir);
        let mut model = Model::new();

        for op in ops {
            match op {
                Op::Append(payload) => {
                    let result = spool.append(&payload).map(|outcome| vec![outcome]);
                    check_append(result, model.append_batch(&[payload]))?;
                }
                Op::AppendBatch(payloads) => {
                    let result = spool.append_batch(&payloads);
                    check_append(result, model.append_batch(&payloads))?;
                }
                Op::RemoveHeld(indices) => {
                    let seqs: Vec<u64> = if model.entries.is_empty() {
                        Vec::new()
                    } else {
                        indices
                            .iter()
                            .map(|index| model.entries[index.index(model.entries.len())].seq)
                            .collect()
                    };
                    spool.remove(&seqs).unwrap();
                    model.remove(&seqs);
                }
                Op::RemoveSeq(seq) => {
                    spool.remove(&[seq]).unwrap();
                    model.remove(&[seq]);
                }
                Op::Read { after, max } => {
                    prop_assert_eq!(spool.read_from(after, max).unwrap(), model.read_from(after, max));
                }
                Op::Reopen => {
                    drop(spool);
                    spool = open(&dir);
                }
            }
            prop_assert_eq!(
                spool.read_from(None, usize::MAX).unwrap(),
                model.read_from(None, usize::MAX)
            );
            prop_assert_eq!(spool.stats(), model.stats());
        }

        // Sequence numbers continue where the model says, even after reopening.
        drop(spool);
        let spool = open(&dir);
        prop_assert_eq!(spool.stats(), model.stats());
        prop_assert_eq!(spool.append(b"last").unwrap().seq, model.next_seq);
    }
}
