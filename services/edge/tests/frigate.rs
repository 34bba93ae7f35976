//! The Frigate bridge against a real MQTT broker (Mosquitto, started by each
//! test on a free port): events published the way Frigate publishes them
//! must land in the spool as the right detections, bad messages must be
//! skipped without stopping the bridge (oversized ones without being read),
//! and a restarted broker must be reconnected to.
//!
//! Needs the `mosquitto` binary (`apt-get install -y mosquitto`); the tests
//! fail, rather than skip, without it.

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
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            // `log_type all` logs every packet, which tests wait on.
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_type all\n"
            ),
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
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("mosquitto"))
        .find(|candidate| candidate.is_file())
        .expect(
            "the mosquitto MQTT broker is not installed; run `apt-get install -y mosquitto` \
             (these tests start their own broker and need the binary)",
        )
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
