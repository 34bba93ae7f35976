//! What the notifier does with an alert: on the alert topic, store it
//! (idempotently, in case the writer has not yet), schedule its first
//! escalation, and deliver it to the team; on a due escalation timer,
//! escalate it and deliver it to the commune police or the province.
//!
//! Everything is safe to repeat. Replaying the alert topic finds the alert
//! stored and already notified (or escalated, acknowledged, closed) and
//! sends nothing; a redelivery after a crash mid-delivery resumes it with
//! the same idempotency key; an escalation is a conditional move that only
//! one instance can make, and its notification is skipped once recorded
//! as delivered.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::message::OwnedMessage;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, debug, error, info, warn};
use vigil_alerting::{Action, Actor, State};
use vigil_bus::changes::AlertAnnouncer;
use vigil_bus::pipeline::Effect;
use vigil_bus::registry::SharedRegistry;
use vigil_bus::trace;
use vigil_notify::escalation::Targets;
use vigil_notify::message::{Audience, raised_at};
use vigil_proto::v1::Alert;
use vigil_store::{AlertRecord, AlertStore, NotificationStore, Timer};

use crate::deliver::{Deliverer, Delivery};
use crate::metrics;
use crate::moves::{self, Moved};
use crate::retry::until_ok;

/// The notifier's shared state.
#[derive(Debug)]
pub(crate) struct Notifier {
    pub(crate) alerts: AlertStore,
    pub(crate) store: NotificationStore,
    pub(crate) deliverer: Deliverer,
    pub(crate) registry: SharedRegistry,
    pub(crate) targets: Targets,
    /// This instance's name, on the timers it claims.
    pub(crate) instance: String,
    /// How long a claimed timer stays this instance's.
    pub(crate) lease: Duration,
    /// The consumer group, for the trace spans.
    pub(crate) group: String,
    /// Announces the notifier's moves to live streams.
    pub(crate) announcer: AlertAnnouncer,
}

impl Notifier {
    /// The pipeline effect for one record of `vigil.alerts.v1`.
    pub(crate) fn handle(self: &Arc<Self>, message: OwnedMessage) -> Effect {
        let notifier = Arc::clone(self);
        let span = trace::process_span(&message, &self.group);
        Box::pin(async move { notifier.take(message).await }.instrument(span))
    }

    async fn take(&self, message: OwnedMessage) {
        let (partition, offset) = (message.partition(), message.offset());
        let alert = match Alert::decode(message.payload().unwrap_or_default()) {
            // A move announced to live streams, not a new alert.
            Ok(alert) if alert.change.is_some() => return,
            Ok(alert) if !alert.alert_id.is_empty() && raised_at(&alert).is_some() => alert,
            Ok(_) => {
                error!(
                    partition,
                    offset, "Skipping an alert without an id or a valid raised_at."
                );
                metrics::skipped();
                return;
            }
            Err(error) => {
                error!(partition, offset, %error, "Skipping an undecodable alert.");
                metrics::skipped();
                return;
            }
        };
        // Usually the writer has stored it already; if not, store it here
        // (the same conditional insert), so nothing waits for the writer.
        let stored = match until_ok(|| self.alerts.get(&alert.alert_id)).await {
            Some(record) => Some(record),
            None => {
                let raiser = Actor::system("vigil-notifier");
                until_ok(|| self.alerts.raise(&alert, &raiser)).await;
                until_ok(|| self.alerts.get(&alert.alert_id)).await
            }
        };
        let Some(record) = stored else {
            return;
        };
        if !waiting(&record) {
            debug!(alert_id = %alert.alert_id, state = %record.lifecycle.state, "Already taken; nothing to send.");
            return;
        }
        if record.lifecycle.escalation_level == 0 {
            self.schedule(&record.alert, 1, None).await;
        }
        if record.lifecycle.state != State::Raised {
            // Notified or escalated already: a replay or a redelivery.
            return;
        }
        let zones = self.zones(&alert, Audience::Team);
        let zones: Vec<&str> = zones.iter().map(String::as_str).collect();
        match self
            .deliverer
            .deliver(&alert, Audience::Team, &zones, None)
            .await
        {
            Delivery::Delivered => {
                // Refused when escalated or acknowledged meanwhile: fine.
                self.make_move(&alert.alert_id, &Action::Notify).await;
            }
            Delivery::Failed => {
                // The team cannot be reached: escalate now.
                self.schedule(&alert, 1, Some(Utc::now())).await;
            }
        }
    }

    /// Makes `action` and announces it to live streams when made.
    async fn make_move(&self, alert_id: &str, action: &Action) -> Moved {
        let moved = moves::make(&self.alerts, alert_id, action).await;
        if let Moved::Done(record) = &moved
            && let Some(entry) = record.history.last()
        {
            self.announcer.announce(&record.alert, entry);
        }
        moved
    }

    /// Schedules escalation `level` of `alert` at `at`, or at its target
    /// after being raised; nothing for alerts that never escalate.
    async fn schedule(&self, alert: &Alert, level: u8, at: Option<DateTime<Utc>>) {
        if self.targets.first(alert.kind, alert.priority).is_none() {
            return;
        }
        let due = at.or_else(|| {
            let after = self.targets.due(alert.kind, alert.priority, level)?;
            Some(raised_at(alert)? + chrono::Duration::from_std(after).ok()?)
        });
        if let Some(due) = due {
            until_ok(|| self.store.schedule(due, &alert.alert_id, level)).await;
        }
    }

    /// The zones whose channels may reach `audience`, nearest first: the
    /// village, its commune and the province for the team; the commune and
    /// the province for the police; the province for the province.
    fn zones(&self, alert: &Alert, audience: Audience) -> Vec<String> {
        let province = self
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .zone(&alert.commune_id)
            .and_then(|commune| commune.parent_id.clone());
        let nearest = match audience {
            Audience::Team => vec![alert.village_id.clone(), alert.commune_id.clone()],
            Audience::CommunePolice => vec![alert.commune_id.clone()],
            Audience::Province => vec![],
        };
        nearest
            .into_iter()
            .chain(province)
            .filter(|zone| !zone.is_empty())
            .collect()
    }

    /// Polls the escalation timers every `every` until `shutdown`, firing
    /// the due ones this instance manages to claim.
    pub(crate) async fn escalate(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        let in_progress: Arc<Mutex<HashSet<Timer>>> = Arc::default();
        let mut firing = JoinSet::new();
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
                Some(_) = firing.join_next(), if !firing.is_empty() => continue,
            }
            let now = Utc::now();
            let due = tokio::select! {
                () = shutdown.cancelled() => break,
                due = until_ok(|| self.store.due(now)) => due,
            };
            metrics::timers_due(due.len());
            for timer in due {
                let busy = in_progress
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains(&timer);
                if busy || timer.lease_until > now {
                    continue;
                }
                let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
                if !until_ok(|| self.store.claim(&timer, &self.instance, until)).await {
                    continue;
                }
                in_progress
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(timer.clone());
                let notifier = Arc::clone(&self);
                let in_progress = Arc::clone(&in_progress);
                firing.spawn(async move {
                    notifier.fire(&timer).await;
                    in_progress
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&timer);
                });
            }
        }
        // Unfinished firings keep their timers: after the lease, this
        // instance (restarted) or another one fires them again.
        firing.abort_all();
    }

    /// Fires a claimed timer: escalates the alert if nobody has taken it,
    /// notifies the level's audience, schedules the next level, and
    /// removes the timer.
    async fn fire(&self, timer: &Timer) {
        let Some(audience) = Audience::from_level(timer.level).filter(|a| a.level() > 0) else {
            warn!(alert_id = %timer.alert_id, level = timer.level, "Removing a timer of an unknown escalation level.");
            until_ok(|| self.store.remove(timer)).await;
            return;
        };
        let record = match until_ok(|| self.alerts.get(&timer.alert_id)).await {
            Some(record) if waiting(&record) => record,
            _ => {
                until_ok(|| self.store.remove(timer)).await;
                return;
            }
        };
        if record.lifecycle.escalation_level < timer.level {
            let action = Action::Escalate { level: timer.level };
            match self.make_move(&timer.alert_id, &action).await {
                Moved::Done(_) => {
                    metrics::escalated(timer.level);
                    info!(alert_id = %timer.alert_id, level = timer.level, "Escalated.");
                }
                Moved::Refused(now)
                    if waiting(&now) && now.lifecycle.escalation_level >= timer.level => {}
                Moved::Refused(_) | Moved::Gone => {
                    until_ok(|| self.store.remove(timer)).await;
                    return;
                }
            }
        }
        let alert = &record.alert;
        let waited = raised_at(alert)
            .and_then(|raised| (Utc::now() - raised).to_std().ok())
            .unwrap_or_default();
        let zones = self.zones(alert, audience);
        let zones: Vec<&str> = zones.iter().map(String::as_str).collect();
        let delivery = self
            .deliverer
            .deliver(alert, audience, &zones, Some(waited))
            .await;
        if timer.level == 1 {
            // The police cannot be reached: straight to the province.
            let at = (delivery == Delivery::Failed).then(Utc::now);
            self.schedule(alert, 2, at).await;
        }
        until_ok(|| self.store.remove(timer)).await;
    }
}

/// Open and not yet taken by anyone.
fn waiting(record: &AlertRecord) -> bool {
    record.lifecycle.state.is_open() && record.lifecycle.acknowledged.is_none()
}
