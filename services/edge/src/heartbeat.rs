//! Per-camera heartbeats to `vigil.heartbeats.v1`. They are not spooled: a
//! stale heartbeat says nothing useful, and the buffer depth it carries
//! tells the operations center how much is still coming once the link is
//! back.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::join_all;
use prost::Message as _;
use rdkafka::producer::FutureRecord;
use tokio_util::sync::CancellationToken;
use tracing::debug;
use vigil_bus::KafkaProducer;
use vigil_proto::v1::Heartbeat;
use vigil_spool::Spool;

use crate::metrics;
use crate::publisher::Link;

/// How long one heartbeat may wait for Kafka before it is counted as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// What the heartbeat loop needs.
pub struct Heartbeats {
    pub producer: KafkaProducer,
    pub topic: String,
    pub site_id: String,
    pub interval: Duration,
    pub spool: Arc<Spool>,
    pub link: Arc<Link>,
}

impl std::fmt::Debug for Heartbeats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heartbeats")
            .field("topic", &self.topic)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Heartbeats {
    /// Sends a heartbeat for every camera `cameras()` names, every interval,
    /// until `shutdown`.
    pub async fn run(self, cameras: impl Fn() -> Vec<String>, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let link_state = self.link.state();
            metrics::link_up(link_state != vigil_proto::v1::heartbeat::LinkState::Down);
            let buffer_depth = self.spool.stats().entries;
            let sent_at = SystemTime::now();
            let (producer, topic) = (&self.producer, self.topic.as_str());
            let sends = cameras().into_iter().map(|camera_id| {
                let heartbeat = Heartbeat {
                    camera_id,
                    site_id: self.site_id.clone(),
                    sent_at: Some(sent_at.into()),
                    buffer_depth,
                    link_state: link_state.into(),
                    camera_online: true,
                };
                async move {
                    let payload = heartbeat.encode_to_vec();
                    let record = FutureRecord::to(topic)
                        .key(&heartbeat.camera_id)
                        .payload(&payload);
                    let ok = producer.send(record, SEND_TIMEOUT).await.is_ok();
                    metrics::heartbeat(ok);
                    ok
                }
            });
            let results = join_all(sends).await;
            let failed = results.iter().filter(|ok| !**ok).count();
            debug!(sent = results.len() - failed, failed, "Heartbeats sent.");
        }
    }
}
