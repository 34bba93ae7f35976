//! Time to acknowledge, summarised the way an operations center reports it.

use std::time::Duration;

/// How fast a set of alerts was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckStats {
    /// Alerts raised.
    pub raised: u64,
    /// Alerts acknowledged at all.
    pub acknowledged: u64,
    /// Alerts acknowledged within their target.
    pub within_target: u64,
    /// Median time to acknowledge (of those acknowledged).
    pub median: Option<Duration>,
    /// 90th percentile time to acknowledge (nearest rank).
    pub p90: Option<Duration>,
}

/// Statistics over alerts given as (time to acknowledge, if taken; target).
pub fn ack_stats(alerts: impl IntoIterator<Item = (Option<Duration>, Duration)>) -> AckStats {
    let mut stats = AckStats::default();
    let mut times = Vec::new();
    for (taken, target) in alerts {
        stats.raised += 1;
        if let Some(taken) = taken {
            stats.acknowledged += 1;
            stats.within_target += u64::from(taken <= target);
            times.push(taken);
        }
    }
    times.sort_unstable();
    stats.median = nearest_rank(&times, 50);
    stats.p90 = nearest_rank(&times, 90);
    stats
}

/// The nearest-rank percentile of sorted `times`.
fn nearest_rank(times: &[Duration], percent: usize) -> Option<Duration> {
    let rank = (times.len() * percent).div_ceil(100).max(1);
    times.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_by_nearest_rank() {
        let target = Duration::from_secs(300);
        let mut alerts: Vec<_> = (1..=10)
            .map(|minutes| (Some(Duration::from_secs(60 * minutes)), target))
            .collect();
        alerts.push((None, target));
        let stats = ack_stats(alerts);
        assert_eq!(
            (stats.raised, stats.acknowledged, stats.within_target),
            (11, 10, 5)
        );
        assert_eq!(stats.median, Some(Duration::from_secs(300)));
        assert_eq!(stats.p90, Some(Duration::from_secs(540)));
    }

    #[test]
    fn nothing_acknowledged_has_no_times() {
        let stats = ack_stats([(None, Duration::from_secs(1))]);
        assert_eq!((stats.raised, stats.median, stats.p90), (1, None, None));
        assert_eq!(ack_stats([]), AckStats::default());
    }
}
