//! The one retry policy every Vigil loop uses when something outside the
//! process fails (a broker, a database node, an MQTT server): exponential
//! backoff, capped, with **full jitter** (each pause is drawn uniformly from
//! zero to the current ceiling), so thousands of edge agents that lost the
//! same broker do not come back in step. And [`WarnLimiter`], which keeps a
//! long outage from flooding the log: the first failure is logged, then at
//! most one line per interval carrying how many failures it stands for.

use std::fmt::Display;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng as _;

/// How long to wait between attempts: the ceiling starts at `first`,
/// doubles after every failure and stops growing at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first pause.
    pub first: Duration,
    /// Largest ceiling.
    pub max: Duration,
}

impl RetryPolicy {
    /// A policy whose pauses start below `first` and never exceed `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self { first, max }
    }

    /// A fresh sequence of pauses following this policy.
    pub fn backoff(self) -> Backoff {
        Backoff {
            policy: self,
            attempts: 0,
        }
    }

    /// The ceiling of the pause after `failures` consecutive failures
    /// (1 for the first), before jitter.
    pub fn ceiling(self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first
            .checked_mul(1 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// The pauses of one retry loop; [`reset`](Self::reset) it after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    attempts: u32,
}

impl Backoff {
    /// The pause before the next attempt: uniform in `[0, ceiling]`.
    pub fn next_delay(&mut self) -> Duration {
        self.attempts = self.attempts.saturating_add(1);
        let ceiling = self.policy.ceiling(self.attempts);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }

    /// Failures since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts over from the smallest ceiling (call after a success).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

/// Decides which failures of one kind are worth a log line: the first after
/// a success, then one per `interval` at most, each reporting how many
/// failures happened since the last line. Shared by reference between the
/// tasks that fail the same way (e.g. every in-flight delivery).
#[derive(Debug)]
pub struct WarnLimiter {
    interval: Duration,
    state: Mutex<Limited>,
}

#[derive(Debug, Default)]
struct Limited {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl WarnLimiter {
    /// A limiter that lets one line through per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::default(),
        }
    }

    /// Records a failure. `Some(n)` means "log it now": `n` failures
    /// (this one included) happened since the previous line.
    pub fn failed(&self) -> Option<u64> {
        self.failed_at(Instant::now())
    }

    /// Records a success: the next failure is logged at once.
    pub fn succeeded(&self) {
        let mut state = self.lock();
        state.last_logged = None;
        state.unlogged = 0;
    }

    fn failed_at(&self, now: Instant) -> Option<u64> {
        let mut state = self.lock();
        state.unlogged += 1;
        let due = state
            .last_logged
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        state.last_logged = Some(now);
        Some(std::mem::take(&mut state.unlogged))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Limited> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs `attempt` until it succeeds, pausing by `policy` between failures,
/// for as long as it takes: for work whose input stays safe meanwhile (an
/// uncommitted record), where giving up would lose it. Failures are logged
/// through `failures` (at most one line per its interval) and counted by
/// `on_retry`.
pub async fn until_ok<T, E, F, Fut>(
    policy: RetryPolicy,
    failures: &WarnLimiter,
    on_retry: impl Fn(),
    mut attempt: F,
) -> T
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = policy.backoff();
    loop {
        match attempt().await {
            Ok(value) => {
                if backoff.attempts() > 0 {
                    failures.succeeded();
                }
                return value;
            }
            Err(error) => {
                let retry_in = backoff.next_delay();
                if let Some(failed) = failures.failed() {
                    tracing::warn!(%error, failures = failed, ?retry_in, "Operation failed; retrying (further failures within the interval are counted, not logged).");
                }
                on_retry();
                tokio::time::sleep(retry_in).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy =
        RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(10));

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        let ceilings: Vec<u128> = (1..=10).map(|n| POLICY.ceiling(n).as_millis()).collect();
        assert_eq!(
            ceilings,
            [
                100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000, 10_000
            ]
        );
        assert_eq!(POLICY.ceiling(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn pauses_are_jittered_below_the_ceiling() {
        let mut backoff = POLICY.backoff();
        let mut pauses = Vec::new();
        for failure in 1..=200 {
            let pause = backoff.next_delay();
            assert!(pause <= POLICY.ceiling(failure), "{pause:?} at {failure}");
            pauses.push(pause);
        }
        assert_eq!(backoff.attempts(), 200);
        // Full jitter: at the cap, pauses spread over the whole range
        // instead of all being 10 s (agents retrying in step).
        let capped = &pauses[10..];
        assert!(capped.iter().any(|p| *p < Duration::from_secs(3)));
        assert!(capped.iter().any(|p| *p > Duration::from_secs(7)));
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn the_first_failure_is_logged_then_one_line_per_interval_with_a_count() {
        let limiter = WarnLimiter::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(limiter.failed_at(start), Some(1));
        for second in 1..10 {
            assert_eq!(limiter.failed_at(start + Duration::from_secs(second)), None);
        }
        assert_eq!(limiter.failed_at(start + Duration::from_secs(10)), Some(10));
        assert_eq!(limiter.failed_at(start + Duration::from_secs(11)), None);
        limiter.succeeded();
        assert_eq!(limiter.failed_at(start + Duration::from_secs(12)), Some(1));
    }
}
