//! The consume → effect → commit loop every Vigil consumer runs.
//!
//! Records are handed to an async handler that must finish only once the
//! record's effect is durable (produced and acknowledged, or written to the
//! database), retrying on its own as long as it takes. Handlers run
//! concurrently up to a bound, and their completions are taken in the order
//! the records arrived, so the offset kept for a partition is always a
//! contiguous "everything before this is done" mark. Every `commit_every`
//! the pipeline snapshots those marks, runs the caller's `before_commit`
//! (e.g. the writer's count rollup, which must cover every effect the
//! snapshot includes), and commits the snapshot only if that succeeded:
//! at-least-once, nothing skipped. Records keep flowing meanwhile: a
//! rollup of a second or more used to hold every record behind it, which
//! was the writer's whole latency tail.
//!
//! When the group revokes partitions (cooperative rebalancing), the
//! pipeline finishes their records in flight, commits them, and only then
//! releases the partitions (see [`crate::KafkaContext`]), so the new owner
//! starts where this one stopped. Should those records not finish within
//! the drain time, the partitions are released anyway and the new owner
//! processes them again — every effect in Vigil is idempotent.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vigil_runtime::retry::WarnLimiter;

use crate::KafkaConsumer;

/// From a record's timestamp (when its producer sent it) to a consumer
/// taking it up, by `topic`: the producer's linger, the broker, the fetch
/// and the wait for room among the records in flight.
pub const RECORD_WAIT: &str = "vigil_record_wait_seconds";

/// A handler's work for one record.
pub type Effect = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Work that must succeed before offsets are committed; `false` skips this
/// commit (the offsets are committed at a later one).
pub type Gate = Pin<Box<dyn Future<Output = bool> + Send>>;

/// A `before_commit` for pipelines with nothing to do before committing.
pub fn always_commit() -> Gate {
    Box::pin(std::future::ready(true))
}

/// A partition: topic and number.
type Partition = (String, i32);

/// Where a record was: topic, partition, offset.
type Position = (String, i32, i64);

/// A record in flight: its effect, then its position.
type InFlight = Pin<Box<dyn Future<Output = Position> + Send>>;

/// How a pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Records being handled at once.
    pub max_in_flight: usize,
    /// Time allowed after shutdown to finish records in flight.
    pub drain: Duration,
    /// How often finished offsets are committed.
    pub commit_every: Duration,
}

/// What a pipeline did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipelineStats {
    pub handled: u64,
    pub unfinished_at_shutdown: u64,
    /// Records of revoked partitions finished (and committed) before the
    /// partitions were released.
    pub finished_before_release: u64,
    /// Revocations released with records still in flight (drain time out).
    pub released_unfinished: u64,
}

/// Consumes with `consumer` (subscribed, with auto-commit off) until
/// `shutdown`, running `handle` on every record; then drains in-flight
/// records within the configured time and commits what is done.
pub async fn run(
    consumer: &KafkaConsumer,
    config: PipelineConfig,
    handle: impl Fn(OwnedMessage) -> Effect,
    before_commit: impl Fn() -> Gate,
    shutdown: CancellationToken,
) -> PipelineStats {
    metrics::describe_histogram!(
        RECORD_WAIT,
        metrics::Unit::Seconds,
        "From a record's producer sending it to a consumer taking it up, by topic."
    );
    let mut waits = RecordWaits::default();
    let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
    let mut progress = Progress::default();
    let mut revocations = consumer.context().defer_revocations();
    let mut revoking: VecDeque<Revocation> = VecDeque::new();
    let mut commits = tokio::time::interval(config.commit_every);
    commits.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let consume_failures = WarnLimiter::new(Duration::from_secs(60));
    // The periodic commit under way, if any; at most one at a time.
    let mut committing: Option<Pin<Box<dyn Future<Output = ()> + Send + '_>>> = None;
    loop {
        let room = in_flight.len() < config.max_in_flight;
        let release_by = revoking.front().map(|revocation| revocation.deadline);
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(position) = in_flight.next(), if !in_flight.is_empty() => {
                progress.finished(position, &revoking);
            }
            Some(partitions) = revocations.recv() => revoking.push_back(Revocation {
                partitions,
                deadline: Instant::now() + config.drain,
            }),
            () = sleep_until_some(release_by), if release_by.is_some() => {}
            () = finish(&mut committing), if committing.is_some() => committing = None,
            _ = commits.tick(), if committing.is_none() => {
                if let Some(offsets) = snapshot(progress.done.iter()) {
                    let gate = before_commit();
                    committing = Some(Box::pin(commit(consumer, offsets, gate, CommitMode::Async)));
                }
            }
            message = consumer.recv(), if room => match message {
                Ok(message) => {
                    consume_failures.succeeded();
                    let message = message.detach();
                    waits.record(&message);
                    let position = (message.topic().to_owned(), message.partition(), message.offset());
                    progress.started(&position);
                    let effect = handle(message);
                    in_flight.push_back(Box::pin(async move {
                        effect.await;
                        position
                    }));
                }
                // An error here is an event librdkafka queued (a broker
                // connection lost, ...), not a failed attempt: librdkafka
                // reconnects with its own backoff. Waiting here would only
                // leave the events of an outage queued ahead of the records
                // once Kafka is back (a backoff of seconds per event kept
                // consumers stuck for minutes after a 30 s outage).
                Err(error) => {
                    if let Some(failures) = consume_failures.failed() {
                        warn!(%error, failures, "Consuming reported an error; librdkafka reconnects.");
                    }
                }
            },
        }
        while let Some(revocation) = revoking.front() {
            let unfinished = progress.unfinished_of(&revocation.partitions);
            if unfinished > 0 && Instant::now() < revocation.deadline {
                break;
            }
            let revocation = revoking.pop_front().expect("front exists");
            // Commits go out in order: the periodic one first.
            if let Some(periodic) = committing.take() {
                periodic.await;
            }
            release_revoked(
                consumer,
                revocation,
                unfinished,
                &mut progress,
                &before_commit,
            )
            .await;
        }
    }

    let drained = tokio::time::timeout(config.drain, async {
        while let Some(position) = in_flight.next().await {
            progress.finished(position, &revoking);
        }
    })
    .await;
    progress.stats.unfinished_at_shutdown = in_flight.len() as u64;
    if drained.is_err() {
        warn!(
            unfinished = in_flight.len(),
            "Shutdown drain timed out; unfinished records will be consumed again."
        );
    }
    if let Some(periodic) = committing.take() {
        periodic.await;
    }
    if let Some(offsets) = snapshot(progress.done.iter()) {
        commit(consumer, offsets, before_commit(), CommitMode::Sync).await;
    }
    // Revocations still waiting are answered now, and later ones (the
    // consumer closing) at once by the context.
    consumer.context().answer_revocations_now();
    revocations.close();
    while let Some(partitions) = revocations.recv().await {
        revoking.push_back(Revocation {
            partitions,
            deadline: Instant::now(),
        });
    }
    for revocation in revoking {
        if let Err(error) = crate::context::release(consumer, &revocation.partitions) {
            debug!(%error, "Releasing revoked partitions at shutdown failed.");
        }
    }
    progress.stats
}

/// The [`RECORD_WAIT`] histogram of each topic, looked up once per topic
/// rather than registered again for every record.
#[derive(Default)]
struct RecordWaits(BTreeMap<String, metrics::Histogram>);

impl RecordWaits {
    /// Records how long `message` waited since it was sent (if its
    /// producer stamped it; a clock behind the producer's counts as no
    /// wait).
    fn record(&mut self, message: &OwnedMessage) {
        let Some(sent) = message.timestamp().to_millis() else {
            return;
        };
        let waited = chrono::Utc::now().timestamp_millis().saturating_sub(sent);
        let topic = message.topic();
        if !self.0.contains_key(topic) {
            let histogram = metrics::histogram!(RECORD_WAIT, "topic" => topic.to_owned());
            self.0.insert(topic.to_owned(), histogram);
        }
        if let Some(histogram) = self.0.get(topic) {
            histogram.record(waited.max(0) as f64 / 1000.0);
        }
    }
}

/// Partitions the group took away, waiting for their records in flight.
struct Revocation {
    partitions: TopicPartitionList,
    /// When they are released even with records still in flight.
    deadline: Instant,
}

/// What is done and what is in flight, per partition.
#[derive(Default)]
struct Progress {
    /// The last offset finished in each partition (everything before it is
    /// finished too).
    done: BTreeMap<Partition, i64>,
    /// Records started and not yet finished, per partition.
    in_flight: BTreeMap<Partition, u64>,
    /// Records still in flight when their partition was released: their
    /// offsets are no longer this consumer's to commit.
    abandoned: BTreeMap<Partition, u64>,
    stats: PipelineStats,
}

impl Progress {
    fn started(&mut self, (topic, partition, _): &Position) {
        *self
            .in_flight
            .entry((topic.clone(), *partition))
            .or_default() += 1;
    }

    fn finished(&mut self, (topic, partition, offset): Position, revoking: &VecDeque<Revocation>) {
        let key = (topic, partition);
        self.stats.handled += 1;
        // Records finish in the order they started, so the abandoned ones
        // of a partition come before any started after it came back.
        if count_down(&mut self.abandoned, &key) {
            return;
        }
        count_down(&mut self.in_flight, &key);
        if revoking
            .iter()
            .any(|revocation| contains(&revocation.partitions, &key))
        {
            self.stats.finished_before_release += 1;
        }
        self.done.insert(key, offset);
    }

    /// Forgets `partition`, released to another consumer.
    fn release(&mut self, partition: &Partition) {
        self.done.remove(partition);
        if let Some(unfinished) = self.in_flight.remove(partition) {
            *self.abandoned.entry(partition.clone()).or_default() += unfinished;
        }
    }

    /// Records of `partitions` still in flight.
    fn unfinished_of(&self, partitions: &TopicPartitionList) -> u64 {
        partitions
            .elements()
            .iter()
            .filter_map(|element| {
                self.in_flight
                    .get(&(element.topic().to_owned(), element.partition()))
            })
            .sum()
    }
}

/// Takes one off `partition`'s count in `counts`; whether it had one.
fn count_down(counts: &mut BTreeMap<Partition, u64>, partition: &Partition) -> bool {
    let Some(count) = counts.get_mut(partition) else {
        return false;
    };
    *count -= 1;
    if *count == 0 {
        counts.remove(partition);
    }
    true
}

/// Whether `partitions` lists `partition`.
fn contains(partitions: &TopicPartitionList, (topic, partition): &Partition) -> bool {
    partitions
        .elements()
        .iter()
        .any(|element| element.topic() == topic && element.partition() == *partition)
}

/// Commits what is done in the revoked partitions, forgets them (their
/// offsets are the new owner's to commit from now on) and releases them.
async fn release_revoked(
    consumer: &KafkaConsumer,
    revocation: Revocation,
    unfinished: u64,
    progress: &mut Progress,
    before_commit: &impl Fn() -> Gate,
) {
    let revoked: Vec<Partition> = revocation
        .partitions
        .elements()
        .iter()
        .map(|element| (element.topic().to_owned(), element.partition()))
        .collect();
    let finished = revoked
        .iter()
        .filter_map(|key| progress.done.get_key_value(key));
    if let Some(offsets) = snapshot(finished) {
        commit(consumer, offsets, before_commit(), CommitMode::Sync).await;
    }
    for key in &revoked {
        progress.release(key);
    }
    if unfinished > 0 {
        progress.stats.released_unfinished += 1;
        warn!(
            unfinished,
            "Revoked partitions released with records still in flight; their new owner processes them again."
        );
    }
    if let Err(error) = crate::context::release(consumer, &revocation.partitions) {
        warn!(%error, "Releasing revoked partitions failed.");
    }
}

/// Sleeps until `deadline`; never returns without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Runs `work` to its end; never returns without it.
async fn finish<F: Future<Output = ()> + Unpin>(work: &mut Option<F>) {
    match work {
        Some(work) => work.await,
        None => std::future::pending().await,
    }
}

/// The offsets to commit after the records in `done` (the next one to read
/// in each partition); `None` when there are none.
fn snapshot<'a>(
    done: impl Iterator<Item = (&'a Partition, &'a i64)>,
) -> Option<TopicPartitionList> {
    let mut offsets = TopicPartitionList::new();
    for ((topic, partition), offset) in done {
        if let Err(error) =
            offsets.add_partition_offset(topic, *partition, Offset::Offset(offset + 1))
        {
            warn!(%topic, partition, %error, "Offset not committable.");
        }
    }
    (offsets.count() > 0).then_some(offsets)
}

/// Commits `offsets` if `gate` succeeds. The snapshot is taken before the
/// gate starts, so everything it covers finished before.
async fn commit(
    consumer: &KafkaConsumer,
    offsets: TopicPartitionList,
    gate: Gate,
    mode: CommitMode,
) {
    if !gate.await {
        info!("Commit postponed: the pre-commit step did not complete.");
        return;
    }
    if let Err(error) = consumer.commit(&offsets, mode) {
        // Typically a partition revoked meanwhile; its new owner redoes it.
        debug!(%error, "Offset commit failed.");
    }
}
