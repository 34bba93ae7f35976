//! StreamAlerts: the alerts raised inside the caller's scope, live from
//! now or replayed from `since`, until the caller hangs up or the server
//! shuts down. Every stream reads the one shared reader
//! ([`crate::alerts`]); a client that falls more than the ring behind is
//! closed with RESOURCE_EXHAUSTED and told where to resume.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast;
use tonic::Status;
use vigil_domain::Registry;
use vigil_proto::v1::{Alert, AlertKind, StreamAlertsRequest};

use super::AlertStream;
use crate::alerts::{Positions, Received, Replay, Slot, Step};
use crate::auth::{Action, Caller, within};
use crate::backend::Backend;
use crate::error::{ApiError, ApiResult};
use crate::metrics;

/// How far back `since` may reach: a day of alerts, not the topic's
/// whole retention (every replay is a Kafka read of its own).
const MAX_REPLAY: Duration = Duration::from_secs(24 * 3600);

pub(super) async fn serve(
    backend: Arc<Backend>,
    caller: Caller,
    request: StreamAlertsRequest,
) -> ApiResult<AlertStream> {
    caller.require(Action::ReadEvents)?;
    let zone_id = caller.scoped_zone(&backend.registry(), &request.zone_id)?;
    let kinds = request
        .kinds
        .iter()
        .map(|&kind| match AlertKind::try_from(kind) {
            Ok(AlertKind::Unspecified) | Err(_) => Err(ApiError::invalid(
                "kinds",
                format!("{kind} is not an alert kind"),
            )),
            Ok(_) => Ok(kind),
        })
        .collect::<ApiResult<Vec<i32>>>()?;
    let scope = Scope {
        zone_id,
        kinds,
        sees_phones: caller.sees_phones(),
    };
    let since_ms = request
        .since
        .as_ref()
        .map(|at| replay_start(at, chrono::Utc::now().timestamp_millis()))
        .transpose()?;
    let slot = backend.stream_slots.take(&caller.token_id)?;
    let (source, resume_ms) = match since_ms {
        Some(since_ms) => {
            let replay = Replay::open(&backend.alerts, since_ms).await?;
            (Source::Replay(Box::new(replay)), since_ms)
        }
        None => {
            let (ring, _) = backend.alerts.subscribe();
            let now = chrono::Utc::now().timestamp_millis();
            (
                Source::Live {
                    ring,
                    skip_below: Positions::new(),
                },
                now,
            )
        }
    };
    let shutdown = backend.shutdown.clone();
    let period = backend.token_recheck;
    let recheck = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let stream = Subscription {
        backend,
        scope,
        source,
        resume_ms,
        _slot: slot,
    };
    let state = (stream, caller.token_id, recheck);
    let alerts = futures::stream::unfold(Some(state), |state| async move {
        let (mut stream, token_id, mut recheck) = state?;
        loop {
            // Whatever `next` was doing when the check fails is dropped
            // with the stream, so it need not be cancel-safe.
            let next = tokio::select! {
                next = stream.next() => next?,
                _ = recheck.tick() => match stream.backend.auth.still_valid(&token_id).await {
                    Ok(()) => continue,
                    Err(error) => Err(Status::from(error)),
                },
            };
            return match next {
                Ok(alert) => Some((Ok(alert), Some((stream, token_id, recheck)))),
                // The status ends the stream.
                Err(status) => Some((Err(status), None)),
            };
        }
    });
    Ok(Box::pin(alerts.take_until(shutdown.cancelled_owned())))
}

/// `since` in epoch milliseconds, if it lies within [`MAX_REPLAY`] before
/// `now_ms` (and not more than a minute after it).
fn replay_start(since: &prost_types::Timestamp, now_ms: i64) -> ApiResult<i64> {
    let since_ms = vigil_request::instant_ms(since, "since")?;
    let earliest = now_ms.saturating_sub(MAX_REPLAY.as_millis() as i64);
    if since_ms < earliest {
        return Err(ApiError::invalid(
            "since",
            "at most 24 h back; read older alerts with ListEvents",
        ));
    }
    // A minute of clock skew is tolerated.
    if since_ms > now_ms.saturating_add(60_000) {
        return Err(ApiError::invalid("since", "must not be in the future"));
    }
    Ok(since_ms)
}

/// One open stream.
struct Subscription {
    backend: Arc<Backend>,
    scope: Scope,
    source: Source,
    /// The timestamp of the last record passed on (or the start): where a
    /// dropped client resumes.
    resume_ms: i64,
    /// Its place under the stream caps, freed when the stream ends.
    _slot: Slot,
}

enum Source {
    Replay(Box<Replay>),
    Live {
        ring: broadcast::Receiver<Arc<Received>>,
        /// Records below these came with the replay.
        skip_below: Positions,
    },
}

impl Subscription {
    /// The next alert in scope; an error status if the client fell behind;
    /// `None` if the shared reader stopped.
    async fn next(&mut self) -> Option<Result<Alert, Status>> {
        loop {
            let received = match &mut self.source {
                Source::Replay(replay) => match replay.next().await {
                    Step::Record(received) => received,
                    Step::Joined { ring, skip_below } => {
                        self.source = Source::Live { ring, skip_below };
                        continue;
                    }
                },
                Source::Live { ring, skip_below } => match ring.recv().await {
                    Ok(received) => {
                        if skip_below
                            .get(&received.partition)
                            .is_some_and(|&below| received.offset < below)
                        {
                            continue;
                        }
                        received
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        metrics::alert_stream_dropped();
                        return Some(Err(fell_behind(
                            self.backend.alerts.buffer(),
                            self.resume_ms,
                        )));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            self.resume_ms = received.at_ms;
            let shown = self.scope.shown(&self.backend.registry(), &received.alert);
            if let Some(alert) = shown {
                metrics::alert_streamed();
                return Some(Ok(alert));
            }
        }
    }
}

/// What a stream's caller asked for and may see.
#[derive(Debug, Clone)]
struct Scope {
    zone_id: String,
    /// Alert kinds wanted; all when empty.
    kinds: Vec<i32>,
    sees_phones: bool,
}

impl Scope {
    /// `alert` as the caller may see it, if it is one the stream wants.
    fn shown(&self, registry: &Registry, alert: &Alert) -> Option<Alert> {
        let place = if alert.village_id.is_empty() {
            &alert.commune_id
        } else {
            &alert.village_id
        };
        if !within(registry, place, &self.zone_id)
            || !(self.kinds.is_empty() || self.kinds.contains(&alert.kind))
        {
            return None;
        }
        let mut alert = alert.clone();
        if !self.sees_phones
            && let Some(team) = alert.team.as_mut()
        {
            team.on_duty_phone.clear();
        }
        Some(alert)
    }
}

/// The status closing a stream whose client fell more than `buffer`
/// alerts behind, with the time to resume from.
fn fell_behind(buffer: usize, resume_ms: i64) -> Status {
    let since = chrono::DateTime::from_timestamp_millis(resume_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Status::resource_exhausted(format!(
        "the client fell behind the live alert stream by more than {buffer} alerts; \
         reconnect with since={since} to resume (alerts of that instant may repeat)"
    ))
}

#[cfg(test)]
mod tests {
    use vigil_proto::v1::ResponsibleTeam;

    use super::*;
    use crate::query::fixtures;

    fn alert(commune_id: &str, village_id: &str, kind: AlertKind) -> Alert {
        Alert {
            alert_id: "a1".into(),
            kind: kind.into(),
            commune_id: commune_id.into(),
            village_id: village_id.into(),
            team: Some(ResponsibleTeam {
                on_duty_phone: "+84 900 000 000".into(),
                ..ResponsibleTeam::default()
            }),
            ..Alert::default()
        }
    }

    #[test]
    fn a_stream_shows_the_alerts_of_its_zone_and_kinds() {
        let registry = fixtures::registry();
        let [(commune_a, _), (commune_b, _)] = fixtures::two_communes(&registry);
        let scope = Scope {
            zone_id: commune_a.clone(),
            kinds: vec![AlertKind::Watchlist.into()],
            sees_phones: true,
        };
        let watch = |commune: &str| alert(commune, "", AlertKind::Watchlist);
        let shown = scope.shown(&registry, &watch(&commune_a)).unwrap();
        assert_eq!(shown.team.unwrap().on_duty_phone, "+84 900 000 000");
        assert!(scope.shown(&registry, &watch(&commune_b)).is_none());
        let offline = alert(&commune_a, "", AlertKind::CameraOffline);
        assert!(scope.shown(&registry, &offline).is_none());
    }

    #[test]
    fn a_captain_sees_the_village_only_and_no_phone_numbers() {
        let registry = fixtures::registry();
        let village = registry.cameras().next().unwrap().zone_id.clone();
        let commune = registry.commune_of(&village).unwrap().id.clone();
        let scope = Scope {
            zone_id: village.clone(),
            kinds: vec![],
            sees_phones: false,
        };
        let in_village = alert(&commune, &village, AlertKind::CameraOffline);
        let shown = scope.shown(&registry, &in_village).unwrap();
        assert_eq!(shown.team.unwrap().on_duty_phone, "");
        // An alert of the commune, not placed in a village, is not theirs.
        assert!(
            scope
                .shown(&registry, &alert(&commune, "", AlertKind::Watchlist))
                .is_none()
        );
    }

    #[test]
    fn since_reaches_back_a_day_at_most() {
        let now_ms = 1_796_321_640_000;
        let at = |ms: i64| prost_types::Timestamp {
            seconds: ms.div_euclid(1000),
            nanos: 0,
        };
        let day_ms = 24 * 3600 * 1000;
        assert_eq!(
            replay_start(&at(now_ms - 1000), now_ms).unwrap(),
            now_ms - 1000
        );
        assert_eq!(
            replay_start(&at(now_ms - day_ms), now_ms).unwrap(),
            now_ms - day_ms
        );
        for refused in [now_ms - day_ms - 1000, now_ms + 120_000, 0, i64::MIN / 1000] {
            let error = replay_start(&at(refused), now_ms).unwrap_err();
            assert_eq!(error.code(), tonic::Code::InvalidArgument);
            assert!(error.to_string().starts_with("since:"), "{error}");
        }
    }

    #[test]
    fn a_dropped_client_is_told_how_far_behind_and_where_to_resume() {
        // 2026-01-01 00:00:01.5 UTC.
        let status = fell_behind(64, 1_767_225_601_500);
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(
            status.message().contains("more than 64 alerts")
                && status.message().contains("since=2026-01-01T00:00:01.500Z"),
            "{}",
            status.message()
        );
    }
}
