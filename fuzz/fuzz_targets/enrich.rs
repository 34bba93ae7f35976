//! The enricher's whole validate + enrich path with an arbitrary registry
//! (zones, teams, cameras, watchlist entries, tombstones), policy, clock
//! and detection — either any bytes, or a detection built from the
//! registry's own cameras and watch-listed plates so that the deep paths
//! are reached. Never a panic or a hang; an accepted detection is placed
//! exactly as the registry says, raises an alert for each active watchlist
//! entry its plate matches (exactly, or through the OCR-confusion key) and
//! for no other; a rejected one is refused for a DLQ reason that holds.

#![no_main]

use std::collections::BTreeSet;
use std::time::Duration;

use arbitrary::Arbitrary;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use vigil_domain::plate::{normalize_plate, ocr_key};
use vigil_domain::{
    Camera, CameraKind, CameraOwner, GeoPoint, Member, MemberRole, Registry, RegistryEntity, Team,
    WatchlistEntry, Zone, ZoneKind, ZoneLevel,
};
use vigil_enrich::{Policy, Rejection, enrich};
use vigil_proto::v1 as pb;
use vigil_synth::DetectionFactory;

/// Plates of each format, for watchlist entries and reads to share.
const PLATES: [&str; 6] = [
    "36A12345",
    "36B123456",
    "51G88888",
    "NG12345",
    "TM1234",
    "36LD01234",
];

/// Ids are drawn from a few per kind, so that references meet.
fn id(prefix: &str, n: u8) -> String {
    format!("{prefix}{}", n % 6)
}

#[derive(Debug, Arbitrary)]
struct Scenario {
    /// Records upserted over [`Records::province`]: with the same id pools,
    /// they replace, extend or break it.
    records: Records,
    /// Tombstones applied after the records: (kind, id).
    removals: Vec<(u8, u8)>,
    policy: PolicySpec,
    /// The enricher's clock, in seconds from 2026-11-28 00:00 UTC.
    now_offset_s: i32,
    detection: DetectionSpec,
}

#[derive(Debug, Arbitrary)]
struct Records {
    zones: Vec<ZoneSpec>,
    teams: Vec<TeamSpec>,
    cameras: Vec<CameraSpec>,
    watchlist: Vec<WatchSpec>,
}

#[derive(Debug, Arbitrary)]
struct ZoneSpec {
    id: u8,
    kind: u8,
    parent: Option<u8>,
    path: Vec<String>,
    police_unit: Option<String>,
}

#[derive(Debug, Arbitrary)]
struct TeamSpec {
    id: u8,
    zone: u8,
    name: String,
    /// (id, role, name, phone)
    members: Vec<(u8, u8, String, String)>,
    on_duty: Option<u8>,
}

#[derive(Debug, Arbitrary)]
struct CameraSpec {
    id: u8,
    zone: u8,
    /// The site serving it, if the registry records one.
    site: Option<u8>,
    latitude: f64,
    longitude: f64,
}

#[derive(Debug, Arbitrary)]
struct WatchSpec {
    id: u8,
    plate: PlateSpec,
    reason: String,
    priority: u8,
    /// Seconds from now; `None` never expires.
    expires_in_s: Option<i32>,
}

#[derive(Debug, Arbitrary)]
enum PlateSpec {
    Known(u8),
    Text(String),
}

impl PlateSpec {
    fn text(&self) -> &str {
        match self {
            Self::Known(n) => PLATES[usize::from(*n) % PLATES.len()],
            Self::Text(text) => text,
        }
    }
}

/// A limit, or the default where `None`.
#[derive(Debug, Arbitrary)]
struct PolicySpec {
    late_after_s: Option<u64>,
    max_future_skew_s: Option<u64>,
    max_age_s: Option<u64>,
    max_bytes: Option<u16>,
    max_labels: Option<u8>,
    max_label_len: Option<u16>,
}

#[derive(Debug, Arbitrary)]
enum DetectionSpec {
    /// Any bytes, as the topic may carry them.
    Raw(Vec<u8>),
    /// A synthetic detection of a registry camera.
    Built {
        seed: u64,
        camera: u8,
        /// The site whose edge agent accepted it (none: unstamped).
        site: Option<u8>,
        /// Captured this many seconds before now (negative: ahead).
        age_s: i32,
        read: Option<ReadSpec>,
        labels: Vec<(String, String)>,
    },
}

#[derive(Debug, Arbitrary)]
enum ReadSpec {
    /// A plate of the watchlist spec (by index), read cleanly or with one
    /// OCR confusion.
    Watched {
        entry: u8,
        confused: bool,
    },
    Text(String),
}

fn seconds(offset: Option<u64>, default: Duration) -> Duration {
    offset.map_or(default, Duration::from_secs)
}

impl Records {
    /// A consistent commune: province z0, commune z1, village z2 (team t0,
    /// camera cam-0) and hamlet z3 (camera cam-1, no team); two watchlist
    /// entries, one expiring in an hour.
    fn province() -> Self {
        let zone = |id, kind, parent, path: &[&str], police_unit: Option<&str>| ZoneSpec {
            id,
            kind,
            parent,
            path: path.iter().map(|name| (*name).to_owned()).collect(),
            police_unit: police_unit.map(str::to_owned),
        };
        let member = |id, role, name: &str| (id, role, name.to_owned(), "0912345678".to_owned());
        Self {
            zones: vec![
                zone(0, 1, None, &["Thanh Hoa"], None),
                zone(
                    1,
                    2,
                    Some(0),
                    &["Thanh Hoa", "Ba Thuoc"],
                    Some("Cong an xa Ba Thuoc"),
                ),
                zone(2, 4, Some(1), &["Thanh Hoa", "Ba Thuoc", "Thon 1"], None),
                zone(3, 5, Some(1), &["Thanh Hoa", "Ba Thuoc", "Ban 2"], None),
            ],
            teams: vec![TeamSpec {
                id: 0,
                zone: 2,
                name: "To ANTT Thon 1".to_owned(),
                members: vec![member(0, 1, "Le Van An"), member(1, 2, "Ha Thi Binh")],
                on_duty: Some(1),
            }],
            cameras: vec![
                CameraSpec {
                    id: 0,
                    zone: 2,
                    site: Some(0),
                    latitude: 20.35,
                    longitude: 105.25,
                },
                CameraSpec {
                    id: 1,
                    zone: 3,
                    site: None,
                    latitude: 20.36,
                    longitude: 105.26,
                },
            ],
            watchlist: vec![
                WatchSpec {
                    id: 0,
                    plate: PlateSpec::Known(0),
                    reason: "stolen car".to_owned(),
                    priority: 1,
                    expires_in_s: None,
                },
                WatchSpec {
                    id: 1,
                    plate: PlateSpec::Known(1),
                    reason: "wanted".to_owned(),
                    priority: 2,
                    expires_in_s: Some(3600),
                },
            ],
        }
    }

    fn upsert_into(&self, registry: &mut Registry, now: DateTime<Utc>) {
        for z in &self.zones {
            let kind = ZoneKind::try_from(i32::from(z.kind % 7)).expect("0..7 are zone kinds");
            registry.upsert(RegistryEntity::Zone(Zone {
                id: id("z", z.id),
                kind,
                name: z.path.last().cloned().unwrap_or_default(),
                parent_id: z.parent.map(|p| id("z", p)),
                path: z.path.clone(),
                police_unit: z.police_unit.clone(),
                boundary: None,
            }));
        }
        for t in &self.teams {
            let members = t
                .members
                .iter()
                .map(|(member, role, name, phone)| Member {
                    id: id("m", *member),
                    name: name.clone(),
                    role: MemberRole::try_from(i32::from(role % 4)).expect("0..4 are roles"),
                    phone: phone.clone(),
                })
                .collect();
            registry.upsert(RegistryEntity::Team(Team {
                id: id("t", t.id),
                zone_id: id("z", t.zone),
                name: t.name.clone(),
                members,
                on_duty_member_id: t.on_duty.map(|m| id("m", m)),
            }));
        }
        for c in &self.cameras {
            registry.upsert(RegistryEntity::Camera(Camera {
                id: id("cam-", c.id),
                zone_id: id("z", c.zone),
                site_id: c.site.map(|n| id("site-", n)),
                position: GeoPoint::new(c.latitude, c.longitude)
                    .unwrap_or(GeoPoint::new(20.0, 105.0).expect("on the globe")),
                kind: CameraKind::PlateReader,
                owner: CameraOwner::Police,
                installed_on: NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date"),
            }));
        }
        for w in &self.watchlist {
            let Ok(plate) = normalize_plate(w.plate.text()) else {
                continue;
            };
            registry.upsert(RegistryEntity::Watchlist(WatchlistEntry {
                id: id("w", w.id),
                plate,
                reason: w.reason.clone(),
                priority: w.priority,
                expires_at: w
                    .expires_in_s
                    .map(|s| now + TimeDelta::seconds(i64::from(s))),
                owner_zone_id: id("z", 0),
                created_by: None,
            }));
        }
    }
}

impl Scenario {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_824_000 + i64::from(self.now_offset_s), 0)
            .expect("within chrono's range")
    }

    fn policy(&self) -> Policy {
        let default = Policy::default();
        let p = &self.policy;
        Policy {
            late_after: seconds(p.late_after_s, default.late_after),
            max_future_skew: seconds(p.max_future_skew_s, default.max_future_skew),
            max_age: seconds(p.max_age_s, default.max_age),
            max_bytes: p.max_bytes.map_or(default.max_bytes, usize::from),
            max_labels: p.max_labels.map_or(default.max_labels, usize::from),
            max_label_len: p.max_label_len.map_or(default.max_label_len, usize::from),
        }
    }

    fn registry(&self, now: DateTime<Utc>) -> Registry {
        let mut registry = Registry::default();
        Records::province().upsert_into(&mut registry, now);
        self.records.upsert_into(&mut registry, now);
        for &(kind, n) in &self.removals {
            let (kind, prefix) = [
                ("zone", "z"),
                ("team", "t"),
                ("camera", "cam-"),
                ("watchlist", "w"),
            ][usize::from(kind % 4)];
            registry.remove(&format!("{kind}/{}", id(prefix, n)));
        }
        registry
    }

    fn payload(&self, now: DateTime<Utc>) -> Vec<u8> {
        let (seed, camera, site, age_s, read, labels) = match &self.detection {
            DetectionSpec::Raw(bytes) => return bytes.clone(),
            DetectionSpec::Built {
                seed,
                camera,
                site,
                age_s,
                read,
                labels,
            } => (seed, camera, site, age_s, read, labels),
        };
        let mut factory = DetectionFactory::new(*seed);
        let camera = id("cam-", *camera);
        let at = now - TimeDelta::seconds(i64::from(*age_s));
        let mut detection = match read {
            None => factory.detection(&camera, at),
            Some(ReadSpec::Watched { entry, confused }) => {
                let province = Records::province();
                let watchlist: Vec<&WatchSpec> = province
                    .watchlist
                    .iter()
                    .chain(&self.records.watchlist)
                    .collect();
                let plate = watchlist[usize::from(*entry) % watchlist.len()]
                    .plate
                    .text();
                factory.plate_read(&camera, at, plate, *confused)
            }
            Some(ReadSpec::Text(text)) => factory.plate_read(&camera, at, text, false),
        };
        detection.site_id = site.map(|n| id("site-", n)).unwrap_or_default();
        detection.labels.extend(labels.iter().cloned());
        detection.encode_to_vec()
    }
}

/// A policy duration as a bound; `None` when beyond chrono's range, which
/// bounds nothing.
fn bound(duration: Duration) -> Option<TimeDelta> {
    TimeDelta::from_std(duration).ok()
}

fn exceeds(delta: TimeDelta, limit: Duration) -> bool {
    bound(limit).is_some_and(|limit| delta > limit)
}

/// The village-level zone's commune: up through village-level zones only,
/// each visited once.
fn commune_above<'a>(registry: &'a Registry, village: &Zone) -> Option<&'a Zone> {
    let mut seen = BTreeSet::new();
    let mut zone = registry.zone(&village.id)?;
    while zone.level() == ZoneLevel::Village {
        if !seen.insert(zone.id.clone()) {
            return None;
        }
        zone = registry.zone(zone.parent_id.as_deref()?)?;
    }
    (zone.level() == ZoneLevel::Commune).then_some(zone)
}

fuzz_target!(|scenario: Scenario| {
    let now = scenario.now();
    let policy = scenario.policy();
    let registry = scenario.registry(now);
    let payload = scenario.payload(now);
    let outcome = enrich(&registry, &payload, &policy, now);
    eprintln!(
        "EXPLAIN {}",
        match &outcome {
            Ok(e) => format!(
                "ok alerts={} fuzzy={} plate={} team={}",
                e.alerts.len(),
                e.alerts
                    .iter()
                    .filter(|a| a.hit.as_ref().unwrap().fuzzy)
                    .count(),
                e.event.detection.as_ref().unwrap().plate.is_some(),
                e.event.team.is_some()
            ),
            Err(r) => format!("{} {r}", r.reason()),
        }
    );

    // Each check enrich makes, in its order: a rejection names the first
    // that fails; an acceptance passed them all.
    let reason = outcome.as_ref().err().map(Rejection::reason);
    if let Some(reason) = reason {
        assert!(Rejection::REASONS.contains(&reason), "{reason}");
    }
    let too_large = payload.len() > policy.max_bytes;
    assert_eq!(too_large, reason == Some("too_large"));
    if too_large {
        return;
    }
    let decoded = pb::Detection::decode(payload.as_slice());
    assert_eq!(decoded.is_err(), reason == Some("malformed"));
    let Ok(mut wire) = decoded else {
        return;
    };
    let labels_over = wire.labels.len() > policy.max_labels
        || wire
            .labels
            .iter()
            .any(|(k, v)| k.len() > policy.max_label_len || v.len() > policy.max_label_len);
    assert_eq!(labels_over, reason == Some("too_many_labels"));
    if labels_over {
        return;
    }
    if let Some(plate) = wire.plate.as_mut() {
        plate.normalized = normalize_plate(&plate.text)
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
    }
    let detection = vigil_domain::Detection::try_from(wire.clone());
    assert_eq!(detection.is_err(), reason == Some("invalid"));
    let Ok(detection) = detection else {
        return;
    };
    let age = now - detection.captured_at;
    let ahead = exceeds(-age, policy.max_future_skew);
    assert_eq!(ahead, reason == Some("future_timestamp"));
    if ahead {
        return;
    }
    let old = exceeds(age, policy.max_age);
    assert_eq!(old, reason == Some("too_old"));
    if old {
        return;
    }
    let camera = registry.camera(&detection.camera_id);
    assert_eq!(camera.is_none(), reason == Some("unknown_camera"));
    let Some(camera) = camera else {
        return;
    };
    // A camera with a site is reported by that site only; one without is
    // reported by any.
    let foreign = camera
        .site_id
        .as_deref()
        .is_some_and(|site| detection.site_id.as_deref() != Some(site));
    assert_eq!(foreign, reason == Some("site_mismatch"));
    if foreign {
        return;
    }
    let village = registry
        .zone(&camera.zone_id)
        .filter(|z| z.level() == ZoneLevel::Village);
    let commune = village.and_then(|v| commune_above(&registry, v));
    assert_eq!(commune.is_none(), reason == Some("unplaced_camera"));
    let (Some(village), Some(commune)) = (village, commune) else {
        return;
    };

    // Accepted: placed as the registry says.
    let enriched = outcome.expect("every check passed");
    let event = &enriched.event;
    assert_eq!(event.detection.as_ref(), Some(&wire));
    assert_eq!(event.village_id, village.id);
    assert_eq!(event.zone_path, village.path);
    assert_eq!(event.commune_id, commune.id);
    assert_eq!(
        event.province_id,
        commune.parent_id.clone().unwrap_or_default()
    );
    assert_eq!(
        event.police_unit,
        commune.police_unit.clone().unwrap_or_default()
    );
    assert_eq!(
        event.team.as_ref().map(|t| t.team_id.as_str()),
        registry.team_for_zone(&village.id).map(|t| t.id.as_str())
    );
    if let Some(team) = registry.team_for_zone(&village.id) {
        assert_eq!(team.zone_id, village.id);
    }
    assert_eq!(
        (event.latitude, event.longitude),
        (camera.position.latitude, camera.position.longitude)
    );
    assert_eq!(event.late, exceeds(age, policy.late_after));

    // Alerts: one per active entry owning a zone the detection lies in, whose
    // plate the read matches, exactly or else through the OCR-confusion key,
    // and none other.
    let read = detection.plate.as_ref().map(|p| p.text.as_str());
    let exact = read.and_then(|text| normalize_plate(text).ok());
    let expected: BTreeSet<(String, bool)> = registry
        .watchlist()
        .filter(|entry| entry.is_active(now))
        .filter(|entry| registry.is_within(&village.id, &entry.owner_zone_id))
        .filter_map(|entry| {
            let read = read?;
            if exact
                .as_ref()
                .is_some_and(|p| p.as_str() == entry.plate.as_str())
            {
                Some((entry.id.clone(), false))
            } else if ocr_key(read) == ocr_key(entry.plate.as_str()) {
                Some((entry.id.clone(), true))
            } else {
                None
            }
        })
        .collect();
    let raised: Vec<(String, bool)> = enriched
        .alerts
        .iter()
        .map(|alert| {
            let hit = alert.hit.as_ref().expect("a watchlist alert has its hit");
            assert_eq!(alert.kind, i32::from(pb::AlertKind::Watchlist));
            assert_eq!(alert.event_id, wire.event_id);
            assert_eq!(alert.commune_id, event.commune_id);
            assert_eq!(alert.zone_path, event.zone_path);
            let entry = registry
                .watchlist_entry(&hit.entry_id)
                .expect("the hit names a registry entry");
            assert_eq!(hit.plate_normalized, entry.plate.as_str());
            (hit.entry_id.clone(), hit.fuzzy)
        })
        .collect();
    assert_eq!(raised.len(), expected.len(), "an entry raised twice");
    assert_eq!(raised.into_iter().collect::<BTreeSet<_>>(), expected);
    assert_eq!(event.watchlist_hits.len(), enriched.alerts.len());
    let ids: BTreeSet<&str> = enriched
        .alerts
        .iter()
        .map(|a| a.alert_id.as_str())
        .collect();
    assert_eq!(ids.len(), enriched.alerts.len(), "alert ids are distinct");

    // Redelivered, the same alerts, with the same ids.
    let again = enrich(&registry, &payload, &policy, now).expect("accepted again");
    assert_eq!(again.alerts, enriched.alerts);
});
