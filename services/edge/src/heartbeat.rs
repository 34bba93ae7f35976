//! Per-camera heartbeats to `vigil.heartbeats.v1`. They are not spooled: a
//! stale heartbeat says nothing useful, and the buffer depth it carries
//! tells the operations center how much is still coming once the link is
//! back.

use std::hash::{Hash as _, Hasher as _};
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
    /// Sends a heartbeat for every camera `cameras()` names, once an
    /// interval, until `shutdown`: all of them at start, so a restarted site
    /// shows its cameras at once, then each camera in its own slice of the
    /// interval (see [`slice_of`]), so a site with thousands of cameras
    /// sends a steady trickle instead of one burst per interval that the
    /// writers would take minutes to work through.
    pub async fn run(self, cameras: impl Fn() -> Vec<String>, shutdown: CancellationToken) {
        let slices = slices(self.interval);
        let mut ticks = tokio::time::interval(self.interval / slices);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let all = cameras();
        // The cameras of each slice, taken once an interval (at slice 0):
        // a camera that joins the site sends its first heartbeat in the
        // next interval.
        let mut due_by_slice = by_slice(all.clone(), slices);
        self.send(all).await;
        for slice in (0..slices).cycle().skip(1) {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.cancelled() => return,
            }
            if slice == 0 {
                due_by_slice = by_slice(cameras(), slices);
            }
            let due = due_by_slice
                .get_mut(slice as usize)
                .map(std::mem::take)
                .unwrap_or_default();
            self.send(due).await;
        }
    }

    async fn send(&self, cameras: Vec<String>) {
        let link_state = self.link.state();
        metrics::link_up(link_state != vigil_proto::v1::heartbeat::LinkState::Down);
        let buffer_depth = self.spool.stats().entries;
        let sent_at = SystemTime::now();
        let (producer, topic) = (&self.producer, self.topic.as_str());
        let sends = cameras.into_iter().map(|camera_id| {
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

/// How many slices an interval is cut into: one a second, at most 60.
fn slices(interval: Duration) -> u32 {
    u32::try_from(interval.as_secs().clamp(1, 60)).unwrap_or(60)
}

/// `cameras` grouped by their slice of the interval (see [`slice_of`]).
fn by_slice(cameras: Vec<String>, slices: u32) -> Vec<Vec<String>> {
    let mut table = vec![Vec::new(); slices as usize];
    for camera in cameras {
        let slice = slice_of(&camera, slices) as usize;
        table[slice].push(camera);
    }
    table
}

/// The slice of the interval in which `camera` sends its heartbeat. A hash
/// of the id, so a camera keeps its slice (and its heartbeats stay one
/// interval apart) when others join the site.
fn slice_of(camera: &str, slices: u32) -> u32 {
    let mut hasher = std::hash::DefaultHasher::new();
    camera.hash(&mut hasher);
    u32::try_from(hasher.finish() % u64::from(slices)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_has_a_slice_a_second_up_to_sixty() {
        assert_eq!(slices(Duration::from_millis(500)), 1);
        assert_eq!(slices(Duration::from_secs(1)), 1);
        assert_eq!(slices(Duration::from_secs(30)), 30);
        assert_eq!(slices(Duration::from_secs(240)), 60);
    }

    #[test]
    fn cameras_spread_evenly_over_the_slices() {
        let mut per_slice = [0u32; 60];
        for n in 0..60_000 {
            per_slice[slice_of(&format!("cam-{n:06}"), 60) as usize] += 1;
        }
        // 1,000 each on average; a burst would put them all in one.
        for count in per_slice {
            assert!((850..1150).contains(&count), "{per_slice:?}");
        }
    }

    #[test]
    fn each_camera_is_due_in_its_own_slice_once() {
        let cameras: Vec<String> = (0..500).map(|n| format!("cam-{n:03}")).collect();
        let table = by_slice(cameras.clone(), 7);
        assert_eq!(table.len(), 7);
        assert_eq!(table.iter().map(Vec::len).sum::<usize>(), 500);
        for (slice, due) in table.iter().enumerate() {
            assert!(
                due.iter()
                    .all(|camera| slice_of(camera, 7) as usize == slice)
            );
        }
    }

    #[test]
    fn a_camera_keeps_its_slice() {
        assert_eq!(slice_of("cam-000042", 30), slice_of("cam-000042", 30));
        assert_eq!(slice_of("anything", 1), 0);
    }
}
