//! A circuit breaker per receiving endpoint, so a receiver that is down is
//! not sent every pending notification while it recovers, and its backlog
//! does not hold the notifier's workers. Time is passed in by the caller.
//!
//! Closed, it counts consecutive failed deliveries and opens at the
//! threshold. Open, it refuses everything for the cool-down, then turns
//! half-open: one probe may go, and further deliveries are refused while it
//! is out. The probe's success closes the breaker; its failure opens it for
//! another cool-down. A probe not recorded within a cool-down is taken as
//! lost (its task was dropped), and another may go, so a forgotten
//! [`Breaker::record`] cannot keep an endpoint shut forever.
//!
//! Results recorded while open come from deliveries let through before it
//! opened, and are ignored. While a probe is out, any result is taken as
//! the probe's: the caller sends nothing else to the endpoint meanwhile.

use std::time::{Duration, Instant};

/// One endpoint's circuit breaker.
#[derive(Debug, Clone)]
pub struct Breaker {
    failures_to_open: u32,
    cool_down: Duration,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Deliveries go; `failures` in a row have failed.
    Closed { failures: u32 },
    /// Refusing since `since`; half-open once the cool-down has passed.
    Open { since: Instant },
    /// Half-open with the probe sent at `sent` out.
    Probing { sent: Instant },
}

impl Breaker {
    /// A closed breaker that opens after `failures_to_open` consecutive
    /// failures (0 is taken as 1) and stays open for `cool_down`.
    pub fn new(failures_to_open: u32, cool_down: Duration) -> Self {
        Breaker {
            failures_to_open: failures_to_open.max(1),
            cool_down,
            state: State::Closed { failures: 0 },
        }
    }

    /// Whether a delivery may go at `now`; refused with how long until a
    /// probe may. A delivery let through must be [`Breaker::record`]ed.
    pub fn allow(&mut self, now: Instant) -> Result<(), Duration> {
        match self.state {
            State::Closed { .. } => Ok(()),
            State::Open { since } | State::Probing { sent: since } => {
                let waited = now.saturating_duration_since(since);
                if waited >= self.cool_down {
                    self.state = State::Probing { sent: now };
                    Ok(())
                } else {
                    Err(self.cool_down - waited)
                }
            }
        }
    }

    /// The outcome of a delivery [`Breaker::allow`] let through.
    pub fn record(&mut self, delivered: bool, now: Instant) {
        self.state = match (self.state, delivered) {
            (State::Closed { .. } | State::Probing { .. }, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= self.failures_to_open {
                    State::Open { since: now }
                } else {
                    State::Closed { failures }
                }
            }
            (State::Probing { .. }, false) => State::Open { since: now },
            (open @ State::Open { .. }, _) => open,
        };
    }

    /// Whether [`Breaker::allow`] would refuse at `now`: open and cooling
    /// down, or half-open with its probe out.
    pub fn is_open(&self, now: Instant) -> bool {
        match self.state {
            State::Closed { .. } => false,
            State::Open { since } | State::Probing { sent: since } => {
                now.saturating_duration_since(since) < self.cool_down
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(30);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Fails `n` deliveries at `now`.
    fn fail(breaker: &mut Breaker, n: u32, now: Instant) {
        for _ in 0..n {
            assert_eq!(breaker.allow(now), Ok(()));
            breaker.record(false, now);
        }
    }

    #[test]
    fn closed_counts_consecutive_failures_only() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(3, COOL_DOWN);
        fail(&mut breaker, 2, t0);
        breaker.record(true, t0);
        fail(&mut breaker, 2, t0);
        assert!(!breaker.is_open(t0));
        assert_eq!(breaker.allow(t0), Ok(()));
        breaker.record(false, t0);
        assert!(breaker.is_open(t0));
    }

    #[test]
    fn open_refuses_until_the_cool_down_has_passed() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(2, COOL_DOWN);
        fail(&mut breaker, 2, t0);
        assert_eq!(breaker.allow(t0), Err(COOL_DOWN));
        assert_eq!(breaker.allow(t0 + secs(10)), Err(secs(20)));
        assert!(breaker.is_open(t0 + secs(29)));
        assert!(!breaker.is_open(t0 + COOL_DOWN));
    }

    #[test]
    fn half_open_lets_one_probe_go_and_its_success_closes() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(2, COOL_DOWN);
        fail(&mut breaker, 2, t0);

        let t1 = t0 + COOL_DOWN;
        assert_eq!(breaker.allow(t1), Ok(()));
        assert!(breaker.is_open(t1));
        assert_eq!(breaker.allow(t1), Err(COOL_DOWN));
        assert_eq!(breaker.allow(t1 + secs(5)), Err(secs(25)));

        breaker.record(true, t1 + secs(6));
        assert!(!breaker.is_open(t1 + secs(6)));
        assert_eq!(breaker.allow(t1 + secs(6)), Ok(()));
        // The counter starts again from zero.
        fail(&mut breaker, 1, t1 + secs(7));
        assert!(!breaker.is_open(t1 + secs(7)));
        fail(&mut breaker, 1, t1 + secs(7));
        assert!(breaker.is_open(t1 + secs(7)));
    }

    #[test]
    fn a_failed_probe_reopens_for_another_cool_down() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(1, COOL_DOWN);
        fail(&mut breaker, 1, t0);
        let t1 = t0 + secs(40);
        assert_eq!(breaker.allow(t1), Ok(()));
        breaker.record(false, t1 + secs(3));
        assert_eq!(breaker.allow(t1 + secs(3)), Err(COOL_DOWN));
        assert_eq!(breaker.allow(t1 + secs(32)), Err(secs(1)));
        assert_eq!(breaker.allow(t1 + secs(33)), Ok(()));
    }

    #[test]
    fn a_lost_probe_is_replaced_after_a_cool_down() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(1, COOL_DOWN);
        fail(&mut breaker, 1, t0);
        let t1 = t0 + COOL_DOWN;
        assert_eq!(breaker.allow(t1), Ok(()));
        assert_eq!(breaker.allow(t1 + secs(29)), Err(secs(1)));
        assert_eq!(breaker.allow(t1 + COOL_DOWN), Ok(()));
        assert_eq!(breaker.allow(t1 + COOL_DOWN), Err(COOL_DOWN));
    }

    #[test]
    fn results_recorded_while_open_are_ignored() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(1, COOL_DOWN);
        fail(&mut breaker, 1, t0);
        // Stragglers let through before it opened.
        breaker.record(false, t0 + secs(20));
        breaker.record(true, t0 + secs(21));
        assert_eq!(breaker.allow(t0 + secs(25)), Err(secs(5)));
        assert_eq!(breaker.allow(t0 + COOL_DOWN), Ok(()));
    }

    #[test]
    fn a_zero_threshold_opens_on_the_first_failure() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(0, COOL_DOWN);
        assert_eq!(breaker.allow(t0), Ok(()));
        breaker.record(true, t0);
        assert!(!breaker.is_open(t0));
        fail(&mut breaker, 1, t0);
        assert!(breaker.is_open(t0));
    }

    #[test]
    fn a_clock_read_out_of_order_does_not_panic() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(1, COOL_DOWN);
        fail(&mut breaker, 1, t0 + secs(10));
        assert_eq!(breaker.allow(t0), Err(COOL_DOWN));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Allow,
        Record(bool),
        Wait(u64),
    }

    fn any_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Allow),
            2 => any::<bool>().prop_map(Op::Record),
            2 => (0u64..=40).prop_map(Op::Wait),
        ]
    }

    proptest! {
        /// Half-open, one probe at a time: once a probe is let through,
        /// nothing else is until it is recorded or a cool-down has passed;
        /// `is_open` agrees with `allow`, whose wait never exceeds the
        /// cool-down.
        #[test]
        fn never_two_probes_at_once(
            threshold in 0u32..4,
            ops in proptest::collection::vec(any_op(), 0..200),
        ) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut breaker = Breaker::new(threshold, COOL_DOWN);
            let mut probe_out: Option<Instant> = None;
            for op in ops {
                match op {
                    Op::Allow => {
                        let was_closed = matches!(breaker.state, State::Closed { .. });
                        let would_refuse = breaker.is_open(now);
                        let allowed = breaker.allow(now);
                        prop_assert_eq!(allowed.is_err(), would_refuse);
                        match allowed {
                            Ok(()) if !was_closed => {
                                if let Some(sent) = probe_out {
                                    prop_assert!(now - sent >= COOL_DOWN, "second probe");
                                }
                                probe_out = Some(now);
                            }
                            Ok(()) => {}
                            Err(wait) => {
                                prop_assert!(wait > Duration::ZERO && wait <= COOL_DOWN);
                            }
                        }
                    }
                    Op::Record(delivered) => {
                        breaker.record(delivered, now);
                        probe_out = None;
                    }
                    Op::Wait(s) => now += secs(s),
                }
            }
        }
    }
}
