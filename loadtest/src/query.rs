//! A mixed query workload against vigil-api at a fixed request rate (open
//! loop: a call's latency counts from when it was due, so a slow server
//! shows as latency, not as a slower offer).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use tonic::transport::Channel;
use vigil_domain::{Registry, ZoneLevel};
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{
    CountEventsRequest, FleetStatusRequest, ListEventsRequest, PlateTrajectoryRequest, Role,
    TimeWindow,
};
use vigil_store::{Keyspace, TokenStore, mint_token};

use crate::target::Target;

/// The query shapes and their share of the mix.
pub(crate) const SHAPES: &[(&str, u32)] = &[
    ("commune_last_hour", 40),
    ("province_24h_first_page", 15),
    ("plate_trajectory_30d", 15),
    ("counts_commune_day", 20),
    ("fleet_commune", 10),
];

/// The plate the trajectory queries follow (the one `fill` lays down).
pub(crate) const PLATE: &str = "36A-123.45";

/// Latencies (µs, from when each call was due) and errors per shape.
#[derive(Debug)]
pub(crate) struct ShapeResult {
    pub(crate) histogram: Histogram<u64>,
    pub(crate) calls: u64,
    pub(crate) errors: u64,
}

/// A token for the load: the given one, or a fresh province-operator token
/// written to `keyspace` (expires in a day).
pub(crate) async fn token(
    keyspace: &Keyspace,
    registry: &Registry,
    given: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(token) = given {
        return Ok(token.to_owned());
    }
    let store = TokenStore::prepare(keyspace).await?;
    let province = registry
        .zones()
        .find(|z| z.level() == ZoneLevel::Province)
        .context("the registry has no province")?
        .id
        .clone();
    let (token, record) = mint_token(
        "vigil-loadtest",
        Role::ProvinceOperator.into(),
        &province,
        Some(Utc::now() + chrono::Duration::days(1)),
    );
    store.insert(&record).await?;
    Ok(token)
}

/// The commune with the most cameras: its partitions are the busiest.
pub(crate) fn busiest_commune(target: &Target) -> anyhow::Result<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for camera in target.registry.cameras() {
        if let Some(commune) = target.registry.commune_of(&camera.zone_id) {
            *counts.entry(commune.id.clone()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(id, _)| id)
        .context("no camera belongs to a commune")
}

fn window(back: chrono::Duration) -> Option<TimeWindow> {
    let now = Utc::now();
    let ts = |at: chrono::DateTime<Utc>| prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    };
    Some(TimeWindow {
        start: Some(ts(now - back)),
        end: Some(ts(now + chrono::Duration::seconds(1))),
    })
}

/// `message` as a request carrying `token`.
pub(crate) fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .expect("a token is header text"),
    );
    request
}

/// One call of `shape`.
async fn call(
    client: &mut QueryServiceClient<Channel>,
    token: &str,
    shape: &str,
    commune: &str,
) -> Result<(), tonic::Status> {
    match shape {
        "commune_last_hour" => client
            .list_events(authorized(
                ListEventsRequest {
                    zone_id: commune.to_owned(),
                    window: window(chrono::Duration::hours(1)),
                    page_size: 100,
                    ..ListEventsRequest::default()
                },
                token,
            ))
            .await
            .map(drop),
        "province_24h_first_page" => client
            .list_events(authorized(
                ListEventsRequest {
                    zone_id: String::new(),
                    window: window(chrono::Duration::hours(24)),
                    page_size: 100,
                    ..ListEventsRequest::default()
                },
                token,
            ))
            .await
            .map(drop),
        "plate_trajectory_30d" => client
            .plate_trajectory(authorized(
                PlateTrajectoryRequest {
                    plate: PLATE.to_owned(),
                    window: window(chrono::Duration::days(30)),
                    reason: "load test".to_owned(),
                    page_size: 1000,
                    ..PlateTrajectoryRequest::default()
                },
                token,
            ))
            .await
            .map(drop),
        "counts_commune_day" => client
            .count_events(authorized(
                CountEventsRequest {
                    zone_id: commune.to_owned(),
                    window: window(chrono::Duration::hours(24)),
                    ..CountEventsRequest::default()
                },
                token,
            ))
            .await
            .map(drop),
        _ => client
            .fleet_status(authorized(
                FleetStatusRequest {
                    zone_id: commune.to_owned(),
                    include_cameras: false,
                },
                token,
            ))
            .await
            .map(drop),
    }
}

/// Offers `rate` calls/s of the mix for `duration`; returns results per
/// shape.
pub(crate) async fn run(
    target: &Target,
    token: &str,
    rate: f64,
    duration: Duration,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<BTreeMap<&'static str, ShapeResult>> {
    let channel = tonic::transport::Endpoint::from_shared(target.api.clone())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("connecting to the API at {}", target.api))?;
    let commune = busiest_commune(target)?;
    let results: Arc<Mutex<BTreeMap<&'static str, ShapeResult>>> = Arc::new(Mutex::new(
        SHAPES
            .iter()
            .map(|(name, _)| {
                (
                    *name,
                    ShapeResult {
                        histogram: Histogram::new(3).expect("valid precision"),
                        calls: 0,
                        errors: 0,
                    },
                )
            })
            .collect(),
    ));
    let total_weight: u32 = SHAPES.iter().map(|(_, w)| w).sum();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    let mut n: u32 = 0;
    loop {
        let due = started + interval * n;
        if due.duration_since(started) >= duration {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        n += 1;
        let mut pick = rng.random_range(0..total_weight);
        let shape = SHAPES
            .iter()
            .find(|(_, weight)| {
                let hit = pick < *weight;
                pick = pick.saturating_sub(*weight);
                hit
            })
            .map_or(SHAPES[0].0, |(name, _)| *name);
        let (mut client, token, commune, results) = (
            QueryServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20),
            token.to_owned(),
            commune.clone(),
            Arc::clone(&results),
        );
        calls.spawn(async move {
            let outcome = call(&mut client, &token, shape, &commune).await;
            let micros = due.elapsed().as_micros() as u64;
            let mut results = results.lock().expect("no panics while holding the lock");
            let result = results.get_mut(shape).expect("every shape has a result");
            result.calls += 1;
            match outcome {
                Ok(()) => {
                    let _ = result.histogram.record(micros.max(1));
                }
                Err(_) => result.errors += 1,
            }
        });
        progress.set_position(started.elapsed().as_secs().min(duration.as_secs()));
        while calls.try_join_next().is_some() {}
    }
    while calls.join_next().await.is_some() {}
    let results = Arc::try_unwrap(results)
        .map_err(|_| anyhow::anyhow!("calls still running"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a call panicked"))?;
    Ok(results)
}
