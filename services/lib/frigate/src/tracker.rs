//! Which Frigate objects were already reported.

use std::num::NonZeroUsize;

use lru::LruCache;

/// Which Frigate objects were already reported, so that the many messages
/// about one object yield one detection (and one plate). Bounded: past
/// capacity the object first seen longest ago is forgotten (an update does
/// not make an object younger).
#[derive(Debug)]
pub struct Tracker {
    /// Frigate object id → whether its plate was reported. Entries are only
    /// peeked at, never promoted, so the least recently used is the oldest.
    objects: LruCache<String, bool>,
}

/// A tracker entry as it was before a message, to undo that message with
/// [`Tracker::restore`] when its detections could not be stored.
#[derive(Debug)]
pub struct Checkpoint {
    id: String,
    plate_reported: Option<bool>,
}

impl Tracker {
    /// Objects remembered by [`Tracker::default`]: far more than one NVR
    /// tracks at once.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A tracker remembering at most `capacity` objects (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            objects: LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN)),
        }
    }

    /// Objects currently remembered.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether no object is remembered.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// `None` if object `id` was not reported, else whether its plate was.
    pub(crate) fn plate_reported(&self, id: &str) -> Option<bool> {
        self.objects.peek(id).copied()
    }

    /// Remembers `id`, with whether its plate was reported.
    pub(crate) fn record(&mut self, id: &str, plate: bool) {
        match self.objects.peek_mut(id) {
            Some(reported) => *reported |= plate,
            None => {
                self.objects.push(id.to_owned(), plate);
            }
        }
    }

    pub(crate) fn forget(&mut self, id: &str) {
        self.objects.pop(id);
    }

    /// The state of object `id`, before a message about it is mapped.
    pub fn checkpoint(&self, id: &str) -> Checkpoint {
        Checkpoint {
            id: id.to_owned(),
            plate_reported: self.plate_reported(id),
        }
    }

    /// Puts object `id` back as it was at `checkpoint`, so that the message
    /// mapped since is reported again when it is delivered again.
    pub fn restore(&mut self, checkpoint: Checkpoint) {
        self.forget(&checkpoint.id);
        if let Some(plate) = checkpoint.plate_reported {
            self.objects.push(checkpoint.id, plate);
        }
    }
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_forgets_the_oldest_past_capacity() {
        let mut tracker = Tracker::new(2);
        tracker.record("a", false);
        tracker.record("b", false);
        tracker.record("a", true); // an update does not make "a" younger
        tracker.record("c", false);
        assert_eq!(tracker.len(), 2);
        assert_eq!(tracker.plate_reported("a"), None);
        assert!(tracker.plate_reported("b").is_some() && tracker.plate_reported("c").is_some());
        tracker.forget("b");
        tracker.record("d", false);
        assert_eq!(tracker.len(), 2, "forgetting frees the slot");
        assert!(tracker.plate_reported("c").is_some());
    }

    #[test]
    fn zero_capacity_means_one() {
        let mut tracker = Tracker::new(0);
        tracker.record("a", false);
        tracker.record("b", true);
        assert_eq!(tracker.len(), 1);
        assert_eq!(tracker.plate_reported("b"), Some(true));
    }
}
