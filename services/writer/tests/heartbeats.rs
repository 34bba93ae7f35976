//! Heartbeats through the real writer: camera_status follows them, and a
//! camera that falls silent raises an offline alert for its commune's team,
//! then an online alert when it is back.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::ensure;
use chrono::NaiveDate;
use common::{Writer, config, eventually, metric};
use prost::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message as _, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vigil_bus::registry::RegistryPublisher;
use vigil_domain::{
    Camera, CameraKind, CameraOwner, GeoPoint, Member, MemberRole, RegistryEntity, Team, Zone,
    ZoneKind,
};
use vigil_proto::v1::heartbeat::LinkState;
use vigil_proto::v1::{Alert, AlertKind, Heartbeat};
use vigil_store::StatusStore;
use vigil_testkit::{PATIENCE, TestEnv};

const COMMUNE: &str = "th.ba-thuoc";
const VILLAGE: &str = "th.ba-thuoc.lang-chieng";
const TEAM: &str = "Lang Chieng security and order protection team";
const STEADY: &str = "cam-lang-chieng-01";
const FLAKY: &str = "cam-lang-chieng-02";

fn registry() -> Vec<RegistryEntity> {
    let zone = |id: &str, kind, parent: Option<&str>, path: &[&str]| {
        RegistryEntity::Zone(Zone {
            id: id.into(),
            kind,
            name: path.last().copied().unwrap_or_default().into(),
            parent_id: parent.map(Into::into),
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            police_unit: None,
            boundary: None,
        })
    };
    let camera = |id: &str| {
        RegistryEntity::Camera(Camera {
            id: id.into(),
            zone_id: VILLAGE.into(),
            site_id: Some("site-lang-chieng".into()),
            position: GeoPoint::new(20.36, 105.24).expect("on Earth"),
            kind: CameraKind::Fixed,
            owner: CameraOwner::Commune,
            installed_on: NaiveDate::from_ymd_opt(2025, 6, 1).expect("a date"),
        })
    };
    vec![
        zone("th", ZoneKind::Province, None, &["Thanh Hoa"]),
        zone(
            COMMUNE,
            ZoneKind::Commune,
            Some("th"),
            &["Thanh Hoa", "Ba Thuoc"],
        ),
        zone(
            VILLAGE,
            ZoneKind::Village,
            Some(COMMUNE),
            &["Thanh Hoa", "Ba Thuoc", "Lang Chieng"],
        ),
        RegistryEntity::Team(Team {
            id: "team-lang-chieng".into(),
            zone_id: VILLAGE.into(),
            name: TEAM.into(),
            members: vec![Member {
                id: "m-1".into(),
                name: "Ha Van Tuan".into(),
                role: MemberRole::Captain,
                phone: "0912000001".into(),
            }],
            on_duty_member_id: None,
        }),
        camera(STEADY),
        camera(FLAKY),
    ]
}

/// Sends a heartbeat from `site` for every camera in `cameras` every 500 ms.
fn heartbeats(
    site: &'static str,
    producer: FutureProducer,
    topic: String,
    cameras: Arc<Mutex<BTreeSet<&'static str>>>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return Ok(()),
            }
            let now: Vec<&str> = cameras.lock().unwrap().iter().copied().collect();
            for camera_id in now {
                let heartbeat = Heartbeat {
                    camera_id: camera_id.to_owned(),
                    site_id: site.to_owned(),
                    sent_at: Some(SystemTime::now().into()),
                    buffer_depth: 3,
                    link_state: LinkState::Up.into(),
                    camera_online: true,
                };
                producer
                    .send(
                        FutureRecord::to(&topic)
                            .key(camera_id)
                            .payload(&heartbeat.encode_to_vec()),
                        Duration::from_secs(10),
                    )
                    .await
                    .map_err(|(error, _)| error)?;
            }
        }
    })
}

/// Every alert on the alerts topic so far.
struct Alerts {
    consumer: StreamConsumer,
    seen: Vec<Alert>,
}

impl Alerts {
    fn new(env: &TestEnv) -> anyhow::Result<Self> {
        let consumer: StreamConsumer = env.kafka.consumer_config("test-alert-reader").create()?;
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&env.kafka.topics().alerts, 0, Offset::Beginning)?;
        consumer.assign(&assignment)?;
        Ok(Self {
            consumer,
            seen: Vec::new(),
        })
    }

    /// The first alert of `kind` for `camera_id`, waiting up to `patience`.
    async fn wait_for(
        &mut self,
        kind: AlertKind,
        camera_id: &str,
        patience: Duration,
    ) -> anyhow::Result<Alert> {
        let wanted = |a: &Alert| a.kind == i32::from(kind) && a.camera_id == camera_id;
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if let Some(alert) = self.seen.iter().find(|a| wanted(a)) {
                return Ok(alert.clone());
            }
            let message = tokio::time::timeout_at(deadline, self.consumer.recv())
                .await
                .map_err(|_| {
                    anyhow::anyhow!("no {kind:?} alert for {camera_id} within {patience:?}")
                })??;
            ensure!(
                message.key() == Some(COMMUNE.as_bytes()),
                "alerts are keyed by commune"
            );
            self.seen
                .push(Alert::decode(message.payload().unwrap_or_default())?);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_camera_goes_offline_and_comes_back() -> anyhow::Result<()> {
    let env = TestEnv::new("writer_heartbeats").await?;
    RegistryPublisher::new(&env.kafka)?
        .publish(registry())
        .await?;
    let writer = Writer::start(config(
        &env,
        "writer-heartbeats",
        &["--offline-after", "3s", "--offline-check", "500ms"],
    ));
    let statuses = StatusStore::prepare(&env.keyspace).await?;
    let mut alerts = Alerts::new(&env)?;

    let beating = Arc::new(Mutex::new(BTreeSet::from([STEADY, FLAKY])));
    let stop = CancellationToken::new();
    let sender = heartbeats(
        "site-lang-chieng",
        env.kafka.producer_config().create()?,
        env.kafka.topics().heartbeats,
        Arc::clone(&beating),
        stop.clone(),
    );
    for camera in [STEADY, FLAKY] {
        // A first heartbeat is two writes (when it came online, then the
        // heartbeat itself): wait for both.
        let status = eventually(&format!("{camera} to be online"), PATIENCE, || async {
            Ok(statuses
                .get(camera)
                .await?
                .filter(|s| s.online && s.changed_at.is_some() && s.last_heartbeat.is_some()))
        })
        .await?;
        ensure!(status.site_id == "site-lang-chieng" && status.buffer_depth == 3);
        ensure!(status.link_state == LinkState::Up);
    }

    beating.lock().unwrap().remove(FLAKY);
    let offline = alerts
        .wait_for(AlertKind::CameraOffline, FLAKY, PATIENCE)
        .await?;
    ensure!(offline.commune_id == COMMUNE, "{offline:?}");
    ensure!(offline.village_id == VILLAGE, "{offline:?}");
    ensure!(
        offline.team.as_ref().is_some_and(|t| t.team_name == TEAM),
        "{offline:?}"
    );
    ensure!(offline.zone_path == ["Thanh Hoa", "Ba Thuoc", "Lang Chieng"]);
    eventually(
        &format!("{FLAKY} to be stored offline"),
        PATIENCE,
        || async { Ok(statuses.get(FLAKY).await?.filter(|s| !s.online)) },
    )
    .await?;
    ensure!(
        statuses.get(STEADY).await?.is_some_and(|s| s.online),
        "the camera that kept beating stays online"
    );

    beating.lock().unwrap().insert(FLAKY);
    let online = alerts
        .wait_for(AlertKind::CameraOnline, FLAKY, PATIENCE)
        .await?;
    ensure!(online.commune_id == COMMUNE && online.alert_id != offline.alert_id);
    eventually(
        &format!("{FLAKY} to be stored online"),
        PATIENCE,
        || async { Ok(statuses.get(FLAKY).await?.filter(|s| s.online)) },
    )
    .await?;
    ensure!(
        !alerts.seen.iter().any(|a| a.camera_id == STEADY),
        "no alert for the camera that kept beating: {:?}",
        alerts.seen
    );
    let all = statuses.all().await?;
    ensure!(all.len() == 2 && all.iter().all(|s| s.online), "{all:?}");

    stop.cancel();
    sender.await??;
    writer.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn another_sites_heartbeats_keep_no_camera_alive() -> anyhow::Result<()> {
    let env = TestEnv::new("writer_foreign_heartbeats").await?;
    RegistryPublisher::new(&env.kafka)?
        .publish(registry())
        .await?;
    let writer = Writer::start(config(
        &env,
        "writer-foreign-heartbeats",
        &["--offline-after", "3s", "--offline-check", "500ms"],
    ));
    let statuses = StatusStore::prepare(&env.keyspace).await?;
    let stop = CancellationToken::new();
    // The camera's own site beats for STEADY; someone on another site's
    // network posts FLAKY's id to that site's edge agent.
    let own = heartbeats(
        "site-lang-chieng",
        env.kafka.producer_config().create()?,
        env.kafka.topics().heartbeats,
        Arc::new(Mutex::new(BTreeSet::from([STEADY]))),
        stop.clone(),
    );
    let foreign = heartbeats(
        "site-elsewhere",
        env.kafka.producer_config().create()?,
        env.kafka.topics().heartbeats,
        Arc::new(Mutex::new(BTreeSet::from([FLAKY]))),
        stop.clone(),
    );
    eventually(&format!("{STEADY} to be online"), PATIENCE, || async {
        Ok(statuses.get(STEADY).await?.filter(|s| s.online))
    })
    .await?;
    // Both senders beat every 500 ms: by now FLAKY's would be stored.
    tokio::time::sleep(Duration::from_secs(3)).await;
    ensure!(
        statuses.get(FLAKY).await?.is_none(),
        "a heartbeat from another site recorded {FLAKY}"
    );
    let rejected = r#"vigil_writer_heartbeats_rejected_total{reason="site_mismatch"}"#;
    ensure!(metric(rejected) >= 3.0, "{} rejected", metric(rejected));

    stop.cancel();
    own.await??;
    foreign.await??;
    writer.stop().await
}
