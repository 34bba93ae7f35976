//! Runs the notifier in-process against the real stack, with a real HTTP
//! receiver in the test that records every request and answers as told.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of this

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::Utc;
use clap::Parser;
use prost::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vigil_notifier::{Config, NotifierError};
use vigil_proto::v1::{Alert, AlertKind};
use vigil_signing::{SIGNATURE_HEADER, SigningKey, TIMESTAMP_HEADER, unix_now};
use vigil_store::{NotificationStore, StoredChannel};
use vigil_synth::{ProvinceSpec, province};
use vigil_testkit::{TestEnv, install_registry};

/// The key the test notifiers sign with and the receiver checks.
pub const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test-key";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    /// The idempotency key.
    pub fn key(&self) -> &str {
        self.header("idempotency-key")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Checks the signature as a receiver would.
    pub fn verify(&self) -> anyhow::Result<()> {
        SigningKey::new(KEY)?
            .verify(
                self.headers
                    .get(TIMESTAMP_HEADER)
                    .and_then(|v| v.to_str().ok()),
                self.headers
                    .get(SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok()),
                &self.body,
                unix_now(),
            )
            .map_err(Into::into)
    }
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Requests answered with `failure` before the first 200.
    pub fail_first: usize,
    pub failure: StatusCode,
    /// Requests held this long before answering (to interrupt a delivery).
    pub hold_first: Option<Duration>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            fail_first: 0,
            failure: StatusCode::SERVICE_UNAVAILABLE,
            hold_first: None,
        }
    }
}

#[derive(Debug)]
struct Shared {
    behaviour: Behaviour,
    requests: AtomicUsize,
    received: Mutex<Vec<Received>>,
}

/// An HTTP receiver on a loopback port.
#[derive(Debug)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            behaviour,
            requests: AtomicUsize::new(0),
            received: Mutex::default(),
        });
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the receiver runs");
        });
        Ok(Self {
            base,
            shared,
            server,
        })
    }

    /// Every request so far that was answered 200 or not.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Requests to `path`.
    pub fn on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst);
    shared.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
    });
    if let (0, Some(hold)) = (n, shared.behaviour.hold_first) {
        tokio::time::sleep(hold).await;
    }
    if n < shared.behaviour.fail_first {
        shared.behaviour.failure
    } else {
        StatusCode::OK
    }
}

/// A notifier running in a task of the test's runtime.
pub struct Notifier {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), NotifierError>>,
    _key_dir: tempfile::TempDir,
}

impl Notifier {
    /// Starts a notifier for `env` in consumer group `group`, plus `extra`
    /// flags; quick backoff and polling so tests need not wait.
    pub fn start(env: &TestEnv, group: &str, extra: &[&str]) -> Self {
        let key_dir = tempfile::tempdir().expect("a temporary directory");
        let key_file = key_dir.path().join("signing.key");
        std::fs::write(&key_file, KEY).expect("writing the key");
        let key_file = key_file.display().to_string();
        let mut args = vec![
            "vigil-notifier",
            "--group",
            group,
            "--signing-key-file",
            &key_file,
            "--metrics-listen",
            "127.0.0.1:0",
            "--escalation-poll",
            "200ms",
            "--delivery-backoff",
            "100ms",
            "--delivery-backoff-max",
            "400ms",
            "--shutdown-grace",
            "5s",
        ];
        args.extend_from_slice(extra);
        let mut config = Config::try_parse_from(args).expect("valid notifier flags");
        config.kafka = env.kafka.clone();
        config.store = env.store.clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(vigil_notifier::run(config, shutdown.clone()));
        Self {
            shutdown,
            task,
            _key_dir: key_dir,
        }
    }

    /// Shuts it down as SIGTERM would and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await?.context("the notifier failed")
    }

    /// Stops it dead, as `kill -9` would: nothing in flight finishes and
    /// no offset is committed.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Where the test's alerts happen: a village, its commune, the province.
#[derive(Debug, Clone)]
pub struct Place {
    pub province: String,
    pub commune: String,
    pub village: String,
    pub camera: String,
}

/// Installs a small synthetic province and returns a place in it.
pub async fn place(env: &TestEnv) -> anyhow::Result<Place> {
    let registry = province(&ProvinceSpec {
        cameras: 20,
        seed: 17,
    });
    install_registry(&env.kafka, &env.keyspace, &registry).await?;
    let camera = registry.cameras().next().context("a camera")?;
    let village = registry.zone(&camera.zone_id).context("its village")?;
    let commune = village.parent_id.clone().context("its commune")?;
    let province = registry
        .zone(&commune)
        .and_then(|c| c.parent_id.clone())
        .context("the province")?;
    Ok(Place {
        province,
        commune,
        village: village.id.clone(),
        camera: camera.id.clone(),
    })
}

/// Points `zone`'s channel at `url`.
pub async fn set_channel(env: &TestEnv, zone: &str, url: &str) -> anyhow::Result<()> {
    NotificationStore::prepare(&env.keyspace)
        .await?
        .put_channel(&StoredChannel {
            zone_id: zone.to_owned(),
            url: url.to_owned(),
            format: "webhook".to_owned(),
            language: "vi".to_owned(),
            recipient: String::new(),
            updated_by: "test".to_owned(),
            updated_at: Some(Utc::now()),
        })
        .await?;
    Ok(())
}

/// A priority-1 watchlist alert raised now at `place`.
pub fn watchlist_alert(place: &Place) -> Alert {
    Alert {
        alert_id: uuid::Uuid::new_v4().to_string(),
        kind: AlertKind::Watchlist.into(),
        raised_at: Some(std::time::SystemTime::now().into()),
        priority: 1,
        camera_id: place.camera.clone(),
        commune_id: place.commune.clone(),
        village_id: place.village.clone(),
        zone_path: vec!["Thanh Hóa".to_owned()],
        summary: "watch-listed vehicle 36A12345".to_owned(),
        ..Alert::default()
    }
}

/// Publishes `alert` to the alert topic as the enricher would.
pub async fn publish(env: &TestEnv, alert: &Alert) -> anyhow::Result<()> {
    let producer: FutureProducer = env.kafka.producer_config().create()?;
    producer
        .send(
            FutureRecord::to(&env.kafka.topics().alerts)
                .key(&alert.commune_id)
                .payload(&alert.encode_to_vec()),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(error, _)| error)?;
    Ok(())
}
