//! CountEvents: events per zone, hour and kind over a window. Communes and
//! the province read the `event_counts` rollups (one total, or one series
//! per commune); a village counts the rows of its own village-hours (never
//! its commune's partitions), since the rollups stop at communes.

use std::collections::{BTreeMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use vigil_proto::v1::{CountEventsRequest, CountEventsResponse, HourCount};
use vigil_store::{Direction, day_bucket, hour_bucket};

use super::{DAY_MS, HOUR_MS, MAX_REPORT_DAYS};
use crate::auth::{Action, Caller};
use crate::backend::{Backend, Target, timestamp};
use crate::error::{ApiError, ApiResult};
use crate::fanout::buckets;
use vigil_request::{Window, checked_kinds};

pub(super) async fn serve(
    backend: &Backend,
    caller: &Caller,
    request: CountEventsRequest,
) -> ApiResult<CountEventsResponse> {
    caller.require(Action::ReadEvents)?;
    let window = whole_hours(Window::parse(
        request.window.as_ref(),
        "window",
        MAX_REPORT_DAYS,
    )?);
    let kinds: HashSet<i32> = checked_kinds(&request.kinds)?.into_iter().collect();
    let (target, communes) = {
        let registry = backend.registry();
        let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
        let target = backend.target(&registry, &zone_id);
        let communes = target.communes(&registry);
        (target, communes)
    };
    let mut tally = Tally::new(window, kinds);
    let fanout = backend.limits.fanout;
    let stores = &backend.stores;
    if let Target::Village { village, .. } = &target {
        let hours = buckets(window, Direction::OldestFirst, hour_bucket, |h| h + HOUR_MS);
        let reads: Vec<_> = hours
            .into_iter()
            .map(|hour| async move {
                let kinds = stores
                    .reader
                    .kinds_in_village_hour(village, hour, window.start_ms, window.end_ms)
                    .await?;
                Ok::<_, ApiError>((hour, kinds))
            })
            .collect();
        let mut per_hour = futures::stream::iter(reads).buffer_unordered(fanout);
        while let Some((hour, kinds)) = per_hour.try_next().await? {
            tally.village_kinds(village, hour, &kinds);
        }
    } else {
        let days = buckets(window, Direction::OldestFirst, day_bucket, |d| d + DAY_MS);
        let per_commune = matches!(target, Target::Commune(_)) || request.per_commune;
        let reads: Vec<_> = communes
            .iter()
            .flat_map(|commune| {
                days.iter().map(move |&day| async move {
                    let counts = stores.counts.counts(commune, day).await?;
                    Ok::<_, ApiError>((commune, counts))
                })
            })
            .collect();
        let mut per_day = futures::stream::iter(reads).buffer_unordered(fanout);
        while let Some((commune, counts)) = per_day.try_next().await? {
            let zone_id = if per_commune {
                commune.as_str()
            } else {
                target.zone_id()
            };
            tally.commune_counts(zone_id, &counts);
        }
    }
    Ok(tally.response())
}

/// `window` widened to whole hours (counts are kept per hour).
fn whole_hours(window: Window) -> Window {
    Window {
        start_ms: hour_bucket(window.start_ms),
        end_ms: hour_bucket(window.end_ms - 1) + HOUR_MS,
    }
}

/// One cell of the answer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Cell {
    zone_id: String,
    hour: i64,
    kind: i32,
}

/// Counts being summed into cells, for the kinds asked (all when none).
#[derive(Debug)]
struct Tally {
    window: Window,
    kinds: HashSet<i32>,
    cells: BTreeMap<Cell, u64>,
}

impl Tally {
    fn new(window: Window, kinds: HashSet<i32>) -> Self {
        Self {
            window,
            kinds,
            cells: BTreeMap::new(),
        }
    }

    fn wanted(&self, kind: i32) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// Counts the events of a village-hour, one kind per event.
    fn village_kinds(&mut self, village: &str, hour: i64, kinds: &[i32]) {
        for &kind in kinds {
            if self.wanted(kind) {
                let cell = Cell {
                    zone_id: village.to_owned(),
                    hour,
                    kind,
                };
                *self.cells.entry(cell).or_default() += 1;
            }
        }
    }

    /// Adds a commune-day's rollups (those inside the window) to `zone_id`.
    fn commune_counts(&mut self, zone_id: &str, counts: &[vigil_store::HourCount]) {
        for count in counts {
            if count.hour >= self.window.start_ms
                && count.hour < self.window.end_ms
                && self.wanted(count.kind)
            {
                let cell = Cell {
                    zone_id: zone_id.to_owned(),
                    hour: count.hour,
                    kind: count.kind,
                };
                *self.cells.entry(cell).or_default() += u64::try_from(count.count).unwrap_or(0);
            }
        }
    }

    /// The cells by zone, hour and kind, and their total.
    fn response(self) -> CountEventsResponse {
        CountEventsResponse {
            total: self.cells.values().sum(),
            counts: self
                .cells
                .into_iter()
                .map(|(cell, count)| HourCount {
                    zone_id: cell.zone_id,
                    hour: Some(timestamp(cell.hour)),
                    kind: cell.kind,
                    count,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = HOUR_MS;

    fn rollup(hour: i64, kind: i32, count: i64) -> vigil_store::HourCount {
        vigil_store::HourCount { hour, kind, count }
    }

    /// (zone, hour, kind, count) of each cell of `response`, in order.
    fn cells(response: &CountEventsResponse) -> Vec<(&str, i64, i32, u64)> {
        response
            .counts
            .iter()
            .map(|c| {
                let hour = c.hour.unwrap();
                (c.zone_id.as_str(), hour.seconds * 1000, c.kind, c.count)
            })
            .collect()
    }

    #[test]
    fn windows_widen_to_whole_hours() {
        let window = whole_hours(Window {
            start_ms: HOUR + 5,
            end_ms: 3 * HOUR + 1,
        });
        assert_eq!((window.start_ms, window.end_ms), (HOUR, 4 * HOUR));
        let exact = whole_hours(Window {
            start_ms: HOUR,
            end_ms: 2 * HOUR,
        });
        assert_eq!((exact.start_ms, exact.end_ms), (HOUR, 2 * HOUR));
    }

    #[test]
    fn rollups_sum_per_zone_inside_the_window_for_the_kinds_asked() {
        let window = Window {
            start_ms: HOUR,
            end_ms: 3 * HOUR,
        };
        let mut tally = Tally::new(window, HashSet::from([1]));
        // Two communes summed into the province; hour 0 and 3 are outside.
        tally.commune_counts("th", &[rollup(0, 1, 100), rollup(HOUR, 1, 2)]);
        tally.commune_counts("th", &[rollup(HOUR, 1, 3), rollup(HOUR, 2, 50)]);
        tally.commune_counts("th", &[rollup(2 * HOUR, 1, 4), rollup(3 * HOUR, 1, 100)]);
        let response = tally.response();
        assert_eq!(
            cells(&response),
            vec![("th", HOUR, 1, 5), ("th", 2 * HOUR, 1, 4)]
        );
        assert_eq!(response.total, 9);
    }

    #[test]
    fn per_commune_series_stay_apart() {
        let window = Window {
            start_ms: 0,
            end_ms: HOUR,
        };
        let mut tally = Tally::new(window, HashSet::new());
        tally.commune_counts("th.b", &[rollup(0, 1, 2)]);
        tally.commune_counts("th.a", &[rollup(0, 1, 3), rollup(0, 2, 1)]);
        let response = tally.response();
        assert_eq!(
            cells(&response),
            vec![("th.a", 0, 1, 3), ("th.a", 0, 2, 1), ("th.b", 0, 1, 2)]
        );
        assert_eq!(response.total, 6);
    }

    #[test]
    fn a_village_counts_its_hours_by_kind() {
        let window = Window {
            start_ms: 0,
            end_ms: 2 * HOUR,
        };
        let mut tally = Tally::new(window, HashSet::new());
        tally.village_kinds("th.a.v1", 0, &[1]);
        tally.village_kinds("th.a.v1", HOUR, &[1, 2, 1]);
        let response = tally.response();
        assert_eq!(
            cells(&response),
            vec![
                ("th.a.v1", 0, 1, 1),
                ("th.a.v1", HOUR, 1, 2),
                ("th.a.v1", HOUR, 2, 1)
            ]
        );
        assert_eq!(response.total, 4);
    }
}
