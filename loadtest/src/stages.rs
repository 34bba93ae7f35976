//! Where the time from capture to readable goes: per-stage percentiles of
//! an ingestion run, from the latency histograms the in-process services
//! record (their Prometheus text, read before and after the run).
//!
//! A Prometheus histogram keeps cumulative counts per bucket bound, so a
//! percentile is estimated the way `histogram_quantile` does: linearly
//! within the bucket it falls in. From 10 ms to 1 s the buckets
//! (`vigil_runtime`) are at most 1.5× apart, so an estimate there is off
//! by at most its bucket's width.

use std::collections::BTreeMap;

use serde::Serialize;

/// The services' metrics as Prometheus text, at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot(String);

impl Snapshot {
    /// What the in-process services have recorded so far.
    pub(crate) fn now() -> Self {
        Self(vigil_runtime::metrics_recorder().render())
    }
}

/// One stage of the pipeline, as measured by a histogram.
pub(crate) struct Stage {
    /// What the stage is, for the table.
    pub(crate) name: &'static str,
    /// The histogram's metric name (without `_bucket`).
    pub(crate) metric: &'static str,
    /// Only the series with this label value, if given.
    pub(crate) label: Option<(&'static str, String)>,
}

/// A stage's percentiles over a run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StageLatency {
    pub(crate) stage: &'static str,
    pub(crate) count: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

/// The percentiles of each of `stages` over what was recorded between
/// `before` and `after`.
pub(crate) fn between(before: &Snapshot, after: &Snapshot, stages: &[Stage]) -> Vec<StageLatency> {
    stages
        .iter()
        .map(|stage| {
            let label = stage.label.as_ref().map(|(k, v)| (*k, v.as_str()));
            let start = buckets(&before.0, stage.metric, label);
            let end = buckets(&after.0, stage.metric, label);
            let delta: Vec<(f64, u64)> = end
                .iter()
                .map(|(bound, count)| {
                    let earlier = start.get(bound).copied().unwrap_or(0);
                    (bound.0, count.saturating_sub(earlier))
                })
                .collect();
            let count = delta.last().map_or(0, |(_, count)| *count);
            let ms = |q| quantile(&delta, q).map_or(f64::NAN, |s| s * 1_000.0);
            StageLatency {
                stage: stage.name,
                count,
                p50_ms: ms(0.50),
                p99_ms: ms(0.99),
            }
        })
        .collect()
}

/// A bucket bound that sorts (`+Inf` last).
#[derive(Debug, Clone, Copy)]
struct Bound(f64);

impl PartialEq for Bound {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The cumulative bucket counts of `metric` in Prometheus `text`, summed
/// over its series (those with `label`, if given), by upper bound.
fn buckets(text: &str, metric: &str, label: Option<(&str, &str)>) -> BTreeMap<Bound, u64> {
    let prefix = format!("{metric}_bucket{{");
    let wanted = label.map(|(key, value)| format!("{key}=\"{value}\""));
    let mut sums = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        if wanted
            .as_ref()
            .is_some_and(|wanted| !labels.split(',').any(|pair| pair == wanted))
        {
            continue;
        }
        let bound = labels
            .split(',')
            .find_map(|pair| pair.strip_prefix("le=\""))
            .and_then(|le| le.strip_suffix('"'))
            .and_then(|le| match le {
                "+Inf" => Some(f64::INFINITY),
                le => le.parse().ok(),
            });
        let (Some(bound), Ok(count)) = (bound, value.trim().parse::<f64>()) else {
            continue;
        };
        *sums.entry(Bound(bound)).or_insert(0) += count as u64;
    }
    sums
}

/// The `q` quantile of cumulative `buckets` (ascending bounds, the last
/// `+Inf`), interpolated within its bucket; the highest finite bound if it
/// falls in `+Inf`; `None` without observations.
fn quantile(buckets: &[(f64, u64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let (mut lower, mut below) = (0.0, 0u64);
    for &(upper, count) in buckets {
        if count as f64 >= rank {
            if upper.is_infinite() {
                return Some(lower);
            }
            let within = (count - below) as f64;
            let share = if within > 0.0 {
                (rank - below as f64) / within
            } else {
                1.0
            };
            return Some(lower + (upper - lower) * share);
        }
        (lower, below) = (upper, count);
    }
    Some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# TYPE vigil_record_wait_seconds histogram
vigil_record_wait_seconds_bucket{topic=\"a\",le=\"0.01\"} 50
vigil_record_wait_seconds_bucket{topic=\"a\",le=\"0.1\"} 90
vigil_record_wait_seconds_bucket{topic=\"a\",le=\"1\"} 100
vigil_record_wait_seconds_bucket{topic=\"a\",le=\"+Inf\"} 100
vigil_record_wait_seconds_bucket{topic=\"b\",le=\"0.01\"} 0
vigil_record_wait_seconds_bucket{topic=\"b\",le=\"0.1\"} 0
vigil_record_wait_seconds_bucket{topic=\"b\",le=\"1\"} 10
vigil_record_wait_seconds_bucket{topic=\"b\",le=\"+Inf\"} 10
vigil_record_wait_seconds_sum{topic=\"a\"} 3.5
vigil_record_wait_seconds_count{topic=\"a\"} 100
";

    fn stage(label: Option<&str>) -> Stage {
        Stage {
            name: "wait",
            metric: "vigil_record_wait_seconds",
            label: label.map(|topic| ("topic", topic.to_owned())),
        }
    }

    #[test]
    fn percentiles_interpolate_within_the_bucket_of_one_series() {
        let empty = Snapshot(String::new());
        let [a] = between(&empty, &Snapshot(TEXT.to_owned()), &[stage(Some("a"))])
            .try_into()
            .unwrap();
        assert_eq!(a.count, 100);
        // The 50th of 100 is the last of the first bucket: 10 ms.
        assert!((a.p50_ms - 10.0).abs() < 1e-9, "{}", a.p50_ms);
        // The 99th is 9/10 of the way through (0.1 s, 1 s].
        assert!((a.p99_ms - 910.0).abs() < 1e-9, "{}", a.p99_ms);
    }

    #[test]
    fn series_sum_without_a_label_and_runs_subtract_what_came_before() {
        let empty = Snapshot(String::new());
        let all = between(&empty, &Snapshot(TEXT.to_owned()), &[stage(None)]);
        assert_eq!(all[0].count, 110);
        let later = TEXT.replace("} 100", "} 130");
        let run = between(
            &Snapshot(TEXT.to_owned()),
            &Snapshot(later),
            &[stage(Some("a"))],
        );
        // The 30 new observations all fell in (0.1 s, 1 s].
        assert_eq!(run[0].count, 30);
        assert!(run[0].p50_ms > 100.0 && run[0].p50_ms < 1_000.0);
    }

    #[test]
    fn no_observations_give_no_percentile_and_the_overflow_bucket_its_floor() {
        assert_eq!(quantile(&[(0.1, 0), (f64::INFINITY, 0)], 0.5), None);
        assert_eq!(quantile(&[(0.1, 1), (f64::INFINITY, 10)], 0.99), Some(0.1));
        let none = between(
            &Snapshot(String::new()),
            &Snapshot(String::new()),
            &[stage(Some("a"))],
        );
        assert_eq!(none[0].count, 0);
        assert!(none[0].p99_ms.is_nan());
    }
}
