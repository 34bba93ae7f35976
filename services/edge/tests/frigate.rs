//! The Frigate bridge against a real MQTT broker (Mosquitto, started by each
//! test on a free port): events published the way Frigate publishes them
//! must land in the spool as the right detections, bad messages must be
//! skipped without stopping the bridge (oversized ones without being read),
//! and a restarted broker must be reconnected to.
//!
//! Over TLS (`mqtts://`) with a password file, the real agent must connect
//! with the right credentials and deliver to Kafka, be refused with a clear
//! error with the wrong ones, and the TLS port must refuse clear text.
//!
//! Needs the `mosquitto` and `mosquitto_passwd` binaries (`apt-get install
//! -y mosquitto`); the tests fail, rather than skip, without them.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;
use vigil_edge::Intake;
use vigil_edge::source::frigate::{self, FrigateArgs};
use vigil_proto::v1 as pb;
use vigil_spool::{Spool, SpoolConfig};

const CAR_NEW: &str = include_str!("../../lib/frigate/fixtures/car_new.json");
const CAR_UPDATE_PLATE: &str = include_str!("../../lib/frigate/fixtures/car_update_plate.json");
const CAR_END: &str = include_str!("../../lib/frigate/fixtures/car_end.json");
const PERSON_NEW: &str = include_str!("../../lib/frigate/fixtures/person_new.json");

const TOPIC: &str = "frigate/events";
const CAMERAS: &str = "front_gate=cam-000017,market=cam-000018";
/// How long a detection may take from publish to spool.
const DEADLINE: Duration = Duration::from_secs(30);
/// The bridges' --frigate-max-payload.
const MAX_PAYLOAD: usize = 64 * 1024;

/// A Mosquitto broker on a free local port, killed on drop.
struct Broker {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Self {
        // Bound and released to find a free port; the broker takes it a
        // moment later.
        Self::start_on(vigil_testkit::free_port())
    }

    fn start_on(port: u16) -> Self {
        Self::start_with(port, tempfile::tempdir().unwrap(), "allow_anonymous true\n")
    }

    /// A broker on `port` with its files in `dir` and `settings` added to
    /// its configuration.
    fn start_with(port: u16, dir: tempfile::TempDir, settings: &str) -> Self {
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            // `log_type all` logs every packet, which tests wait on.
            format!("listener {port} 127.0.0.1\n{settings}persistence false\nlog_type all\n"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("mosquitto.log")).unwrap();
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting mosquitto");
        let mut broker = Self { child, port, dir };
        broker.wait_until_listening();
        broker
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    fn wait_until_listening(&mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("mosquitto exited with {status}:\n{}", self.log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "mosquitto is not listening on port {} after 10 s:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the bridge has subscribed: before, the broker drops what
    /// is published.
    async fn wait_for_bridge(&self) {
        self.wait_for_log("Received SUBSCRIBE from vigil-edge-test")
            .await;
    }

    /// Waits until the broker has logged `line`, e.g. a packet it received.
    async fn wait_for_log(&self, line: &str) {
        self.wait_for_logged(line, 1).await;
    }

    /// Waits until the broker has logged `line` at least `times` times.
    async fn wait_for_logged(&self, line: &str, times: usize) {
        let deadline = Instant::now() + DEADLINE;
        while self.log().matches(line).count() < times {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not log {line:?} {times} times:\n{}",
                self.log()
            );
            sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `mosquitto` binary: on PATH, or in the sbin folders Debian installs
/// it to (not on every user's PATH).
fn mosquitto() -> PathBuf {
    mosquitto_tool("mosquitto")
}

/// A binary of the mosquitto package, found like [`mosquitto`].
fn mosquitto_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed; run `apt-get install -y mosquitto` \
                 (these tests start their own broker and need the binary)"
            )
        })
}

/// An intake over a fresh spool, and the spool to look into.
fn intake(dir: &Path) -> (Intake, Arc<Spool>) {
    let spool = Arc::new(
        Spool::open(SpoolConfig {
            path: dir.join("spool.redb"),
            max_bytes: 64 * 1024 * 1024,
        })
        .unwrap(),
    );
    let (intake, _committer) =
        Intake::start("site-test", Arc::clone(&spool), Arc::new(Notify::new()));
    (intake, spool)
}

fn start_bridge(
    broker: &Broker,
    intake: Intake,
) -> (JoinHandle<anyhow::Result<()>>, CancellationToken) {
    let args = FrigateArgs {
        mqtt_url: Some(broker.url()),
        topic: TOPIC.to_owned(),
        cameras: CAMERAS.parse().unwrap(),
        client_id: "vigil-edge-test".to_owned(),
        user: None,
        password: None,
        ca_file: None,
        allow_plaintext_password: false,
        max_payload: MAX_PAYLOAD,
    };
    let shutdown = CancellationToken::new();
    let bridge = tokio::spawn(frigate::run(args, intake, shutdown.clone()));
    (bridge, shutdown)
}

/// Publishes like a Frigate configured with `mqtt.qos: 1`.
struct Publisher {
    client: AsyncClient,
    eventloop: JoinHandle<()>,
}

impl Publisher {
    fn connect(broker: &Broker) -> Self {
        let mut options = MqttOptions::new("frigate-test", "127.0.0.1", broker.port);
        // Room for the oversized messages some tests send.
        options.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let eventloop = tokio::spawn(async move {
            loop {
                if eventloop.poll().await.is_err() {
                    sleep(Duration::from_millis(100)).await;
                }
            }
        });
        Self { client, eventloop }
    }

    /// Queues `payload`; sent while the publisher lives.
    async fn publish(&self, payload: &str) {
        self.client
            .publish(TOPIC, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .await
            .unwrap();
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.eventloop.abort();
    }
}

fn spooled(spool: &Spool) -> Vec<pb::Detection> {
    spool
        .read_from(None, 1_000)
        .unwrap()
        .into_iter()
        .map(|entry| pb::Detection::decode(entry.payload.as_slice()).unwrap())
        .collect()
}

/// Waits until the spool holds at least `count` detections.
async fn wait_for(spool: &Spool, count: usize) -> Vec<pb::Detection> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let detections = spooled(spool);
        if detections.len() >= count {
            return detections;
        }
        assert!(
            Instant::now() < deadline,
            "after {DEADLINE:?} the spool holds {detections:#?}"
        );
        sleep(Duration::from_millis(50)).await;
    }
}

fn label<'a>(detection: &'a pb::Detection, key: &str) -> Option<&'a str> {
    detection.labels.get(key).map(String::as_str)
}

async fn stop(bridge: JoinHandle<anyhow::Result<()>>, shutdown: CancellationToken) {
    assert!(
        !bridge.is_finished(),
        "the bridge stopped on its own: {:?}",
        bridge.await
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), bridge)
        .await
        .expect("the bridge did not stop within 5 s of shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frigate_events_become_detections_and_bad_ones_are_skipped() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let (intake, spool) = intake(dir.path());
    let (bridge, shutdown) = start_bridge(&broker, intake);
    let frigate = Publisher::connect(&broker);
    broker.wait_for_bridge().await;

    frigate.publish(CAR_NEW).await;
    let unmapped = PERSON_NEW
        .replace("front_gate", "backyard")
        .replace("k3v9qa", "bkyd01");
    for bad in [
        "{not json",
        r#"{"type": "new", "before": {}}"#,
        unmapped.as_str(),
    ] {
        frigate.publish(bad).await;
    }
    frigate.publish(CAR_UPDATE_PLATE).await;
    frigate.publish(CAR_END).await;
    // Accepted after all the bad ones: the bridge is still reading.
    frigate.publish(PERSON_NEW).await;

    wait_for(&spool, 3).await;
    // Give anything the bad messages wrongly produced time to show up.
    sleep(Duration::from_millis(500)).await;
    let detections = spooled(&spool);
    let summary: Vec<_> = detections
        .iter()
        .map(|d| (d.kind(), d.camera_id.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (pb::DetectionKind::Vehicle, "cam-000018"),
            (pb::DetectionKind::Plate, "cam-000018"),
            (pb::DetectionKind::Person, "cam-000017"),
        ],
        "{detections:#?}"
    );
    let [vehicle, plate, person] = detections.as_slice() else {
        unreachable!("three detections checked above");
    };
    for detection in &detections {
        assert!(
            uuid::Uuid::parse_str(&detection.event_id).is_ok(),
            "{detection:?}"
        );
        assert_eq!(detection.site_id, "site-test");
        assert!(detection.received_at.is_some());
        assert_eq!(detection.snapshot, None);
        assert_eq!(detection.bbox, None);
    }
    assert_eq!(
        vehicle.vehicle.as_ref().unwrap().r#type(),
        pb::VehicleType::Car
    );
    assert_eq!(vehicle.plate, None);
    assert_eq!(
        label(vehicle, "frigate_event_id"),
        Some("1764335140.482911-7hq2zd")
    );
    assert_eq!(label(vehicle, "frigate_label"), Some("car"));
    assert_eq!(label(vehicle, "frigate_camera"), Some("market"));

    let read = plate.plate.as_ref().unwrap();
    assert_eq!(read.text, "36A12345");
    assert_eq!(read.normalized, "36A12345");
    assert_eq!(
        plate.vehicle.as_ref().unwrap().r#type(),
        pb::VehicleType::Car
    );
    assert_eq!(
        label(plate, "frigate_event_id"),
        Some("1764335140.482911-7hq2zd")
    );
    assert_eq!(label(plate, "frigate_zones"), Some("market_entrance"));
    assert_eq!(
        label(plate, "frigate_snapshot"),
        Some("/api/events/1764335140.482911-7hq2zd/snapshot.jpg")
    );

    assert_eq!(label(person, "frigate_camera"), Some("front_gate"));
    assert_eq!(label(person, "frigate_zones"), Some("gate"));
    assert_eq!(person.captured_at.unwrap().seconds, 1_764_335_109);

    stop(bridge, shutdown).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_skipped_unread_counted_and_acknowledged() {
    let metrics = vigil_runtime::metrics_recorder();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let (intake, spool) = intake(dir.path());
    let (bridge, shutdown) = start_bridge(&broker, intake);
    let frigate = Publisher::connect(&broker);
    broker.wait_for_bridge().await;

    // A valid event padded to 3 MB: read, it would be a person detection.
    let padding = format!(r#"{{"padding": "{}","#, "x".repeat(3 << 20));
    let oversized = PERSON_NEW.replacen('{', &padding, 1);
    frigate.publish(&oversized).await;
    frigate.publish(CAR_NEW).await;

    let detections = wait_for(&spool, 1).await;
    // Both acknowledged: the oversized one is not sent again.
    broker
        .wait_for_logged("Received PUBACK from vigil-edge-test", 2)
        .await;
    sleep(Duration::from_millis(300)).await;
    let kinds: Vec<_> = spooled(&spool).iter().map(pb::Detection::kind).collect();
    assert_eq!(kinds, [pb::DetectionKind::Vehicle], "{detections:#?}");
    let too_large = r#"vigil_edge_events_rejected_total{source="frigate",reason="too_large"} "#;
    let rendered = metrics.render();
    let counted = rendered
        .lines()
        .find_map(|line| line.strip_prefix(too_large))
        .unwrap_or_else(|| panic!("no {too_large} in:\n{rendered}"));
    assert_eq!(counted, "1");
    stop(bridge, shutdown).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_reconnects_after_the_broker_restarts() {
    let broker = Broker::start();
    let port = broker.port;
    let dir = tempfile::tempdir().unwrap();
    let (intake, spool) = intake(dir.path());
    let (bridge, shutdown) = start_bridge(&broker, intake);
    broker.wait_for_bridge().await;
    let frigate = Publisher::connect(&broker);
    frigate.publish(CAR_NEW).await;
    wait_for(&spool, 1).await;
    drop(frigate);

    // The new broker has no memory of the session: the bridge must
    // reconnect and subscribe again.
    drop(broker);
    let broker = Broker::start_on(port);
    broker.wait_for_bridge().await;
    let frigate = Publisher::connect(&broker);
    frigate.publish(PERSON_NEW).await;
    let kinds: Vec<_> = wait_for(&spool, 2)
        .await
        .iter()
        .map(pb::Detection::kind)
        .collect();
    assert_eq!(
        kinds,
        [pb::DetectionKind::Vehicle, pb::DetectionKind::Person]
    );

    stop(bridge, shutdown).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_while_the_agent_is_down_are_delivered_on_its_return() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let (intake, spool) = intake(dir.path());
    let (bridge, shutdown) = start_bridge(&broker, intake);
    let frigate = Publisher::connect(&broker);
    broker.wait_for_bridge().await;
    frigate.publish(CAR_NEW).await;
    wait_for(&spool, 1).await;
    stop(bridge, shutdown).await;
    // Stopped with a DISCONNECT, after acknowledging the car.
    broker
        .wait_for_log("Received DISCONNECT from vigil-edge-test")
        .await;

    // The broker keeps the bridge's session, and queues this for it.
    frigate.publish(PERSON_NEW).await;
    sleep(Duration::from_millis(200)).await;
    assert_eq!(spooled(&spool).len(), 1, "the bridge is stopped");

    let (intake, _committer) =
        Intake::start("site-test", Arc::clone(&spool), Arc::new(Notify::new()));
    let (bridge, shutdown) = start_bridge(&broker, intake);
    let detections = wait_for(&spool, 2).await;
    // Nothing else: the car was acknowledged, so not delivered again.
    sleep(Duration::from_millis(300)).await;
    assert_eq!(spooled(&spool).len(), 2, "{:#?}", spooled(&spool));
    assert_eq!(detections[1].kind(), pb::DetectionKind::Person);
    assert_eq!(detections[1].camera_id, "cam-000017");
    stop(bridge, shutdown).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_acknowledged_so_the_flow_never_stalls() {
    // Mosquitto stops sending a client more than 20 unacknowledged QoS 1
    // messages; a bridge that did not acknowledge would stop there.
    const EVENTS: usize = 60;
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let (intake, spool) = intake(dir.path());
    let (bridge, shutdown) = start_bridge(&broker, intake);
    let frigate = Publisher::connect(&broker);
    broker.wait_for_bridge().await;
    for i in 0..EVENTS {
        frigate
            .publish(&PERSON_NEW.replace("k3v9qa", &format!("p{i:05}")))
            .await;
    }
    let detections = wait_for(&spool, EVENTS).await;
    assert!(
        detections
            .iter()
            .all(|d| d.kind() == pb::DetectionKind::Person)
    );
    stop(bridge, shutdown).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_the_intake_cannot_store_is_delivered_again() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let spool = Arc::new(
        Spool::open(SpoolConfig {
            path: dir.path().join("spool.redb"),
            max_bytes: 64 * 1024 * 1024,
        })
        .unwrap(),
    );
    // An intake whose committer is gone refuses everything (shutting down).
    let (broken, committer) =
        Intake::start("site-test", Arc::clone(&spool), Arc::new(Notify::new()));
    committer.abort();
    let _ = committer.await;
    let (bridge, shutdown) = start_bridge(&broker, broken);
    broker.wait_for_bridge().await;
    let frigate = Publisher::connect(&broker);
    frigate.publish(PERSON_NEW).await;
    // How the bridge has the broker send a message again.
    broker
        .wait_for_log("Received DISCONNECT from vigil-edge-test")
        .await;
    assert!(spooled(&spool).is_empty());
    // Refusing is not a reason to stop.
    stop(bridge, shutdown).await;

    let (intake, _committer) =
        Intake::start("site-test", Arc::clone(&spool), Arc::new(Notify::new()));
    let (bridge, shutdown) = start_bridge(&broker, intake);
    let detections = wait_for(&spool, 1).await;
    assert_eq!(detections[0].kind(), pb::DetectionKind::Person);
    stop(bridge, shutdown).await;
}

/// The bridge's and the publisher's MQTT users on the TLS broker.
const BRIDGE_USER: &str = "vigil-edge";
const BRIDGE_PASSWORD: &str = "bridge-password-4f1c2a";
const FRIGATE_USER: &str = "frigate";
const FRIGATE_PASSWORD: &str = "frigate-password-9d0e7b";

/// A Mosquitto broker with only a TLS listener, a certificate for
/// `localhost` and 127.0.0.1 from a CA of the test's own, and a password
/// file: no anonymous clients.
struct TlsBroker {
    broker: Broker,
    /// The CA's certificate, PEM.
    ca_file: PathBuf,
}

impl TlsBroker {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Vigil test site CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server_cert =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap()
                .signed_by(&server_key, &ca_cert, &ca_key)
                .unwrap();
        std::fs::write(path("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(path("server.pem"), server_cert.pem()).unwrap();
        std::fs::write(path("server.key"), server_key.serialize_pem()).unwrap();
        let passwd = path("passwd");
        for (user, password, create) in [
            (BRIDGE_USER, BRIDGE_PASSWORD, true),
            (FRIGATE_USER, FRIGATE_PASSWORD, false),
        ] {
            let mut command = Command::new(mosquitto_tool("mosquitto_passwd"));
            command.arg("-b");
            if create {
                command.arg("-c");
            }
            let status = command
                .arg(&passwd)
                .args([user, password])
                .stdout(Stdio::null())
                .status()
                .expect("running mosquitto_passwd");
            assert!(status.success(), "mosquitto_passwd failed: {status}");
        }
        let settings = format!(
            "cafile {}\ncertfile {}\nkeyfile {}\nallow_anonymous false\npassword_file {}\n",
            path("ca.pem").display(),
            path("server.pem").display(),
            path("server.key").display(),
            passwd.display(),
        );
        let ca_file = path("ca.pem");
        let broker = Broker::start_with(vigil_testkit::free_port(), dir, &settings);
        Self { broker, ca_file }
    }

    fn url(&self) -> String {
        format!("mqtts://localhost:{}", self.broker.port)
    }

    /// A running agent whose bridge uses this broker as `password`.
    async fn agent(
        &self,
        env: &vigil_testkit::TestEnv,
        site: &str,
        password: &str,
    ) -> anyhow::Result<common::Agent> {
        let url = self.url();
        let ca = self.ca_file.to_str().unwrap().to_owned();
        common::Agent::start(
            env,
            site,
            &common::spool_dir("frigate_tls"),
            &[
                "--frigate-mqtt",
                &url,
                "--frigate-mqtt-ca",
                &ca,
                "--frigate-mqtt-user",
                BRIDGE_USER,
                "--frigate-mqtt-password",
                password,
                "--frigate-cameras",
                CAMERAS,
                "--frigate-client-id",
                "vigil-edge-test",
            ],
        )
        .await
    }

    /// A client polling in the background: over TLS trusting the test CA,
    /// or in clear text; with `password` as the Frigate user.
    fn client(
        &self,
        tls: bool,
        password: &str,
    ) -> (AsyncClient, tokio::sync::mpsc::Receiver<String>) {
        let mut options = MqttOptions::new("frigate-test", "localhost", self.broker.port);
        options.set_credentials(FRIGATE_USER, password);
        if tls {
            options.set_transport(rumqttc::Transport::tls(
                std::fs::read(&self.ca_file).unwrap(),
                None,
                None,
            ));
        }
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        // What happened to the connection, as text, for the test to read.
        let (events, received) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let event = match eventloop.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        "connected".to_owned()
                    }
                    Ok(_) => continue,
                    Err(error) => format!("error: {error}"),
                };
                if events.send(event).await.is_err() {
                    return;
                }
                sleep(Duration::from_millis(100)).await;
            }
        });
        (client, received)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_with_credentials_frigate_events_reach_kafka() -> anyhow::Result<()> {
    let env = vigil_testkit::TestEnv::new("edge_frigate_tls").await?;
    let site = "site-frigate-tls";
    let broker = TlsBroker::start();
    let agent = broker.agent(&env, site, BRIDGE_PASSWORD).await?;
    broker.broker.wait_for_bridge().await;
    let log = broker.broker.log();
    assert!(
        log.contains(&format!(
            "as vigil-edge-test (p2, c0, k30, u'{BRIDGE_USER}')"
        )),
        "{log}"
    );

    let (frigate, mut events) = broker.client(true, FRIGATE_PASSWORD);
    assert_eq!(events.recv().await.as_deref(), Some("connected"));
    frigate
        .publish(TOPIC, QoS::AtLeastOnce, false, CAR_NEW.as_bytes().to_vec())
        .await?;
    let topic = env.kafka.topics().detections;
    let records = vigil_testkit::read_topic(
        &env.kafka,
        &topic,
        vigil_testkit::count(1),
        Duration::from_secs(60),
    )
    .await?;
    let detections: Vec<pb::Detection> = records
        .iter()
        .map(|record| pb::Detection::decode(rdkafka::Message::payload(record).unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    let summary: Vec<_> = detections
        .iter()
        .map(|d| (d.kind(), d.camera_id.as_str(), d.site_id.as_str()))
        .collect();
    assert_eq!(
        summary,
        [(pb::DetectionKind::Vehicle, "cam-000018", site)],
        "{}",
        agent.log()
    );
    agent.terminate()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_mqtt_password_is_refused_with_a_clear_error() -> anyhow::Result<()> {
    let env = vigil_testkit::TestEnv::new("edge_frigate_badpw").await?;
    let broker = TlsBroker::start();
    let wrong = "not-the-bridge-password";
    let agent = broker.agent(&env, "site-frigate-badpw", wrong).await?;
    broker.broker.wait_for_log("not authorised").await;
    let deadline = Instant::now() + DEADLINE;
    while !agent.log().contains("refused the bridge's credentials") {
        assert!(Instant::now() < deadline, "agent log:\n{}", agent.log());
        sleep(Duration::from_millis(100)).await;
    }
    let log = agent.log();
    assert!(
        log.contains("check --frigate-mqtt-user and --frigate-mqtt-password"),
        "{log}"
    );
    assert!(!log.contains(wrong), "the password is in the log:\n{log}");
    assert!(
        !broker
            .broker
            .log()
            .contains("Received SUBSCRIBE from vigil-edge-test")
    );
    agent.terminate()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_port_refuses_clear_text_and_unknown_users() {
    let broker = TlsBroker::start();
    // Clear text on the TLS port, with a valid password: no CONNACK.
    let (_plain, mut events) = broker.client(false, FRIGATE_PASSWORD);
    let first = tokio::time::timeout(DEADLINE, events.recv()).await.unwrap();
    assert!(
        first.as_deref().is_some_and(|e| e.starts_with("error")),
        "{first:?}"
    );
    // TLS, trusting the CA, with the wrong password: refused too.
    let (_wrong, mut events) = broker.client(true, "guess");
    let first = tokio::time::timeout(DEADLINE, events.recv()).await.unwrap();
    assert!(
        first
            .as_deref()
            .is_some_and(|e| e.contains("Connection refused")),
        "{first:?}"
    );
    // And the right one gets in, so the refusals above are the port's.
    let (_right, mut events) = broker.client(true, FRIGATE_PASSWORD);
    let first = tokio::time::timeout(DEADLINE, events.recv()).await.unwrap();
    assert_eq!(first.as_deref(), Some("connected"));
}
