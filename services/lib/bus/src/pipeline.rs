//! The consume → effect → commit loop every Vigil consumer runs.
//!
//! Records are handed to an async handler that must finish only once the
//! record's effect is durable (produced and acknowledged, or written to the
//! database), retrying on its own as long as it takes. Handlers run
//! concurrently up to a bound, and their completions are taken in the order
//! the records arrived, so the offset stored for a partition is always a
//! contiguous "everything before this is done" mark. The periodic
//! auto-commit then commits only stored offsets: at-least-once, nothing
//! skipped. A record whose partition is revoked while in flight is simply
//! processed again by the new owner — every effect in Vigil is idempotent.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// A handler's work for one record.
pub type Effect = Pin<Box<dyn Future<Output = ()> + Send>>;

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
}

/// What a pipeline did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipelineStats {
    pub handled: u64,
    pub unfinished_at_shutdown: u64,
}

/// Consumes with `consumer` (already subscribed) until `shutdown`, running
/// `handle` on every record; then drains in-flight records within the
/// configured time and commits what is done.
pub async fn run(
    consumer: &StreamConsumer,
    config: PipelineConfig,
    handle: impl Fn(OwnedMessage) -> Effect,
    shutdown: CancellationToken,
) -> PipelineStats {
    let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
    let mut stats = PipelineStats::default();
    loop {
        let room = in_flight.len() < config.max_in_flight;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                store(consumer, done);
                stats.handled += 1;
            }
            message = consumer.recv(), if room => match message {
                Ok(message) => {
                    let message = message.detach();
                    let position = (message.topic().to_owned(), message.partition(), message.offset());
                    let effect = handle(message);
                    in_flight.push_back(Box::pin(async move {
                        effect.await;
                        position
                    }));
                }
                Err(error) => {
                    warn!(%error, "Consuming failed; retrying.");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            },
        }
    }

    let drained = tokio::time::timeout(config.drain, async {
        while let Some(done) = in_flight.next().await {
            store(consumer, done);
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
    if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored yet is not an error worth more than a note.
        info!(%error, "Final offset commit did not happen.");
    }
    stats
}

/// Marks a finished record's offset for the next commit.
fn store(consumer: &StreamConsumer, (topic, partition, offset): Position) {
    let mut list = TopicPartitionList::new();
    // The committed offset is the next one to read.
    if list
        .add_partition_offset(&topic, partition, Offset::Offset(offset + 1))
        .is_ok()
        && let Err(error) = consumer.store_offsets(&list)
    {
        // The partition was revoked meanwhile; its new owner redoes it.
        tracing::debug!(%topic, partition, offset, %error, "Offset not stored.");
    }
}
