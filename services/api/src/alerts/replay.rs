//! A stream that starts in the past (`since`): a short-lived client reads
//! the topic from the offsets of that time up to the shared reader, then
//! the stream joins the shared ring.
//!
//! Why the seam has no gap and no duplicate. The shared reader publishes a
//! record and advances its positions under one lock, and a subscriber takes
//! its receiver and the positions under the same lock, so the receiver gets
//! exactly the records at or after those positions (`joined_at`). Before
//! subscribing, the replay delivers every record it reads; it may run ahead
//! of the shared reader, so it remembers how far it delivered (`covered`).
//! After subscribing it delivers only records below `joined_at`, and stops
//! once it has read up to `joined_at` everywhere. The ring then delivers
//! from `joined_at` on, skipping what lies below `covered`. Every offset
//! from the start is thus delivered once: by the replay below
//! `max(joined_at, covered)`, by the ring from there.
//!
//! It subscribes only when within half the ring of the shared reader, so
//! the live alerts buffered while it finishes cannot overflow the ring.

use std::sync::Arc;

use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{OwnedSemaphorePermit, broadcast};

use super::{AlertClient, KAFKA_TIMEOUT, LiveAlerts, Positions, Received};
use vigil_bus::{BusError, KafkaConsumer};

/// A replay in progress.
#[derive(Debug)]
pub(crate) struct Replay {
    live: Arc<LiveAlerts>,
    client: AlertClient,
    seam: Seam,
    ring: Option<broadcast::Receiver<Arc<Received>>>,
    _turn: OwnedSemaphorePermit,
}

/// What a replay yields next.
#[derive(Debug)]
pub(crate) enum Step {
    /// A record to deliver.
    Record(Arc<Received>),
    /// The replay is done: go on with `ring`, skipping records below
    /// `skip_below` (the replay delivered them).
    Joined {
        ring: broadcast::Receiver<Arc<Received>>,
        skip_below: Positions,
    },
}

impl Replay {
    /// Starts replaying from the first record at or after `since_ms` (the
    /// records' timestamps), once a turn is free.
    pub(crate) async fn open(live: &Arc<LiveAlerts>, since_ms: i64) -> Result<Self, BusError> {
        let turn = Arc::clone(&live.replays)
            .acquire_owned()
            .await
            .expect("the replay semaphore is never closed");
        let client = AlertClient::new(&live.kafka, "replay")?;
        // Taken before looking up the start, so a partition with nothing
        // at or after `since_ms` starts no later than the shared reader.
        let until = live.positions();
        let starts = {
            let topic = live.topic.clone();
            let until = until.clone();
            client
                .blocking(move |consumer| starts(consumer, &topic, &until, since_ms))
                .await
        }
        .map_err(|source| client.error(source))?;
        client.assign(&starts)?;
        Ok(Self {
            live: Arc::clone(live),
            client,
            seam: Seam::new(starts, until),
            ring: None,
            _turn: turn,
        })
    }

    /// The next record, or the hand-over to the ring (after which the
    /// replay is dropped).
    pub(crate) async fn next(&mut self) -> Step {
        loop {
            if self.seam.caught_up() {
                if let Some(ring) = self.ring.take() {
                    return Step::Joined {
                        ring,
                        skip_below: self.seam.covered.clone(),
                    };
                }
                let now = self.live.positions();
                if self.seam.behind(&now) > self.live.buffer() / 2 {
                    self.seam.until = now;
                } else {
                    let (ring, joined_at) = self.live.subscribe();
                    self.seam.join(joined_at);
                    self.ring = Some(ring);
                }
                continue;
            }
            let record = self.client.next().await;
            if self.seam.read(record.partition, record.offset)
                && let Some(received) = record.received
            {
                return Step::Record(Arc::new(received));
            }
        }
    }
}

/// Every partition in `until` at its first record at or after `since_ms`,
/// or, if it has none, at `until`.
fn starts(
    consumer: &KafkaConsumer,
    topic: &str,
    until: &Positions,
    since_ms: i64,
) -> rdkafka::error::KafkaResult<Positions> {
    let mut list = TopicPartitionList::new();
    for &partition in until.keys() {
        list.add_partition_offset(topic, partition, Offset::Offset(since_ms))?;
    }
    let found = consumer.offsets_for_times(list, KAFKA_TIMEOUT)?;
    until
        .iter()
        .map(|(&partition, &end)| {
            let start = match found.find_partition(topic, partition) {
                Some(element) => {
                    element.error()?;
                    match element.offset() {
                        Offset::Offset(offset) => offset,
                        _ => end,
                    }
                }
                None => end,
            };
            Ok((partition, start))
        })
        .collect()
}

/// The replay's bookkeeping (no I/O; see the module docs).
#[derive(Debug, Clone)]
struct Seam {
    /// Next offset to read, per partition.
    read: Positions,
    /// Records below these were delivered (or skipped as undecodable).
    covered: Positions,
    /// Where to read up to: the shared reader's positions, the last ones
    /// taken.
    until: Positions,
    joined: bool,
}

impl Seam {
    fn new(starts: Positions, until: Positions) -> Self {
        Self {
            read: starts.clone(),
            covered: starts,
            until,
            joined: false,
        }
    }

    /// Whether every partition has been read up to `until`.
    fn caught_up(&self) -> bool {
        self.until
            .iter()
            .all(|(partition, end)| self.read.get(partition).is_some_and(|read| read >= end))
    }

    /// Records between what was read and `positions`, over all partitions.
    fn behind(&self, positions: &Positions) -> usize {
        let missing: i64 = positions
            .iter()
            .map(|(partition, &end)| {
                (end - self.read.get(partition).copied().unwrap_or(end)).max(0)
            })
            .sum();
        usize::try_from(missing).unwrap_or(usize::MAX)
    }

    /// Subscribed to the ring, which delivers from `joined_at` on.
    fn join(&mut self, joined_at: Positions) {
        self.until = joined_at;
        self.joined = true;
    }

    /// Records that `offset` of `partition` was read; whether the replay
    /// delivers it (after joining, records from `until` on come live).
    fn read(&mut self, partition: i32, offset: i64) -> bool {
        self.read.insert(partition, offset + 1);
        if self.joined
            && self
                .until
                .get(&partition)
                .is_none_or(|&joined_at| offset >= joined_at)
        {
            return false;
        }
        self.covered.insert(partition, offset + 1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One partition whose log holds offsets `0..LOG`. The replay starts at
    /// `start`; the shared reader is at `feed` when the replay opens and at
    /// `joined_at` when it subscribes, after the replay has read up to
    /// `ahead` (possibly past the shared reader). Returns every offset
    /// delivered, by the replay and then by the ring, in order.
    fn deliveries(start: i64, feed: i64, ahead: i64, joined_at: i64) -> Vec<i64> {
        const LOG: i64 = 30;
        let mut seam = Seam::new(Positions::from([(0, start)]), Positions::from([(0, feed)]));
        let mut delivered = Vec::new();
        let mut next = start;
        // Before joining: read up to the feed, or further ahead.
        while !seam.caught_up() || next < ahead {
            if next >= LOG {
                break;
            }
            if seam.read(0, next) {
                delivered.push(next);
            }
            next += 1;
        }
        seam.join(Positions::from([(0, joined_at)]));
        while !seam.caught_up() {
            if seam.read(0, next) {
                delivered.push(next);
            }
            next += 1;
        }
        // The ring: everything from `joined_at` on, minus what was covered.
        let skip_below = seam.covered[&0];
        delivered.extend((joined_at..LOG).filter(|&offset| offset >= skip_below));
        delivered
    }

    #[test]
    fn the_seam_delivers_each_offset_once_in_order() {
        for start in 0..12 {
            for feed in 0..12 {
                for ahead in [0, feed, feed + 3] {
                    for joined_at in feed..feed + 6 {
                        let delivered = deliveries(start, feed, ahead, joined_at);
                        let expected: Vec<i64> = (start..30).collect();
                        assert_eq!(
                            delivered, expected,
                            "start {start} feed {feed} ahead {ahead} joined at {joined_at}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn caught_up_means_every_partition() {
        let mut seam = Seam::new(
            Positions::from([(0, 5), (1, 0)]),
            Positions::from([(0, 5), (1, 2)]),
        );
        assert!(!seam.caught_up());
        assert_eq!(seam.behind(&Positions::from([(0, 9), (1, 2)])), 6);
        assert!(seam.read(1, 0));
        assert!(seam.read(1, 1));
        assert!(seam.caught_up());
        assert_eq!(seam.behind(&Positions::from([(0, 5), (1, 2)])), 0);
    }

    #[test]
    fn after_joining_later_records_are_left_to_the_ring() {
        let mut seam = Seam::new(Positions::from([(0, 0)]), Positions::from([(0, 1)]));
        assert!(seam.read(0, 0));
        seam.join(Positions::from([(0, 2)]));
        assert!(seam.read(0, 1));
        assert!(!seam.read(0, 2));
        assert_eq!(seam.covered[&0], 2);
    }
}
