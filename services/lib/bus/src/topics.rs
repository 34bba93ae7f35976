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
    /// Replication factor of every topic (3 in production, 1 on one node).
    #[arg(long, env = "VIGIL_TOPIC_REPLICATION", default_value_t = 1, value_parser = vigil_runtime::flags::count::<i32>)]
    pub topic_replication: i32,
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
        }
    }

    /// The create requests for every Vigil topic. The registry topic is
    /// compacted and has one partition so a reader sees changes in order.
    pub(crate) fn new_topics<'a>(&self, topics: &'a Topics) -> Vec<NewTopic<'a>> {
        let rf = self.topic_replication;
        let topic = |name: &'a str, partitions: i32| {
            NewTopic::new(name, partitions, TopicReplication::Fixed(rf))
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
}
