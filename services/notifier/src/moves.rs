//! The notifier's own moves on a stored alert (notified, escalated): made
//! like a person's, by a lightweight transaction on the version read, read
//! again when someone moved the alert in between.

use chrono::Utc;
use vigil_alerting::{Action, Actor};
use vigil_store::{AlertRecord, AlertStore};

use crate::retry::until_ok;

/// Times a move is tried when others keep moving the alert.
const MOVE_ATTEMPTS: usize = 5;

/// How a move ended.
#[derive(Debug)]
pub(crate) enum Moved {
    /// Made; the alert as it is now.
    Done(Box<AlertRecord>),
    /// Not allowed any more (acknowledged, closed, escalated further, or
    /// kept changing); the alert as last read.
    Refused(Box<AlertRecord>),
    /// No such alert.
    Gone,
}

/// Makes `action` on `alert_id` as the notifier.
pub(crate) async fn make(alerts: &AlertStore, alert_id: &str, action: &Action) -> Moved {
    let actor = Actor::system("vigil-notifier");
    let mut last = None;
    for _ in 0..MOVE_ATTEMPTS {
        let Some(record) = until_ok(|| alerts.get(alert_id)).await else {
            return Moved::Gone;
        };
        let Ok((next, entry)) = record.lifecycle.apply(action, &actor, Utc::now(), "") else {
            return Moved::Refused(Box::new(record));
        };
        if until_ok(|| alerts.advance(&record, &next, &entry)).await {
            let mut record = record;
            record.lifecycle = next;
            record.history.push(entry);
            return Moved::Done(Box::new(record));
        }
        last = Some(record);
    }
    last.map_or(Moved::Gone, |record| Moved::Refused(Box::new(record)))
}
