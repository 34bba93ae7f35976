//! Runs the real `vigil-edge` binary against the real stack, and reads back
//! what reached Kafka.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of this

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use vigil_proto::v1::Detection;
use vigil_signing::SigningKey;
use vigil_testkit::{TestEnv, free_port};

/// The ingest key of the test agents.
pub const TEST_KEY: &[u8] = b"test-site-ingest-key-0123456789abcdef";

/// A running agent process.
pub struct Agent {
    child: Child,
    pub port: u16,
    pub http: reqwest::Client,
    /// The key its HTTP ingest checks signatures with.
    pub key: SigningKey,
    /// Where its standard error (the log) goes.
    log: PathBuf,
}

/// A fresh folder for an agent's spool.
pub fn spool_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(vigil_testkit::unique_name(tag));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

impl Agent {
    /// Starts an agent for `site` with its spool in `spool`, its HTTP
    /// ingest signed with [`TEST_KEY`], plus `extra` args, and waits until
    /// its HTTP server answers.
    pub async fn start(
        env: &TestEnv,
        site: &str,
        spool: &Path,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        let key_file = std::env::temp_dir().join(vigil_testkit::unique_name("ingest_key"));
        std::fs::write(&key_file, TEST_KEY).context("writing the ingest key")?;
        let key_file = key_file.to_str().context("a UTF-8 temp dir")?;
        let args: Vec<&str> = ["--ingest-key-file", key_file]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        Self::start_without_key(env, site, spool, &args).await
    }

    /// Like [`Agent::start`], with no --ingest-key-file unless in `extra`.
    pub async fn start_without_key(
        env: &TestEnv,
        site: &str,
        spool: &Path,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        let port = free_port();
        let log = std::env::temp_dir().join(vigil_testkit::unique_name("edge_log"));
        let stderr = std::fs::File::create(&log).context("creating the agent's log")?;
        let child = Command::new(env!("CARGO_BIN_EXE_vigil-edge"))
            .args(["--site-id", site, "--topic-prefix", &env.kafka.topic_prefix])
            .arg("--spool-dir")
            .arg(spool)
            .args([
                "--http-listen",
                &format!("127.0.0.1:{port}"),
                "--log",
                "warn",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("starting vigil-edge")?;
        let agent = Self {
            child,
            port,
            http: reqwest::Client::new(),
            key: SigningKey::new(TEST_KEY)?,
            log,
        };
        let started = Instant::now();
        while agent.http.get(agent.url("/healthz")).send().await.is_err() {
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "vigil-edge did not come up:\n{}",
                agent.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(agent)
    }

    /// What it has logged so far (at --log warn).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The value of a metric line starting with `series` (name plus labels).
    pub async fn metric(&self, series: &str) -> anyhow::Result<f64> {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0))
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        ensure!(status.success(), "kill -TERM failed");
        let exit = self.child.wait()?;
        ensure!(exit.success(), "vigil-edge exited with {exit}");
        Ok(())
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill_9(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        // Gone before what it used (e.g. a mounted spool folder) is removed.
        let _ = self.child.wait();
    }
}

/// Event ids from `site` on the detections topic (and how many records
/// carried them), read until `done` says so or `patience` passes.
pub async fn delivered_event_ids(
    env: &TestEnv,
    site: &str,
    done: impl Fn(&HashSet<String>) -> bool,
    patience: Duration,
) -> anyhow::Result<(HashSet<String>, usize)> {
    let topic = env.kafka.topics().detections;
    let group = vigil_testkit::unique_name("reader");
    let consumer: StreamConsumer = env.kafka.consumer_config(&group).create()?;
    consumer.subscribe(&[&topic])?;
    let mut seen = HashSet::new();
    let mut records = 0;
    let started = Instant::now();
    while !done(&seen) {
        let remaining = patience.saturating_sub(started.elapsed());
        let Ok(message) = tokio::time::timeout(remaining, consumer.recv()).await else {
            break;
        };
        let message = message?;
        let detection = Detection::decode(message.payload().unwrap_or_default())?;
        if detection.site_id == site {
            records += 1;
            seen.insert(detection.event_id);
        }
    }
    Ok((seen, records))
}

/// Fails with the missing ids if any expected id did not arrive.
pub fn assert_none_lost(expected: &HashSet<String>, seen: &HashSet<String>) -> anyhow::Result<()> {
    let missing: Vec<&String> = expected.difference(seen).take(5).collect();
    if !missing.is_empty() {
        bail!(
            "{} of {} accepted events never reached Kafka, e.g. {missing:?}",
            expected.difference(seen).count(),
            expected.len()
        );
    }
    Ok(())
}

/// A valid JSON detection for the HTTP ingest.
pub fn json_detection(camera: &str, n: usize) -> serde_json::Value {
    serde_json::json!({
        "camera_id": camera,
        "captured_at": chrono::Utc::now().to_rfc3339(),
        "kind": "plate",
        "confidence": 0.9,
        "plate": {"text": format!("36A-{:03}.{:02}", n % 1000, n % 100), "confidence": 0.8},
        "vehicle": {"type": "car", "colour": "white"},
        "labels": {"n": n.to_string()}
    })
}

/// Posts `detections`, signed; returns the event ids the agent acknowledged
/// (it may acknowledge some of a request's detections and refuse others),
/// none when it is unreachable, e.g. killed.
pub async fn post(agent: &Agent, detections: &[serde_json::Value]) -> Vec<String> {
    match ingest(agent, detections).await {
        Ok((_, body)) => event_ids(&body),
        Err(_) => Vec::new(),
    }
}

/// Posts `detections`, signed; returns the status and the JSON body.
pub async fn ingest(
    agent: &Agent,
    detections: &[serde_json::Value],
) -> anyhow::Result<(reqwest::StatusCode, serde_json::Value)> {
    let body = serde_json::to_vec(detections)?;
    let response = signed_post(agent, body).send().await?;
    Ok((response.status(), response.json().await?))
}

/// A POST of `body` to the agent's ingest, signed with its key now.
pub fn signed_post(agent: &Agent, body: impl Into<Vec<u8>>) -> reqwest::RequestBuilder {
    let body = body.into();
    let mut request = agent
        .http
        .post(agent.url("/v1/detections"))
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (name, value) in agent.key.headers(&body) {
        request = request.header(name, value);
    }
    request.body(body)
}

/// The event ids in an ingest response: those of the detections spooled.
pub fn event_ids(body: &serde_json::Value) -> Vec<String> {
    body["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .filter_map(|r| r["event_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
