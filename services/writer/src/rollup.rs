//! The count rollup: every interval, each commune-hour that events were
//! written to since the last pass is recounted from
//! `event_kinds_by_commune_hour` into `event_counts`
//! ([`CountStore::rollup`]). A late event marks its own, older hour, so it
//! is counted like any other.

use std::collections::HashSet;
use std::sync::Mutex;

use futures::StreamExt;
use tracing::{debug, warn};
use vigil_store::{CommuneHour, CountStore};

use crate::metrics;

/// Recounts running at once: enough to keep a pass short after a busy
/// interval (one per commune per hour touched, a few hundred), few enough
/// not to crowd out the event writes.
const CONCURRENCY: usize = 16;

/// The commune-hours touched since the last pass, and the store that
/// recounts them.
#[derive(Debug)]
pub(crate) struct Rollup {
    counts: CountStore,
    dirty: Mutex<HashSet<CommuneHour>>,
}

impl Rollup {
    pub(crate) fn new(counts: CountStore) -> Self {
        Self {
            counts,
            dirty: Mutex::default(),
        }
    }

    /// Notes that an event was stored in `key`'s commune-hour. Called only
    /// after the write succeeded, so the next pass's count includes it.
    pub(crate) fn mark(&self, key: CommuneHour) {
        self.dirty
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key);
    }

    /// Commune-hours waiting for a pass.
    pub(crate) fn pending(&self) -> usize {
        self.dirty
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Runs a pass every `interval` until `stop`, then a last one for what
    /// the final records touched.
    /// Recounts every commune-hour marked so far; true when all succeeded
    /// (failed ones stay marked for the next pass).
    pub(crate) async fn pass(&self) -> bool {
        let keys: Vec<CommuneHour> = std::mem::take(
            &mut *self
                .dirty
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
        .into_iter()
        .collect();
        if keys.is_empty() {
            return true;
        }
        let total = keys.len();
        let mut recounts = futures::stream::iter(keys)
            .map(|key| async move { (self.counts.rollup(&key).await, key) })
            .buffer_unordered(CONCURRENCY);
        let mut failed = 0;
        while let Some((result, key)) = recounts.next().await {
            match result {
                Ok(_) => metrics::rolled_up(),
                Err(error) => {
                    warn!(%error, commune_id = %key.commune_id, hour = key.hour, "Recount failed; retrying at the next rollup.");
                    metrics::retry();
                    failed += 1;
                    self.mark(key);
                }
            }
        }
        debug!(recounted = total - failed, failed, "Rollup pass done.");
        failed == 0
    }
}
