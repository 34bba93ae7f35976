//! Coverage: whether each camera of a zone was watching during a window.
//! Pure functions over a camera's offline/online history and event count,
//! so "not seen" can be told apart from "not covered".

use futures::{StreamExt, TryStreamExt};
use vigil_proto::v1::{CameraCoverage, CoverageRequest, CoverageResponse, CoverageState};
use vigil_store::{Direction, StatusChange, day_bucket};

use super::{DAY_MS, MAX_REPORT_DAYS};
use crate::auth::{Action, Caller};
use crate::backend::{Backend, timestamp};
use crate::error::{ApiError, ApiResult};
use crate::fanout::buckets;
use vigil_request::Window;

/// A camera of the zone asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Camera {
    camera_id: String,
    village_id: String,
}

/// What is stored about one camera over the window.
#[derive(Debug, Clone, PartialEq)]
struct History {
    /// Whether it ever sent a heartbeat.
    heard_from: bool,
    /// Its online/offline decisions, as `StatusStore::changes` returns them.
    changes: Vec<StatusChange>,
    /// Its events in the window.
    events: u64,
}

pub(super) async fn serve(
    backend: &Backend,
    caller: &Caller,
    request: CoverageRequest,
) -> ApiResult<CoverageResponse> {
    caller.require(Action::ReadEvents)?;
    let window = Window::parse(request.window.as_ref(), "window", MAX_REPORT_DAYS)?;
    let cameras: Vec<Camera> = {
        let registry = backend.registry();
        let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
        registry
            .cameras()
            .filter(|camera| crate::auth::within(&registry, &camera.zone_id, &zone_id))
            .map(|camera| Camera {
                camera_id: camera.id.clone(),
                village_id: camera.zone_id.clone(),
            })
            .collect()
    };
    let days = buckets(window, Direction::OldestFirst, day_bucket, |d| d + DAY_MS);
    let stores = &backend.stores;
    let fetch = |camera: Camera| {
        let days = &days;
        async move {
            let id = &camera.camera_id;
            let heard_from = stores.statuses.get(id).await?.is_some();
            let changes = stores
                .statuses
                .changes(id, window.start(), window.end())
                .await?;
            let mut events = 0;
            for &day in days {
                events += stores
                    .reader
                    .count_camera_day(id, day, window.start_ms, window.end_ms)
                    .await?;
            }
            let history = History {
                heard_from,
                changes,
                events,
            };
            Ok::<_, ApiError>(camera_coverage(camera, &history, window))
        }
    };
    let reads: Vec<_> = cameras.into_iter().map(fetch).collect();
    let cameras: Vec<CameraCoverage> = futures::stream::iter(reads)
        .buffer_unordered(backend.limits.fanout)
        .try_collect()
        .await?;
    Ok(summary(cameras))
}

/// One camera's coverage of `window`.
fn camera_coverage(camera: Camera, history: &History, window: Window) -> CameraCoverage {
    let offline = offline_periods(&history.changes, window);
    CameraCoverage {
        camera_id: camera.camera_id,
        village_id: camera.village_id,
        state: state(history.heard_from, &offline, history.events).into(),
        events: history.events,
        offline: offline
            .iter()
            .map(|period| vigil_proto::v1::TimeWindow {
                start: Some(timestamp(period.start_ms)),
                end: Some(timestamp(period.end_ms)),
            })
            .collect(),
    }
}

/// The answer: every camera by id, and how many are in each state.
fn summary(mut cameras: Vec<CameraCoverage>) -> CoverageResponse {
    cameras.sort_by(|a, b| a.camera_id.cmp(&b.camera_id));
    let tally = |state: CoverageState| {
        u32::try_from(cameras.iter().filter(|c| c.state == state as i32).count())
            .unwrap_or(u32::MAX)
    };
    CoverageResponse {
        covered: tally(CoverageState::Covered),
        silent: tally(CoverageState::Silent),
        offline: tally(CoverageState::Offline),
        unknown: tally(CoverageState::Unknown),
        cameras,
    }
}

/// A stretch of time, epoch milliseconds, half-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Period {
    start_ms: i64,
    end_ms: i64,
}

/// The parts of `window` a camera spent offline, given its decisions
/// newest first down to the last one before the window (as
/// `StatusStore::changes` returns them). A camera with no decision before
/// the window counts as online when it starts.
fn offline_periods(changes: &[StatusChange], window: Window) -> Vec<Period> {
    let mut periods = Vec::new();
    let mut offline_since: Option<i64> = None;
    for change in changes.iter().rev() {
        let at = change
            .at
            .timestamp_millis()
            .clamp(window.start_ms, window.end_ms);
        match (change.online, offline_since) {
            (false, None) => offline_since = Some(at),
            (true, Some(since)) => {
                if at > since {
                    periods.push(Period {
                        start_ms: since,
                        end_ms: at,
                    });
                }
                offline_since = None;
            }
            _ => {}
        }
    }
    if let Some(since) = offline_since
        && since < window.end_ms
    {
        periods.push(Period {
            start_ms: since,
            end_ms: window.end_ms,
        });
    }
    periods
}

/// The coverage verdict for one camera.
fn state(ever_heard_from: bool, offline: &[Period], events: u64) -> CoverageState {
    if !ever_heard_from && events == 0 {
        CoverageState::Unknown
    } else if !offline.is_empty() {
        CoverageState::Offline
    } else if events == 0 {
        CoverageState::Silent
    } else {
        CoverageState::Covered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn change(at_ms: i64, online: bool) -> StatusChange {
        StatusChange {
            at: DateTime::from_timestamp_millis(at_ms).unwrap(),
            online,
        }
    }

    const WINDOW: Window = Window {
        start_ms: 1_000,
        end_ms: 2_000,
    };

    #[test]
    fn an_outage_inside_the_window_is_reported_as_is() {
        let changes = [change(1_500, true), change(1_200, false)];
        assert_eq!(
            offline_periods(&changes, WINDOW),
            vec![Period {
                start_ms: 1_200,
                end_ms: 1_500
            }]
        );
    }

    #[test]
    fn outages_are_clipped_to_the_window() {
        // Offline since before the window, back inside it, offline again
        // until after it.
        let changes = [
            change(1_800, false),
            change(1_300, true),
            change(500, false),
        ];
        assert_eq!(
            offline_periods(&changes, WINDOW),
            vec![
                Period {
                    start_ms: 1_000,
                    end_ms: 1_300
                },
                Period {
                    start_ms: 1_800,
                    end_ms: 2_000
                }
            ]
        );
    }

    #[test]
    fn a_camera_online_before_the_window_and_unchanged_was_covering() {
        assert!(offline_periods(&[change(500, true)], WINDOW).is_empty());
        assert!(offline_periods(&[], WINDOW).is_empty());
    }

    #[test]
    fn verdicts() {
        let outage = [Period {
            start_ms: 1,
            end_ms: 2,
        }];
        assert_eq!(state(false, &[], 0), CoverageState::Unknown);
        assert_eq!(state(true, &outage, 10), CoverageState::Offline);
        assert_eq!(state(true, &[], 0), CoverageState::Silent);
        assert_eq!(state(true, &[], 3), CoverageState::Covered);
        // Events prove the camera was there even without heartbeats.
        assert_eq!(state(false, &[], 3), CoverageState::Covered);
    }

    #[test]
    fn a_camera_is_reported_with_its_outages_and_the_summary_counts_states() {
        let camera = |id: &str| Camera {
            camera_id: id.into(),
            village_id: "th.v".into(),
        };
        let history = |heard_from, changes: Vec<StatusChange>, events| History {
            heard_from,
            changes,
            events,
        };
        let down = camera_coverage(
            camera("cam-b"),
            &history(true, vec![change(1_500, true), change(1_200, false)], 4),
            WINDOW,
        );
        assert_eq!(down.state, CoverageState::Offline as i32);
        assert_eq!(down.events, 4);
        assert_eq!(
            down.offline,
            vec![vigil_proto::v1::TimeWindow {
                start: Some(timestamp(1_200)),
                end: Some(timestamp(1_500)),
            }]
        );
        let cameras = vec![
            down,
            camera_coverage(camera("cam-c"), &history(true, vec![], 0), WINDOW),
            camera_coverage(camera("cam-a"), &history(true, vec![], 9), WINDOW),
            camera_coverage(camera("cam-d"), &history(false, vec![], 0), WINDOW),
        ];
        let summary = summary(cameras);
        let ids: Vec<&str> = summary
            .cameras
            .iter()
            .map(|c| c.camera_id.as_str())
            .collect();
        assert_eq!(ids, ["cam-a", "cam-b", "cam-c", "cam-d"]);
        assert_eq!(
            (
                summary.covered,
                summary.offline,
                summary.silent,
                summary.unknown
            ),
            (1, 1, 1, 1)
        );
    }
}
