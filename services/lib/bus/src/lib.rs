//! Kafka plumbing shared by every Vigil service: the topic names, the
//! producer and consumer settings that make delivery at-least-once and
//! idempotent, idempotent topic creation, the client context that logs
//! what librdkafka reports at sensible levels, consumer lag, and trace
//! context in record headers.

pub mod context;
pub mod lag;
pub mod pipeline;
pub mod registry;
pub mod topics;
pub mod trace;

pub use context::KafkaContext;
pub use topics::{TopicPlan, Topics};

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::ClientContext;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use tracing::Instrument as _;

/// A producer of a Vigil service.
pub type KafkaProducer = FutureProducer<KafkaContext>;
/// A consumer of a Vigil service.
pub type KafkaConsumer = StreamConsumer<KafkaContext>;

/// Errors from Kafka plumbing.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A client could not be created from its configuration.
    #[error("creating Kafka {client} for {brokers}: {source}")]
    Client {
        client: &'static str,
        brokers: String,
        source: KafkaError,
    },
    /// The broker refused to create a topic.
    #[error("creating topic {topic}: {code}")]
    CreateTopic {
        topic: String,
        code: RDKafkaErrorCode,
    },
    /// A record could not be produced.
    #[error("producing {record}: {source}")]
    Produce {
        /// Which record to which topic, e.g. `camera/cam-1 to vigil.registry.v1`.
        record: String,
        source: KafkaError,
    },
    /// Consuming failed.
    #[error("consuming {topic}: {source}")]
    Consume { topic: String, source: KafkaError },
    /// The create-topics request itself failed.
    #[error("creating topics: {0}")]
    Admin(#[source] KafkaError),
}

/// Where the Kafka cluster is; flattened into every service's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, comma-separated host:port.
    #[arg(
        long = "kafka-brokers",
        env = "VIGIL_KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,
    /// Prefix for every topic name (lets tests and tenants share a cluster).
    #[arg(long = "topic-prefix", env = "VIGIL_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
}

impl KafkaArgs {
    /// The topic names under this configuration's prefix.
    pub fn topics(&self) -> Topics {
        Topics::with_prefix(&self.topic_prefix)
    }

    /// Settings for a producer that never loses or reorders an acknowledged
    /// record: idempotence on (off by default in librdkafka), `acks=all`,
    /// zstd compression, a short linger to batch.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "zstd")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "300000");
        config
    }

    /// Settings for a consumer in `group` that commits nothing by itself:
    /// [`pipeline::run`] commits offsets once the records' effects are
    /// durable.
    pub fn consumer_config(&self, group: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            // A crashed instance's partitions move to the others after 10 s
            // rather than librdkafka's 45 s default.
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "3000")
            // The prefetch buffer otherwise grows to ~1 GiB per consumer.
            .set("queued.max.messages.kbytes", "65536");
        config
    }

    /// A producer with [`Self::producer_config`] and the [`KafkaContext`].
    pub fn producer(&self) -> Result<KafkaProducer, BusError> {
        self.producer_config()
            .create_with_context(KafkaContext)
            .map_err(|source| BusError::Client {
                client: "producer",
                brokers: self.brokers.clone(),
                source,
            })
    }

    /// A consumer in `group` with [`Self::consumer_config`] and the
    /// [`KafkaContext`]; not yet subscribed.
    pub fn consumer(&self, group: &str) -> Result<KafkaConsumer, BusError> {
        self.consumer_config(group)
            .create_with_context(KafkaContext)
            .map_err(|source| BusError::Client {
                client: "consumer",
                brokers: self.brokers.clone(),
                source,
            })
    }

    /// Creates every topic in `plan` that does not exist yet; existing topics
    /// are left as they are. Returns the names that were created.
    pub async fn ensure_topics(&self, plan: &TopicPlan) -> Result<Vec<String>, BusError> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .map_err(|source| BusError::Client {
                client: "admin client",
                brokers: self.brokers.clone(),
                source,
            })?;
        let topics = self.topics();
        let new_topics = plan.new_topics(&topics);
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics(new_topics.iter(), &options)
            .await
            .map_err(BusError::Admin)?;
        let mut created = Vec::new();
        for result in results {
            match result {
                Ok(topic) => created.push(topic),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => return Err(BusError::CreateTopic { topic, code }),
            }
        }
        Ok(created)
    }
}

/// Produces one record and waits until Kafka acknowledges it, retrying with
/// backoff for as long as it takes (a consumer must not move past a record
/// whose output is not durable). A full local queue just waits. The record
/// gets a `publish` span (a child of the current one), whose trace context
/// replaces any in `headers`; see [`trace`].
pub async fn produce_until_acked<C: ClientContext + 'static>(
    producer: &FutureProducer<C>,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    headers: Option<&OwnedHeaders>,
) {
    let span = trace::publish_span(topic, key, payload.len());
    let with_context;
    let headers = if span.is_none() {
        // Export off: the headers as given, not even copied.
        headers
    } else {
        let headers = headers.cloned().unwrap_or_else(OwnedHeaders::new);
        with_context = trace::with_context(headers, &span);
        Some(&with_context)
    };
    let sending = async {
        let mut backoff = Duration::from_millis(100);
        loop {
            let mut record = FutureRecord::to(topic).key(key).payload(payload);
            if let Some(headers) = headers {
                record = record.headers(headers.clone());
            }
            match producer.send(record, Timeout::Never).await {
                Ok(delivery) => {
                    trace::delivered(&span, delivery.partition, delivery.offset);
                    return;
                }
                Err((error, _)) => {
                    tracing::warn!(%topic, %error, retry_in = ?backoff, "Producing failed; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    };
    sending.instrument(span.clone()).await;
}
