//! Which delivery outcomes are worth another attempt ([`classify`]), and
//! how long to wait before it ([`Backoff`]).

use std::time::Duration;

/// Exponential backoff, capped, with "full jitter": the wait is a uniform
/// draw below the exponential cap, so receivers that come back after an
/// outage are not hit by every notifier at the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The cap before the second attempt; it doubles for each later one.
    pub base: Duration,
    /// The cap never grows beyond this.
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry `retry` (1 is the wait before the second
    /// attempt; 0, the first attempt, waits nothing): `unit` (a uniform
    /// draw, clamped to [0, 1], NaN taken as 0) times
    /// `min(max, base · 2^(retry − 1))`, which saturates for any `retry`.
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let cap = self.cap(retry);
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        if unit == 1.0 {
            return cap;
        }
        // Rounding through f64 may land a nanosecond off; never above cap.
        Duration::try_from_secs_f64(cap.as_secs_f64() * unit).map_or(cap, |wait| wait.min(cap))
    }

    /// `min(max, base · 2^(retry − 1))`, or zero for retry 0.
    fn cap(&self, retry: u32) -> Duration {
        if retry == 0 {
            return Duration::ZERO;
        }
        let mut cap = self.base.min(self.max);
        // Stops at zero or max, so at most ~100 doublings whatever `retry`.
        for _ in 1..retry {
            if cap.is_zero() || cap >= self.max {
                break;
            }
            cap = cap.saturating_mul(2).min(self.max);
        }
        cap
    }
}

/// What a delivery attempt's outcome means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The receiver has it.
    Delivered,
    /// Worth another attempt after a backoff.
    Retry,
    /// Another attempt would fail the same way (a bad request, a refused
    /// token, a redirect the notifier does not follow).
    Permanent,
}

/// The verdict on an HTTP status; `None` means no response at all (refused
/// connection, timeout), which is worth retrying. 2xx is delivered; 408,
/// 425, 429 and 5xx are retried; everything else is permanent, including
/// 1xx and 3xx: the notifier does not follow redirects.
pub fn classify(status: Option<u16>) -> Verdict {
    match status {
        None => Verdict::Retry,
        Some(200..=299) => Verdict::Delivered,
        Some(408 | 425 | 429 | 500..=599) => Verdict::Retry,
        Some(_) => Verdict::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_secs(60),
    };

    #[test]
    fn the_cap_doubles_up_to_max() {
        let caps: Vec<_> = (0..10).map(|retry| BACKOFF.delay(retry, 1.0)).collect();
        let ms = Duration::from_millis;
        assert_eq!(
            caps,
            [
                ms(0),
                ms(500),
                ms(1000),
                ms(2000),
                ms(4000),
                ms(8000),
                ms(16000),
                ms(32000),
                ms(60000),
                ms(60000),
            ]
        );
        assert_eq!(BACKOFF.delay(u32::MAX, 1.0), BACKOFF.max);
    }

    #[test]
    fn jitter_scales_the_cap() {
        assert_eq!(BACKOFF.delay(3, 0.5), Duration::from_secs(1));
        assert_eq!(BACKOFF.delay(3, 0.0), Duration::ZERO);
        assert_eq!(BACKOFF.delay(3, -2.0), Duration::ZERO);
        assert_eq!(BACKOFF.delay(3, f64::NAN), Duration::ZERO);
        assert_eq!(BACKOFF.delay(3, 7.0), Duration::from_secs(2));
        assert_eq!(BACKOFF.delay(3, f64::INFINITY), Duration::from_secs(2));
        assert_eq!(BACKOFF.delay(3, f64::NEG_INFINITY), Duration::ZERO);
    }

    #[test]
    fn extreme_settings_saturate() {
        let huge = Backoff {
            base: Duration::MAX,
            max: Duration::MAX,
        };
        assert_eq!(huge.delay(u32::MAX, 1.0), Duration::MAX);
        assert!(huge.delay(40, 0.5) <= Duration::MAX);

        let zero = Backoff {
            base: Duration::ZERO,
            max: Duration::from_secs(1),
        };
        assert_eq!(zero.delay(u32::MAX, 1.0), Duration::ZERO);

        let inverted = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(1),
        };
        assert_eq!(inverted.delay(1, 1.0), Duration::from_secs(1));

        let tiny = Backoff {
            base: Duration::from_nanos(1),
            max: Duration::from_secs(3600),
        };
        assert_eq!(tiny.delay(33, 1.0), Duration::from_nanos(1 << 32));
    }

    #[test]
    fn classify_table() {
        let cases = [
            (None, Verdict::Retry),
            (Some(200), Verdict::Delivered),
            (Some(202), Verdict::Delivered),
            (Some(204), Verdict::Delivered),
            (Some(299), Verdict::Delivered),
            (Some(100), Verdict::Permanent),
            (Some(101), Verdict::Permanent),
            (Some(301), Verdict::Permanent),
            (Some(302), Verdict::Permanent),
            (Some(307), Verdict::Permanent),
            (Some(400), Verdict::Permanent),
            (Some(401), Verdict::Permanent),
            (Some(403), Verdict::Permanent),
            (Some(404), Verdict::Permanent),
            (Some(408), Verdict::Retry),
            (Some(409), Verdict::Permanent),
            (Some(413), Verdict::Permanent),
            (Some(422), Verdict::Permanent),
            (Some(425), Verdict::Retry),
            (Some(429), Verdict::Retry),
            (Some(500), Verdict::Retry),
            (Some(502), Verdict::Retry),
            (Some(503), Verdict::Retry),
            (Some(599), Verdict::Retry),
            (Some(600), Verdict::Permanent),
            (Some(0), Verdict::Permanent),
            (Some(u16::MAX), Verdict::Permanent),
        ];
        for (status, want) in cases {
            assert_eq!(classify(status), want, "{status:?}");
        }
    }

    /// `base · 2^(retry − 1)` in nanoseconds, `None` when beyond `u128`.
    fn exponential_nanos(base: Duration, retry: u32) -> Option<u128> {
        let doublings = retry.checked_sub(1)?;
        base.as_nanos().checked_mul(1u128.checked_shl(doublings)?)
    }

    proptest! {
        /// The wait never exceeds `max` nor `base · 2^(retry − 1)`.
        #[test]
        fn delay_is_bounded(
            base_ns in prop_oneof![0u64..10_000_000_000, any::<u64>()],
            base_s in prop_oneof![Just(0u64), any::<u64>()],
            max_ns in prop_oneof![0u64..1_000_000_000_000, any::<u64>()],
            max_s in prop_oneof![Just(0u64), any::<u64>()],
            retry in prop_oneof![0u32..80, any::<u32>()],
            unit in prop_oneof![0.0f64..=1.0, any::<f64>()],
        ) {
            let backoff = Backoff {
                base: Duration::from_nanos(base_ns).saturating_add(Duration::from_secs(base_s)),
                max: Duration::from_nanos(max_ns).saturating_add(Duration::from_secs(max_s)),
            };
            let delay = backoff.delay(retry, unit);
            prop_assert!(delay <= backoff.max);
            if let Some(bound) = exponential_nanos(backoff.base, retry) {
                prop_assert!(delay.as_nanos() <= bound);
            }
            if retry == 0 {
                prop_assert_eq!(delay, Duration::ZERO);
            }
        }
    }
}
