//! Delivering one notification of an alert: find the channel (the team's
//! zone, then its commune, then the province), sign the message, post it,
//! and retry with jittered backoff until the receiver takes it, the error
//! is permanent, or the attempts run out. Every attempt is recorded, and
//! numbered on from the attempts an earlier run recorded, so a delivery a
//! `kill -9` interrupted resumes with the same idempotency key and the next
//! number. A notification already recorded as delivered is not sent again.
//!
//! Each receiving endpoint (`host:port`) gets a bounded number of requests
//! at once and a circuit breaker: a receiver that is down is probed, not
//! flooded, and its backlog does not hold deliveries to other receivers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Semaphore;
use tracing::{Instrument as _, Span, field, info, warn};
use vigil_notify::breaker::Breaker;
use vigil_notify::channel::{self, Channel, Format, Language};
use vigil_notify::message::{self, Audience, raised_at};
use vigil_notify::retry::{Backoff, Verdict, classify};
use vigil_proto::v1::Alert;
use vigil_signing::SigningKey;
use vigil_store::{DeliveryAttempt, NotificationStore, StoredChannel};

use crate::metrics;
use crate::retry::until_ok;

/// Header carrying the notification id, the same on every retry.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Header carrying the attempt number (1, 2, ...).
pub const ATTEMPT_HEADER: &str = "x-vigil-attempt";
/// Longest error text kept with an attempt.
const MAX_ERROR_CHARS: usize = 300;

/// How deliveries are paced.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// Waits between attempts.
    pub backoff: Backoff,
    /// Attempts per delivery before it counts as failed.
    pub max_attempts: u32,
    /// Requests to one endpoint at once.
    pub endpoint_concurrency: usize,
    /// Failures in a row that open an endpoint's breaker.
    pub breaker_failures: u32,
    /// How long an open breaker refuses.
    pub breaker_cool_down: Duration,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver took it (now or in an earlier run).
    Delivered,
    /// No channel, a permanent refusal, or every attempt failed.
    Failed,
}

/// One endpoint's share of the notifier.
#[derive(Debug)]
struct Endpoint {
    permits: Semaphore,
    breaker: Mutex<Breaker>,
}

/// Sends notifications and records every attempt.
#[derive(Debug)]
pub struct Deliverer {
    store: NotificationStore,
    http: reqwest::Client,
    key: SigningKey,
    policy: DeliveryPolicy,
    endpoints: Mutex<HashMap<String, Arc<Endpoint>>>,
}

/// What one attempt came to, before it is recorded.
struct Tried {
    status: Option<u16>,
    verdict: Verdict,
    /// The recorded outcome: delivered, retry, failed, circuit_open or
    /// no_channel.
    outcome: &'static str,
    error: String,
    took: Duration,
}

impl Deliverer {
    /// A deliverer posting with `http` (which sets the request timeout).
    pub fn new(
        store: NotificationStore,
        http: reqwest::Client,
        key: SigningKey,
        policy: DeliveryPolicy,
    ) -> Self {
        Self {
            store,
            http,
            key,
            policy,
            endpoints: Mutex::default(),
        }
    }

    /// Delivers the notification of `alert` for `audience`, trying the
    /// channels of `zones` in order. `escalated_after` says, for the police
    /// and the province, how long nobody acknowledged.
    pub async fn deliver(
        &self,
        alert: &Alert,
        audience: Audience,
        zones: &[&str],
        escalated_after: Option<Duration>,
    ) -> Delivery {
        let notification = message::notification_id(&alert.alert_id, audience);
        let past = until_ok(|| self.store.attempts(&alert.alert_id)).await;
        let past: Vec<&DeliveryAttempt> = past
            .iter()
            .filter(|a| a.notification == notification)
            .collect();
        if past.iter().any(|a| a.delivered()) {
            return Delivery::Delivered;
        }
        let mut attempt = past.iter().map(|a| a.attempt).max().unwrap_or(0);
        let record = |attempt: u32, channel_zone: &str, endpoint: &str, tried: &Tried| {
            metrics::attempt(audience.as_str(), tried.outcome);
            DeliveryAttempt {
                alert_id: alert.alert_id.clone(),
                notification: notification.clone(),
                attempt,
                at: Utc::now(),
                audience: audience.as_str().to_owned(),
                channel_zone: channel_zone.to_owned(),
                endpoint: endpoint.to_owned(),
                status: tried.status,
                outcome: tried.outcome.to_owned(),
                latency_ms: u32::try_from(tried.took.as_millis()).unwrap_or(u32::MAX),
                error: tried.error.chars().take(MAX_ERROR_CHARS).collect(),
            }
        };

        let Some(channel) = self.channel(zones).await else {
            let missing = Tried {
                status: None,
                verdict: Verdict::Permanent,
                outcome: "no_channel",
                error: format!("no usable notification channel for {}", zones.join(", ")),
                took: Duration::ZERO,
            };
            let missing = record(attempt + 1, "", "", &missing);
            warn!(alert_id = %alert.alert_id, %audience, zones = %zones.join(", "), "No notification channel; the delivery fails.");
            until_ok(|| self.store.record_attempt(&missing)).await;
            return Delivery::Failed;
        };
        let text = message::text(alert, audience, channel.language, escalated_after);
        let body = message::body(alert, &channel, audience, &text);
        let endpoint_name = channel::endpoint(&channel.url);
        let endpoint = self.endpoint(&endpoint_name);

        for retry in 0..self.policy.max_attempts {
            if retry > 0 {
                let wait = self.policy.backoff.delay(retry, rand::random::<f64>());
                tokio::time::sleep(wait).await;
            }
            attempt += 1;
            let span = attempt_span(audience, &endpoint_name, &notification, attempt);
            let tried = self
                .attempt(&endpoint, &channel, &notification, attempt, &body)
                .instrument(span.clone())
                .await;
            span.record("vigil.delivery.outcome", tried.outcome);
            if let Some(status) = tried.status {
                span.record("http.response.status_code", status);
            }
            let row = record(attempt, &channel.zone_id, &endpoint_name, &tried);
            until_ok(|| self.store.record_attempt(&row)).await;
            match tried.verdict {
                Verdict::Delivered => {
                    if let Some(raised) = raised_at(alert) {
                        metrics::delivered(
                            audience.as_str(),
                            (Utc::now() - raised).to_std().unwrap_or_default(),
                        );
                    }
                    info!(alert_id = %alert.alert_id, %audience, attempt, endpoint = %endpoint_name, "Delivered.");
                    return Delivery::Delivered;
                }
                Verdict::Permanent => {
                    warn!(alert_id = %alert.alert_id, %audience, attempt, endpoint = %endpoint_name, error = %row.error, "Delivery refused for good.");
                    return Delivery::Failed;
                }
                Verdict::Retry => {}
            }
        }
        warn!(alert_id = %alert.alert_id, %audience, attempts = self.policy.max_attempts, endpoint = %endpoint_name, "Delivery failed after every attempt.");
        Delivery::Failed
    }

    /// One request, within the endpoint's limits.
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        channel: &Channel,
        notification: &str,
        attempt: u32,
        body: &[u8],
    ) -> Tried {
        let Ok(_permit) = endpoint.permits.acquire().await else {
            unreachable!("endpoint semaphores are never closed");
        };
        let allowed = endpoint
            .breaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .allow(Instant::now());
        if let Err(retry_in) = allowed {
            return Tried {
                status: None,
                verdict: Verdict::Retry,
                outcome: "circuit_open",
                error: format!(
                    "circuit open after repeated failures; next probe in {} s",
                    retry_in.as_secs()
                ),
                took: Duration::ZERO,
            };
        }
        let mut request = self
            .http
            .post(&channel.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, notification)
            .header(ATTEMPT_HEADER, attempt.to_string());
        for (name, value) in self.key.headers(body) {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let result = request.body(body.to_vec()).send().await;
        let took = started.elapsed();
        metrics::request(took);
        let (status, error) = match result {
            Ok(response) => {
                let status = response.status();
                let error = if status.is_success() {
                    String::new()
                } else {
                    format!("the receiver answered {status}")
                };
                (Some(status.as_u16()), error)
            }
            Err(error) => (None, describe(&error)),
        };
        let verdict = classify(status);
        endpoint
            .breaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            // A receiver that answers, even "no", is up.
            .record(verdict != Verdict::Retry, Instant::now());
        Tried {
            status,
            verdict,
            outcome: match verdict {
                Verdict::Delivered => "delivered",
                Verdict::Retry => "retry",
                Verdict::Permanent => "failed",
            },
            error,
            took,
        }
    }

    /// The first usable channel of `zones`; an unusable stored one is
    /// skipped with a warning.
    async fn channel(&self, zones: &[&str]) -> Option<Channel> {
        let reads = zones
            .iter()
            .map(|zone| until_ok(move || self.store.channel(zone)));
        let mut found = HashMap::new();
        for (zone, stored) in zones.iter().zip(futures::future::join_all(reads).await) {
            let Some(stored) = stored else {
                continue;
            };
            match usable(&stored) {
                Ok(channel) => {
                    found.insert((*zone).to_owned(), channel);
                }
                Err(problem) => {
                    warn!(zone = %zone, %problem, "Skipping an unusable notification channel.");
                }
            }
        }
        channel::resolve(&found, zones).cloned()
    }

    fn endpoint(&self, name: &str) -> Arc<Endpoint> {
        let mut endpoints = self
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(endpoints.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(Endpoint {
                permits: Semaphore::new(self.policy.endpoint_concurrency),
                breaker: Mutex::new(Breaker::new(
                    self.policy.breaker_failures,
                    self.policy.breaker_cool_down,
                )),
            })
        }))
    }
}

/// The span of one delivery attempt: an HTTP client call, child of the
/// span of the alert's processing (which continues the detection's trace)
/// or of the escalation. The URL is not recorded, only `host:port`.
fn attempt_span(audience: Audience, endpoint: &str, notification: &str, attempt: u32) -> Span {
    if !vigil_runtime::telemetry::enabled() {
        return Span::none();
    }
    tracing::info_span!(
        "deliver",
        "otel.name" = format!("deliver {audience}"),
        "otel.kind" = "client",
        "http.request.method" = "POST",
        "server.address" = endpoint,
        "vigil.notification" = notification,
        "vigil.delivery.attempt" = attempt,
        "vigil.delivery.outcome" = field::Empty,
        "http.response.status_code" = field::Empty,
    )
}

/// A stored channel, checked as `vigilctl channels set` checks it.
pub fn usable(stored: &StoredChannel) -> Result<Channel, String> {
    let format = Format::parse(&stored.format).ok_or_else(|| {
        format!(
            "format {:?} is neither webhook nor sms_gateway",
            stored.format
        )
    })?;
    let language = Language::parse(&stored.language)
        .ok_or_else(|| format!("language {:?} is neither vi nor en", stored.language))?;
    Channel::new(
        stored.zone_id.as_str(),
        &stored.url,
        format,
        language,
        stored.recipient.as_str(),
    )
    .map_err(|e| e.to_string())
}

/// A request error for people: what failed, without the URL (whose path
/// may hold a receiver's token).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_request() {
        "the request failed"
    } else {
        "the exchange failed"
    };
    let mut text = what.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
