//! Consumer lag per partition, as a gauge: how many records of each
//! partition this consumer owns are not yet committed — the work a restart
//! would redo, and what an operator watches during an outage.
//!
//! Measured by a task of its own, never by the pipeline loop: the broker
//! round trips (committed offsets, high watermarks) run on a blocking
//! thread, so a slow or absent broker delays the gauge, not the records.
//! librdkafka's statistics callback was the other way to get it, but its
//! events queue behind the prefetched records and are served only when the
//! pipeline polls: while a database outage holds the pipeline, the gauge
//! would freeze at its last value just when it matters.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// How long one broker request of a measurement may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Lag of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    /// Records after the committed offset (from the first record when the
    /// group has committed nothing yet).
    pub records: i64,
}

/// Sets the gauge `metric{topic, partition}` every `every` until `stop`
/// for the partitions `consumer` is assigned. A partition handed to
/// another instance is set to 0 here, so summing over instances counts
/// each partition once.
pub fn report<C>(
    consumer: Arc<StreamConsumer<C>>,
    metric: &'static str,
    every: Duration,
    stop: CancellationToken,
) -> JoinHandle<()>
where
    C: ConsumerContext + 'static,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reported: BTreeSet<(String, i32)> = BTreeSet::new();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return,
            }
            let measuring = Arc::clone(&consumer);
            let measurement = tokio::task::spawn_blocking(move || measure(&measuring));
            // With Kafka down a measurement takes its timeouts; shutdown
            // does not wait for it.
            let measured = tokio::select! {
                measured = measurement => measured,
                () = stop.cancelled() => return,
            };
            let lags = match measured {
                Ok(Ok(lags)) => lags,
                Ok(Err(error)) => {
                    // Kafka is unreachable; its own errors say so. Keep the
                    // last values rather than report a made-up zero.
                    debug!(%error, "Consumer lag not measured.");
                    continue;
                }
                Err(error) => {
                    debug!(%error, "Consumer lag measurement panicked.");
                    continue;
                }
            };
            let mut now: BTreeSet<(String, i32)> = BTreeSet::new();
            for lag in lags {
                metrics::gauge!(metric, "topic" => lag.topic.clone(), "partition" => lag.partition.to_string())
                    .set(lag.records as f64);
                now.insert((lag.topic, lag.partition));
            }
            for (topic, partition) in reported.difference(&now) {
                metrics::gauge!(metric, "topic" => topic.clone(), "partition" => partition.to_string())
                    .set(0.0);
            }
            reported = now;
        }
    })
}

/// Asks the broker for the committed offsets and high watermarks of the
/// partitions `consumer` is assigned. Blocks.
pub fn measure<C>(consumer: &StreamConsumer<C>) -> KafkaResult<Vec<PartitionLag>>
where
    C: ConsumerContext + 'static,
{
    let assignment = consumer.assignment()?;
    if assignment.count() == 0 {
        return Ok(Vec::new());
    }
    let committed = consumer.committed_offsets(assignment, REQUEST_TIMEOUT)?;
    lags(&committed, |topic, partition| {
        consumer.fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
    })
}

/// The lag of every partition in `committed`, given its watermarks.
fn lags(
    committed: &TopicPartitionList,
    mut watermarks: impl FnMut(&str, i32) -> KafkaResult<(i64, i64)>,
) -> KafkaResult<Vec<PartitionLag>> {
    let mut lags = Vec::with_capacity(committed.count());
    for element in committed.elements() {
        let (low, high) = watermarks(element.topic(), element.partition())?;
        // Nothing committed: the group reads from the first record
        // (auto.offset.reset=earliest), so all of them are ahead of it.
        let position = match element.offset() {
            Offset::Offset(offset) => offset.max(low),
            _ => low,
        };
        lags.push(PartitionLag {
            topic: element.topic().to_owned(),
            partition: element.partition(),
            records: (high - position).max(0),
        });
    }
    Ok(lags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_from_the_committed_offset_or_the_first_record() {
        let mut committed = TopicPartitionList::new();
        committed
            .add_partition_offset("t", 0, Offset::Offset(40))
            .unwrap();
        committed
            .add_partition_offset("t", 1, Offset::Invalid)
            .unwrap();
        // Retention removed records the group never committed past.
        committed
            .add_partition_offset("t", 2, Offset::Offset(5))
            .unwrap();
        let lags = lags(&committed, |_, partition| {
            Ok(match partition {
                0 => (0, 100),
                1 => (10, 30),
                _ => (20, 20),
            })
        })
        .unwrap();
        let records: Vec<i64> = lags.iter().map(|lag| lag.records).collect();
        assert_eq!(records, [60, 20, 0]);
    }
}
