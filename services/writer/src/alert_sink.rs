//! Stores every alert of `vigil.alerts.v1` (watchlist hits from the
//! enricher, camera offline/online from the liveness watch) so people can
//! act on it: once per `alert_id`, in state `raised` (see
//! `vigil_store::AlertStore`). A redelivered or replayed alert finds its id
//! stored and changes nothing, so a closed alert stays closed.

use std::sync::Arc;

use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::message::OwnedMessage;
use tracing::{Instrument as _, error};
use vigil_alerting::Actor;
use vigil_bus::pipeline::Effect;
use vigil_bus::trace;
use vigil_proto::v1::Alert;
use vigil_store::{AlertStore, Raised};

use crate::metrics::{self, Record, Unusable};
use crate::retry;

/// What storing a raised alert needs.
#[derive(Debug)]
pub(crate) struct AlertSink {
    pub(crate) alerts: AlertStore,
    /// The consumer group, for the trace spans.
    pub(crate) group: String,
}

impl AlertSink {
    /// The pipeline effect for one record of `vigil.alerts.v1`.
    pub(crate) fn handle(self: &Arc<Self>, message: OwnedMessage) -> Effect {
        let sink = Arc::clone(self);
        let span = trace::process_span(&message, &self.group);
        Box::pin(async move { sink.store(message).await }.instrument(span))
    }

    async fn store(&self, message: OwnedMessage) {
        let (partition, offset) = (message.partition(), message.offset());
        let alert = match Alert::decode(message.payload().unwrap_or_default()) {
            // A move announced to live streams: already stored.
            Ok(alert) if alert.change.is_some() => return,
            Ok(alert) if !alert.alert_id.is_empty() => alert,
            Ok(_) => {
                error!(partition, offset, "Skipping an alert without an id.");
                metrics::skipped(Record::Alert, Unusable::Invalid);
                return;
            }
            Err(error) => {
                error!(partition, offset, %error, "Skipping an undecodable alert.");
                metrics::skipped(Record::Alert, Unusable::Decode);
                return;
            }
        };
        let raiser = Actor::system("vigil-writer");
        match retry::until_stored(|| self.alerts.raise(&alert, &raiser)).await {
            Ok(raised) => metrics::alert_stored(raised == Raised::New),
            Err(error) => {
                error!(partition, offset, alert_id = %alert.alert_id, %error, "Skipping an alert that cannot be stored.");
                metrics::skipped(Record::Alert, Unusable::Invalid);
            }
        }
    }
}
