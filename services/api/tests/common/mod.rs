//! A running vigil-api over a test keyspace and topic prefix, with a
//! synthetic province in the registry, tokens for every role, and a known
//! set of events, plate sightings and camera statuses written through the
//! same stores the writer uses.

#![allow(dead_code, unreachable_pub)]

pub mod browser;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Parser;
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use vigil_domain::{Registry, ZoneLevel};
use vigil_enrich::{Policy, enrich};
use vigil_proto::v1::{EnrichedDetection, Heartbeat, Role};
use vigil_store::{CountStore, EventStore, StatusStore, TokenStore, mint_token};
use vigil_synth::{DetectionFactory, ProvinceSpec, province};
use vigil_testkit::{TestEnv, free_port, install_registry};

/// The plate whose trajectory the fixture lays down.
pub const PLATE: &str = "36A-123.45";
pub const PLATE_NORMALIZED: &str = "36A12345";

pub struct Fixture {
    pub env: TestEnv,
    pub registry: Registry,
    pub address: String,
    /// The console's origin, `http://127.0.0.1:<port>`.
    pub console_origin: String,
    pub channel: Channel,
    pub stop: CancellationToken,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub metrics_address: String,
    /// Tokens by name: operator, police_a, police_b, captain_a, auditor.
    pub tokens: BTreeMap<&'static str, String>,
    pub token_ids: BTreeMap<&'static str, String>,
    pub commune_a: String,
    pub commune_b: String,
    /// A village of commune A with events, and its captain's token.
    pub village_a: String,
    /// Cameras of commune A with events (first) and one without (last).
    pub cameras_a: Vec<String>,
    pub cameras_b: Vec<String>,
    /// Every stored event, newest first, as (captured ms, event id, commune, village, kind).
    pub events: Vec<Stored>,
    /// The window all events fall in.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Sightings of PLATE (exact reads), oldest first: (event id, commune).
    pub exact_sightings: Vec<(String, String)>,
    /// The event id of the OCR-confused read of PLATE.
    pub confused_sighting: String,
    /// The camera that was offline inside the window, and when.
    pub outage_camera: String,
    pub outage: (DateTime<Utc>, DateTime<Utc>),
    /// The camera with a heartbeat and no events.
    pub silent_camera: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub at_ms: i64,
    pub event_id: String,
    pub commune_id: String,
    pub village_id: String,
    pub camera_id: String,
    pub kind: i32,
}

/// Cameras per commune, most first.
fn communes_by_cameras(registry: &Registry) -> Vec<(String, Vec<String>)> {
    let mut by_commune: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for camera in registry.cameras() {
        if let Some(commune) = registry.commune_of(&camera.zone_id) {
            by_commune
                .entry(commune.id.clone())
                .or_default()
                .push(camera.id.clone());
        }
    }
    let mut list: Vec<_> = by_commune.into_iter().collect();
    for (_, cameras) in &mut list {
        cameras.sort();
    }
    list.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    list
}

impl Fixture {
    pub async fn start(tag: &str) -> anyhow::Result<Self> {
        Self::start_with(tag, &[]).await
    }

    /// Like `start`, with extra vigil-api flags; with `--tls-cert` the
    /// fixture's own channel is not connected (the caller connects).
    pub async fn start_with(tag: &str, extra: &[&str]) -> anyhow::Result<Self> {
        Self::start_province(tag, extra, 1_000).await
    }

    /// Like `start_with`, over a synthetic province of `cameras` cameras.
    pub async fn start_province(tag: &str, extra: &[&str], cameras: usize) -> anyhow::Result<Self> {
        let env = TestEnv::new(tag).await?;
        let registry = province(&ProvinceSpec { cameras, seed: 36 });
        install_registry(&env.kafka, &env.keyspace, &registry).await?;

        let communes = communes_by_cameras(&registry);
        let (commune_a, all_a) = communes[0].clone();
        let (commune_b, all_b) = communes[1].clone();
        let cameras_a: Vec<String> = all_a.into_iter().take(5).collect();
        let cameras_b: Vec<String> = all_b.into_iter().take(3).collect();
        let with_events_a = &cameras_a[..cameras_a.len() - 1];
        let village_a = registry.camera(&with_events_a[0]).unwrap().zone_id.clone();

        // Tokens.
        let tokens_store = TokenStore::prepare(&env.keyspace).await?;
        let mut tokens = BTreeMap::new();
        let mut token_ids = BTreeMap::new();
        for (name, role, zone) in [
            ("operator", Role::ProvinceOperator, "th".to_owned()),
            ("police_a", Role::CommunePolice, commune_a.clone()),
            ("police_b", Role::CommunePolice, commune_b.clone()),
            ("captain_a", Role::TeamCaptain, village_a.clone()),
            ("auditor", Role::Auditor, "th".to_owned()),
        ] {
            let (token, record) = mint_token(name, role.into(), &zone, None);
            tokens_store.insert(&record).await?;
            tokens.insert(name, token);
            token_ids.insert(name, record.token_id);
        }

        // Events over the last 3 hours.
        let now = Utc::now();
        let start = now - chrono::Duration::hours(3);
        let end = now + chrono::Duration::minutes(1);
        let mut factory = DetectionFactory::new(7);
        let mut detections = Vec::new();
        for i in 0..60 {
            let camera = &with_events_a[i % with_events_a.len()];
            let at = start + chrono::Duration::seconds(30 + 157 * i as i64);
            detections.push(factory.detection(camera, at));
        }
        for i in 0..40 {
            let camera = &cameras_b[i % cameras_b.len()];
            let at = start + chrono::Duration::seconds(45 + 233 * i as i64);
            detections.push(factory.detection(camera, at));
        }
        // PLATE seen in A, then B, then A again, then misread in A.
        let sightings = [
            (&with_events_a[0], 20, false),
            (&cameras_b[0], 70, false),
            (&with_events_a[1], 120, false),
            (&with_events_a[2], 150, true),
        ];
        let mut exact_sightings = Vec::new();
        let mut confused_sighting = String::new();
        for (camera, minutes, confused) in sightings {
            let at = start + chrono::Duration::minutes(minutes);
            let detection = factory.plate_read(camera, at, PLATE_NORMALIZED, confused);
            let commune = registry
                .commune_of(&registry.camera(camera).unwrap().zone_id)
                .unwrap()
                .id
                .clone();
            if confused {
                confused_sighting = detection.event_id.clone();
            } else {
                exact_sightings.push((detection.event_id.clone(), commune));
            }
            detections.push(detection);
        }

        let events_store = EventStore::prepare(&env.keyspace, Duration::from_secs(86_400)).await?;
        let counts = CountStore::prepare(&env.keyspace, Duration::from_secs(86_400)).await?;
        let mut events = Vec::new();
        let mut touched = std::collections::BTreeSet::new();
        for mut detection in detections {
            // Accepted by the camera's own edge agent.
            detection.site_id = registry
                .camera(&detection.camera_id)
                .and_then(|c| c.site_id.clone())
                .unwrap_or_default();
            detection.received_at = detection.captured_at;
            let captured = detection.captured_at.unwrap();
            let arrived = DateTime::from_timestamp(captured.seconds + 1, 0).unwrap();
            let enriched = enrich(
                &registry,
                &detection.encode_to_vec(),
                &Policy::default(),
                arrived,
            )
            .map_err(|r| anyhow::anyhow!("fixture event rejected: {r:?}"))?
            .event;
            events_store.write(&enriched).await?;
            touched.insert(counts.record_event(&enriched).await?);
            events.push(stored(&enriched));
        }
        for key in &touched {
            counts.rollup(key).await?;
        }
        events.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then(a.event_id.cmp(&b.event_id)));

        // Camera statuses.
        let statuses = StatusStore::prepare(&env.keyspace).await?;
        let heartbeat = |camera: &str| Heartbeat {
            camera_id: camera.to_owned(),
            site_id: registry
                .camera(camera)
                .and_then(|c| c.site_id.clone())
                .unwrap_or_default(),
            sent_at: Some(prost_types::Timestamp {
                seconds: (now - chrono::Duration::minutes(1)).timestamp(),
                nanos: 0,
            }),
            buffer_depth: 5,
            link_state: 1,
            camera_online: true,
        };
        let outage_camera = with_events_a[1].clone();
        let silent_camera = cameras_a.last().unwrap().clone();
        let outage = (
            start + chrono::Duration::minutes(30),
            start + chrono::Duration::minutes(50),
        );
        for camera in [&with_events_a[0], &outage_camera, &silent_camera] {
            statuses
                .record_heartbeat(&heartbeat(camera), now - chrono::Duration::minutes(1))
                .await?;
        }
        statuses.set_online(&outage_camera, false, outage.0).await?;
        statuses.set_online(&outage_camera, true, outage.1).await?;

        // The API.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = format!("127.0.0.1:{}", listener.local_addr()?.port());
        let console_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let console_origin = format!("http://{}", console_listener.local_addr()?);
        let metrics_address = format!("127.0.0.1:{}", free_port());
        let mut args = vec![
            "vigil-api",
            "--topic-prefix",
            &env.kafka.topic_prefix,
            "--keyspace",
            &env.store.keyspace,
            "--metrics-listen",
            &metrics_address,
            "--shutdown-grace",
            "5s",
        ];
        args.extend_from_slice(extra);
        let config = vigil_api::Config::parse_from(args);
        let stop = CancellationToken::new();
        let listeners = vigil_api::Listeners {
            grpc: listener,
            console: Some(console_listener),
        };
        let server = tokio::spawn(vigil_api::serve(config, listeners, stop.clone()));
        let channel = if extra.contains(&"--tls-cert") {
            tonic::transport::Endpoint::from_shared(format!("http://{address}"))?.connect_lazy()
        } else {
            connect(&address).await?
        };
        Ok(Self {
            env,
            registry,
            address,
            console_origin,
            channel,
            stop,
            server,
            metrics_address,
            tokens,
            token_ids,
            commune_a,
            commune_b,
            village_a,
            cameras_a,
            cameras_b,
            events,
            start,
            end,
            exact_sightings,
            confused_sighting,
            outage_camera,
            outage,
            silent_camera,
        })
    }

    /// `message` as a request with `who`'s token.
    pub fn request<T>(&self, who: &str, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.tokens[who]).parse().unwrap(),
        );
        request
    }

    pub fn window(&self) -> vigil_proto::v1::TimeWindow {
        vigil_proto::v1::TimeWindow {
            start: Some(ts(self.start)),
            end: Some(ts(self.end)),
        }
    }

    /// Stored events matching `keep`, newest first.
    pub fn expected(&self, keep: impl Fn(&Stored) -> bool) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| keep(e))
            .map(|e| e.event_id.clone())
            .collect()
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.server.await??;
        Ok(())
    }
}

pub fn ts(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap(),
    }
}

fn stored(event: &EnrichedDetection) -> Stored {
    let detection = event.detection.as_ref().unwrap();
    let at = detection.captured_at.unwrap();
    Stored {
        at_ms: at.seconds * 1000 + i64::from(at.nanos / 1_000_000),
        event_id: detection.event_id.clone(),
        commune_id: event.commune_id.clone(),
        village_id: event.village_id.clone(),
        camera_id: detection.camera_id.clone(),
        kind: detection.kind,
    }
}

/// Connects, retrying while the server starts (it loads the registry
/// first).
pub async fn connect(address: &str) -> anyhow::Result<Channel> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?;
    let mut last = None;
    for _ in 0..120 {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(error) => last = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(anyhow::anyhow!("vigil-api did not come up: {last:?}"))
}

/// Zone level of `id` in `registry`.
pub fn level(registry: &Registry, id: &str) -> ZoneLevel {
    registry.zone(id).unwrap().level()
}

/// A watchlist alert of `commune_id` with id `alert_id`, raised now.
pub fn alert(alert_id: &str, commune_id: &str) -> vigil_proto::v1::Alert {
    vigil_proto::v1::Alert {
        alert_id: alert_id.into(),
        kind: vigil_proto::v1::AlertKind::Watchlist.into(),
        commune_id: commune_id.into(),
        raised_at: Some(ts(Utc::now())),
        ..vigil_proto::v1::Alert::default()
    }
}

/// Produces `alerts` to `topic` (the alerts topic; key = commune, as the
/// enricher does), in order, and waits until Kafka has them all.
pub async fn produce_alerts(
    producer: &rdkafka::producer::FutureProducer,
    topic: &str,
    alerts: &[vigil_proto::v1::Alert],
) -> anyhow::Result<()> {
    let sends = alerts.iter().map(|alert| {
        let payload = alert.encode_to_vec();
        async move {
            producer
                .send(
                    rdkafka::producer::FutureRecord::to(topic)
                        .key(&alert.commune_id)
                        .payload(&payload),
                    Duration::from_secs(10),
                )
                .await
                .map_err(|(error, _)| error)
        }
    });
    // Sent together, so they batch; one key keeps them in order.
    for sent in futures::future::join_all(sends).await {
        sent?;
    }
    Ok(())
}

/// The value of a series (name and labels, as Prometheus prints them) of
/// this process's metrics, which the in-process API records; 0 if absent.
pub fn metric(series: &str) -> f64 {
    vigil_runtime::metrics_recorder()
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}
