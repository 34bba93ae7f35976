//! Live alerts: one reader of `vigil.alerts.v1` per API process, fanned
//! out to every open `StreamAlerts` call.
//!
//! The reader assigns itself every partition (no consumer group, nothing
//! committed) at the end as of start-up, decodes each record once and
//! publishes it on a broadcast ring of `--alert-stream-buffer` slots. Each
//! stream holds a receiver on that ring and filters by its caller's scope.
//! The ring never waits for anyone: a stream whose client reads too slowly
//! falls more than the ring behind and is closed with RESOURCE_EXHAUSTED
//! (see `query::stream_alerts`), while the reader and every other stream
//! go on.
//!
//! A stream that starts in the past (`since`) first replays the topic with
//! a short-lived client of its own (at most [`MAX_REPLAYS`] at once), then
//! joins the ring; see [`replay`] for why the seam has no gap and no
//! duplicate.

mod replay;
mod slots;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use prost::Message as _;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{Semaphore, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;
use vigil_bus::{BusError, KafkaArgs, KafkaConsumer};
use vigil_proto::v1::Alert;
use vigil_runtime::retry::WarnLimiter;

use crate::metrics;

pub(crate) use replay::{Replay, Step};
pub(crate) use slots::{Slot, StreamSlots};

/// Replays reading the topic at once; more wait their turn, so a crowd of
/// clients reconnecting with `since` cannot open a Kafka client each.
const MAX_REPLAYS: usize = 8;
const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one warning per this interval while reads keep failing.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// An alert read from the topic.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    /// The record's timestamp, epoch milliseconds: what `since` is
    /// compared with.
    pub(crate) at_ms: i64,
    pub(crate) alert: Alert,
}

/// A record of the alerts topic: where it is, and its alert unless the
/// payload does not decode (it is then skipped).
#[derive(Debug)]
struct Record {
    partition: i32,
    offset: i64,
    received: Option<Received>,
}

/// The next offset to read, per partition.
pub(crate) type Positions = BTreeMap<i32, i64>;

/// The shared reader's state: the ring, and how far it has published.
#[derive(Debug)]
pub(crate) struct LiveAlerts {
    kafka: KafkaArgs,
    topic: String,
    buffer: usize,
    /// Published and read together, so a subscriber knows exactly which
    /// records its receiver will get (those at or after the positions).
    feed: Mutex<Feed>,
    replays: Arc<Semaphore>,
}

#[derive(Debug)]
struct Feed {
    ring: broadcast::Sender<Arc<Received>>,
    positions: Positions,
}

impl LiveAlerts {
    /// Starts the shared reader at the end of every partition of the
    /// alerts topic; it runs until `shutdown`. `buffer` (at least 1) is how
    /// many alerts a stream may fall behind.
    pub(crate) async fn start(
        kafka: &KafkaArgs,
        buffer: usize,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(Arc<Self>, JoinHandle<()>)> {
        let topic = kafka.topics().alerts;
        let client = AlertClient::new(kafka, "live")?;
        let positions = {
            let topic = topic.clone();
            client
                .blocking(move |consumer| ends(consumer, &topic))
                .await
        }
        .map_err(|source| client.error(source))?;
        anyhow::ensure!(
            !positions.is_empty(),
            "the alerts topic {topic} has no partitions; create the topics before starting the API"
        );
        client.assign(&positions)?;
        info!(%topic, partitions = positions.len(), "Reading live alerts.");
        let live = Arc::new(Self {
            kafka: kafka.clone(),
            topic,
            buffer,
            feed: Mutex::new(Feed {
                ring: broadcast::channel(buffer).0,
                positions,
            }),
            replays: Arc::new(Semaphore::new(MAX_REPLAYS)),
        });
        let reader = tokio::spawn(read(Arc::clone(&live), client, shutdown));
        Ok((live, reader))
    }

    /// How many alerts a stream may fall behind before it is closed.
    pub(crate) fn buffer(&self) -> usize {
        self.buffer
    }

    /// A receiver of every alert published from now on, and the positions
    /// it starts at: it gets exactly the records at or after them.
    pub(crate) fn subscribe(&self) -> (broadcast::Receiver<Arc<Received>>, Positions) {
        let feed = self.lock();
        (feed.ring.subscribe(), feed.positions.clone())
    }

    /// How far the reader has published.
    pub(crate) fn positions(&self) -> Positions {
        self.lock().positions.clone()
    }

    fn publish(&self, record: Record) {
        let mut feed = self.lock();
        feed.positions.insert(record.partition, record.offset + 1);
        if let Some(received) = record.received {
            // An error only means no stream is open.
            let _ = feed.ring.send(Arc::new(received));
        }
    }

    fn lock(&self) -> MutexGuard<'_, Feed> {
        self.feed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The shared reader: publishes every record until `shutdown`.
async fn read(live: Arc<LiveAlerts>, mut client: AlertClient, shutdown: CancellationToken) {
    loop {
        let record = tokio::select! {
            () = shutdown.cancelled() => break,
            record = client.next() => record,
        };
        live.publish(record);
    }
    debug!("Live alert reader stopped.");
}

/// Every partition of `topic` at its end now.
fn ends(consumer: &KafkaConsumer, topic: &str) -> rdkafka::error::KafkaResult<Positions> {
    let metadata = consumer.fetch_metadata(Some(topic), KAFKA_TIMEOUT)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    partitions
        .into_iter()
        .map(|partition| {
            let (_, high) = consumer.fetch_watermarks(topic, partition, KAFKA_TIMEOUT)?;
            Ok((partition, high))
        })
        .collect()
}

/// A Kafka client reading the alerts topic at positions it is given.
/// Counted in `vigil_api_alert_readers` while it exists; closed off the
/// async runtime (closing may wait for the broker).
struct AlertClient {
    consumer: Arc<KafkaConsumer>,
    reader: &'static str,
    topic: String,
    warnings: WarnLimiter,
}

impl AlertClient {
    /// `reader` names it in the metrics: `live` or `replay`.
    fn new(kafka: &KafkaArgs, reader: &'static str) -> Result<Self, BusError> {
        // No group is joined (partitions are assigned), so the id only
        // names the client in the broker's logs.
        let consumer = kafka.consumer(&format!("vigil-api-alerts-{reader}-{}", Uuid::now_v7()))?;
        metrics::alert_reader(reader, 1.0);
        Ok(Self {
            consumer: Arc::new(consumer),
            reader,
            topic: kafka.topics().alerts,
            warnings: WarnLimiter::new(WARN_EVERY),
        })
    }

    fn error(&self, source: rdkafka::error::KafkaError) -> BusError {
        BusError::Consume {
            topic: self.topic.clone(),
            source,
        }
    }

    /// Runs a blocking librdkafka call off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&KafkaConsumer) -> T + Send + 'static,
    ) -> T {
        let consumer = Arc::clone(&self.consumer);
        tokio::task::spawn_blocking(move || call(&consumer))
            .await
            .expect("librdkafka lookups do not panic")
    }

    /// Reads from `positions` on.
    fn assign(&self, positions: &Positions) -> Result<(), BusError> {
        let mut list = TopicPartitionList::new();
        for (&partition, &offset) in positions {
            list.add_partition_offset(&self.topic, partition, Offset::Offset(offset))
                .map_err(|source| self.error(source))?;
        }
        self.consumer
            .assign(&list)
            .map_err(|source| self.error(source))
    }

    /// The next record. Errors are events librdkafka queued (it
    /// reconnects by itself), passed over without a pause so that an
    /// outage's events do not delay the records behind them.
    async fn next(&mut self) -> Record {
        loop {
            match self.consumer.recv().await {
                Ok(message) => {
                    self.warnings.succeeded();
                    let (partition, offset) = (message.partition(), message.offset());
                    let received = match Alert::decode(message.payload().unwrap_or_default()) {
                        Ok(alert) => Some(Received {
                            partition,
                            offset,
                            at_ms: message.timestamp().to_millis().unwrap_or_default(),
                            alert,
                        }),
                        Err(error) => {
                            debug!(partition, offset, %error, "Skipping an undecodable alert.");
                            None
                        }
                    };
                    return Record {
                        partition,
                        offset,
                        received,
                    };
                }
                Err(error) => {
                    if let Some(failures) = self.warnings.failed() {
                        warn!(topic = %self.topic, reader = self.reader, %error, failures, "Reading alerts reported an error; librdkafka reconnects.");
                    }
                }
            }
        }
    }
}

impl std::fmt::Debug for AlertClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertClient")
            .field("reader", &self.reader)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl Drop for AlertClient {
    fn drop(&mut self) {
        metrics::alert_reader(self.reader, -1.0);
        let consumer = Arc::clone(&self.consumer);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn_blocking(move || drop(consumer));
        }
    }
}
