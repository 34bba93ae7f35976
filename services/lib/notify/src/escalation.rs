//! When an alert nobody acknowledged goes up: to the commune police once
//! its acknowledgement target has passed, to the province operations
//! center at twice the target. Camera-online and unknown alerts are
//! informational and never escalate.

use std::time::Duration;

use vigil_proto::v1::AlertKind;

/// How soon each kind of alert must be acknowledged: the notifier
/// escalates by it and `AlertStats` counts against it, so both take the
/// same flags (or `VIGIL_TARGET_*` variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Targets {
    /// Acknowledgement target of a priority 1–2 watchlist hit: escalated
    /// to the commune police after it, to the province after twice it.
    #[arg(long = "target-priority-watchlist", env = "VIGIL_TARGET_PRIORITY_WATCHLIST", default_value = "5m", value_parser = target)]
    pub priority_watchlist: Duration,
    /// Acknowledgement target of other watchlist hits.
    #[arg(long = "target-watchlist", env = "VIGIL_TARGET_WATCHLIST", default_value = "15m", value_parser = target)]
    pub watchlist: Duration,
    /// Acknowledgement target of a camera gone offline.
    #[arg(long = "target-camera-offline", env = "VIGIL_TARGET_CAMERA_OFFLINE", default_value = "15m", value_parser = target)]
    pub camera_offline: Duration,
}

/// A target such as `5m`: longer than zero, at most a week.
fn target(value: &str) -> Result<Duration, String> {
    let parsed = humantime::parse_duration(value).map_err(|error| error.to_string())?;
    if parsed.is_zero() || parsed > Duration::from_secs(7 * 24 * 3600) {
        return Err("must be longer than zero and at most a week".to_owned());
    }
    Ok(parsed)
}

impl Default for Targets {
    /// 5 minutes for priority 1–2 plates, 15 for other plates and for
    /// offline cameras.
    fn default() -> Self {
        Targets {
            priority_watchlist: Duration::from_secs(5 * 60),
            watchlist: Duration::from_secs(15 * 60),
            camera_offline: Duration::from_secs(15 * 60),
        }
    }
}

impl Targets {
    /// The acknowledgement target of an alert of `kind` (an `AlertKind`
    /// number) and `priority` (1 highest), or `None` if it never escalates.
    pub fn first(&self, kind: i32, priority: u32) -> Option<Duration> {
        match AlertKind::try_from(kind).ok()? {
            AlertKind::Watchlist if matches!(priority, 1 | 2) => Some(self.priority_watchlist),
            AlertKind::Watchlist => Some(self.watchlist),
            AlertKind::CameraOffline => Some(self.camera_offline),
            AlertKind::CameraOnline | AlertKind::Unspecified => None,
        }
    }

    /// How long after `raised_at` escalation `level` fires: level 1 at the
    /// target, level 2 at twice it; `None` for other levels and for alerts
    /// that never escalate.
    pub fn due(&self, kind: i32, priority: u32, level: u8) -> Option<Duration> {
        let target = self.first(kind, priority)?;
        match level {
            1 => Some(target),
            2 => Some(target.saturating_mul(2)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Flags {
        #[command(flatten)]
        targets: Targets,
    }

    #[test]
    fn the_flags_default_to_the_default_targets_and_refuse_nonsense() {
        let flags = Flags::try_parse_from(["t"]).unwrap();
        assert_eq!(flags.targets, Targets::default());
        let flags = Flags::try_parse_from(["t", "--target-watchlist", "2m"]).unwrap();
        assert_eq!(flags.targets.watchlist, Duration::from_secs(120));
        for value in ["0s", "8days", "soon"] {
            let error = Flags::try_parse_from(["t", "--target-camera-offline", value])
                .unwrap_err()
                .to_string();
            assert!(error.contains("--target-camera-offline"), "{error}");
        }
    }

    const fn minutes(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    const WATCHLIST: i32 = AlertKind::Watchlist as i32;
    const OFFLINE: i32 = AlertKind::CameraOffline as i32;
    const ONLINE: i32 = AlertKind::CameraOnline as i32;

    #[test]
    fn targets_by_kind_and_priority() {
        let targets = Targets::default();
        assert_eq!(targets.first(WATCHLIST, 1), Some(minutes(5)));
        assert_eq!(targets.first(WATCHLIST, 2), Some(minutes(5)));
        assert_eq!(targets.first(WATCHLIST, 3), Some(minutes(15)));
        assert_eq!(targets.first(WATCHLIST, 5), Some(minutes(15)));
        assert_eq!(targets.first(WATCHLIST, 0), Some(minutes(15)));
        assert_eq!(targets.first(OFFLINE, 1), Some(minutes(15)));
        assert_eq!(targets.first(ONLINE, 1), None);
        assert_eq!(targets.first(0, 1), None);
        assert_eq!(targets.first(42, 1), None);
        assert_eq!(targets.first(-1, 1), None);
    }

    #[test]
    fn levels_fire_at_the_target_and_twice_it() {
        let targets = Targets::default();
        assert_eq!(targets.due(WATCHLIST, 1, 1), Some(minutes(5)));
        assert_eq!(targets.due(WATCHLIST, 1, 2), Some(minutes(10)));
        assert_eq!(targets.due(OFFLINE, 4, 1), Some(minutes(15)));
        assert_eq!(targets.due(OFFLINE, 4, 2), Some(minutes(30)));
        for level in [0, 3, u8::MAX] {
            assert_eq!(targets.due(WATCHLIST, 1, level), None);
        }
        assert_eq!(targets.due(ONLINE, 1, 1), None);
    }

    #[test]
    fn twice_a_huge_target_saturates() {
        let targets = Targets {
            camera_offline: Duration::MAX,
            ..Targets::default()
        };
        assert_eq!(targets.due(OFFLINE, 1, 2), Some(Duration::MAX));
    }
}
