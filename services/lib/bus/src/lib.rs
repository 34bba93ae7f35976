//! Kafka plumbing shared by every Vigil service: the topic names, the
//! producer and consumer settings that make delivery at-least-once and
//! idempotent, idempotent topic creation, the client context that logs
//! what librdkafka reports at sensible levels, consumer lag, and trace
//! context in record headers.

pub mod changes;
pub mod context;
pub mod lag;
pub mod pipeline;
pub mod registry;
pub mod topics;
pub mod trace;

pub use context::KafkaContext;
pub use topics::{PlanError, TopicPlan, Topics};

use std::path::PathBuf;
use std::sync::LazyLock;
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
use vigil_runtime::Secret;
use vigil_runtime::retry::{RetryPolicy, WarnLimiter};

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
    /// The cluster's metadata could not be read.
    #[error("reading the cluster's metadata from {brokers}: {source}")]
    Metadata { brokers: String, source: KafkaError },
    /// The topic plan does not fit the cluster.
    #[error(transparent)]
    Plan(#[from] PlanError),
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
    #[command(flatten)]
    pub security: KafkaSecurity,
}

/// How clients authenticate to Kafka and whether they encrypt; the default
/// is neither (a listener only the cluster's own network reaches).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KafkaSecurity {
    /// SASL mechanism, when the brokers require authentication.
    #[arg(
        id = "kafka_sasl_mechanism",
        long = "kafka-sasl-mechanism",
        value_name = "MECHANISM",
        env = "VIGIL_KAFKA_SASL_MECHANISM",
        value_enum,
        ignore_case = true,
        requires_all = ["kafka_sasl_username", "kafka_sasl_password"]
    )]
    pub sasl_mechanism: Option<SaslMechanism>,
    /// SASL user name.
    #[arg(
        id = "kafka_sasl_username",
        long = "kafka-sasl-username",
        value_name = "USER",
        env = "VIGIL_KAFKA_SASL_USERNAME",
        requires = "kafka_sasl_mechanism"
    )]
    pub sasl_username: Option<String>,
    /// File holding the SASL password (a mounted Secret), or `env:` to take
    /// VIGIL_KAFKA_SASL_PASSWORD. Never logged.
    #[arg(
        id = "kafka_sasl_password",
        long = "kafka-sasl-password-file",
        value_name = "FILE",
        env = "VIGIL_KAFKA_SASL_PASSWORD_FILE",
        value_parser = Secret::parser("VIGIL_KAFKA_SASL_PASSWORD"),
        requires = "kafka_sasl_mechanism"
    )]
    pub sasl_password: Option<Secret>,
    /// Connect to the brokers over TLS.
    #[arg(id = "kafka_tls", long = "kafka-tls", env = "VIGIL_KAFKA_TLS")]
    pub tls: bool,
    /// CA certificates (PEM) the brokers' certificates are checked against,
    /// instead of the system's.
    #[arg(
        long = "kafka-ca-file",
        value_name = "FILE",
        env = "VIGIL_KAFKA_CA_FILE",
        requires = "kafka_tls"
    )]
    pub ca_file: Option<PathBuf>,
}

/// The SASL mechanisms Vigil's clients speak; each value's name is
/// librdkafka's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SaslMechanism {
    /// User name and password in the clear: only over TLS.
    #[value(name = "PLAIN")]
    Plain,
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    /// What Strimzi's KafkaUser issues.
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    fn name(self) -> String {
        use clap::ValueEnum as _;
        self.to_possible_value()
            .expect("no mechanism is skipped")
            .get_name()
            .to_owned()
    }
}

impl KafkaSecurity {
    /// Sets librdkafka's security properties. The password goes only into
    /// `sasl.password`, which `ClientConfig`'s `Debug` and librdkafka's own
    /// configuration dumps both leave out.
    fn apply(&self, config: &mut ClientConfig) {
        let sasl = match (
            self.sasl_mechanism,
            &self.sasl_username,
            &self.sasl_password,
        ) {
            (Some(mechanism), Some(username), Some(password)) => {
                config
                    .set("sasl.mechanism", mechanism.name())
                    .set("sasl.username", username)
                    .set("sasl.password", password.expose());
                true
            }
            _ => false,
        };
        let protocol = match (sasl, self.tls) {
            (false, false) => "plaintext",
            (false, true) => "ssl",
            (true, false) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        };
        config.set("security.protocol", protocol);
        if let Some(ca_file) = &self.ca_file {
            config.set("ssl.ca.location", ca_file.to_string_lossy());
        }
    }
}

impl KafkaArgs {
    /// Settings every client starts from: where the brokers are and how to
    /// talk to them.
    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        self.security.apply(&mut config);
        config
    }

    /// The topic names under this configuration's prefix.
    pub fn topics(&self) -> Topics {
        Topics::with_prefix(&self.topic_prefix)
    }

    /// Settings for a producer that never loses or reorders an acknowledged
    /// record: idempotence on (off by default in librdkafka), `acks=all`,
    /// zstd compression, a short linger to batch.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config
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
        let mut config = self.client_config();
        config
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
            .create_with_context(KafkaContext::default())
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
            .create_with_context(KafkaContext::default())
            .map_err(|source| BusError::Client {
                client: "consumer",
                brokers: self.brokers.clone(),
                source,
            })
    }

    /// How many brokers the cluster has (from a metadata request).
    pub async fn broker_count(&self) -> Result<usize, BusError> {
        let client: rdkafka::consumer::BaseConsumer =
            self.client_config()
                .create()
                .map_err(|source| BusError::Client {
                    client: "metadata client",
                    brokers: self.brokers.clone(),
                    source,
                })?;
        let brokers = self.brokers.clone();
        tokio::task::spawn_blocking(move || {
            use rdkafka::consumer::Consumer as _;
            client
                .fetch_metadata(None, Duration::from_secs(30))
                .map(|metadata| metadata.brokers().len())
        })
        .await
        .unwrap_or(Err(KafkaError::Canceled))
        .map_err(|source| BusError::Metadata { brokers, source })
    }

    /// Members of consumer group `group` once it is stable (its partitions
    /// assigned); `None` while it forms or rebalances, or has no members.
    pub async fn stable_members(&self, group: &str) -> Result<Option<usize>, BusError> {
        let client: rdkafka::consumer::BaseConsumer =
            self.client_config()
                .create()
                .map_err(|source| BusError::Client {
                    client: "group probe",
                    brokers: self.brokers.clone(),
                    source,
                })?;
        let (brokers, group) = (self.brokers.clone(), group.to_owned());
        tokio::task::spawn_blocking(move || {
            use rdkafka::consumer::Consumer as _;
            client
                .fetch_group_list(Some(&group), Duration::from_secs(10))
                .map(|groups| {
                    groups
                        .groups()
                        .first()
                        .filter(|found| found.state() == "Stable")
                        .map(|found| found.members().len())
                        .filter(|&members| members > 0)
                })
        })
        .await
        .unwrap_or(Err(KafkaError::Canceled))
        .map_err(|source| BusError::Metadata { brokers, source })
    }

    /// Creates every topic in `plan` that does not exist yet; existing topics
    /// are left as they are. Returns the names that were created.
    pub async fn ensure_topics(&self, plan: &TopicPlan) -> Result<Vec<String>, BusError> {
        let admin: AdminClient<DefaultClientContext> =
            self.client_config()
                .create()
                .map_err(|source| BusError::Client {
                    client: "admin client",
                    brokers: self.brokers.clone(),
                    source,
                })?;
        plan.check(self.broker_count().await?)?;
        let topics = self.topics();
        let min_insync = plan.min_insync().to_string();
        let new_topics = plan.new_topics(&topics, &min_insync);
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

/// How [`produce_until_acked`] waits between attempts.
const PRODUCE_RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(10));

/// Every record a process keeps producing through an outage fails the same
/// way: one warning a minute, with the count, instead of one per record.
static PRODUCE_FAILURES: LazyLock<WarnLimiter> =
    LazyLock::new(|| WarnLimiter::new(Duration::from_secs(60)));

/// Kafka refused a record for good: it is the record that is wrong (too
/// large, invalid), so no retry will ever get it accepted. See
/// [`is_refusal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{topic} refused a record of {bytes} bytes ({code:?})")]
pub struct Refused {
    /// The topic that refused it.
    pub topic: String,
    /// The record's payload size.
    pub bytes: usize,
    /// librdkafka's or the broker's error code.
    pub code: RDKafkaErrorCode,
}

impl Refused {
    /// Whether the record was refused for its size (above the producer's
    /// `message.max.bytes` or the topic's `max.message.bytes`).
    pub fn too_large(&self) -> bool {
        matches!(
            self.code,
            RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::MessageBatchTooLarge
        )
    }
}

/// Whether a produce error is about the record itself, so that retrying
/// the same record can never succeed:
///
/// - `MessageSizeTooLarge`: above the producer's `message.max.bytes`
///   (refused before sending) or the topic's `max.message.bytes`;
/// - `MessageBatchTooLarge` (RECORD_LIST_TOO_LARGE): larger than a segment;
/// - `InvalidRecord`: failed the broker's validation;
/// - `InvalidTimestamp`: outside the topic's timestamp bounds.
///
/// Everything else is retried: a broker down, timeouts, a full queue, and
/// the errors that would refuse every record alike (authorization, unknown
/// topic, `InvalidRequiredAcks`) — those are an operator's to fix, and
/// dead-lettering every record meanwhile would empty the stream into the
/// DLQ. `CorruptMessage` is retried too: Kafka marks it retriable (a CRC
/// broken in transit), and a resent record carries a fresh one.
///
/// The producer's `message.max.bytes` (1,000,000) is below the topics'
/// default `max.message.bytes` (1,048,588), so a batch of records that each
/// fit is never refused as a whole; a topic configured smaller than the
/// producer's limit could see a batch of small records refused together.
pub fn is_refusal(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::MessageBatchTooLarge
            | RDKafkaErrorCode::InvalidRecord
            | RDKafkaErrorCode::InvalidTimestamp
    )
}

/// Produces one record and waits until Kafka acknowledges it, retrying with
/// backoff for as long as it takes (a consumer must not move past a record
/// whose output is not durable). A full local queue just waits. Even a
/// refusal ([`is_refusal`]) is retried: use this for records whose content
/// the process controls; for records carrying what clients sent, use
/// [`produce_until_acked_or_refused`]. The record gets a `publish` span (a
/// child of the current one), whose trace context replaces any in
/// `headers`; see [`trace`].
pub async fn produce_until_acked<C: ClientContext + 'static>(
    producer: &FutureProducer<C>,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    headers: Option<&OwnedHeaders>,
) {
    // Nothing is final, so this only returns once acknowledged.
    let _acked = produce(producer, topic, key, payload, headers, |_| false).await;
}

/// Like [`produce_until_acked`], but a record Kafka refuses for good
/// ([`is_refusal`]) is given up on and returned as [`Refused`], so the
/// caller can dead-letter it instead of stalling its partition.
pub async fn produce_until_acked_or_refused<C: ClientContext + 'static>(
    producer: &FutureProducer<C>,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    headers: Option<&OwnedHeaders>,
) -> Result<(), Refused> {
    produce(producer, topic, key, payload, headers, is_refusal).await
}

/// The produce loop: retries every error except those `is_final` picks.
async fn produce<C: ClientContext + 'static>(
    producer: &FutureProducer<C>,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    headers: Option<&OwnedHeaders>,
    is_final: fn(RDKafkaErrorCode) -> bool,
) -> Result<(), Refused> {
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
        let mut backoff = PRODUCE_RETRY.backoff();
        loop {
            let mut record = FutureRecord::to(topic).key(key).payload(payload);
            if let Some(headers) = headers {
                record = record.headers(headers.clone());
            }
            match producer.send(record, Timeout::Never).await {
                Ok(delivery) => {
                    trace::delivered(&span, delivery.partition, delivery.offset);
                    PRODUCE_FAILURES.succeeded();
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(code), _)) if is_final(code) => {
                    return Err(Refused {
                        topic: topic.to_owned(),
                        bytes: payload.len(),
                        code,
                    });
                }
                Err((error, _)) => {
                    let retry_in = backoff.next_delay();
                    if let Some(failures) = PRODUCE_FAILURES.failed() {
                        tracing::warn!(%topic, %error, failures, ?retry_in, "Producing failed; retrying (further failures within a minute are counted, not logged).");
                    }
                    tokio::time::sleep(retry_in).await;
                }
            }
        }
    };
    sending.instrument(span.clone()).await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        kafka: KafkaArgs,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
    }

    #[test]
    fn only_errors_about_the_record_itself_are_refusals() {
        use RDKafkaErrorCode::*;
        for code in [
            MessageSizeTooLarge,
            MessageBatchTooLarge,
            InvalidRecord,
            InvalidTimestamp,
        ] {
            assert!(is_refusal(code), "{code:?}");
        }
        // An outage, a full queue, or what refuses every record alike
        // (an operator's to fix) is retried.
        for code in [
            MessageTimedOut,
            QueueFull,
            RequestTimedOut,
            BrokerTransportFailure,
            AllBrokersDown,
            NotEnoughReplicas,
            NotLeaderForPartition,
            UnknownTopicOrPartition,
            TopicAuthorizationFailed,
            InvalidRequiredAcks,
            InvalidMessage,
        ] {
            assert!(!is_refusal(code), "{code:?}");
        }
    }

    #[test]
    fn without_security_flags_clients_use_plaintext() {
        let cli = parse(&[]).unwrap();
        for config in [cli.kafka.producer_config(), cli.kafka.consumer_config("g")] {
            assert_eq!(config.get("security.protocol"), Some("plaintext"));
            assert_eq!(config.get("sasl.mechanism"), None);
        }
    }

    #[test]
    fn sasl_credentials_come_from_a_file_and_never_show() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kafka-password");
        std::fs::write(&path, "kafka-s3cret\n").unwrap();
        let cli = parse(&[
            "--kafka-sasl-mechanism",
            "scram-sha-512",
            "--kafka-sasl-username",
            "vigil",
            "--kafka-sasl-password-file",
            path.to_str().unwrap(),
            "--kafka-tls",
            "--kafka-ca-file",
            "/etc/vigil/kafka-ca.pem",
        ])
        .unwrap();
        for config in [cli.kafka.producer_config(), cli.kafka.consumer_config("g")] {
            assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
            assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
            assert_eq!(config.get("sasl.username"), Some("vigil"));
            assert_eq!(config.get("sasl.password"), Some("kafka-s3cret"));
            assert_eq!(
                config.get("ssl.ca.location"),
                Some("/etc/vigil/kafka-ca.pem")
            );
            let shown = format!("{config:?}");
            assert!(!shown.contains("kafka-s3cret"), "{shown}");
        }
        let shown = format!("{cli:?}");
        assert!(!shown.contains("kafka-s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn incomplete_or_wrong_security_flags_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "pw").unwrap();
        let file = path.to_str().unwrap();
        for args in [
            &["--kafka-sasl-mechanism", "PLAIN"][..],
            &[
                "--kafka-sasl-mechanism",
                "PLAIN",
                "--kafka-sasl-username",
                "u",
            ],
            &[
                "--kafka-sasl-username",
                "u",
                "--kafka-sasl-password-file",
                file,
            ],
            &[
                "--kafka-sasl-mechanism",
                "GSSAPI",
                "--kafka-sasl-username",
                "u",
                "--kafka-sasl-password-file",
                file,
            ],
            &[
                "--kafka-sasl-mechanism",
                "PLAIN",
                "--kafka-sasl-username",
                "u",
                "--kafka-sasl-password-file",
                "/nonexistent/pw",
            ],
            &["--kafka-ca-file", "/etc/ca.pem"],
        ] {
            let error = parse(args).unwrap_err().to_string();
            assert!(error.contains("--kafka-"), "{args:?}: {error}");
        }
    }
}
