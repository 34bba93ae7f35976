//! The Scylla sink for enriched events: each record is written to the event
//! tables and its commune-hour's kinds table, retried until that
//! succeeds, and only then marked for the count rollup and released to the
//! pipeline (which then stores its offset). An event whose id is stored
//! with another detection is dropped, logged and counted: the first write
//! of an id wins (see `vigil_store::Written`).

use std::sync::Arc;
use std::time::Instant;

use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::message::OwnedMessage;
use tracing::{Instrument as _, error, warn};
use vigil_bus::pipeline::Effect;
use vigil_bus::trace;
use vigil_proto::v1::EnrichedDetection;
use vigil_store::{CountStore, EventStore, Written};

use crate::metrics::{self, Record, Unusable};
use crate::retry;
use crate::rollup::Rollup;

/// What storing an enriched event needs.
#[derive(Debug)]
pub(crate) struct EventSink {
    pub(crate) events: EventStore,
    pub(crate) counts: CountStore,
    pub(crate) rollup: Arc<Rollup>,
    /// The consumer group, for the trace spans.
    pub(crate) group: String,
}

impl EventSink {
    /// The pipeline effect for one record of `vigil.enriched.v1`, in the
    /// record's `process` span (a child of the enricher's `publish`).
    pub(crate) fn handle(self: &Arc<Self>, message: OwnedMessage) -> Effect {
        let sink = Arc::clone(self);
        let span = trace::process_span(&message, &self.group);
        Box::pin(async move { sink.store(message).await }.instrument(span))
    }

    async fn store(&self, message: OwnedMessage) {
        let (partition, offset) = (message.partition(), message.offset());
        let event = match EnrichedDetection::decode(message.payload().unwrap_or_default()) {
            Ok(event) => event,
            Err(error) => {
                // The enricher wrote it, so this is a bug or a foreign
                // producer; retrying cannot fix it and Kafka keeps the bytes.
                error!(partition, offset, %error, "Skipping an undecodable enriched event.");
                metrics::skipped(Record::Event, Unusable::Decode);
                return;
            }
        };
        if let Some(detection) = &event.detection {
            trace::message_id(&tracing::Span::current(), &detection.event_id);
        }
        let started = Instant::now();
        let stored = retry::until_stored(|| async {
            // The query tables first: an event they refuse is then never
            // counted either. What is counted is what is stored: the first
            // write of the id.
            let counted = match self.events.write(&event).await? {
                Written::New => self.counts.record_event(&event).await?,
                Written::Again(stored) => self.counts.record_event(&stored).await?,
                Written::Conflicting => return Ok(None),
            };
            Ok(Some(counted))
        })
        .await;
        match stored {
            Ok(Some(touched)) => {
                self.rollup.mark(touched);
                metrics::written(started.elapsed());
            }
            Ok(None) => {
                // A reused event id: the stored evidence stays. No plate
                // in the log line.
                let detection = event.detection.as_ref();
                warn!(
                    partition,
                    offset,
                    event_id = detection.map_or("", |d| d.event_id.as_str()),
                    camera_id = detection.map_or("", |d| d.camera_id.as_str()),
                    "Dropping an event whose id is stored with another detection."
                );
                metrics::conflicting();
            }
            Err(error) => {
                error!(partition, offset, %error, "Skipping an enriched event that cannot be stored.");
                metrics::skipped(Record::Event, Unusable::Invalid);
            }
        }
    }
}
