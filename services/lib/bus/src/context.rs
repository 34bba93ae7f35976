//! The client context every Vigil service creates its Kafka clients with.
//!
//! librdkafka reports a broker it cannot reach as an error, over and over,
//! while it reconnects by itself: logged at ERROR, an outage of a few
//! minutes pages someone for something that heals. Here what librdkafka
//! retries on its own is logged at WARN, and ERROR is kept for what needs
//! a person (authentication, configuration, fatal errors). Partition
//! assignments are logged at INFO, so a rebalance can be read in the logs.

use std::sync::{Mutex, PoisonError};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

/// The log target of everything librdkafka reports, so it can be filtered
/// on its own (`VIGIL_LOG=info,librdkafka=warn`).
pub const LOG_TARGET: &str = "librdkafka";

/// Logs librdkafka's messages and errors at levels that say what an
/// operator must do, and partition assignments; lets a pipeline finish
/// revoked partitions before they are released.
#[derive(Debug, Default)]
pub struct KafkaContext {
    /// Where revocations go while a pipeline answers them.
    revocations: Mutex<Option<mpsc::UnboundedSender<TopicPartitionList>>>,
}

impl KafkaContext {
    /// From now on, revoked partition lists are sent to the returned
    /// receiver, and each must be released with `incremental_unassign` once
    /// its records in flight are done, until [`Self::answer_revocations_now`].
    pub(crate) fn defer_revocations(&self) -> mpsc::UnboundedReceiver<TopicPartitionList> {
        let (sender, receiver) = mpsc::unbounded_channel();
        *self.lock_revocations() = Some(sender);
        receiver
    }

    /// Revocations are released at once again (the pipeline has stopped).
    pub(crate) fn answer_revocations_now(&self) {
        *self.lock_revocations() = None;
    }

    fn lock_revocations(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<mpsc::UnboundedSender<TopicPartitionList>>> {
        self.revocations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `partitions` to the pipeline, if one answers revocations and
    /// there is something left to commit for them.
    fn defer(&self, consumer: &BaseConsumer<Self>, partitions: &TopicPartitionList) -> bool {
        if !matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        ) || consumer.assignment_lost()
        {
            return false;
        }
        self.lock_revocations()
            .as_ref()
            .is_some_and(|pipeline| pipeline.send(partitions.clone()).is_ok())
    }
}

impl ClientContext for KafkaContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                error!(target: LOG_TARGET, facility, "{message}");
            }
            // librdkafka's error-level lines are about one connection or
            // request that it retries; what cannot heal also reaches
            // `error` below, which says so at ERROR.
            RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning => {
                warn!(target: LOG_TARGET, facility, "{message}");
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                info!(target: LOG_TARGET, facility, "{message}");
            }
            RDKafkaLogLevel::Debug => debug!(target: LOG_TARGET, facility, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if heals_by_itself(&error) {
            warn!(target: LOG_TARGET, %error, reason, "Kafka is unreachable or busy; retrying.");
        } else {
            error!(target: LOG_TARGET, %error, reason, "Kafka client error.");
        }
    }

    // Statistics are not enabled (`statistics.interval.ms` stays 0); lag
    // is measured by `crate::lag`. Should someone enable them, they must
    // not flood the log at INFO as librdkafka's default does.
    fn stats_raw(&self, _statistics: &[u8]) {}
}

impl ConsumerContext for KafkaContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        event: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        let described = describe(partitions);
        let outcome = match event {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                info!(partitions = %described, "Partitions assigned.");
                assign(consumer, partitions)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                if self.defer(consumer, partitions) {
                    info!(
                        partitions = %described,
                        "Partitions revoked; released once their records in flight are committed."
                    );
                    return;
                }
                info!(partitions = %described, "Partitions revoked.");
                release(consumer, partitions)
            }
            other => {
                let error = RDKafkaErrorCode::from(other);
                warn!(%error, "Rebalance failed; the group retries.");
                release(consumer, partitions)
            }
        };
        if let Err(error) = outcome {
            warn!(%error, partitions = %described, "Applying a rebalance failed.");
        }
    }
}

/// Takes `partitions` on, as the group's protocol requires.
fn assign(
    consumer: &BaseConsumer<KafkaContext>,
    partitions: &TopicPartitionList,
) -> KafkaResult<()> {
    match consumer.rebalance_protocol() {
        RebalanceProtocol::Cooperative => consumer.incremental_assign(partitions),
        _ => consumer.assign(partitions),
    }
}

/// Gives `partitions` up, as the group's protocol requires.
pub(crate) fn release<C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    partitions: &TopicPartitionList,
) -> KafkaResult<()> {
    match consumer.rebalance_protocol() {
        RebalanceProtocol::Cooperative => consumer.incremental_unassign(partitions),
        _ => consumer.unassign(),
    }
}

/// Whether librdkafka recovers from `error` without help: brokers down or
/// moving, timeouts, a coordinator changing.
fn heals_by_itself(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::MessageTimedOut
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::PreferredLeaderNotAvailable
                | RDKafkaErrorCode::BrokerNotAvailable
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::NotEnoughReplicas
                | RDKafkaErrorCode::NotEnoughReplicasAfterAppend
        )
    )
}

/// `topic[0,1,2] other[0]`, for logs.
fn describe(partitions: &TopicPartitionList) -> String {
    let mut by_topic: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
    for element in partitions.elements() {
        by_topic
            .entry(element.topic().to_owned())
            .or_default()
            .push(element.partition());
    }
    by_topic
        .into_iter()
        .map(|(topic, mut ids)| {
            ids.sort_unstable();
            let ids: Vec<String> = ids.iter().map(i32::to_string).collect();
            format!("{topic}[{}]", ids.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_broker_is_a_warning_and_a_fatal_error_is_not() {
        let down = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        assert!(heals_by_itself(&down));
        let transport = KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure);
        assert!(heals_by_itself(&transport));
        let auth = KafkaError::Global(RDKafkaErrorCode::Authentication);
        assert!(!heals_by_itself(&auth));
    }

    #[test]
    fn assignments_are_described_per_topic() {
        let mut partitions = TopicPartitionList::new();
        partitions.add_partition("b", 2);
        partitions.add_partition("a", 1);
        partitions.add_partition("b", 0);
        assert_eq!(describe(&partitions), "a[1] b[0,2]");
    }
}
