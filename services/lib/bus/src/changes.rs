//! Moves on stored alerts, announced to live streams: once a move is
//! stored, the alert is published again on `vigil.alerts.v1` with its own
//! key (the commune, so it follows its raise) and `change` set. The writer
//! and the notifier skip such records; the API's live streams pass them
//! on, so every open console sees an acknowledgement within a second.
//!
//! Announcing is best effort, off the caller's path: the move is already
//! stored, and a console that missed the change reads it with the alert.

use std::time::Duration;

use prost::Message as _;
use tracing::warn;
use vigil_alerting::HistoryEntry;
use vigil_domain::to_timestamp;
use vigil_proto::v1::{Alert, AlertChange};

use crate::{BusError, KafkaArgs, KafkaProducer, produce_until_acked};

/// How long an announcement may take before it is given up.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(10);

/// The change record of `entry`.
pub fn change_of(entry: &HistoryEntry) -> AlertChange {
    AlertChange {
        action: entry.action.clone(),
        state: entry.to.as_str().to_owned(),
        actor: entry.actor.name.clone(),
        role: entry.actor.role.clone(),
        at: Some(to_timestamp(entry.at)),
        detail: entry.detail.clone(),
    }
}

/// Announces moves on alerts to the alert topic.
#[derive(Clone)]
pub struct AlertAnnouncer {
    producer: KafkaProducer,
    topic: String,
}

impl std::fmt::Debug for AlertAnnouncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertAnnouncer")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl AlertAnnouncer {
    /// An announcer producing to the alert topic of `kafka`.
    pub fn new(kafka: &KafkaArgs) -> Result<Self, BusError> {
        Ok(Self {
            producer: kafka.producer()?,
            topic: kafka.topics().alerts,
        })
    }

    /// Publishes `alert` with the change `entry` made to it, in a task of
    /// its own; a failure is logged, never returned.
    pub fn announce(&self, alert: &Alert, entry: &HistoryEntry) {
        let record = Alert {
            change: Some(change_of(entry)),
            ..alert.clone()
        };
        let (producer, topic) = (self.producer.clone(), self.topic.clone());
        tokio::spawn(async move {
            let payload = record.encode_to_vec();
            let sent = tokio::time::timeout(
                ANNOUNCE_TIMEOUT,
                produce_until_acked(
                    &producer,
                    &topic,
                    record.commune_id.as_bytes(),
                    &payload,
                    None,
                ),
            )
            .await;
            if sent.is_err() {
                warn!(alert_id = %record.alert_id, %topic, "A move on an alert could not be announced to live streams in time; consoles see it on their next read.");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use vigil_alerting::{Actor, State};

    use super::*;

    #[test]
    fn a_change_names_the_move_the_state_and_who() {
        let at = DateTime::from_timestamp(1_780_000_000, 5_000_000).unwrap();
        let change = change_of(&HistoryEntry {
            at,
            actor: Actor {
                name: "captain".into(),
                role: "team_captain".into(),
            },
            action: "acknowledge".into(),
            from: State::Notified,
            to: State::Acknowledged,
            detail: "on my way".into(),
        });
        assert_eq!(
            (
                change.action.as_str(),
                change.state.as_str(),
                change.actor.as_str(),
                change.role.as_str(),
                change.detail.as_str()
            ),
            (
                "acknowledge",
                "acknowledged",
                "captain",
                "team_captain",
                "on my way"
            )
        );
        assert_eq!(
            change.at,
            Some(prost_types::Timestamp {
                seconds: 1_780_000_000,
                nanos: 5_000_000
            })
        );
    }
}
