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
//! at-least-once, nothing skipped. A record whose partition is revoked
//! while in flight is simply processed again by the new owner — every
//! effect in Vigil is idempotent.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vigil_runtime::retry::WarnLimiter;

/// A handler's work for one record.
pub type Effect = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Work that must succeed before offsets are committed; `false` skips this
/// commit (the offsets are committed at a later one).
pub type Gate = Pin<Box<dyn Future<Output = bool> + Send>>;

/// A `before_commit` for pipelines with nothing to do before committing.
pub fn always_commit() -> Gate {
    Box::pin(std::future::ready(true))
}

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
}

/// Consumes with `consumer` (subscribed, with auto-commit off) until
/// `shutdown`, running `handle` on every record; then drains in-flight
/// records within the configured time and commits what is done.
pub async fn run<C: ConsumerContext + 'static>(
    consumer: &StreamConsumer<C>,
    config: PipelineConfig,
    handle: impl Fn(OwnedMessage) -> Effect,
    before_commit: impl Fn() -> Gate,
    shutdown: CancellationToken,
) -> PipelineStats {
    let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
    let mut done: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut stats = PipelineStats::default();
    let mut commits = tokio::time::interval(config.commit_every);
    commits.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let consume_failures = WarnLimiter::new(Duration::from_secs(60));
    loop {
        let room = in_flight.len() < config.max_in_flight;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some((topic, partition, offset)) = in_flight.next(), if !in_flight.is_empty() => {
                done.insert((topic, partition), offset);
                stats.handled += 1;
            }
            _ = commits.tick() => commit(consumer, &done, &before_commit, CommitMode::Async).await,
            message = consumer.recv(), if room => match message {
                Ok(message) => {
                    consume_failures.succeeded();
                    let message = message.detach();
                    let position = (message.topic().to_owned(), message.partition(), message.offset());
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
    }

    let drained = tokio::time::timeout(config.drain, async {
        while let Some((topic, partition, offset)) = in_flight.next().await {
            done.insert((topic, partition), offset);
            stats.handled += 1;
        }
    })
    .await;
    stats.unfinished_at_shutdown = in_flight.len() as u64;
    if drained.is_err() {
        warn!(
            unfinished = in_flight.len(),
            "Shutdown drain timed out; unfinished records will be consumed again."
        );
    }
    commit(consumer, &done, &before_commit, CommitMode::Sync).await;
    stats
}

/// Commits the offsets after the records in `done`, if `before_commit`
/// succeeds. The snapshot is taken first, so everything it covers finished
/// before `before_commit` started.
async fn commit<C: ConsumerContext + 'static>(
    consumer: &StreamConsumer<C>,
    done: &BTreeMap<(String, i32), i64>,
    before_commit: &impl Fn() -> Gate,
    mode: CommitMode,
) {
    if done.is_empty() {
        return;
    }
    let mut offsets = TopicPartitionList::new();
    for ((topic, partition), offset) in done {
        // The committed offset is the next one to read.
        if let Err(error) =
            offsets.add_partition_offset(topic, *partition, Offset::Offset(offset + 1))
        {
            warn!(%topic, partition, %error, "Offset not committable.");
        }
    }
    if !before_commit().await {
        info!("Commit postponed: the pre-commit step did not complete.");
        return;
    }
    if let Err(error) = consumer.commit(&offsets, mode) {
        // Typically a partition revoked meanwhile; its new owner redoes it.
        debug!(%error, "Offset commit failed.");
    }
}
