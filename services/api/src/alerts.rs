//! Live alerts: each `StreamAlerts` call reads `vigil.alerts.v1` itself
//! (assigned partitions, no consumer group, nothing committed), from the end
//! or from the offsets of a start time, and forwards the alerts inside the
//! caller's scope until the caller hangs up or the server shuts down.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use prost::Message as _;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tracing::{debug, warn};
use uuid::Uuid;
use vigil_bus::BusError;
use vigil_proto::v1::{Alert, AlertKind, StreamAlertsRequest};

use crate::auth::{Action, Caller, within};
use crate::backend::Backend;
use crate::error::{ApiError, ApiResult};
use crate::metrics;

/// Alerts buffered per stream before a slow client holds the reader back.
const STREAM_BUFFER: usize = 256;
const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a live alert stream for `caller`.
pub(crate) async fn stream(
    backend: Arc<Backend>,
    caller: Caller,
    request: StreamAlertsRequest,
) -> ApiResult<std::pin::Pin<Box<dyn Stream<Item = Result<Alert, Status>> + Send>>> {
    caller.require(Action::ReadEvents)?;
    let zone_id = caller.scoped_zone(&backend.registry(), &request.zone_id)?;
    let kinds = request
        .kinds
        .iter()
        .map(|&kind| match AlertKind::try_from(kind) {
            Ok(AlertKind::Unspecified) | Err(_) => Err(ApiError::invalid(
                "kinds",
                format!("{kind} is not an alert kind"),
            )),
            Ok(_) => Ok(kind),
        })
        .collect::<ApiResult<Vec<i32>>>()?;
    let since_ms = request
        .since
        .as_ref()
        .map(|at| at.seconds * 1000 + i64::from(at.nanos.max(0) / 1_000_000));

    let kafka = &backend.kafka;
    let topic = kafka.topics().alerts;
    let consume_err = |source| {
        ApiError::Bus(BusError::Consume {
            topic: topic.clone(),
            source,
        })
    };
    // No group is joined (partitions are assigned), so the id only names
    // the client in the broker's logs.
    let consumer = kafka.consumer(&format!("vigil-api-alerts-{}", Uuid::now_v7()))?;
    let consumer = Arc::new(consumer);
    let assignment = {
        let consumer = Arc::clone(&consumer);
        let topic = topic.clone();
        tokio::task::spawn_blocking(move || start_positions(&consumer, &topic, since_ms))
            .await
            .expect("looking up offsets does not panic")
            .map_err(consume_err)?
    };
    consumer.assign(&assignment).map_err(consume_err)?;

    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let shutdown = backend.shutdown.clone();
    tokio::spawn(async move {
        metrics::alert_stream_opened();
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => break,
                () = tx.closed() => break,
                message = consumer.recv() => message,
            };
            let alert = match message {
                Ok(message) => Alert::decode(message.payload().unwrap_or_default()),
                Err(error) => {
                    warn!(%error, "Reading alerts for a live stream failed; retrying.");
                    continue;
                }
            };
            let Ok(mut alert) = alert else {
                debug!("Skipping an undecodable alert.");
                continue;
            };
            let visible = {
                let registry = backend.registry();
                let place = if alert.village_id.is_empty() {
                    &alert.commune_id
                } else {
                    &alert.village_id
                };
                within(&registry, place, &zone_id)
            };
            if !visible || !(kinds.is_empty() || kinds.contains(&alert.kind)) {
                continue;
            }
            if !caller.sees_phones()
                && let Some(team) = alert.team.as_mut()
            {
                team.on_duty_phone.clear();
            }
            if tx.send(Ok(alert)).await.is_err() {
                break;
            }
            metrics::alert_streamed();
        }
        metrics::alert_stream_closed();
        // Closing a consumer may wait for the broker; keep it off the runtime.
        tokio::task::spawn_blocking(move || drop(consumer));
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// Every partition of `topic`, at the first offset at or after `since_ms`,
/// or at the end.
fn start_positions(
    consumer: &vigil_bus::KafkaConsumer,
    topic: &str,
    since_ms: Option<i64>,
) -> Result<TopicPartitionList, rdkafka::error::KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), KAFKA_TIMEOUT)?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len());
    let mut list = TopicPartitionList::new();
    for partition in 0..i32::try_from(partitions).unwrap_or(0) {
        let offset = since_ms.map_or(Offset::End, Offset::Offset);
        list.add_partition_offset(topic, partition, offset)?;
    }
    match since_ms {
        Some(_) => consumer.offsets_for_times(list, KAFKA_TIMEOUT),
        None => Ok(list),
    }
}
