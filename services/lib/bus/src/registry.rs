//! The registry changelog on the compacted `vigil.registry.v1` topic: the
//! operator CLI publishes each change; services follow the topic from the
//! beginning (compaction keeps the latest record per key), so they start
//! with the whole registry and see updates without a restart.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use prost::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use vigil_domain::{Registry, RegistryEntity};
use vigil_proto::v1::RegistryChange;
use vigil_runtime::retry::WarnLimiter;

use crate::{BusError, KafkaArgs, KafkaContext};

/// How many registry records may be in flight at once when publishing.
const PUBLISH_CONCURRENCY: usize = 1_000;

/// Publishes registry changes.
#[derive(Clone)]
pub struct RegistryPublisher {
    producer: FutureProducer<KafkaContext>,
    topic: String,
}

impl std::fmt::Debug for RegistryPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryPublisher")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl RegistryPublisher {
    pub fn new(kafka: &KafkaArgs) -> Result<Self, BusError> {
        let producer = kafka.producer()?;
        Ok(Self {
            producer,
            topic: kafka.topics().registry,
        })
    }

    /// Publishes every entity, in order (one partition, idempotent
    /// producer), and waits until Kafka has acknowledged them all.
    pub async fn publish(
        &self,
        entities: impl IntoIterator<Item = RegistryEntity>,
    ) -> Result<usize, BusError> {
        let changed_at = Utc::now();
        let sends = entities.into_iter().map(|entity| {
            let key = entity.key();
            let payload = entity.into_change(changed_at).encode_to_vec();
            async move {
                self.producer
                    .send(
                        FutureRecord::to(&self.topic).key(&key).payload(&payload),
                        Duration::from_secs(60),
                    )
                    .await
                    .map_err(|(source, _)| BusError::Produce {
                        record: format!("{key} to {}", self.topic),
                        source,
                    })
            }
        });
        let mut results = futures::stream::iter(sends).buffered(PUBLISH_CONCURRENCY);
        let mut published = 0;
        while let Some(result) = results.next().await {
            result?;
            published += 1;
        }
        Ok(published)
    }
}

impl RegistryPublisher {
    /// Publishes a tombstone for `key` (e.g. `watchlist/wl-1`): followers
    /// drop the record, and compaction eventually removes it from the topic.
    pub async fn retract(&self, key: &str) -> Result<(), BusError> {
        self.producer
            .send(
                FutureRecord::<str, [u8]>::to(&self.topic).key(key),
                Duration::from_secs(60),
            )
            .await
            .map(drop)
            .map_err(|(source, _)| BusError::Produce {
                record: format!("tombstone {key} to {}", self.topic),
                source,
            })
    }
}

/// A registry kept current from the changelog.
pub type SharedRegistry = Arc<RwLock<Registry>>;

/// Reads the changelog from the beginning into a registry, returns once it
/// has caught up with the end of the topic, and keeps applying changes in
/// the background until `shutdown` is cancelled.
pub async fn follow(
    kafka: &KafkaArgs,
    shutdown: CancellationToken,
) -> Result<(SharedRegistry, JoinHandle<()>), BusError> {
    let topic = kafka.topics().registry;
    let consume_err = |source| BusError::Consume {
        topic: topic.clone(),
        source,
    };
    let config = kafka.consumer_config("vigil-registry-follower");
    // Every follower reads the whole topic itself: no group, no commits.
    let consumer: StreamConsumer<KafkaContext> = config
        .create_with_context(KafkaContext::default())
        .map_err(|source| BusError::Client {
            client: "consumer",
            brokers: kafka.brokers.clone(),
            source,
        })?;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&topic, 0, Offset::Beginning)
        .map_err(consume_err)?;
    consumer.assign(&assignment).map_err(consume_err)?;
    let consumer = Arc::new(consumer);
    let watermarks = {
        let consumer = Arc::clone(&consumer);
        let topic = topic.clone();
        tokio::task::spawn_blocking(move || {
            consumer.fetch_watermarks(&topic, 0, Duration::from_secs(30))
        })
        .await
        .expect("watermark lookup does not panic")
    };
    let (_, end) = match watermarks {
        Ok(watermarks) => watermarks,
        Err(error) => {
            // librdkafka queues its log lines and errors (a refused login,
            // say) until the client is polled; serve them, so the reason is
            // logged before the failure is returned.
            let _ = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await;
            return Err(consume_err(error));
        }
    };

    let registry = SharedRegistry::default();
    let (loaded_tx, loaded_rx) = oneshot::channel();
    let mut loaded_tx = if end == 0 {
        let _ = loaded_tx.send(());
        None
    } else {
        Some(loaded_tx)
    };
    let task = {
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            let failures = WarnLimiter::new(Duration::from_secs(60));
            loop {
                let message = tokio::select! {
                    () = shutdown.cancelled() => return,
                    message = consumer.recv() => message,
                };
                match message {
                    Ok(message) => {
                        failures.succeeded();
                        apply(&registry, &message);
                        if message.offset() + 1 >= end
                            && let Some(tx) = loaded_tx.take()
                        {
                            let _ = tx.send(());
                        }
                    }
                    // A queued librdkafka event, not a failed attempt: no
                    // pause (see `pipeline::run`).
                    Err(error) => {
                        if let Some(failures) = failures.failed() {
                            warn!(%topic, %error, failures, "Reading the registry changelog reported an error; librdkafka reconnects.");
                        }
                    }
                }
            }
        })
    };
    // The task only drops the sender by finishing, i.e. on shutdown.
    let _ = loaded_rx.await;
    Ok((registry, task))
}

fn apply(registry: &RwLock<Registry>, message: &BorrowedMessage<'_>) {
    let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
    let mut registry = registry
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(payload) = message.payload() else {
        registry.remove(&key);
        debug!(%key, "Registry record deleted.");
        return;
    };
    let entity = RegistryChange::decode(payload)
        .map_err(|e| e.to_string())
        .and_then(|change| RegistryEntity::try_from(change).map_err(|e| e.to_string()));
    match entity {
        Ok(entity) => {
            registry.upsert(entity);
        }
        Err(error) => {
            warn!(%key, offset = message.offset(), %error, "Skipping an invalid registry record.")
        }
    }
}
