//! The fault matrix: Vigil's four services run as real processes on a
//! fresh namespace while a client pushes detections to the edge agent's
//! HTTP ingest; each scenario injects one fault mid-load, and ends with an
//! exact accounting by event id — every accepted event stored once in the
//! query tables, no extra rows, the counts right.
//!
//! Each scenario's events are captured inside their own past hour, so the
//! scenario's rows are exactly the rows of that hour's partitions
//! (`events_by_commune_hour`, `event_counts`), whatever other scenarios did.
//!
//! With `--cluster` the matrix runs on the three-node cluster with two
//! instances of every consumer and of the API, and its faults hit nodes: the
//! broker leading the most partitions, the active controller, a Cassandra
//! node killed or paused, rolling restarts. A query load runs throughout, and
//! each scenario reports the API's availability while its fault lasted.

mod availability;
mod cluster;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use prost::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use scylla::value::CqlTimestamp;
use serde::Serialize;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use vigil_domain::{Detection, ZoneLevel};
use vigil_edge::http::HttpDetection;
use vigil_proto::v1::query_service_client::QueryServiceClient;
use vigil_proto::v1::{ListEventsRequest, Role, TimeWindow};
use vigil_signing::SigningKey;
use vigil_store::{TokenStore, day_bucket, hour_bucket, mint_token};
use vigil_synth::DetectionFactory;

use crate::target::{Namespace, TargetArgs, check_reachable};
use availability::{Availability, Probe};
use cluster::Stack;

/// The scenarios on one node, in the order they run.
const SCENARIOS: &[&str] = &[
    "baseline",
    "kafka-outage",
    "cassandra-outage",
    "kill-edge",
    "kill-enricher",
    "kill-writer",
    "kill-api",
    "rebalance",
    "duplicates",
];

/// The scenarios on the cluster (`--cluster`), in the order they run.
const CLUSTER_SCENARIOS: &[&str] = &[
    "baseline",
    "kill-leader-broker",
    "kill-controller",
    "kill-cassandra-node",
    "pause-cassandra-node",
    "rolling-kafka",
    "rolling-cassandra",
    "kill-enricher",
    "kill-writer",
    "scale-out-in",
    "kill-edge",
    "kill-api",
    "duplicates",
];

#[derive(Debug, clap::Args)]
pub(crate) struct ChaosArgs {
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Run on the three-node cluster (`deploy/local/stack --cluster`, whose
    /// `env` gives the brokers, nodes and replication) with two instances
    /// of each service, and its node faults.
    #[arg(long)]
    pub(crate) cluster: bool,
    /// Scenarios to run (repeatable); default all of the mode's.
    #[arg(long = "scenario", value_parser = clap::builder::PossibleValuesParser::new(
        SCENARIOS.iter().chain(CLUSTER_SCENARIOS.iter().filter(|s| !SCENARIOS.contains(s)))
    ))]
    pub(crate) scenarios: Vec<String>,
    /// Detections per second pushed to the edge agent.
    #[arg(long, default_value_t = 50, value_parser = vigil_runtime::flags::count::<u32>)]
    pub(crate) rate: u32,
    /// How long each scenario pushes load at least (it goes on until the
    /// fault is over).
    #[arg(long, default_value = "40s", value_parser = vigil_runtime::flags::duration)]
    pub(crate) load: Duration,
    /// How long Kafka or Cassandra (or a node of it) stays down or paused.
    #[arg(long, default_value = "30s", value_parser = vigil_runtime::flags::duration)]
    pub(crate) outage: Duration,
    /// The script that stops and starts the stack's components.
    #[arg(long, default_value = "deploy/local/stack")]
    pub(crate) stack_script: PathBuf,
    /// Folder of vigil-edge, -enricher, -writer and -api; default the one
    /// this binary is in.
    #[arg(long)]
    pub(crate) bin_dir: Option<PathBuf>,
    #[arg(long)]
    pub(crate) report_dir: Option<PathBuf>,
}

/// One line of the matrix.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub(crate) scenario: String,
    /// Distinct events the edge (or Kafka, for duplicates) acknowledged.
    pub(crate) accepted: usize,
    /// Distinct accepted events found in the query tables.
    pub(crate) stored: usize,
    pub(crate) lost: usize,
    /// Rows beyond one per accepted event (repeats or never-accepted ids).
    pub(crate) duplicated: usize,
    /// Sum of the hour's `event_counts` equals `accepted`.
    pub(crate) counts_exact: bool,
    /// The API listed exactly the accepted events (kill-api only checks
    /// this after the restart; every scenario does).
    pub(crate) api_exact: bool,
    pub(crate) seconds_to_converge: f64,
    /// The query load while the fault lasted (the whole load for
    /// scenarios without one).
    pub(crate) api_during_fault: Availability,
}

impl ChaosArgs {
    /// The scenarios to run, in order: those asked for, or all of the mode's.
    pub(crate) fn wanted(&self) -> anyhow::Result<Vec<&'static str>> {
        let mode = if self.cluster {
            CLUSTER_SCENARIOS
        } else {
            SCENARIOS
        };
        if let Some(other) = self.scenarios.iter().find(|s| !mode.contains(&s.as_str())) {
            bail!(
                "scenario {other} is not one of the {} matrix: {}",
                if self.cluster {
                    "cluster"
                } else {
                    "single-node"
                },
                mode.join(", ")
            );
        }
        Ok(mode
            .iter()
            .copied()
            .filter(|s| self.scenarios.is_empty() || self.scenarios.iter().any(|w| w == s))
            .collect())
    }
}

impl Outcome {
    pub(crate) fn passed(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.counts_exact && self.api_exact
    }
}

/// Vigil's services as child processes on one namespace.
pub(crate) struct Fleet {
    bin: PathBuf,
    logs: PathBuf,
    pub(crate) ns: Namespace,
    edge_http: String,
    /// The edge's HTTP ingest key (in `logs`), which `push` signs with.
    pub(crate) edge_key: SigningKey,
    /// The first API's gRPC address.
    pub(crate) api_listen: String,
    /// Every API instance's gRPC address, by service name (`api`, `api#2`).
    api_listens: BTreeMap<String, String>,
    pub(crate) enricher_group: String,
    pub(crate) writer_group: String,
    /// Environment given to every service started from now on.
    pub(crate) env: Vec<(String, String)>,
    children: BTreeMap<String, Child>,
}

/// The folder holding the binaries of `services` (`api`, `edge`, ...):
/// `given`, or this binary's; fails naming a missing one.
pub(crate) fn bin_dir(given: Option<&Path>, services: &[&str]) -> anyhow::Result<PathBuf> {
    let bin = match given {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_exe()?
            .parent()
            .context("the binary has no folder")?
            .to_path_buf(),
    };
    for service in services {
        let path = bin.join(format!("vigil-{service}"));
        anyhow::ensure!(
            path.exists(),
            "{} is missing; build the services first (cargo build -p vigil-{service})",
            path.display()
        );
    }
    Ok(bin)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Fleet {
    /// A fleet on `ns` with binaries from `bin`, logging under the temp dir.
    pub(crate) fn new(ns: Namespace, bin: PathBuf) -> anyhow::Result<Self> {
        let logs = std::env::temp_dir().join(format!("vigil-fleet-{}", ns.name));
        std::fs::create_dir_all(&logs)?;
        // 64 random hex characters, written where the edge reads it.
        let key = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        std::fs::write(logs.join("edge-ingest.key"), &key)?;
        let api_listen = format!("127.0.0.1:{}", free_port()?);
        Ok(Self {
            bin,
            edge_key: SigningKey::new(key.as_bytes())?,
            edge_http: format!("127.0.0.1:{}", free_port()?),
            api_listens: BTreeMap::from([("api".to_owned(), api_listen.clone())]),
            api_listen,
            enricher_group: format!("{}-enricher", ns.name),
            writer_group: format!("{}-writer", ns.name),
            env: Vec::new(),
            logs,
            ns,
            children: BTreeMap::new(),
        })
    }

    fn args(&self, service: &str) -> Vec<String> {
        let ns = &self.ns;
        let mut args = vec![
            "--kafka-brokers".to_owned(),
            ns.kafka.brokers.clone(),
            "--topic-prefix".to_owned(),
            ns.kafka.topic_prefix.clone(),
            "--log".to_owned(),
            "warn,vigil_edge=info,vigil_writer=info".to_owned(),
        ];
        let store = [
            "--cql-nodes".to_owned(),
            ns.store.nodes.clone(),
            "--keyspace".to_owned(),
            ns.store.keyspace.clone(),
        ];
        let base = service.split('#').next().unwrap_or(service);
        match base {
            "edge" => args.extend([
                "--site-id".to_owned(),
                "chaos".to_owned(),
                "--spool-dir".to_owned(),
                self.logs.join("edge-spool").display().to_string(),
                "--http-listen".to_owned(),
                self.edge_http.clone(),
                "--ingest-key-file".to_owned(),
                self.logs.join("edge-ingest.key").display().to_string(),
            ]),
            "enricher" => args.extend([
                "--group".to_owned(),
                self.enricher_group.clone(),
                "--metrics-listen".to_owned(),
                "127.0.0.1:0".to_owned(),
            ]),
            "notifier" => {
                args.extend(store.clone());
                args.extend([
                    "--group".to_owned(),
                    format!("{}-notifier", ns.name),
                    "--instance".to_owned(),
                    service.to_owned(),
                    // Any 32 bytes or more: no webhook is configured here.
                    "--signing-key-file".to_owned(),
                    self.logs.join("edge-ingest.key").display().to_string(),
                    "--metrics-listen".to_owned(),
                    "127.0.0.1:0".to_owned(),
                ]);
            }
            "writer" => {
                args.extend(store.clone());
                args.extend([
                    "--group".to_owned(),
                    self.writer_group.clone(),
                    "--rollup-interval".to_owned(),
                    "1s".to_owned(),
                    "--metrics-listen".to_owned(),
                    "127.0.0.1:0".to_owned(),
                ]);
            }
            _ => {
                args.extend(store);
                args.extend([
                    "--listen".to_owned(),
                    self.api_listens
                        .get(service)
                        .cloned()
                        .unwrap_or_else(|| self.api_listen.clone()),
                    "--metrics-listen".to_owned(),
                    "127.0.0.1:0".to_owned(),
                ]);
            }
        }
        args
    }

    /// Starts `service` ("edge", "writer#2", ...), logging to a file.
    pub(crate) fn spawn(&mut self, service: &str) -> anyhow::Result<()> {
        let base = service.split('#').next().unwrap_or(service);
        if base == "api" && !self.api_listens.contains_key(service) {
            let listen = format!("127.0.0.1:{}", free_port()?);
            self.api_listens.insert(service.to_owned(), listen);
        }
        let binary = self.bin.join(format!("vigil-{base}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{service}.log")))?;
        let child = Command::new(&binary)
            .args(self.args(service))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        self.children.insert(service.to_owned(), child);
        Ok(())
    }

    /// The gRPC address of every API instance started so far.
    pub(crate) fn api_addresses(&self) -> Vec<String> {
        self.api_listens.values().cloned().collect()
    }

    /// The process id of a running `service`.
    pub(crate) fn pid(&self, service: &str) -> Option<u32> {
        self.children.get(service)?.id()
    }

    /// `kill -9`.
    async fn kill(&mut self, service: &str) -> anyhow::Result<()> {
        if let Some(mut child) = self.children.remove(service) {
            child.kill().await?;
        }
        Ok(())
    }

    /// SIGTERM, and wait for a clean exit.
    pub(crate) async fn stop(&mut self, service: &str) -> anyhow::Result<()> {
        if let Some(mut child) = self.children.remove(service) {
            if let Some(pid) = child.id() {
                Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await?;
            }
            if tokio::time::timeout(Duration::from_secs(40), child.wait())
                .await
                .is_err()
            {
                child.kill().await?;
                bail!("{service} did not stop within 40 s of SIGTERM");
            }
        }
        Ok(())
    }

    /// Fails if a service exited on its own.
    pub(crate) fn check(&mut self) -> anyhow::Result<()> {
        for (name, child) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{name} exited ({status}); see {}",
                    self.logs.join(format!("{name}.log")).display()
                );
            }
        }
        Ok(())
    }
}

/// Pushes detections captured in `hour` to the edge at `rate`/s for at
/// least `duration` and until `fault_over`, retrying a batch until it is
/// acknowledged; returns the ids acknowledged.
#[allow(clippy::too_many_arguments)]
async fn push(
    edge: String,
    key: SigningKey,
    cameras: Vec<String>,
    hour: i64,
    rate: u32,
    duration: Duration,
    fault_over: CancellationToken,
    seed: u64,
) -> anyhow::Result<HashSet<String>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let url = format!("http://{edge}/v1/detections");
    let mut factory = DetectionFactory::new(seed);
    let mut accepted = HashSet::new();
    let batch = 10usize;
    let interval = Duration::from_secs_f64(batch as f64 / f64::from(rate.max(1)));
    let started = Instant::now();
    // Batches are sent on schedule while earlier ones are still being
    // retried, up to this many at once.
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut sending = tokio::task::JoinSet::new();
    let mut n = 0usize;
    while started.elapsed() < duration || !fault_over.is_cancelled() {
        let due = started + interval * u32::try_from(n / batch).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due.into()).await;
        // With their event ids, so a retried batch repeats the same ids.
        let body = (0..batch)
            .map(|i| {
                let k = n + i;
                let at =
                    DateTime::<Utc>::from_timestamp_millis(hour + (k as i64 * 997) % 3_600_000)
                        .unwrap_or_default();
                let detection =
                    Detection::try_from(factory.detection(&cameras[k % cameras.len()], at))
                        .context("a synthetic detection")?;
                Ok(HttpDetection::from(&detection))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let body = serde_json::to_vec(&body)?;
        n += batch;
        let permit = in_flight.clone().acquire_owned().await?;
        let (http, url, key) = (http.clone(), url.clone(), key.clone());
        sending.spawn(async move {
            let ids = send_until_accepted(&http, &url, &key, body).await;
            drop(permit);
            ids
        });
        while let Some(ids) = sending.try_join_next() {
            accepted.extend(ids??);
        }
    }
    while let Some(ids) = sending.join_next().await {
        accepted.extend(ids??);
    }
    Ok(accepted)
}

/// Posts one batch until the edge accepts it (90 s at most); returns the
/// event ids it acknowledged.
async fn send_until_accepted(
    http: &reqwest::Client,
    url: &str,
    key: &SigningKey,
    body: Vec<u8>,
) -> anyhow::Result<Vec<String>> {
    let give_up = Duration::from_secs(90);
    let first_try = Instant::now();
    loop {
        // Signed again on each try: the timestamp must be recent.
        let mut request = http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in key.headers(&body) {
            request = request.header(name, value);
        }
        let reply = request.body(body.clone()).send().await;
        if let Ok(reply) = reply
            && reply.status().as_u16() == 202
        {
            let reply: serde_json::Value = reply.json().await?;
            return Ok(reply["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|result| result["event_id"].as_str().map(str::to_owned))
                .collect());
        }
        if first_try.elapsed() > give_up {
            bail!("the edge agent refused a batch for {give_up:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Produces each detection of `hour` three times straight to Kafka (an
/// edge re-sending after lost acknowledgements); returns the ids.
async fn push_duplicates(
    ns: &Namespace,
    cameras: &[String],
    hour: i64,
    count: usize,
) -> anyhow::Result<HashSet<String>> {
    let producer: FutureProducer = ns.kafka.producer_config().create()?;
    let topic = ns.kafka.topics().detections;
    let mut factory = DetectionFactory::new(77);
    let mut ids = HashSet::new();
    for k in 0..count {
        let at = DateTime::<Utc>::from_timestamp_millis(hour + (k as i64 * 997) % 3_600_000)
            .unwrap_or_default();
        let mut detection = factory.detection(&cameras[k % cameras.len()], at);
        detection.site_id = "chaos".to_owned();
        detection.received_at = Some(prost_types::Timestamp::from(std::time::SystemTime::now()));
        let payload = detection.encode_to_vec();
        for _ in 0..3 {
            producer
                .send(
                    FutureRecord::to(&topic)
                        .key(&detection.camera_id)
                        .payload(&payload),
                    Duration::from_secs(60),
                )
                .await
                .map_err(|(e, _)| e)?;
        }
        ids.insert(detection.event_id);
    }
    Ok(ids)
}

/// Rows of `hour` in the query tables: every event id (with repeats, if
/// the table ever held any) and the sum of the stored counts.
async fn stored(
    ns: &Namespace,
    communes: &[String],
    hour: i64,
) -> anyhow::Result<(Vec<String>, i64)> {
    let session = ns.keyspace.session();
    let ids = session
        .prepare(format!(
            "SELECT event_id FROM {}.events_by_commune_hour WHERE commune_id = ? AND hour = ?",
            ns.keyspace.name()
        ))
        .await?;
    let counts = session
        .prepare(format!(
            "SELECT count FROM {}.event_counts WHERE commune_id = ? AND day = ? AND hour = ?",
            ns.keyspace.name()
        ))
        .await?;
    let reads: Vec<_> = communes
        .iter()
        .map(|commune| {
            let (ids, counts) = (&ids, &counts);
            async move {
                let found: Vec<(Uuid,)> = session
                    .execute_iter(ids.clone(), (commune, CqlTimestamp(hour)))
                    .await?
                    .rows_stream::<(Uuid,)>()?
                    .try_collect()
                    .await?;
                let counted: Vec<(i64,)> = session
                    .execute_iter(
                        counts.clone(),
                        (commune, CqlTimestamp(day_bucket(hour)), CqlTimestamp(hour)),
                    )
                    .await?
                    .rows_stream::<(i64,)>()?
                    .try_collect()
                    .await?;
                Ok::<_, anyhow::Error>((found, counted.iter().map(|(c,)| c).sum::<i64>()))
            }
        })
        .collect();
    let per_commune: Vec<_> = futures::stream::iter(reads)
        .buffer_unordered(32)
        .try_collect()
        .await?;
    let mut all = Vec::new();
    let mut total = 0;
    for (found, counted) in per_commune {
        all.extend(found.into_iter().map(|(id,)| id.to_string()));
        total += counted;
    }
    Ok((all, total))
}

/// Every event of `hour` the API lists (province-wide, paged).
async fn listed(api: &str, token: &str, hour: i64) -> anyhow::Result<usize> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{api}"))?
        .connect()
        .await?;
    let mut client = QueryServiceClient::new(channel);
    let ts = |ms: i64| prost_types::Timestamp {
        seconds: ms / 1000,
        nanos: 0,
    };
    let mut total = 0;
    let mut page_token = String::new();
    loop {
        let mut request = tonic::Request::new(ListEventsRequest {
            window: Some(TimeWindow {
                start: Some(ts(hour)),
                end: Some(ts(hour + 3_600_000)),
            }),
            page_size: 1000,
            page_token: page_token.clone(),
            ..ListEventsRequest::default()
        });
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        let page = client.list_events(request).await?.into_inner();
        total += page.events.len();
        page_token = page.next_page_token;
        if page_token.is_empty() {
            return Ok(total);
        }
    }
}

/// The services run on each mode: one of each on one node; two of each
/// consumer and of the API on the cluster (the edge is one per site).
fn instances(cluster: bool) -> &'static [&'static str] {
    if cluster {
        &[
            "enricher",
            "enricher#2",
            "writer",
            "writer#2",
            "notifier",
            "notifier#2",
            "api",
            "api#2",
            "edge",
        ]
    } else {
        &["enricher", "writer", "api", "edge"]
    }
}

/// The target: as given, or on the cluster the brokers, nodes and
/// replication `stack --cluster env` names.
async fn target(args: &ChaosArgs, stack: &Stack) -> anyhow::Result<TargetArgs> {
    let mut target = args.target.clone();
    if args.cluster {
        let env = stack.env().await?;
        let setting = |name: &str| {
            env.get(name)
                .cloned()
                .with_context(|| format!("`stack --cluster env` does not set {name}"))
        };
        target.kafka.brokers = setting("VIGIL_KAFKA_BROKERS")?;
        target.store.nodes = setting("VIGIL_CQL_NODES")?;
        target.topic_replication = setting("VIGIL_TOPIC_REPLICATION")?.parse()?;
        target.store.keyspace_replication = setting("VIGIL_CQL_REPLICATION")?.parse()?;
    }
    Ok(target)
}

/// Waits (a minute at most) until every API instance answers a query, so
/// the first scenario does not measure the services' start-up.
async fn wait_until_serving(fleet: &mut Fleet, token: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for api in fleet.api_addresses() {
        loop {
            fleet.check()?;
            match listed(&api, token, hour_bucket(Utc::now().timestamp_millis())).await {
                Ok(_) => break,
                Err(error) if Instant::now() > deadline => {
                    bail!("the API at {api} did not answer within a minute: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    Ok(())
}

/// Runs the matrix; returns one outcome per scenario.
pub(crate) async fn run(
    args: &ChaosArgs,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Outcome>> {
    let wanted = args.wanted()?;
    let stack = Stack {
        script: args.stack_script.clone(),
        cluster: args.cluster,
    };
    let target = target(args, &stack).await?;
    check_reachable(&target.kafka, &target.store).await?;
    let mut services: Vec<&str> = instances(args.cluster)
        .iter()
        .map(|instance| instance.split('#').next().unwrap_or(instance))
        .collect();
    services.dedup();
    let bin = bin_dir(args.bin_dir.as_deref(), &services)?;
    let ns = Namespace::fresh(&target, "chaos").await?;
    let mut cameras: Vec<String> = ns.registry.cameras().map(|c| c.id.clone()).collect();
    cameras.sort();
    cameras.truncate(200);
    let communes: Vec<String> = ns.registry.communes().map(|z| z.id.clone()).collect();
    let province = ns
        .registry
        .zones()
        .find(|z| z.level() == ZoneLevel::Province)
        .map(|z| z.id.clone())
        .context("no province")?;
    let (token, record) = mint_token("chaos", Role::ProvinceOperator.into(), &province, None);
    TokenStore::prepare(&ns.keyspace)
        .await?
        .insert(&record)
        .await?;

    let mut fleet = Fleet::new(ns, bin)?;
    for service in instances(args.cluster) {
        fleet.spawn(service)?;
    }
    wait_until_serving(&mut fleet, &token).await?;
    let now_hour = hour_bucket(Utc::now().timestamp_millis());
    let mut outcomes = Vec::new();
    for (index, scenario) in wanted.iter().enumerate() {
        progress.set_message(format!("{scenario}: load and fault"));
        let hour = now_hour - (index as i64 + 2) * 3_600_000;
        let started = Instant::now();
        let probe = Probe::start(availability::Query {
            apis: fleet.api_addresses(),
            token: token.clone(),
            commune: communes[index % communes.len()].clone(),
            hour,
        })?;
        let (accepted, fault) = if *scenario == "duplicates" {
            let ids = push_duplicates(&fleet.ns, &cameras, hour, (args.rate as usize) * 10).await?;
            (ids, None)
        } else {
            let fault_over = CancellationToken::new();
            let load = tokio::spawn(push(
                fleet.edge_http.clone(),
                fleet.edge_key.clone(),
                cameras.clone(),
                hour,
                args.rate,
                args.load,
                fault_over.clone(),
                index as u64,
            ));
            let fault = inject(&mut fleet, &stack, scenario, args).await;
            fault_over.cancel();
            let accepted = load.await??;
            (accepted, fault?)
        };
        let calls = probe.finish().await;
        let (from, to) = fault.unwrap_or((started, Instant::now()));
        let api_during_fault = availability::during(&calls, from, to);
        progress.set_message(format!("{scenario}: waiting for the pipeline"));
        // A backlog left by the fault is worked off at the pipeline's pace:
        // the scenario waits as long as more of it is stored, and counts
        // what is missing only once nothing more arrives for a while.
        let mut waiting = Wait::new();
        let outcome = loop {
            fleet.check()?;
            // Right after a database restart the tool's own session may
            // still be reconnecting: not yet, rather than a failure.
            let (rows, counted) = match stored(&fleet.ns, &communes, hour).await {
                Ok(found) => found,
                Err(error) if !waiting.given_up() => {
                    progress.set_message(format!("{scenario}: reading the tables: {error}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let distinct: HashSet<&String> = rows.iter().collect();
            let stored = accepted.iter().filter(|id| distinct.contains(id)).count();
            let extra = rows.len() - stored;
            let counts_exact = counted == accepted.len() as i64;
            waiting.stored(stored);
            if (stored == accepted.len() && counts_exact) || waiting.given_up() {
                let api = listed(&fleet.api_listen, &token, hour)
                    .await
                    .unwrap_or(usize::MAX);
                break Outcome {
                    scenario: (*scenario).to_owned(),
                    accepted: accepted.len(),
                    stored,
                    lost: accepted.len() - stored,
                    duplicated: extra,
                    counts_exact,
                    api_exact: api == accepted.len(),
                    seconds_to_converge: to.elapsed().as_secs_f64(),
                    api_during_fault,
                };
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        progress.inc(1);
        progress.println(format!(
            "{:<20} accepted {:>6}  stored {:>6}  lost {}  duplicated {}  counts {}  api {}  \
             available {:.1} % (p99 {:.0} ms)  converged {:.0} s after the fault",
            outcome.scenario,
            outcome.accepted,
            outcome.stored,
            outcome.lost,
            outcome.duplicated,
            if outcome.counts_exact {
                "exact"
            } else {
                "WRONG"
            },
            if outcome.api_exact { "exact" } else { "WRONG" },
            outcome.api_during_fault.ok_share * 100.0,
            outcome.api_during_fault.p99_ms,
            outcome.seconds_to_converge
        ));
        if outcome.api_during_fault.retried > 0 {
            progress.println(format!(
                "{:<20} {} of {} queries tried again after UNAVAILABLE",
                "", outcome.api_during_fault.retried, outcome.api_during_fault.calls
            ));
        }
        if let Some((reason, count)) = &outcome.api_during_fault.top_failure {
            let (first, last) = outcome
                .api_during_fault
                .failed_between_s
                .unwrap_or_default();
            progress.println(format!(
                "{:<20} {count} queries failed: {reason} (failures from {first:.1} s to {last:.1} s into the fault)",
                ""
            ));
        }
        outcomes.push(outcome);
    }
    for service in instances(args.cluster).iter().rev() {
        fleet.stop(service).await?;
    }
    if args.cluster {
        // Schema changes right after node faults are where Cassandra 5.0's
        // gossiped schema goes wrong (a drop that some nodes apply and one
        // refuses with "Unknown CF"): the run's keyspace is left in place;
        // `deploy/local/stack --cluster reset` clears the cluster.
        println!("keyspace {} left in place", fleet.ns.keyspace.name());
    } else {
        crate::target::drop_keyspace(&fleet.ns.keyspace).await?;
    }
    Ok(outcomes)
}

/// How long a scenario waits for its events once the fault is over: while
/// more keep being stored, up to [`Wait::AT_MOST`]; otherwise
/// [`Wait::STALLED`] after the last one.
struct Wait {
    began: Instant,
    progressed: Instant,
    most: usize,
}

impl Wait {
    const STALLED: Duration = Duration::from_secs(90);
    const AT_MOST: Duration = Duration::from_secs(900);

    fn new() -> Self {
        let now = Instant::now();
        Self {
            began: now,
            progressed: now,
            most: 0,
        }
    }

    /// Notes how many of the scenario's events are stored now.
    fn stored(&mut self, stored: usize) {
        if stored > self.most {
            self.most = stored;
            self.progressed = Instant::now();
        }
    }

    /// Whether to stop waiting and count what is missing as lost.
    fn given_up(&self) -> bool {
        self.progressed.elapsed() > Self::STALLED || self.began.elapsed() > Self::AT_MOST
    }
}

/// Injects the fault of `scenario` a few seconds into the load; returns when
/// the fault began and when it was over (`None` for a scenario without one).
async fn inject(
    fleet: &mut Fleet,
    stack: &Stack,
    scenario: &str,
    args: &ChaosArgs,
) -> anyhow::Result<Option<(Instant, Instant)>> {
    let into_load = (args.load / 4).min(Duration::from_secs(10));
    tokio::time::sleep(into_load).await;
    let began = Instant::now();
    match scenario {
        "kafka-outage" | "cassandra-outage" => {
            let component = scenario.trim_end_matches("-outage");
            stack.run(&format!("stop-{component}")).await?;
            tokio::time::sleep(args.outage).await;
            stack.run(&format!("start-{component}")).await?;
        }
        "kill-leader-broker" => {
            let node = cluster::busiest_broker(&fleet.ns.kafka).await?;
            crash(stack, &node, args.outage).await?;
        }
        "kill-controller" => {
            let node = stack.output("active-controller").await?;
            crash(stack, node.trim(), args.outage).await?;
        }
        "kill-cassandra-node" => {
            crash(stack, "cassandra-2", args.outage).await?;
            settle_schema(fleet, stack, "cassandra-2").await?;
        }
        "pause-cassandra-node" => {
            stack.run("pause-cassandra-3").await?;
            tokio::time::sleep(args.outage).await;
            stack.run("resume-cassandra-3").await?;
        }
        "rolling-kafka" => stack.rolling_restart("kafka", &fleet.ns.kafka).await?,
        "rolling-cassandra" => stack.rolling_restart("cassandra", &fleet.ns.kafka).await?,
        "kill-edge" | "kill-enricher" | "kill-writer" | "kill-api" => {
            let service = scenario.trim_start_matches("kill-");
            fleet.kill(service).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            fleet.spawn(service)?;
        }
        "rebalance" | "scale-out-in" => {
            // One more instance of each consumer joins its group, then leaves.
            let extra = if args.cluster { "#3" } else { "#2" };
            let (enricher, writer) = (format!("enricher{extra}"), format!("writer{extra}"));
            fleet.spawn(&enricher)?;
            fleet.spawn(&writer)?;
            tokio::time::sleep(into_load).await;
            fleet.stop(&enricher).await?;
            fleet.stop(&writer).await?;
        }
        _ => return Ok(None),
    }
    Ok(Some((began, Instant::now())))
}

/// Waits for the nodes to agree on the schema after `node` restarted. A node
/// killed soon after schema changes (the namespace's tables, made when the
/// run began) replays them from its commit log and can go on announcing a
/// stale schema version, with the same tables as the others, until it is
/// restarted cleanly: then it is, and the output says so.
async fn settle_schema(fleet: &Fleet, stack: &Stack, node: &str) -> anyhow::Result<()> {
    let session = fleet.ns.keyspace.session();
    let agreed = tokio::time::timeout(Duration::from_secs(30), session.await_schema_agreement());
    if matches!(agreed.await, Ok(Ok(_))) {
        return Ok(());
    }
    println!("{node} announces a stale schema version after its restart: restarting it cleanly");
    stack.run(&format!("stop-{node}")).await?;
    stack.run(&format!("start-{node}")).await?;
    tokio::time::timeout(Duration::from_secs(60), session.await_schema_agreement())
        .await
        .context("no schema agreement a minute after a clean restart")??;
    Ok(())
}

/// `kill -9` of a node, restarted after `outage` (and waited for).
async fn crash(stack: &Stack, node: &str, outage: Duration) -> anyhow::Result<()> {
    stack.run(&format!("kill-{node}")).await?;
    tokio::time::sleep(outage).await;
    stack.run(&format!("start-{node}")).await
}
