//! Topic names and how many partitions each gets.

use rdkafka::admin::{NewTopic, TopicReplication};

/// Detections from edge agents, key = camera id.
pub const DETECTIONS: &str = "vigil.detections.v1";
/// Camera heartbeats from edge agents, key = camera id.
pub const HEARTBEATS: &str = "vigil.heartbeats.v1";
/// Detections with zone, team and watchlist hits, key = camera id.
pub const ENRICHED: &str = "vigil.enriched.v1";
/// Alerts for teams, key = commune id.
pub const ALERTS: &str = "vigil.alerts.v1";
/// Rejected input with the reason.
pub const DLQ: &str = "vigil.dlq.v1";
/// Compacted registry changelog, key = "<entity>/<id>".
pub const REGISTRY: &str = "vigil.registry.v1";

/// The full topic names under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub detections: String,
    pub heartbeats: String,
    pub enriched: String,
    pub alerts: String,
    pub dlq: String,
    pub registry: String,
}

impl Topics {
    /// Topic names with `prefix` prepended (empty in production).
    pub fn with_prefix(prefix: &str) -> Self {
        let named = |base: &str| format!("{prefix}{base}");
        Self {
            detections: named(DETECTIONS),
            heartbeats: named(HEARTBEATS),
            enriched: named(ENRICHED),
            alerts: named(ALERTS),
            dlq: named(DLQ),
            registry: named(REGISTRY),
        }
    }
}

/// Partition counts and replication for the topics; the defaults suit the
/// single-node local stack.
#[derive(Debug, Clone, clap::Args)]
pub struct TopicPlan {
    /// Partitions of the detections topic (the unit of enricher parallelism).
    #[arg(long, env = "VIGIL_PARTITIONS_DETECTIONS", default_value_t = 6, value_parser = vigil_runtime::flags::count::<i32>)]
    pub detections_partitions: i32,
    /// Partitions of the heartbeats topic.
    #[arg(long, env = "VIGIL_PARTITIONS_HEARTBEATS", default_value_t = 3, value_parser = vigil_runtime::flags::count::<i32>)]
    pub heartbeats_partitions: i32,
    /// Partitions of the enriched topic (the unit of writer parallelism).
    #[arg(long, env = "VIGIL_PARTITIONS_ENRICHED", default_value_t = 6, value_parser = vigil_runtime::flags::count::<i32>)]
    pub enriched_partitions: i32,
    /// Partitions of the alerts topic.
    #[arg(long, env = "VIGIL_PARTITIONS_ALERTS", default_value_t = 3, value_parser = vigil_runtime::flags::count::<i32>)]
    pub alerts_partitions: i32,
    /// Partitions of the dead-letter topic.
    #[arg(long, env = "VIGIL_PARTITIONS_DLQ", default_value_t = 1, value_parser = vigil_runtime::flags::count::<i32>)]
    pub dlq_partitions: i32,
    /// Replication factor of every topic (3 in production, 1 on one node);
    /// refused when larger than the cluster.
    #[arg(long, env = "VIGIL_TOPIC_REPLICATION", default_value_t = 1, value_parser = vigil_runtime::flags::count::<i32>)]
    pub topic_replication: i32,
    /// `min.insync.replicas` of every topic: how many replicas must have a
    /// record before an `acks=all` producer is told it is stored. Default:
    /// 2 with replication 3 or more (one broker may fail without losing or
    /// refusing writes), 1 below.
    #[arg(long, env = "VIGIL_TOPIC_MIN_INSYNC", value_parser = vigil_runtime::flags::count::<i32>)]
    pub topic_min_insync: Option<i32>,
}

/// A topic plan that cannot work on the cluster it is meant for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "topic replication {replication} needs {replication} brokers, but the cluster has {brokers}; \
         lower --topic-replication or add brokers"
    )]
    ReplicationAboveBrokers { replication: i32, brokers: usize },
    #[error(
        "--topic-min-insync {min_insync} is above --topic-replication {replication}: \
         no acks=all write could ever succeed"
    )]
    MinInsyncAboveReplication { min_insync: i32, replication: i32 },
}

impl TopicPlan {
    /// A plan for one broker: `partitions` for detections and enriched
    /// (the units of parallelism), one for every other topic.
    pub fn single_node(partitions: i32) -> Self {
        Self {
            detections_partitions: partitions,
            heartbeats_partitions: 1,
            enriched_partitions: partitions,
            alerts_partitions: 1,
            dlq_partitions: 1,
            topic_replication: 1,
            topic_min_insync: None,
        }
    }

    /// This plan with `replication` replicas of every topic and the default
    /// min ISR for it.
    pub fn replicated(self, replication: i32) -> Self {
        Self {
            topic_replication: replication,
            topic_min_insync: None,
            ..self
        }
    }

    /// The `min.insync.replicas` topics get: as given, or 2 when there are
    /// at least 3 replicas, else 1.
    pub fn min_insync(&self) -> i32 {
        self.topic_min_insync
            .unwrap_or(if self.topic_replication >= 3 { 2 } else { 1 })
    }

    /// Checks the plan against a cluster of `brokers` brokers.
    pub fn check(&self, brokers: usize) -> Result<(), PlanError> {
        let replication = self.topic_replication;
        if usize::try_from(replication).map_or(true, |rf| rf > brokers) {
            return Err(PlanError::ReplicationAboveBrokers {
                replication,
                brokers,
            });
        }
        if self.min_insync() > replication {
            return Err(PlanError::MinInsyncAboveReplication {
                min_insync: self.min_insync(),
                replication,
            });
        }
        Ok(())
    }

    /// The create requests for every Vigil topic. The registry topic is
    /// compacted and has one partition so a reader sees changes in order.
    pub(crate) fn new_topics<'a>(
        &self,
        topics: &'a Topics,
        min_insync: &'a str,
    ) -> Vec<NewTopic<'a>> {
        let rf = self.topic_replication;
        let topic = |name: &'a str, partitions: i32| {
            NewTopic::new(name, partitions, TopicReplication::Fixed(rf))
                .set("min.insync.replicas", min_insync)
        };
        vec![
            topic(&topics.detections, self.detections_partitions),
            topic(&topics.heartbeats, self.heartbeats_partitions),
            topic(&topics.enriched, self.enriched_partitions),
            topic(&topics.alerts, self.alerts_partitions),
            topic(&topics.dlq, self.dlq_partitions),
            topic(&topics.registry, 1).set("cleanup.policy", "compact"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_prepended_to_every_topic() {
        let topics = Topics::with_prefix("t42.");
        assert_eq!(topics.detections, "t42.vigil.detections.v1");
        assert_eq!(topics.registry, "t42.vigil.registry.v1");
    }

    #[test]
    fn min_insync_defaults_to_two_of_three() {
        let plan = TopicPlan::single_node(3);
        assert_eq!(plan.min_insync(), 1);
        assert_eq!(plan.clone().replicated(2).min_insync(), 1);
        assert_eq!(plan.clone().replicated(3).min_insync(), 2);
        assert_eq!(plan.replicated(5).min_insync(), 2);
    }

    #[test]
    fn a_plan_larger_than_the_cluster_is_refused() {
        let plan = TopicPlan::single_node(3).replicated(3);
        assert_eq!(plan.check(3), Ok(()));
        assert_eq!(
            plan.check(1),
            Err(PlanError::ReplicationAboveBrokers {
                replication: 3,
                brokers: 1
            })
        );
        let plan = TopicPlan {
            topic_min_insync: Some(4),
            ..plan
        };
        assert_eq!(
            plan.check(5),
            Err(PlanError::MinInsyncAboveReplication {
                min_insync: 4,
                replication: 3
            })
        );
        let message = TopicPlan::single_node(1)
            .replicated(3)
            .check(1)
            .unwrap_err();
        assert!(
            message
                .to_string()
                .contains("needs 3 brokers, but the cluster has 1")
        );
    }
}
