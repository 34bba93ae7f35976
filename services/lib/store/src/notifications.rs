//! What `vigil-notifier` keeps: the notification channel of each zone,
//! every delivery attempt, and the escalation timers still to fire. See
//! `migrations/0008_notifications.cql`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

use crate::lwt::Conditional;
use crate::{Keyspace, StoreError, execute, fetch_all};

/// The one partition of `escalation_timers`.
const TIMER_SHARD: i32 = 0;
/// Timers read per poll.
const TIMERS_PER_POLL: i32 = 200;

/// Where a zone's alerts are sent, as stored (the notifier validates it
/// before use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChannel {
    pub zone_id: String,
    pub url: String,
    /// `webhook` or `sms_gateway`.
    pub format: String,
    /// `vi` or `en`.
    pub language: String,
    /// A phone number for SMS gateways, or empty.
    pub recipient: String,
    pub updated_by: String,
    pub updated_at: Option<DateTime<Utc>>,
}

/// One attempt to deliver one notification of an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub alert_id: String,
    /// `<alert_id>/team`, `<alert_id>/escalation-1`, ...; also the
    /// idempotency key receivers deduplicate by.
    pub notification: String,
    /// 1, 2, ... per notification, across restarts.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    /// `team`, `commune_police` or `province`.
    pub audience: String,
    /// The zone whose channel was used (empty when none was found).
    pub channel_zone: String,
    /// The receiver's `host:port`, never the URL.
    pub endpoint: String,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// `delivered`, `retry`, `failed`, `circuit_open` or `no_channel`.
    pub outcome: String,
    pub latency_ms: u32,
    /// Why it failed, for people (no URL, no secret).
    pub error: String,
}

impl DeliveryAttempt {
    /// The receiver has it.
    pub fn delivered(&self) -> bool {
        self.outcome == "delivered"
    }
}

/// An escalation still to fire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timer {
    pub due_at: DateTime<Utc>,
    pub alert_id: String,
    /// 1 commune police, 2 province.
    pub level: u8,
    /// The instance holding it, if any.
    pub lease_owner: Option<String>,
    /// Until when that instance holds it (the epoch when never claimed).
    pub lease_until: DateTime<Utc>,
}

/// A delivery row as stored.
type AttemptRow = (
    String,
    i32,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<i32>,
    Option<String>,
);

/// A timer row as stored: (due_at, alert_id, level, lease_owner,
/// lease_until).
type TimerRow = (
    DateTime<Utc>,
    String,
    i32,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// A channel row as stored.
type ChannelRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// Prepared statements over the notification tables.
#[derive(Debug, Clone)]
pub struct NotificationStore {
    session: Arc<Session>,
    put_channel: PreparedStatement,
    delete_channel: PreparedStatement,
    select_channel: PreparedStatement,
    select_channels: PreparedStatement,
    insert_attempt: PreparedStatement,
    select_attempts: PreparedStatement,
    insert_timer: PreparedStatement,
    select_due: PreparedStatement,
    claim_timer: PreparedStatement,
    delete_timer: PreparedStatement,
}

const CHANNEL_COLUMNS: &str = "zone_id, url, format, language, recipient, updated_by, updated_at";
const ATTEMPT_COLUMNS: &str = "notification, attempt, at, audience, channel_zone, endpoint, status, outcome, latency_ms, error";

impl NotificationStore {
    /// Prepares the statements against the migrated `keyspace`.
    pub async fn prepare(keyspace: &Keyspace) -> Result<Self, StoreError> {
        Ok(Self {
            session: Arc::clone(keyspace.session()),
            put_channel: keyspace
                .prepare(
                    "upsert into notification_channels",
                    &format!(
                        "INSERT INTO ${{keyspace}}.notification_channels ({CHANNEL_COLUMNS}) \
                         VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                )
                .await?,
            delete_channel: keyspace
                .prepare(
                    "delete from notification_channels",
                    "DELETE FROM ${keyspace}.notification_channels WHERE zone_id = ?",
                )
                .await?,
            select_channel: keyspace
                .prepare(
                    "select from notification_channels",
                    &format!(
                        "SELECT {CHANNEL_COLUMNS} FROM ${{keyspace}}.notification_channels \
                         WHERE zone_id = ?"
                    ),
                )
                .await?,
            select_channels: keyspace
                .prepare(
                    "list notification_channels",
                    &format!("SELECT {CHANNEL_COLUMNS} FROM ${{keyspace}}.notification_channels"),
                )
                .await?,
            insert_attempt: keyspace
                .prepare(
                    "insert into alert_deliveries",
                    &format!(
                        "INSERT INTO ${{keyspace}}.alert_deliveries (alert_id, {ATTEMPT_COLUMNS}) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                )
                .await?,
            select_attempts: keyspace
                .prepare(
                    "select from alert_deliveries",
                    &format!(
                        "SELECT {ATTEMPT_COLUMNS} FROM ${{keyspace}}.alert_deliveries \
                         WHERE alert_id = ?"
                    ),
                )
                .await?,
            insert_timer: keyspace
                .prepare_conditional(
                    "insert into escalation_timers",
                    "INSERT INTO ${keyspace}.escalation_timers (shard, due_at, alert_id, level, \
                     lease_until) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS",
                )
                .await?,
            select_due: keyspace
                .prepare(
                    "select from escalation_timers",
                    "SELECT due_at, alert_id, level, lease_owner, lease_until \
                     FROM ${keyspace}.escalation_timers WHERE shard = ? AND due_at <= ? LIMIT ?",
                )
                .await?,
            claim_timer: keyspace
                .prepare_conditional(
                    "claim an escalation timer",
                    "UPDATE ${keyspace}.escalation_timers SET lease_owner = ?, lease_until = ? \
                     WHERE shard = ? AND due_at = ? AND alert_id = ? AND level = ? \
                     IF lease_until = ?",
                )
                .await?,
            delete_timer: keyspace
                .prepare(
                    "delete from escalation_timers",
                    "DELETE FROM ${keyspace}.escalation_timers \
                     WHERE shard = ? AND due_at = ? AND alert_id = ? AND level = ?",
                )
                .await?,
        })
    }

    /// Sets (or replaces) the channel of `channel.zone_id`.
    pub async fn put_channel(&self, channel: &StoredChannel) -> Result<(), StoreError> {
        execute(
            &self.session,
            &self.put_channel,
            (
                &channel.zone_id,
                &channel.url,
                &channel.format,
                &channel.language,
                &channel.recipient,
                &channel.updated_by,
                channel.updated_at,
            ),
            || format!("storing the channel of {}", channel.zone_id),
        )
        .await
    }

    /// Removes the channel of `zone_id` (nothing if it had none).
    pub async fn remove_channel(&self, zone_id: &str) -> Result<(), StoreError> {
        execute(&self.session, &self.delete_channel, (zone_id,), || {
            format!("removing the channel of {zone_id}")
        })
        .await
    }

    /// The channel of `zone_id`, if it has one.
    pub async fn channel(&self, zone_id: &str) -> Result<Option<StoredChannel>, StoreError> {
        let rows: Vec<ChannelRow> = fetch_all(
            &self.session,
            &self.select_channel,
            (zone_id,),
            || format!("reading the channel of {zone_id}"),
            "notification_channels",
        )
        .await?;
        Ok(rows.into_iter().next().map(channel))
    }

    /// Every channel, by zone id.
    pub async fn channels(&self) -> Result<Vec<StoredChannel>, StoreError> {
        let rows: Vec<ChannelRow> = fetch_all(
            &self.session,
            &self.select_channels,
            (),
            || "listing the notification channels".to_owned(),
            "notification_channels",
        )
        .await?;
        let mut channels: Vec<StoredChannel> = rows.into_iter().map(channel).collect();
        channels.sort_by(|a, b| a.zone_id.cmp(&b.zone_id));
        Ok(channels)
    }

    /// Records one delivery attempt.
    pub async fn record_attempt(&self, attempt: &DeliveryAttempt) -> Result<(), StoreError> {
        execute(
            &self.session,
            &self.insert_attempt,
            (
                &attempt.alert_id,
                &attempt.notification,
                i32::try_from(attempt.attempt).unwrap_or(i32::MAX),
                attempt.at,
                &attempt.audience,
                &attempt.channel_zone,
                &attempt.endpoint,
                attempt.status.map(i32::from),
                &attempt.outcome,
                i32::try_from(attempt.latency_ms).unwrap_or(i32::MAX),
                &attempt.error,
            ),
            || {
                format!(
                    "recording attempt {} of {}",
                    attempt.attempt, attempt.notification
                )
            },
        )
        .await
    }

    /// Every delivery attempt of an alert, by notification then attempt.
    pub async fn attempts(&self, alert_id: &str) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let rows: Vec<AttemptRow> = fetch_all(
            &self.session,
            &self.select_attempts,
            (alert_id,),
            || format!("reading the deliveries of alert {alert_id}"),
            "alert_deliveries",
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    notification,
                    attempt,
                    at,
                    audience,
                    channel_zone,
                    endpoint,
                    status,
                    outcome,
                    latency_ms,
                    error,
                )| DeliveryAttempt {
                    alert_id: alert_id.to_owned(),
                    notification,
                    attempt: u32::try_from(attempt).unwrap_or_default(),
                    at,
                    audience: audience.unwrap_or_default(),
                    channel_zone: channel_zone.unwrap_or_default(),
                    endpoint: endpoint.unwrap_or_default(),
                    status: status.and_then(|s| u16::try_from(s).ok()),
                    outcome: outcome.unwrap_or_default(),
                    latency_ms: latency_ms.and_then(|l| u32::try_from(l).ok()).unwrap_or(0),
                    error: error.unwrap_or_default(),
                },
            )
            .collect())
    }

    /// Schedules escalation `level` of `alert_id` at `due_at`, unless that
    /// exact timer is already scheduled (its lease is left alone).
    pub async fn schedule(
        &self,
        due_at: DateTime<Utc>,
        alert_id: &str,
        level: u8,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(
                &self.insert_timer,
                (
                    TIMER_SHARD,
                    due_at,
                    alert_id,
                    i32::from(level),
                    DateTime::<Utc>::UNIX_EPOCH,
                ),
            )
            .await
            .map(drop)
            .map_err(|source| StoreError::Execute {
                what: format!("scheduling escalation {level} of alert {alert_id}"),
                source: Box::new(source),
            })
    }

    /// Timers due by `now`, earliest first (claimed ones included: check
    /// the lease).
    pub async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Timer>, StoreError> {
        let rows: Vec<TimerRow> = fetch_all(
            &self.session,
            &self.select_due,
            (TIMER_SHARD, now, TIMERS_PER_POLL),
            || "reading the due escalation timers".to_owned(),
            "escalation_timers",
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(due_at, alert_id, level, lease_owner, lease_until)| Timer {
                    due_at,
                    alert_id,
                    level: u8::try_from(level).unwrap_or(u8::MAX),
                    lease_owner,
                    lease_until: lease_until.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
                },
            )
            .collect())
    }

    /// Takes `timer` for `owner` until `until`, if nobody took it since it
    /// was read; `false` when someone did (or it is gone).
    pub async fn claim(
        &self,
        timer: &Timer,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .session
            .execute_unpaged(
                &self.claim_timer,
                (
                    owner,
                    until,
                    TIMER_SHARD,
                    timer.due_at,
                    &timer.alert_id,
                    i32::from(timer.level),
                    timer.lease_until,
                ),
            )
            .await
            .map_err(|source| StoreError::Execute {
                what: format!(
                    "claiming escalation {} of alert {}",
                    timer.level, timer.alert_id
                ),
                source: Box::new(source),
            })?;
        Ok(Conditional::of(result, "escalation_timers (claim)")?.applied)
    }

    /// Removes a timer that fired or is no longer needed.
    pub async fn remove(&self, timer: &Timer) -> Result<(), StoreError> {
        execute(
            &self.session,
            &self.delete_timer,
            (
                TIMER_SHARD,
                timer.due_at,
                &timer.alert_id,
                i32::from(timer.level),
            ),
            || {
                format!(
                    "removing escalation {} of alert {}",
                    timer.level, timer.alert_id
                )
            },
        )
        .await
    }
}

fn channel(
    (zone_id, url, format, language, recipient, updated_by, updated_at): ChannelRow,
) -> StoredChannel {
    StoredChannel {
        zone_id,
        url: url.unwrap_or_default(),
        format: format.unwrap_or_default(),
        language: language.unwrap_or_default(),
        recipient: recipient.unwrap_or_default(),
        updated_by: updated_by.unwrap_or_default(),
        updated_at,
    }
}
