//! Camera liveness from heartbeats.
//!
//! Every heartbeat is upserted into `camera_status` (online). In memory the
//! writer tracks the cameras whose heartbeats it has consumed since it
//! started — heartbeats are keyed by camera, so each instance tracks the
//! cameras of its own partitions — and every `--offline-check` it marks
//! silent ones offline and raises a `CAMERA_OFFLINE` alert; a silent
//! camera's next heartbeat marks it online and raises `CAMERA_ONLINE`.
//! Alerts go to `vigil.alerts.v1`, keyed by commune, with the camera's
//! village, zone path and team from the registry.
//!
//! A camera is silent when both hold:
//! - none of its heartbeats has arrived for `--offline-after` (wall clock);
//! - its partition's stream has moved on by `--offline-after` past its last
//!   heartbeat (the newest `sent_at` consumed from the partition, minus the
//!   camera's own).
//!
//! The first alone would call every camera offline whenever the writer
//! itself stops consuming (a database outage fills the in-flight window) or
//! catches up on a backlog; the second alone would trust the edge agents'
//! clocks. Together, a stalled stream raises nothing, and neither does a
//! site whose clock is off. The price: if every camera of a partition falls
//! silent at once, that looks like a stalled stream and raises nothing.
//!
//! Only cameras seen since start are tracked. After a restart, a camera that
//! has sent nothing yet is not declared offline (no storm of false alerts);
//! a camera whose partition moved to another instance is forgotten (its new
//! owner tracks it). On a camera's first heartbeat the stored status is
//! read, so a camera marked offline earlier — by a previous run or another
//! instance — raises `CAMERA_ONLINE` when it comes back.
//!
//! A heartbeat consumed more than `--offline-after` after it was sent is
//! history (a backlog, or a new consumer group replaying the topic): it
//! says the camera was alive then, not now. It keeps the camera's silence
//! timer and `camera_status` current but never marks the camera online, so
//! a replay raises no `CAMERA_ONLINE` for cameras that are still dark. A
//! camera known only from history that stays silent is marked offline
//! unless its stored status already says so. (An edge agent whose clock is
//! that far behind looks like history too: its cameras are recorded, but
//! raise no transitions.)
//!
//! A camera the registry places at a site is kept alive only by that
//! site's heartbeats: an edge agent heartbeats every camera it has taken a
//! detection for, so without this anyone on one site's network could keep
//! another site's cut camera looking online by posting its id. Heartbeats
//! from another site are ignored and counted
//! (`vigil_writer_heartbeats_rejected_total{reason="site_mismatch"}`); a
//! camera with no site in the registry (or not in it at all) is taken from
//! any site, as the enricher does.
//!
//! Alert ids are UUIDv5 of camera, transition and heartbeat time (the last
//! heartbeat before the silence, or the first after it), so the same
//! transition raised twice — a redelivered heartbeat, another instance —
//! has the same id and can be deduplicated.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::consumer::Consumer;
use rdkafka::message::OwnedMessage;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};
use uuid::Uuid;
use vigil_bus::pipeline::Effect;
use vigil_bus::registry::SharedRegistry;
use vigil_bus::{KafkaConsumer, KafkaProducer, produce_until_acked, trace};
use vigil_domain::Registry;
use vigil_proto::v1::{Alert, AlertKind, Heartbeat, ResponsibleTeam};
use vigil_store::StatusStore;

use crate::metrics::{self, Record, Unusable};
use crate::retry;

/// Namespace of the writer's alert ids (UUIDv5).
const ALERT_NAMESPACE: Uuid = Uuid::from_u128(0x8c3f_61d2_7a04_4e5b_b1c9_2d6e_0f7a_9b14);
/// Alert priorities run from 1 (highest) to 5, as watchlist entries do: a
/// dark camera needs a visit; one that is back is for information.
const OFFLINE_PRIORITY: u32 = 3;
const ONLINE_PRIORITY: u32 = 5;

/// Tracks cameras from their heartbeats and raises offline/online alerts.
pub(crate) struct Liveness {
    statuses: StatusStore,
    registry: SharedRegistry,
    producer: KafkaProducer,
    alerts_topic: String,
    offline_after: Duration,
    tracker: Mutex<Tracker>,
}

impl std::fmt::Debug for Liveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Liveness")
            .field("alerts_topic", &self.alerts_topic)
            .field("offline_after", &self.offline_after)
            .finish_non_exhaustive()
    }
}

impl Liveness {
    pub(crate) fn new(
        statuses: StatusStore,
        registry: SharedRegistry,
        producer: KafkaProducer,
        alerts_topic: String,
        offline_after: Duration,
    ) -> Self {
        Self {
            statuses,
            registry,
            producer,
            alerts_topic,
            offline_after,
            tracker: Mutex::default(),
        }
    }

    /// The pipeline effect for one record of `vigil.heartbeats.v1`.
    pub(crate) fn handle(self: &Arc<Self>, message: OwnedMessage) -> Effect {
        let (partition, offset) = (message.partition(), message.offset());
        let heartbeat = match Heartbeat::decode(message.payload().unwrap_or_default()) {
            Ok(heartbeat) if !heartbeat.camera_id.is_empty() => heartbeat,
            Ok(_) => {
                error!(partition, offset, "Skipping a heartbeat without camera_id.");
                metrics::skipped(Record::Heartbeat, Unusable::Invalid);
                return Box::pin(std::future::ready(()));
            }
            Err(error) => {
                error!(partition, offset, %error, "Skipping an undecodable heartbeat.");
                metrics::skipped(Record::Heartbeat, Unusable::Decode);
                return Box::pin(std::future::ready(()));
            }
        };
        if !self.sent_by_the_cameras_site(&heartbeat) {
            debug!(partition, offset, camera_id = %heartbeat.camera_id, site_id = %heartbeat.site_id,
                "Ignoring a heartbeat from another site than the camera's.");
            metrics::heartbeat_from_another_site();
            return Box::pin(std::future::ready(()));
        }
        let received_at = Utc::now();
        let sent_at = heartbeat
            .sent_at
            .as_ref()
            .and_then(|at| DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).ok()?))
            .unwrap_or(received_at);
        let historic = (received_at - sent_at)
            .to_std()
            .is_ok_and(|age| age > self.offline_after);
        // Here, in arrival order, not in the effect: effects run
        // concurrently and could apply one camera's heartbeats out of order.
        let sighting = self.tracker().observe(
            &heartbeat.camera_id,
            partition,
            sent_at,
            Instant::now(),
            historic,
        );
        let liveness = Arc::clone(self);
        Box::pin(async move {
            liveness
                .record(heartbeat, sent_at, received_at, sighting)
                .await
        })
    }

    fn sent_by_the_cameras_site(&self, heartbeat: &Heartbeat) -> bool {
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        from_the_cameras_site(&registry, &heartbeat.camera_id, &heartbeat.site_id)
    }

    async fn record(
        &self,
        heartbeat: Heartbeat,
        sent_at: DateTime<Utc>,
        received_at: DateTime<Utc>,
        sighting: Sighting,
    ) {
        let camera_id = heartbeat.camera_id.as_str();
        let (changed, came_back) = match sighting {
            Sighting::Again | Sighting::Historic => (false, false),
            Sighting::Returned => (true, true),
            Sighting::First => match retry::until_ok(|| self.statuses.get(camera_id)).await {
                Some(stored) if !stored.online => (true, true),
                // Known before, but only from history (or never seen at
                // all): stamp when it came online.
                Some(stored) => (stored.changed_at.is_none(), false),
                None => (true, false),
            },
        };
        if came_back {
            // Raised before the status is written: should the process die in
            // between, the redelivered heartbeat still finds the camera
            // offline and raises the same alert (same id) again, not none.
            let alert = self.alert(camera_id, Transition::Online, sent_at);
            self.raise(&alert).await;
            info!(%camera_id, "Camera is back online.");
        }
        if changed {
            retry::until_ok(|| self.statuses.set_online(camera_id, true, received_at)).await;
        }
        retry::until_ok(|| self.statuses.record_heartbeat(&heartbeat, received_at)).await;
        metrics::heartbeat();
    }

    /// Every `every`, until `stop`: forgets cameras of partitions this
    /// instance no longer owns, then marks silent cameras offline.
    pub(crate) async fn watch(
        self: Arc<Self>,
        every: Duration,
        consumer: Arc<KafkaConsumer>,
        heartbeats_topic: String,
        stop: CancellationToken,
    ) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Communes given a value, to be set back to 0 if they leave the
        // registry (or are `unknown` no more).
        let mut reported: HashSet<String> = HashSet::new();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return,
            }
            let owned: Option<HashSet<i32>> = consumer.assignment().ok().map(|assignment| {
                assignment
                    .elements_for_topic(&heartbeats_topic)
                    .iter()
                    .map(|element| element.partition())
                    .collect()
            });
            let (silent, offline) = {
                let mut tracker = self.tracker();
                if let Some(owned) = owned {
                    tracker.forget_unowned(&owned);
                }
                let silent = tracker.take_silent(self.offline_after, Instant::now());
                let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
                let mut offline = offline_by_commune(&registry, tracker.offline_cameras());
                // Every commune gets a value, 0 included, so a dashboard
                // lists them all (166 series, bounded).
                for commune in registry.communes() {
                    offline.entry(commune.id.clone()).or_insert(0);
                }
                (silent, offline)
            };
            for (commune, cameras) in &offline {
                metrics::cameras_offline(commune, *cameras);
            }
            for commune in reported.iter().filter(|c| !offline.contains_key(*c)) {
                metrics::cameras_offline(commune, 0);
            }
            reported = offline.into_keys().collect();
            for camera in silent {
                tokio::select! {
                    () = self.went_offline(camera) => {}
                    () = stop.cancelled() => return,
                }
            }
        }
    }

    async fn went_offline(&self, camera: Silent) {
        let camera_id = camera.camera_id.as_str();
        if !camera.confirmed
            && retry::until_ok(|| self.statuses.get(camera_id))
                .await
                .is_some_and(|stored| !stored.online)
        {
            // Known only from history, and already marked offline when
            // that history was live: nothing new to say.
            return;
        }
        info!(%camera_id, silent_for = ?camera.silent_for, last_heartbeat = %camera.last_sent_at, "Camera went offline.");
        let decided_at = Utc::now();
        let alert = self.alert(camera_id, Transition::Offline, camera.last_sent_at);
        self.raise(&alert).await;
        retry::until_ok(|| self.statuses.set_online(camera_id, false, decided_at)).await;
    }

    fn alert(&self, camera_id: &str, transition: Transition, heartbeat_at: DateTime<Utc>) -> Alert {
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        camera_alert(&registry, camera_id, transition, heartbeat_at, Utc::now())
    }

    async fn raise(&self, alert: &Alert) {
        produce_until_acked(
            &self.producer,
            &self.alerts_topic,
            alert.commune_id.as_bytes(),
            &alert.encode_to_vec(),
            Some(&trace::schema_headers()),
        )
        .await;
        metrics::alert_raised(alert.kind());
    }

    fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A camera going dark or coming back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transition {
    Offline,
    Online,
}

/// Whether a heartbeat for `camera_id` from site `site_id` may speak for
/// it: yes unless the registry places the camera at another site.
fn from_the_cameras_site(registry: &Registry, camera_id: &str, site_id: &str) -> bool {
    registry
        .camera(camera_id)
        .and_then(|camera| camera.site_id.as_deref())
        .is_none_or(|site| site.is_empty() || site == site_id)
}

/// The alert for `camera_id`'s `transition`, placed through the registry.
/// `heartbeat_at` is the last heartbeat before the silence (offline) or the
/// first after it (online); with camera and transition it makes the id.
/// A camera missing from the registry still gets its alert, without place
/// or team, for the operations center.
fn camera_alert(
    registry: &Registry,
    camera_id: &str,
    transition: Transition,
    heartbeat_at: DateTime<Utc>,
    raised_at: DateTime<Utc>,
) -> Alert {
    let village = registry
        .camera(camera_id)
        .and_then(|camera| registry.zone(&camera.zone_id));
    let commune = village.and_then(|village| registry.commune_of(&village.id));
    let team = village
        .and_then(|village| registry.team_for_zone(&village.id))
        .map(|team| ResponsibleTeam {
            team_id: team.id.clone(),
            team_name: team.name.clone(),
            captain_name: team.captain().map(|m| m.name.clone()).unwrap_or_default(),
            on_duty_name: team.on_duty().map(|m| m.name.clone()).unwrap_or_default(),
            on_duty_phone: team.on_duty().map(|m| m.phone.clone()).unwrap_or_default(),
        });
    let zone_path = village.map(|v| v.path.clone()).unwrap_or_default();
    let place = if zone_path.is_empty() {
        "not in the registry".to_owned()
    } else {
        zone_path.join(" > ")
    };
    let (kind, name, priority, summary) = match transition {
        Transition::Offline => (
            AlertKind::CameraOffline,
            "offline",
            OFFLINE_PRIORITY,
            format!(
                "Camera {camera_id} ({place}) has sent no heartbeat since {} UTC.",
                heartbeat_at.format("%Y-%m-%d %H:%M:%S")
            ),
        ),
        Transition::Online => (
            AlertKind::CameraOnline,
            "online",
            ONLINE_PRIORITY,
            format!("Camera {camera_id} ({place}) is sending heartbeats again."),
        ),
    };
    let name = format!("{camera_id}/{name}/{}", heartbeat_at.timestamp_millis());
    Alert {
        alert_id: Uuid::new_v5(&ALERT_NAMESPACE, name.as_bytes()).to_string(),
        kind: kind.into(),
        raised_at: Some(SystemTime::from(raised_at).into()),
        priority,
        camera_id: camera_id.to_owned(),
        commune_id: commune.map(|c| c.id.clone()).unwrap_or_default(),
        village_id: village.map(|v| v.id.clone()).unwrap_or_default(),
        zone_path,
        team,
        hit: None,
        event_id: String::new(),
        summary,
        change: None,
    }
}

/// How a heartbeat relates to what the tracker knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sighting {
    /// The camera's first heartbeat since start (or since its partition
    /// came to this instance).
    First,
    /// Another heartbeat of a camera known to be online.
    Again,
    /// A heartbeat of a camera this instance had marked offline.
    Returned,
    /// A heartbeat sent longer ago than the offline threshold: history,
    /// which decides nothing.
    Historic,
}

/// A camera marked offline by [`Tracker::take_silent`].
#[derive(Debug)]
struct Silent {
    camera_id: String,
    last_sent_at: DateTime<Utc>,
    silent_for: Duration,
    /// False when only history of it had been seen, so this instance never
    /// knew it online.
    confirmed: bool,
}

/// What this instance believes about a camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Online,
    Offline,
    /// Only historic heartbeats seen so far.
    Unconfirmed,
}

#[derive(Debug)]
struct Seen {
    partition: i32,
    /// Its latest heartbeat's `sent_at`.
    sent_at: DateTime<Utc>,
    /// When a heartbeat of it was last consumed.
    received: Instant,
    state: State,
}

/// The cameras seen since start, and how far each heartbeats partition's
/// stream has got.
#[derive(Debug, Default)]
struct Tracker {
    cameras: HashMap<String, Seen>,
    /// The newest `sent_at` consumed per partition.
    stream_time: HashMap<i32, DateTime<Utc>>,
}

impl Tracker {
    fn observe(
        &mut self,
        camera_id: &str,
        partition: i32,
        sent_at: DateTime<Utc>,
        now: Instant,
        historic: bool,
    ) -> Sighting {
        let stream = self.stream_time.entry(partition).or_insert(sent_at);
        *stream = (*stream).max(sent_at);
        let Some(seen) = self.cameras.get_mut(camera_id) else {
            let (state, sighting) = if historic {
                (State::Unconfirmed, Sighting::Historic)
            } else {
                (State::Online, Sighting::First)
            };
            self.cameras.insert(
                camera_id.to_owned(),
                Seen {
                    partition,
                    sent_at,
                    received: now,
                    state,
                },
            );
            return sighting;
        };
        seen.partition = partition;
        seen.sent_at = seen.sent_at.max(sent_at);
        seen.received = now;
        if historic {
            return Sighting::Historic;
        }
        let sighting = match seen.state {
            State::Online => Sighting::Again,
            State::Offline => Sighting::Returned,
            State::Unconfirmed => Sighting::First,
        };
        seen.state = State::Online;
        sighting
    }

    /// Marks offline, and returns, the cameras not yet offline that have been
    /// silent for longer than `after` both by the wall clock and by their
    /// partition's stream.
    fn take_silent(&mut self, after: Duration, now: Instant) -> Vec<Silent> {
        let after_in_stream = chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
        let stream_time = &self.stream_time;
        self.cameras
            .iter_mut()
            .filter_map(|(camera_id, seen)| {
                let quiet = now.saturating_duration_since(seen.received);
                let stream_moved_on = stream_time
                    .get(&seen.partition)
                    .is_some_and(|&at| at - seen.sent_at > after_in_stream);
                let silent = seen.state != State::Offline && quiet > after && stream_moved_on;
                silent.then(|| {
                    let confirmed = seen.state == State::Online;
                    seen.state = State::Offline;
                    Silent {
                        camera_id: camera_id.clone(),
                        last_sent_at: seen.sent_at,
                        silent_for: quiet,
                        confirmed,
                    }
                })
            })
            .collect()
    }

    /// Forgets the cameras of partitions not in `owned`: their new owner
    /// tracks them now.
    fn forget_unowned(&mut self, owned: &HashSet<i32>) {
        self.cameras
            .retain(|_, seen| owned.contains(&seen.partition));
        self.stream_time
            .retain(|partition, _| owned.contains(partition));
    }

    /// Tracked cameras that are offline now.
    #[cfg(test)]
    fn offline(&self) -> usize {
        self.offline_cameras().count()
    }

    /// The ids of the tracked cameras that are offline now.
    fn offline_cameras(&self) -> impl Iterator<Item = &str> {
        self.cameras
            .iter()
            .filter(|(_, seen)| seen.state == State::Offline)
            .map(|(camera_id, _)| camera_id.as_str())
    }
}

/// The label of cameras the registry does not place in a commune.
const NO_COMMUNE: &str = "unknown";

/// How many of `cameras` each commune has (communes are bounded, 166 in
/// Thanh Hoa, unlike cameras: a fine metric label).
fn offline_by_commune<'a>(
    registry: &Registry,
    cameras: impl Iterator<Item = &'a str>,
) -> BTreeMap<String, usize> {
    let mut by_commune = BTreeMap::new();
    for camera_id in cameras {
        let commune = registry
            .camera(camera_id)
            .and_then(|camera| registry.commune_of(&camera.zone_id))
            .map_or(NO_COMMUNE, |commune| commune.id.as_str());
        *by_commune.entry(commune.to_owned()).or_default() += 1;
    }
    by_commune
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use vigil_domain::{
        Camera, CameraKind, CameraOwner, GeoPoint, Member, MemberRole, RegistryEntity, Team, Zone,
        ZoneKind,
    };

    use super::*;

    const AFTER: Duration = Duration::from_secs(90);

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_795_873_500 + second, 0).unwrap()
    }

    /// Heartbeats of `cameras` on partition 0, sent at `second` and
    /// consumed at `start + second`.
    fn beat(tracker: &mut Tracker, start: Instant, second: u64, cameras: &[&str]) -> Vec<Sighting> {
        cameras
            .iter()
            .map(|camera| {
                tracker.observe(
                    camera,
                    0,
                    at(second as i64),
                    start + Duration::from_secs(second),
                    false,
                )
            })
            .collect()
    }

    fn silent_ids(silent: &[Silent]) -> Vec<&str> {
        silent.iter().map(|s| s.camera_id.as_str()).collect()
    }

    #[test]
    fn a_camera_silent_past_the_threshold_goes_offline_once_and_comes_back() {
        let start = Instant::now();
        let mut tracker = Tracker::default();
        assert_eq!(
            beat(&mut tracker, start, 0, &["a", "b"]),
            [Sighting::First, Sighting::First]
        );
        for second in (30..=120).step_by(30) {
            beat(&mut tracker, start, second, &["a"]);
        }
        let now = start + Duration::from_secs(121);
        let silent = tracker.take_silent(AFTER, now);
        assert_eq!(silent_ids(&silent), ["b"]);
        assert_eq!(silent[0].last_sent_at, at(0));
        assert!(silent[0].confirmed);
        assert_eq!(tracker.offline(), 1);
        assert!(tracker.take_silent(AFTER, now).is_empty(), "raised once");

        assert_eq!(beat(&mut tracker, start, 150, &["b"]), [Sighting::Returned]);
        assert_eq!(beat(&mut tracker, start, 180, &["b"]), [Sighting::Again]);
        assert_eq!(tracker.offline(), 0);
    }

    #[test]
    fn a_stalled_stream_marks_nobody_offline() {
        let start = Instant::now();
        let mut tracker = Tracker::default();
        beat(&mut tracker, start, 0, &["a", "b"]);
        // Nothing consumed for ten minutes (say, the database was down):
        // by the wall clock both are silent, but the stream did not move.
        let silent = tracker.take_silent(AFTER, start + Duration::from_secs(600));
        assert!(silent.is_empty());
    }

    #[test]
    fn catching_up_on_a_backlog_marks_nobody_offline() {
        let start = Instant::now();
        let mut tracker = Tracker::default();
        // Ten minutes of heartbeats consumed within one second; all but
        // the last 90 s of them are history.
        for second in (0..=600).step_by(30) {
            let historic = second < 600 - 90;
            tracker.observe("a", 0, at(second), start, historic);
            tracker.observe("b", 0, at(second), start, historic);
        }
        let silent = tracker.take_silent(AFTER, start + Duration::from_secs(1));
        assert!(silent.is_empty());
    }

    #[test]
    fn a_site_with_a_slow_clock_is_not_offline_while_it_sends() {
        let start = Instant::now();
        let mut tracker = Tracker::default();
        for second in (0..=300).step_by(30) {
            let now = start + Duration::from_secs(second);
            tracker.observe("a", 0, at(second as i64), now, false);
            // The site of "b" is five minutes behind: its heartbeats look
            // like history.
            tracker.observe("b", 0, at(second as i64 - 300), now, true);
        }
        let silent = tracker.take_silent(AFTER, start + Duration::from_secs(310));
        assert!(silent.is_empty());
    }

    #[test]
    fn cameras_of_partitions_handed_over_are_forgotten() {
        let start = Instant::now();
        let mut tracker = Tracker::default();
        tracker.observe("a", 0, at(0), start, false);
        tracker.observe("b", 1, at(0), start, false);
        tracker.forget_unowned(&HashSet::from([1]));
        assert!(!tracker.cameras.contains_key("a"));
        assert_eq!(
            tracker.observe("b", 1, at(30), start, false),
            Sighting::Again
        );
        assert_eq!(
            tracker.observe("a", 0, at(30), start, false),
            Sighting::First
        );
    }

    #[test]
    fn history_decides_nothing() {
        let start = Instant::now();
        let mut tracker = Tracker::default();
        // A replay: yesterday's heartbeats of "a" and "b".
        for second in (0..=300).step_by(30) {
            for camera in ["a", "b"] {
                let sighting = tracker.observe(camera, 0, at(second), start, true);
                assert_eq!(sighting, Sighting::Historic);
            }
        }
        // "a" is alive today: its first live heartbeat is a first sighting
        // (the stored status decides whether it came back).
        let later = start + Duration::from_secs(100);
        assert_eq!(
            tracker.observe("a", 0, at(86_400), later, false),
            Sighting::First
        );
        // "b" stays silent: marked offline, flagged as never seen live.
        let silent = tracker.take_silent(AFTER, later);
        assert_eq!(silent_ids(&silent), ["b"]);
        assert!(!silent[0].confirmed);
        // History of an offline camera does not bring it back.
        assert_eq!(
            tracker.observe("b", 0, at(400), later, true),
            Sighting::Historic
        );
        assert_eq!(tracker.offline(), 1);
    }

    fn registry() -> Registry {
        let mut registry = Registry::default();
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
        for entity in [
            zone("th", ZoneKind::Province, None, &["Thanh Hoa"]),
            zone(
                "th.ba-thuoc",
                ZoneKind::Commune,
                Some("th"),
                &["Thanh Hoa", "Ba Thuoc"],
            ),
            zone(
                "th.ba-thuoc.v01",
                ZoneKind::Village,
                Some("th.ba-thuoc"),
                &["Thanh Hoa", "Ba Thuoc", "Lang Chieng"],
            ),
            RegistryEntity::Team(Team {
                id: "team-v01".into(),
                zone_id: "th.ba-thuoc.v01".into(),
                name: "Lang Chieng security team".into(),
                members: vec![Member {
                    id: "m1".into(),
                    name: "Ha Van Tuan".into(),
                    role: MemberRole::Captain,
                    phone: "0912000001".into(),
                }],
                on_duty_member_id: None,
            }),
            RegistryEntity::Camera(Camera {
                id: "cam-1".into(),
                zone_id: "th.ba-thuoc.v01".into(),
                site_id: Some("site-1".into()),
                position: GeoPoint::new(20.35, 105.25).unwrap(),
                kind: CameraKind::Fixed,
                owner: CameraOwner::Commune,
                installed_on: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            }),
        ] {
            registry.upsert(entity);
        }
        registry
    }

    #[test]
    fn only_the_cameras_own_site_keeps_it_alive() {
        let registry = registry();
        assert!(from_the_cameras_site(&registry, "cam-1", "site-1"));
        assert!(!from_the_cameras_site(&registry, "cam-1", "site-2"));
        assert!(!from_the_cameras_site(&registry, "cam-1", ""));
        // Not in the registry (or no site there): any site, as before.
        assert!(from_the_cameras_site(&registry, "cam-x", "site-2"));
        let mut siteless = registry.camera("cam-1").unwrap().clone();
        siteless.site_id = None;
        let mut registry = registry;
        registry.upsert(RegistryEntity::Camera(siteless));
        assert!(from_the_cameras_site(&registry, "cam-1", "site-2"));
    }

    #[test]
    fn an_offline_alert_names_the_place_and_the_team() {
        let alert = camera_alert(&registry(), "cam-1", Transition::Offline, at(0), at(95));
        assert_eq!(alert.kind, i32::from(AlertKind::CameraOffline));
        assert_eq!(alert.commune_id, "th.ba-thuoc");
        assert_eq!(alert.village_id, "th.ba-thuoc.v01");
        assert_eq!(alert.zone_path, ["Thanh Hoa", "Ba Thuoc", "Lang Chieng"]);
        let team = alert.team.expect("a team");
        assert_eq!(team.team_name, "Lang Chieng security team");
        assert_eq!(team.on_duty_name, "Ha Van Tuan");
        assert!(
            alert.summary.contains("Thanh Hoa > Ba Thuoc > Lang Chieng"),
            "{}",
            alert.summary
        );
    }

    #[test]
    fn alert_ids_depend_on_camera_transition_and_heartbeat_only() {
        let registry = registry();
        let id = |camera, transition, heartbeat, raised| {
            camera_alert(&registry, camera, transition, at(heartbeat), at(raised)).alert_id
        };
        assert_eq!(
            id("cam-1", Transition::Offline, 0, 95),
            id("cam-1", Transition::Offline, 0, 400)
        );
        assert_ne!(
            id("cam-1", Transition::Offline, 0, 95),
            id("cam-1", Transition::Online, 0, 95)
        );
        assert_ne!(
            id("cam-1", Transition::Offline, 0, 95),
            id("cam-1", Transition::Offline, 30, 95)
        );
        assert_ne!(
            id("cam-1", Transition::Offline, 0, 95),
            id("cam-2", Transition::Offline, 0, 95)
        );
    }

    #[test]
    fn offline_cameras_are_counted_per_commune() {
        let registry = registry();
        let counted = offline_by_commune(&registry, ["cam-1", "cam-x", "cam-y"].into_iter());
        assert_eq!(
            counted,
            BTreeMap::from([("th.ba-thuoc".to_owned(), 1), ("unknown".to_owned(), 2)])
        );
    }

    #[test]
    fn a_camera_missing_from_the_registry_still_raises_an_alert() {
        let alert = camera_alert(&registry(), "cam-x", Transition::Online, at(0), at(1));
        assert_eq!(alert.kind, i32::from(AlertKind::CameraOnline));
        assert!(alert.commune_id.is_empty() && alert.team.is_none());
        assert!(alert.summary.contains("not in the registry"));
    }
}
