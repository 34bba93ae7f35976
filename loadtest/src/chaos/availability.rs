//! The query load that runs through every scenario: an operator's query
//! (a commune's events in the scenario's hour) ten times a second, spread
//! over the API instances, each call bounded by a deadline. What share of
//! the calls made while the fault lasted were answered, and how slowly.
//!
//! A call that fails `UNAVAILABLE` (an instance gone, its connection
//! refused or lost) is tried again within its deadline, as a gRPC client's
//! retry policy for an idempotent read does; the report counts the calls
//! that needed it.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{ListEventsRequest, TimeWindow};

/// Calls per second.
const RATE: u32 = 10;
/// A call not answered within this counts as failed.
const DEADLINE: Duration = Duration::from_secs(5);
/// Pause before an `UNAVAILABLE` call is tried again.
const RETRY_AFTER: Duration = Duration::from_millis(100);

/// One query call: when it started, why it failed (if it did), how long
/// it took.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) at: Instant,
    pub(crate) failure: Option<String>,
    pub(crate) latency: Duration,
    /// Whether it was tried more than once.
    pub(crate) retried: bool,
}

/// The query load, running until [`Probe::finish`].
pub(crate) struct Probe {
    stop: CancellationToken,
    task: JoinHandle<Vec<Call>>,
}

/// What a query is about.
pub(crate) struct Query {
    /// `host:port` of every API instance.
    pub(crate) apis: Vec<String>,
    pub(crate) token: String,
    pub(crate) commune: String,
    /// Start of the hour queried, in milliseconds.
    pub(crate) hour: i64,
}

impl Probe {
    /// Starts calling the API.
    pub(crate) fn start(query: Query) -> anyhow::Result<Self> {
        let endpoints = query
            .apis
            .iter()
            .map(|api| {
                Ok(
                    tonic::transport::Endpoint::from_shared(format!("http://{api}"))?
                        .connect_timeout(Duration::from_secs(1)),
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let client = QueryServiceClient::new(tonic::transport::Channel::balance_list(
            endpoints.into_iter(),
        ));
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(client, query, stop.clone()));
        Ok(Self { stop, task })
    }

    /// Stops the load; every call made.
    pub(crate) async fn finish(self) -> Vec<Call> {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

async fn run(
    client: QueryServiceClient<tonic::transport::Channel>,
    query: Query,
    stop: CancellationToken,
) -> Vec<Call> {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / RATE);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut calls = tokio::task::JoinSet::new();
    let mut done = Vec::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {
                calls.spawn(call(client.clone(), request(&query)));
            }
            Some(Ok(call)) = calls.join_next(), if !calls.is_empty() => done.push(call),
        }
    }
    while let Some(call) = calls.join_next().await {
        done.extend(call.ok());
    }
    done
}

/// One query call, tried again while it fails `UNAVAILABLE` and its
/// deadline allows.
async fn call(
    mut client: QueryServiceClient<tonic::transport::Channel>,
    request: tonic::Request<ListEventsRequest>,
) -> Call {
    let at = Instant::now();
    let (metadata, _, message) = request.into_parts();
    let mut attempts = 0u32;
    let answer = tokio::time::timeout(DEADLINE, async {
        loop {
            attempts += 1;
            let attempt = tonic::Request::from_parts(
                metadata.clone(),
                tonic::Extensions::default(),
                message.clone(),
            );
            match client.list_events(attempt).await {
                Err(status) if unavailable(&status) => {
                    tokio::time::sleep(RETRY_AFTER).await;
                }
                answer => return answer,
            }
        }
    })
    .await;
    let failure = match answer {
        Ok(Ok(_)) => None,
        Ok(Err(status)) => Some(format!("{:?}: {}", status.code(), status.message())),
        Err(_) => Some(format!("no answer within {DEADLINE:?}")),
    };
    Call {
        at,
        failure,
        latency: at.elapsed(),
        retried: attempts > 1,
    }
}

/// Whether a call failed `UNAVAILABLE`: so reported, or its connection
/// lost (tonic reports that as `Unknown` with a transport error as its
/// source; the gRPC protocol, and grpc-go and grpc-java, make it
/// `UNAVAILABLE`).
fn unavailable(status: &tonic::Status) -> bool {
    match status.code() {
        tonic::Code::Unavailable => true,
        tonic::Code::Unknown => std::error::Error::source(status)
            .is_some_and(|source| source.is::<tonic::transport::Error>()),
        _ => false,
    }
}

fn request(query: &Query) -> tonic::Request<ListEventsRequest> {
    let at = |ms: i64| prost_types::Timestamp {
        seconds: ms / 1000,
        nanos: 0,
    };
    let mut request = tonic::Request::new(ListEventsRequest {
        zone_id: query.commune.clone(),
        window: Some(TimeWindow {
            start: Some(at(query.hour)),
            end: Some(at(query.hour + 3_600_000)),
        }),
        page_size: 100,
        ..ListEventsRequest::default()
    });
    if let Ok(value) = format!("Bearer {}", query.token).parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// The API as the query load saw it while a fault lasted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Availability {
    /// Calls started within the fault.
    pub(crate) calls: usize,
    /// Of those, the calls tried more than once.
    pub(crate) retried: usize,
    /// Share of those answered OK, 0 to 1 (1 when there were none).
    pub(crate) ok_share: f64,
    /// 99th percentile latency of those calls, failed ones included.
    pub(crate) p99_ms: f64,
    /// The most frequent reason calls failed, with how many did so.
    pub(crate) top_failure: Option<(String, usize)>,
    /// When the first and the last failed call started, in seconds into
    /// the fault: a stall shows as a short span, a slow spell as a long one.
    pub(crate) failed_between_s: Option<(f64, f64)>,
}

/// Availability over the calls started from `from` to `to`.
pub(crate) fn during(calls: &[Call], from: Instant, to: Instant) -> Availability {
    let mut latencies: Vec<Duration> = Vec::new();
    let mut ok = 0usize;
    let mut retried = 0usize;
    let mut failures: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut failed_between_s: Option<(f64, f64)> = None;
    for call in calls.iter().filter(|c| c.at >= from && c.at <= to) {
        latencies.push(call.latency);
        retried += usize::from(call.retried);
        match &call.failure {
            None => ok += 1,
            Some(reason) => {
                *failures.entry(reason).or_default() += 1;
                let into = (call.at - from).as_secs_f64();
                failed_between_s = Some(failed_between_s.map_or((into, into), |(first, last)| {
                    (first.min(into), last.max(into))
                }));
            }
        }
    }
    latencies.sort_unstable();
    let p99 = match latencies.len() {
        0 => Duration::ZERO,
        n => latencies[(n * 99).div_ceil(100) - 1],
    };
    Availability {
        calls: latencies.len(),
        retried,
        ok_share: if latencies.is_empty() {
            1.0
        } else {
            ok as f64 / latencies.len() as f64
        },
        p99_ms: p99.as_secs_f64() * 1000.0,
        top_failure: failures
            .into_iter()
            .max_by_key(|(_, count)| *count)
            .map(|(reason, count)| (reason.to_owned(), count)),
        failed_between_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(start: Instant, second: u64, ok: bool, millis: u64) -> Call {
        Call {
            at: start + Duration::from_secs(second),
            failure: (!ok).then(|| "slow".to_owned()),
            latency: Duration::from_millis(millis),
            retried: !ok,
        }
    }

    #[test]
    fn only_calls_started_during_the_fault_count() {
        let t = Instant::now();
        let mut calls: Vec<Call> = (0..100).map(|i| call(t, 10, true, 10 + i)).collect();
        calls.push(call(t, 10, false, 5000));
        // Before and after the fault: ignored.
        calls.push(call(t, 1, false, 9000));
        calls.push(call(t, 30, false, 9000));
        let seen = during(
            &calls,
            t + Duration::from_secs(5),
            t + Duration::from_secs(20),
        );
        assert_eq!((seen.calls, seen.retried), (101, 1));
        assert!((seen.ok_share - 100.0 / 101.0).abs() < 1e-9);
        // The 100th of 101 sorted latencies.
        assert_eq!(seen.p99_ms, 109.0);
        assert_eq!(seen.top_failure, Some(("slow".to_owned(), 1)));
        assert_eq!(seen.failed_between_s, Some((5.0, 5.0)));
    }

    #[test]
    fn no_calls_is_full_availability() {
        let t = Instant::now();
        assert_eq!(
            during(&[], t, t),
            Availability {
                calls: 0,
                retried: 0,
                ok_share: 1.0,
                p99_ms: 0.0,
                top_failure: None,
                failed_between_s: None,
            }
        );
    }
}
