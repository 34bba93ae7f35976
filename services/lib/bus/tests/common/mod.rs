//! What the pipeline tests share: batches of records spread over the
//! partitions of the test topic.

use std::time::Duration;

use rdkafka::producer::FutureRecord;
use vigil_bus::KafkaArgs;

/// Records per partition in each batch.
pub(crate) const PER_PARTITION: i32 = 10;
/// Partitions a batch covers.
pub(crate) const PARTITIONS: i32 = 3;

/// Produces one batch: [`PER_PARTITION`] records to each of the first
/// [`PARTITIONS`] partitions of `topic`.
pub(crate) async fn produce_batch(kafka: &KafkaArgs, topic: &str) -> anyhow::Result<()> {
    let producer = kafka.producer()?;
    for partition in 0..PARTITIONS {
        for n in 0..PER_PARTITION {
            let payload = format!("record {n}");
            producer
                .send(
                    FutureRecord::<(), _>::to(topic)
                        .partition(partition)
                        .payload(&payload),
                    Duration::from_secs(30),
                )
                .await
                .map_err(|(error, _)| error)?;
        }
    }
    Ok(())
}
