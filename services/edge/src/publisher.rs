//! Moves spooled detections to Kafka. Entries are read from the spool in
//! order and sent with a bound on how many are in flight (so a dead link
//! turns into backpressure, not memory growth); an entry leaves the spool
//! only after Kafka acknowledged it (`acks=all`). A failed delivery is
//! retried with the shared retry policy (exponential, capped, jittered) for
//! as long as the agent runs; what is still spooled at shutdown is sent
//! after the next start.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use prost::Message as _;
use rdkafka::producer::{FutureRecord, Producer};
use rdkafka::util::Timeout;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, debug, info, warn};
use vigil_bus::{KafkaProducer, trace};
use vigil_proto::v1::{Detection, heartbeat::LinkState};
use vigil_runtime::retry::{RetryPolicy, WarnLimiter};
use vigil_spool::{Entry, Spool};

use crate::metrics;

/// Entries read from the spool per round trip.
const READ_BATCH: usize = 512;
/// Removals are batched into one spool transaction this often.
const REMOVE_EVERY: Duration = Duration::from_millis(50);
/// Pauses between attempts to read the spool.
const SPOOL_READ_RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(5));
/// Pauses between attempts to deliver one entry.
const DELIVERY_RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(200), Duration::from_secs(30));
/// A failing link fails every delivery in flight (thousands at once): one
/// line per this interval, with the count, is logged at WARN, the rest at
/// DEBUG.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// What the publisher knows about the uplink, for heartbeats and metrics.
#[derive(Debug, Default)]
pub struct Link {
    in_flight: AtomicUsize,
    /// Unix millis of the last acknowledged delivery.
    last_ack_ms: AtomicI64,
}

impl Link {
    /// Up when nothing is waiting or Kafka acknowledged something in the
    /// last 10 s; degraded up to a minute; down after that.
    pub fn state(&self) -> LinkState {
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            return LinkState::Up;
        }
        let silent_ms = Utc::now().timestamp_millis() - self.last_ack_ms.load(Ordering::Relaxed);
        if silent_ms < 10_000 {
            LinkState::Up
        } else if silent_ms < 60_000 {
            LinkState::Degraded
        } else {
            LinkState::Down
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// Publisher settings.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    pub topic: String,
    pub max_in_flight: usize,
}

/// Sends spooled entries until `shutdown`, then waits up to `grace` for
/// in-flight deliveries and reports what is left in the spool.
pub async fn run(
    config: PublisherConfig,
    spool: Arc<Spool>,
    producer: KafkaProducer,
    spooled: Arc<Notify>,
    link: Arc<Link>,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let permits = Arc::new(Semaphore::new(config.max_in_flight));
    let (acked_tx, acked_rx) = mpsc::unbounded_channel();
    let remover = tokio::spawn(remove_acked(Arc::clone(&spool), acked_rx));
    let delivery_failures = Arc::new(WarnLimiter::new(WARN_EVERY));
    let read_failures = WarnLimiter::new(WARN_EVERY);
    let mut read_backoff = SPOOL_READ_RETRY.backoff();
    let mut cursor = None;
    while !shutdown.is_cancelled() {
        let read = {
            let spool = Arc::clone(&spool);
            tokio::task::spawn_blocking(move || spool.read_from(cursor, READ_BATCH))
                .await
                .map_err(|panic| format!("the spool reader panicked: {panic}"))
                .and_then(|read| read.map_err(|error| error.to_string()))
        };
        let entries = match read {
            Ok(entries) => entries,
            Err(error) => {
                if let Some(failures) = read_failures.failed() {
                    warn!(%error, failures, "Reading the spool failed; retrying.");
                }
                tokio::select! {
                    () = tokio::time::sleep(read_backoff.next_delay()) => {}
                    () = shutdown.cancelled() => {}
                }
                continue;
            }
        };
        read_failures.succeeded();
        read_backoff.reset();
        let stats = spool.stats();
        metrics::spool_depth(stats.entries, stats.bytes);
        if entries.is_empty() {
            tokio::select! {
                () = spooled.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
                () = shutdown.cancelled() => {}
            }
            continue;
        }
        for entry in entries {
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => permit.expect("semaphore is never closed"),
                () = shutdown.cancelled() => break,
            };
            cursor = Some(entry.seq);
            link.in_flight.fetch_add(1, Ordering::Relaxed);
            let delivery = deliver(
                producer.clone(),
                config.topic.clone(),
                entry,
                Arc::clone(&link),
                Arc::clone(&delivery_failures),
                acked_tx.clone(),
                shutdown.clone(),
            );
            tokio::spawn(async move {
                delivery.await;
                drop(permit);
            });
        }
    }

    // Drain: wait for in-flight sends, bounded by the grace period.
    let deadline = Instant::now() + grace;
    let all = u32::try_from(config.max_in_flight).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout_at(deadline.into(), permits.acquire_many(all))
        .await
        .is_ok();
    if let Err(error) = producer.flush(Timeout::After(
        deadline.saturating_duration_since(Instant::now()),
    )) {
        warn!(%error, "Flushing the producer at shutdown failed.");
    }
    drop(acked_tx);
    let _ = remover.await;
    let left = spool.stats();
    metrics::spool_depth(left.entries, left.bytes);
    if drained && left.entries == 0 {
        info!("Publisher stopped; everything was delivered.");
    } else {
        warn!(
            unsent = left.entries,
            in_flight = link.in_flight(),
            "Publisher stopped with detections not yet delivered; they stay spooled and are sent after the next start."
        );
    }
}

/// Sends one entry until Kafka acknowledges it (or the agent stops), in
/// the detection's `publish` span: the root of its trace.
async fn deliver(
    producer: KafkaProducer,
    topic: String,
    entry: Entry,
    link: Arc<Link>,
    failures: Arc<WarnLimiter>,
    acked: mpsc::UnboundedSender<u64>,
    shutdown: CancellationToken,
) {
    let started = Instant::now();
    let Ok(detection) = Detection::decode(entry.payload.as_slice()) else {
        // The intake only spools what it encoded itself; a corrupt entry
        // would never send, so let it go rather than block the queue.
        warn!(seq = entry.seq, "Dropping an undecodable spool entry.");
        let _ = acked.send(entry.seq);
        link.in_flight.fetch_sub(1, Ordering::Relaxed);
        return;
    };
    let span = trace::publish_span(&topic, detection.camera_id.as_bytes(), entry.payload.len());
    trace::message_id(&span, &detection.event_id);
    let headers = trace::with_context(trace::schema_headers(), &span);
    let sending = async {
        let mut backoff = DELIVERY_RETRY.backoff();
        loop {
            let record = FutureRecord::to(&topic)
                .key(&detection.camera_id)
                .payload(&entry.payload)
                .headers(headers.clone());
            // `Timeout::Never` waits while librdkafka's queue is full: that
            // is the backpressure, not an error.
            match producer.send(record, Timeout::Never).await {
                Ok(delivery) => {
                    link.last_ack_ms
                        .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
                    metrics::sent(started.elapsed());
                    trace::delivered(&span, delivery.partition, delivery.offset);
                    let _ = acked.send(entry.seq);
                    return;
                }
                Err((error, _)) => {
                    metrics::send_retry();
                    let (seq, event_id) = (entry.seq, &detection.event_id);
                    // No `succeeded()` on delivery: with a partly failing
                    // link, successes in between would let every failure
                    // through.
                    if let Some(failures) = failures.failed() {
                        warn!(seq, %event_id, %error, failures, in_flight = link.in_flight(), "Delivery failed; retrying (one line per 10 s, with the count of failures since the last).");
                    } else {
                        debug!(seq, %event_id, %error, "Delivery failed; retrying.");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(backoff.next_delay()) => {}
                        () = shutdown.cancelled() => return,
                    }
                }
            }
        }
    };
    sending.instrument(span.clone()).await;
    link.in_flight.fetch_sub(1, Ordering::Relaxed);
}

/// Removes acknowledged entries, many per spool transaction.
async fn remove_acked(spool: Arc<Spool>, mut acked: mpsc::UnboundedReceiver<u64>) {
    while let Some(first) = acked.recv().await {
        let mut seqs = vec![first];
        // Let acknowledgements gather for a moment: one fsync for many.
        let _ = tokio::time::timeout(REMOVE_EVERY, async {
            while let Some(seq) = acked.recv().await {
                seqs.push(seq);
            }
        })
        .await;
        let spool = Arc::clone(&spool);
        match tokio::task::spawn_blocking(move || spool.remove(&seqs)).await {
            Ok(Ok(())) => {}
            // Not removed means sent again after a restart: a duplicate,
            // never a loss.
            Ok(Err(error)) => warn!(%error, "Removing delivered entries from the spool failed."),
            Err(error) => warn!(%error, "Spool remover panicked."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_link_is_up() {
        assert_eq!(Link::default().state(), LinkState::Up);
    }
}
