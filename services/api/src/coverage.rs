//! Coverage: whether a camera was watching during a window. Pure functions
//! over the camera's offline/online history, so "not seen" can be told
//! apart from "not covered".

use vigil_proto::v1::CoverageState;
use vigil_store::StatusChange;

use vigil_request::Window;

/// A stretch of time, epoch milliseconds, half-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
}

/// The parts of `window` a camera spent offline, given its decisions
/// newest first down to the last one before the window (as
/// `StatusStore::changes` returns them). A camera with no decision before
/// the window counts as online when it starts.
pub(crate) fn offline_periods(changes: &[StatusChange], window: Window) -> Vec<Period> {
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
pub(crate) fn state(ever_heard_from: bool, offline: &[Period], events: u64) -> CoverageState {
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
}
