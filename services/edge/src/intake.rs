//! Where every source hands in detections. A detection is checked, stamped
//! (event id, arrival time, site), and written durably to the spool; only
//! then does [`Intake::accept`] return, so a source never acknowledges an
//! event the agent could still lose. Concurrent submissions share one
//! fsync (group commit).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use prost::Message as _;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{error, info};
use uuid::Uuid;
use vigil_domain::Detection;
use vigil_domain::plate::normalize_plate;
use vigil_proto::v1 as pb;
use vigil_runtime::retry::WarnLimiter;
use vigil_spool::{Spool, SpoolError};

use crate::metrics;

/// Largest encoded detection accepted; real ones are 1-2 KB.
pub const MAX_DETECTION_BYTES: usize = 64 * 1024;
/// Most submissions written in one spool transaction.
const MAX_BATCH: usize = 1_024;
/// While spool writes fail, one line per this interval says how many did.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(10);

/// Where a detection came from (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Simulator,
    Http,
    Frigate,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simulator => "simulator",
            Self::Http => "http",
            Self::Frigate => "frigate",
        }
    }
}

/// Why a detection was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("invalid detection: {0}")]
    Invalid(String),
    #[error("encoded detection is {size} bytes; the limit is {max}")]
    TooLarge { size: usize, max: usize },
    #[error("the agent is shutting down")]
    ShuttingDown,
    #[error("the disk queue failed: {0}")]
    Spool(String),
    #[error("the disk of the spool is full; detections are refused until space is freed: {0}")]
    DiskFull(String),
}

impl From<SpoolError> for Rejection {
    fn from(error: SpoolError) -> Self {
        if error.is_disk_full() {
            Self::DiskFull(error.to_string())
        } else {
            Self::Spool(error.to_string())
        }
    }
}

impl Rejection {
    /// Short reason, for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::TooLarge { .. } => "too_large",
            Self::ShuttingDown => "shutting_down",
            Self::Spool(_) => "spool",
            Self::DiskFull(_) => "disk_full",
        }
    }

    /// Whether the caller's input was at fault (as opposed to the agent).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::Invalid(_) | Self::TooLarge { .. })
    }
}

struct Pending {
    payload: Vec<u8>,
    reply: oneshot::Sender<Result<(), Rejection>>,
}

/// A cloneable handle sources submit detections through.
#[derive(Clone)]
pub struct Intake {
    tx: mpsc::Sender<Pending>,
    site_id: Arc<str>,
    cameras: Arc<Mutex<BTreeSet<String>>>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("site_id", &self.site_id)
            .finish_non_exhaustive()
    }
}

impl Intake {
    /// An intake for `site_id` that group-commits into `spool` and wakes
    /// `spooled` after each commit. The committer runs until every clone of
    /// the returned intake is dropped.
    pub fn start(
        site_id: &str,
        spool: Arc<Spool>,
        spooled: Arc<Notify>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let committer = tokio::spawn(commit(rx, spool, spooled));
        let intake = Self {
            tx,
            site_id: site_id.into(),
            cameras: Arc::default(),
        };
        (intake, committer)
    }

    /// Checks, stamps and durably spools `detection`; returns its event id
    /// once it is on disk. A missing event id is minted here (UUIDv7).
    pub async fn accept(
        &self,
        mut detection: pb::Detection,
        source: Source,
    ) -> Result<Uuid, Rejection> {
        let result = self.spool(&mut detection).await;
        match &result {
            Ok(_) => metrics::accepted(source),
            Err(rejection) => metrics::rejected(source, rejection.reason()),
        }
        result
    }

    async fn spool(&self, detection: &mut pb::Detection) -> Result<Uuid, Rejection> {
        let now = SystemTime::now();
        if detection.event_id.is_empty() {
            detection.event_id = Uuid::now_v7().to_string();
        }
        detection.received_at = Some(now.into());
        if detection.site_id.is_empty() {
            detection.site_id = self.site_id.to_string();
        }
        if let Some(plate) = detection.plate.as_mut()
            && plate.normalized.is_empty()
            && let Ok(normalized) = normalize_plate(&plate.text)
        {
            plate.normalized = normalized.as_str().to_owned();
        }
        let checked = Detection::try_from(detection.clone())
            .map_err(|e| Rejection::Invalid(e.to_string()))?;
        let size = detection.encoded_len();
        if size > MAX_DETECTION_BYTES {
            return Err(Rejection::TooLarge {
                size,
                max: MAX_DETECTION_BYTES,
            });
        }
        let (reply, done) = oneshot::channel();
        let pending = Pending {
            payload: detection.encode_to_vec(),
            reply,
        };
        self.tx
            .send(pending)
            .await
            .map_err(|_| Rejection::ShuttingDown)?;
        done.await.map_err(|_| Rejection::ShuttingDown)??;
        self.cameras
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(checked.camera_id);
        Ok(checked.event_id)
    }

    /// Cameras this agent has accepted detections from.
    pub fn cameras_seen(&self) -> Vec<String> {
        let cameras = self
            .cameras
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cameras.iter().cloned().collect()
    }
}

/// Writes submissions to the spool in batches: whatever queued while the
/// previous fsync ran goes into the next one.
async fn commit(mut rx: mpsc::Receiver<Pending>, spool: Arc<Spool>, spooled: Arc<Notify>) {
    // A full disk fails every batch until space is freed: the first failure
    // is logged, then a count per interval, then the recovery.
    let failures = WarnLimiter::new(FAILURE_LOG_EVERY);
    let mut failing = false;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let (payloads, replies): (Vec<Vec<u8>>, Vec<_>) =
            batch.into_iter().map(|p| (p.payload, p.reply)).unzip();
        let writer = Arc::clone(&spool);
        // After a failure the spool reopens its file on this call, so the
        // first batch after space was freed is accepted.
        let result = tokio::task::spawn_blocking(move || writer.append_batch(&payloads))
            .await
            .map_err(|e| Rejection::Spool(e.to_string()))
            .and_then(|r| r.map_err(Rejection::from));
        match result {
            Ok(outcomes) => {
                if std::mem::take(&mut failing) {
                    failures.succeeded();
                    info!("Writing to the spool works again; detections accepted.");
                }
                metrics::spool_dropped(outcomes.iter().map(|o| o.dropped).sum());
                let depth = spool.stats();
                metrics::spool_depth(depth.entries, depth.bytes);
                spooled.notify_one();
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(rejection) => {
                failing = true;
                if let Some(failures) = failures.failed() {
                    error!(error = %rejection, failures, "Writing to the spool failed; detections refused until it works again.");
                }
                for reply in replies {
                    let _ = reply.send(Err(rejection.clone()));
                }
            }
        }
    }
}
