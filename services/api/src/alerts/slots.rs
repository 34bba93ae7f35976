//! Caps on open live alert streams, per token and per process, so that one
//! caller (or a crowd) cannot hold the process's memory and file handles.
//! A stream holds a [`Slot`] while it is open; dropping the slot frees it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::ApiError;
use crate::metrics;

/// The open streams, by token.
#[derive(Debug)]
pub(crate) struct StreamSlots {
    per_token: usize,
    total: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_token: HashMap<String, usize>,
}

/// One open stream's place; freed on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<StreamSlots>,
    token_id: String,
}

impl StreamSlots {
    /// At most `per_token` streams for one token and `total` in all.
    pub(crate) fn new(per_token: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            per_token,
            total,
            open: Mutex::new(Open::default()),
        })
    }

    /// A slot for a stream of `token_id`, or RESOURCE_EXHAUSTED naming the
    /// limit reached.
    pub(crate) fn take(self: &Arc<Self>, token_id: &str) -> Result<Slot, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.total {
            return Err(ApiError::Exhausted(format!(
                "this server has {} live alert streams open, its limit; retry later or on another replica",
                self.total
            )));
        }
        let mine = open.by_token.entry(token_id.to_owned()).or_default();
        if *mine >= self.per_token {
            return Err(ApiError::Exhausted(format!(
                "this token already has {} live alert streams open on this server, its limit; close one first",
                self.per_token
            )));
        }
        *mine += 1;
        open.total += 1;
        metrics::alert_stream_opened();
        Ok(Slot {
            slots: Arc::clone(self),
            token_id: token_id.to_owned(),
        })
    }

    /// Streams open now (all tokens).
    #[cfg(test)]
    fn open(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.by_token.get_mut(&self.token_id) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.by_token.remove(&self.token_id);
            }
        }
        metrics::alert_stream_closed();
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn streams_are_capped_per_token_and_in_all_and_freed_on_drop() {
        let slots = StreamSlots::new(2, 3);
        let a1 = slots.take("a").unwrap();
        let _a2 = slots.take("a").unwrap();
        let refused = slots.take("a").unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(
            refused.to_string().contains("this token already has 2"),
            "{refused}"
        );
        let _b1 = slots.take("b").unwrap();
        let refused = slots.take("c").unwrap_err();
        assert!(
            refused.to_string().contains("this server has 3"),
            "{refused}"
        );
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _c1 = slots.take("c").unwrap();
        let _ = slots.take("a").unwrap_err();
    }
}
