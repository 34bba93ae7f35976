//! `vigil-enrich`: enrichment as a pure function — one detection's bytes
//! and the registry in, an enriched detection and its alerts (or the reason
//! it was rejected) out. The enricher service wraps it with Kafka; this
//! crate links no Kafka or database client, so every rule here is
//! unit-tested and fuzzed (`fuzz/fuzz_targets/enrich.rs`) without them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prost::Message as _;
use uuid::Uuid;
use vigil_domain::plate::normalize_plate;
use vigil_domain::{Camera, Detection, Registry, WatchMatch, ZoneLevel};
use vigil_proto::v1 as pb;

/// Limits a detection must respect.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Arriving this much after capture marks an event late.
    pub late_after: Duration,
    /// Captured further in the future than this (clock skew) is rejected.
    pub max_future_skew: Duration,
    /// Captured longer ago than this is rejected (older than retention).
    pub max_age: Duration,
    /// Largest accepted record.
    pub max_bytes: usize,
    /// Most labels a detection may carry.
    pub max_labels: usize,
    /// Longest label key or value, in bytes.
    pub max_label_len: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            late_after: Duration::from_secs(10 * 60),
            max_future_skew: Duration::from_secs(5 * 60),
            max_age: Duration::from_secs(90 * 24 * 3600),
            max_bytes: 64 * 1024,
            max_labels: 64,
            max_label_len: 1024,
        }
    }
}

/// Why a detection was rejected; `reason()` is the DLQ reason code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("record of {size} bytes exceeds the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("not a vigil.v1.Detection: {0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{count} labels (limit {max}) or a label longer than {max_len} bytes")]
    Labels {
        count: usize,
        max: usize,
        max_len: usize,
    },
    #[error("camera {0:?} is not in the registry")]
    UnknownCamera(String),
    #[error("camera {camera_id:?} is in zone {zone_id:?}, which has no commune in the registry")]
    UnplacedCamera { camera_id: String, zone_id: String },
    /// The registry places the camera at another site than the edge agent
    /// that accepted the detection (or the detection names no site): a
    /// site may only speak for its own cameras.
    #[error("camera {camera_id:?} belongs to site {camera_site:?}, not to site {detection_site:?}")]
    SiteMismatch {
        camera_id: String,
        camera_site: String,
        detection_site: String,
    },
    #[error("captured_at {captured_at} is {ahead_s} s in the future")]
    FutureTimestamp {
        captured_at: DateTime<Utc>,
        ahead_s: i64,
    },
    #[error("captured_at {captured_at} is older than the {max_age_days}-day retention")]
    TooOld {
        captured_at: DateTime<Utc>,
        max_age_days: u64,
    },
}

impl Rejection {
    /// Every reason [`Rejection::reason`] can give.
    pub const REASONS: [&'static str; 9] = [
        "too_large",
        "malformed",
        "invalid",
        "too_many_labels",
        "unknown_camera",
        "unplaced_camera",
        "site_mismatch",
        "future_timestamp",
        "too_old",
    ];

    /// Machine-readable reason, for the DLQ record and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) => "malformed",
            Self::Invalid(_) => "invalid",
            Self::Labels { .. } => "too_many_labels",
            Self::UnknownCamera(_) => "unknown_camera",
            Self::UnplacedCamera { .. } => "unplaced_camera",
            Self::SiteMismatch { .. } => "site_mismatch",
            Self::FutureTimestamp { .. } => "future_timestamp",
            Self::TooOld { .. } => "too_old",
        }
    }
}

/// An enriched detection and the alerts it raises.
#[derive(Debug, Clone, PartialEq)]
pub struct Enriched {
    /// The detection with its place, team and watchlist hits.
    pub event: pb::EnrichedDetection,
    /// One watchlist alert per hit.
    pub alerts: Vec<pb::Alert>,
}

/// Namespace of alert ids: an alert's id is derived from its event and
/// watchlist entry, so a redelivered event raises an alert with the same id.
const ALERT_NAMESPACE: Uuid = Uuid::from_u128(0x5f1c_0a7e_3d2b_4c11_9a6e_7b8f_0c1d_2e3f);

/// Validates and enriches one detection record at time `now`.
pub fn enrich(
    registry: &Registry,
    payload: &[u8],
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Enriched, Rejection> {
    if payload.len() > policy.max_bytes {
        return Err(Rejection::TooLarge {
            size: payload.len(),
            max: policy.max_bytes,
        });
    }
    let mut wire =
        pb::Detection::decode(payload).map_err(|e| Rejection::Malformed(e.to_string()))?;
    let labels_too_long = wire
        .labels
        .iter()
        .any(|(k, v)| k.len() > policy.max_label_len || v.len() > policy.max_label_len);
    if wire.labels.len() > policy.max_labels || labels_too_long {
        return Err(Rejection::Labels {
            count: wire.labels.len(),
            max: policy.max_labels,
            max_len: policy.max_label_len,
        });
    }
    // The registry's normalization is authoritative, whatever the edge did.
    if let Some(plate) = wire.plate.as_mut() {
        plate.normalized = normalize_plate(&plate.text)
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
    }
    let detection =
        Detection::try_from(wire.clone()).map_err(|e| Rejection::Invalid(e.to_string()))?;

    let ahead = detection.captured_at - now;
    if ahead > limit(policy.max_future_skew) {
        return Err(Rejection::FutureTimestamp {
            captured_at: detection.captured_at,
            ahead_s: ahead.num_seconds(),
        });
    }
    let age = now - detection.captured_at;
    if age > limit(policy.max_age) {
        return Err(Rejection::TooOld {
            captured_at: detection.captured_at,
            max_age_days: policy.max_age.as_secs() / 86_400,
        });
    }

    let camera = registry
        .camera(&detection.camera_id)
        .ok_or_else(|| Rejection::UnknownCamera(detection.camera_id.clone()))?;
    check_site(camera, detection.site_id.as_deref())?;
    let unplaced = || Rejection::UnplacedCamera {
        camera_id: camera.id.clone(),
        zone_id: camera.zone_id.clone(),
    };
    let village = registry
        .zone(&camera.zone_id)
        .filter(|z| z.level() == ZoneLevel::Village)
        .ok_or_else(unplaced)?;
    let commune = registry.commune_of(&village.id).ok_or_else(unplaced)?;
    let team = registry
        .team_for_zone(&village.id)
        .map(|team| pb::ResponsibleTeam {
            team_id: team.id.clone(),
            team_name: team.name.clone(),
            captain_name: team.captain().map(|m| m.name.clone()).unwrap_or_default(),
            on_duty_name: team.on_duty().map(|m| m.name.clone()).unwrap_or_default(),
            on_duty_phone: team.on_duty().map(|m| m.phone.clone()).unwrap_or_default(),
        });

    // An entry belongs to a zone and matches only within it: a commune's
    // entry in its villages, a village's in that village, the province's
    // everywhere.
    let hits: Vec<pb::WatchlistHit> = detection
        .plate
        .as_ref()
        .map(|plate| registry.watch_matches(&plate.text, now))
        .unwrap_or_default()
        .iter()
        .filter(|watch| registry.is_within(&village.id, &watch.entry.owner_zone_id))
        .map(hit)
        .collect();
    let late = age > limit(policy.late_after);
    let event = pb::EnrichedDetection {
        detection: Some(wire),
        province_id: commune.parent_id.clone().unwrap_or_default(),
        commune_id: commune.id.clone(),
        village_id: village.id.clone(),
        zone_path: village.path.clone(),
        team,
        police_unit: commune.police_unit.clone().unwrap_or_default(),
        watchlist_hits: hits,
        late,
        delay_ms: u64::try_from(age.num_milliseconds()).unwrap_or(0),
        enriched_at: Some(std::time::SystemTime::from(now).into()),
        latitude: camera.position.latitude,
        longitude: camera.position.longitude,
    };
    let alerts = event
        .watchlist_hits
        .iter()
        .map(|hit| watchlist_alert(&event, hit, now))
        .collect();
    Ok(Enriched { event, alerts })
}

/// A camera the registry places at a site may only be reported by that
/// site's edge agent (which stamps its id on every detection it accepts);
/// otherwise anyone on any site's network could speak for any camera. A
/// camera with no site in the registry is accepted from any site, so
/// registries that do not record sites keep working.
fn check_site(camera: &Camera, detection_site: Option<&str>) -> Result<(), Rejection> {
    match camera.site_id.as_deref().filter(|site| !site.is_empty()) {
        Some(site) if detection_site != Some(site) => Err(Rejection::SiteMismatch {
            camera_id: camera.id.clone(),
            camera_site: site.to_owned(),
            detection_site: detection_site.unwrap_or_default().to_owned(),
        }),
        _ => Ok(()),
    }
}

/// A policy duration as a bound on time differences; one beyond chrono's
/// range (hundreds of millions of years) bounds nothing.
fn limit(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

fn hit(watch: &WatchMatch<'_>) -> pb::WatchlistHit {
    pb::WatchlistHit {
        entry_id: watch.entry.id.clone(),
        plate_normalized: watch.entry.plate.as_str().to_owned(),
        priority: watch.entry.priority.into(),
        reason: watch.entry.reason.clone(),
        fuzzy: watch.fuzzy,
    }
}

fn watchlist_alert(
    event: &pb::EnrichedDetection,
    hit: &pb::WatchlistHit,
    now: DateTime<Utc>,
) -> pb::Alert {
    let detection = event.detection.as_ref();
    let event_id = detection.map(|d| d.event_id.clone()).unwrap_or_default();
    let camera_id = detection.map(|d| d.camera_id.clone()).unwrap_or_default();
    let read = detection
        .and_then(|d| d.plate.as_ref())
        .map(|p| p.text.clone())
        .unwrap_or_default();
    let how = if hit.fuzzy {
        "possible match (OCR confusion) for"
    } else {
        "match for"
    };
    let late = if event.late {
        format!(" (late by {} s)", event.delay_ms / 1000)
    } else {
        String::new()
    };
    pb::Alert {
        alert_id: Uuid::new_v5(
            &ALERT_NAMESPACE,
            format!("{event_id}/{}", hit.entry_id).as_bytes(),
        )
        .to_string(),
        kind: pb::AlertKind::Watchlist.into(),
        raised_at: Some(std::time::SystemTime::from(now).into()),
        priority: hit.priority,
        camera_id: camera_id.clone(),
        commune_id: event.commune_id.clone(),
        village_id: event.village_id.clone(),
        zone_path: event.zone_path.clone(),
        team: event.team.clone(),
        hit: Some(hit.clone()),
        event_id,
        summary: format!(
            "Plate read {read:?} is a {how} watch-listed {} ({}), seen by {camera_id} in {}{late}",
            hit.plate_normalized,
            hit.reason,
            event.zone_path.join(" > ")
        ),
        change: None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use vigil_domain::{
        CameraKind, CameraOwner, GeoPoint, Member, MemberRole, RegistryEntity, Team,
        WatchlistEntry, Zone, ZoneKind,
    };
    use vigil_synth::traffic::DetectionFactory;

    use super::*;

    fn zone(
        id: &str,
        kind: ZoneKind,
        parent: Option<&str>,
        path: &[&str],
        unit: Option<&str>,
    ) -> RegistryEntity {
        RegistryEntity::Zone(Zone {
            id: id.into(),
            kind,
            name: path.last().copied().unwrap_or_default().into(),
            parent_id: parent.map(Into::into),
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            police_unit: unit.map(Into::into),
            boundary: None,
        })
    }

    fn registry() -> Registry {
        let mut registry = Registry::default();
        registry.upsert(zone("th", ZoneKind::Province, None, &["Thanh Hoa"], None));
        registry.upsert(zone(
            "th.bt",
            ZoneKind::Commune,
            Some("th"),
            &["Thanh Hoa", "Ba Thuoc"],
            Some("Cong an xa Ba Thuoc"),
        ));
        registry.upsert(zone(
            "th.bt.v001",
            ZoneKind::Village,
            Some("th.bt"),
            &["Thanh Hoa", "Ba Thuoc", "Thon 1"],
            None,
        ));
        let member = |id: &str, role, name: &str| Member {
            id: id.into(),
            name: name.into(),
            role,
            phone: "0912345678".into(),
        };
        registry.upsert(RegistryEntity::Team(Team {
            id: "th.bt.v001.team".into(),
            zone_id: "th.bt.v001".into(),
            name: "To ANTT Thon 1".into(),
            members: vec![
                member("m1", MemberRole::Captain, "Le Van An"),
                member("m2", MemberRole::Deputy, "Ha Thi Binh"),
            ],
            on_duty_member_id: Some("m2".into()),
        }));
        registry.upsert(RegistryEntity::Camera(Camera {
            id: "cam-000001".into(),
            zone_id: "th.bt.v001".into(),
            site_id: None,
            position: GeoPoint::new(20.35, 105.25).unwrap(),
            kind: CameraKind::PlateReader,
            owner: CameraOwner::Police,
            installed_on: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        }));
        registry.upsert(RegistryEntity::Camera(Camera {
            id: "cam-000002".into(),
            zone_id: "th.bt.v001".into(),
            site_id: Some("site-thon-1".into()),
            position: GeoPoint::new(20.35, 105.25).unwrap(),
            kind: CameraKind::Fixed,
            owner: CameraOwner::Commune,
            installed_on: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        }));
        // A second village in Ba Thuoc, and a second commune, each with a
        // camera: where a commune's or a village's entry must stay quiet.
        registry.upsert(zone(
            "th.bt.v002",
            ZoneKind::Village,
            Some("th.bt"),
            &["Thanh Hoa", "Ba Thuoc", "Thon 2"],
            None,
        ));
        registry.upsert(zone(
            "th.ls",
            ZoneKind::Commune,
            Some("th"),
            &["Thanh Hoa", "Lam Son"],
            Some("Cong an xa Lam Son"),
        ));
        registry.upsert(zone(
            "th.ls.v001",
            ZoneKind::Village,
            Some("th.ls"),
            &["Thanh Hoa", "Lam Son", "Thon 1"],
            None,
        ));
        for (camera, village) in [("cam-000003", "th.bt.v002"), ("cam-000004", "th.ls.v001")] {
            registry.upsert(RegistryEntity::Camera(Camera {
                id: camera.into(),
                zone_id: village.into(),
                site_id: None,
                position: GeoPoint::new(20.0, 105.0).unwrap(),
                kind: CameraKind::PlateReader,
                owner: CameraOwner::Police,
                installed_on: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            }));
        }
        for (id, plate, owner) in [
            ("w-stolen", "36A12345", "th"),
            ("w-ba-thuoc", "36B11111", "th.bt"),
            ("w-thon-1", "36C22222", "th.bt.v001"),
        ] {
            registry.upsert(RegistryEntity::Watchlist(WatchlistEntry {
                id: id.into(),
                plate: plate.parse().unwrap(),
                reason: "stolen car".into(),
                priority: 1,
                expires_at: None,
                owner_zone_id: owner.into(),
                created_by: None,
            }));
        }
        registry
    }

    /// The watchlist entries a read of `plate` by `camera` hits, and the
    /// alerts' entries (one alert per hit).
    fn hits_at(camera: &str, plate: &str) -> Vec<String> {
        let detection = DetectionFactory::new(12).plate_read(camera, now(), plate, false);
        let enriched =
            enrich(&registry(), &encoded(&detection), &Policy::default(), now()).unwrap();
        let hits: Vec<String> = enriched
            .event
            .watchlist_hits
            .iter()
            .map(|hit| hit.entry_id.clone())
            .collect();
        let alerted: Vec<String> = enriched
            .alerts
            .iter()
            .filter_map(|alert| alert.hit.as_ref().map(|hit| hit.entry_id.clone()))
            .collect();
        assert_eq!(hits, alerted);
        hits
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 13, 0, 0).unwrap()
    }

    fn encoded(detection: &pb::Detection) -> Vec<u8> {
        detection.encode_to_vec()
    }

    fn read(plate: &str, captured_at: DateTime<Utc>, confused: bool) -> pb::Detection {
        DetectionFactory::new(1).plate_read("cam-000001", captured_at, plate, confused)
    }

    #[test]
    fn adds_zone_team_police_and_position() {
        let detection = DetectionFactory::new(3).detection("cam-000001", now());
        let enriched =
            enrich(&registry(), &encoded(&detection), &Policy::default(), now()).unwrap();
        let event = &enriched.event;
        assert_eq!(
            (event.province_id.as_str(), event.commune_id.as_str()),
            ("th", "th.bt")
        );
        assert_eq!(event.village_id, "th.bt.v001");
        assert_eq!(event.zone_path, ["Thanh Hoa", "Ba Thuoc", "Thon 1"]);
        assert_eq!(event.police_unit, "Cong an xa Ba Thuoc");
        let team = event.team.as_ref().unwrap();
        assert_eq!(
            (team.captain_name.as_str(), team.on_duty_name.as_str()),
            ("Le Van An", "Ha Thi Binh")
        );
        assert_eq!((event.latitude, event.longitude), (20.35, 105.25));
        assert!(!event.late);
    }

    #[test]
    fn a_watch_listed_plate_raises_one_alert_for_the_team() {
        let detection = read("36A12345", now(), false);
        let enriched =
            enrich(&registry(), &encoded(&detection), &Policy::default(), now()).unwrap();
        assert_eq!(enriched.alerts.len(), 1);
        let alert = &enriched.alerts[0];
        assert_eq!(alert.team.as_ref().unwrap().team_id, "th.bt.v001.team");
        assert_eq!(alert.commune_id, "th.bt");
        assert!(!alert.hit.as_ref().unwrap().fuzzy);
        // Redelivery raises the same alert id.
        let again = enrich(&registry(), &encoded(&detection), &Policy::default(), now()).unwrap();
        assert_eq!(again.alerts[0].alert_id, alert.alert_id);
    }

    #[test]
    fn a_communes_entry_matches_only_within_the_commune() {
        // cam-000001 and cam-000003: two villages of Ba Thuoc.
        assert_eq!(hits_at("cam-000001", "36B11111"), ["w-ba-thuoc"]);
        assert_eq!(hits_at("cam-000003", "36B11111"), ["w-ba-thuoc"]);
        // cam-000004: Lam Son, another commune.
        assert!(hits_at("cam-000004", "36B-111.11").is_empty());
    }

    #[test]
    fn a_province_entry_matches_in_every_commune() {
        for camera in ["cam-000001", "cam-000003", "cam-000004"] {
            assert_eq!(hits_at(camera, "36A12345"), ["w-stolen"], "{camera}");
        }
    }

    #[test]
    fn a_villages_entry_matches_only_in_that_village() {
        assert_eq!(hits_at("cam-000001", "36C22222"), ["w-thon-1"]);
        for camera in ["cam-000003", "cam-000004"] {
            assert!(hits_at(camera, "36C22222").is_empty(), "{camera}");
        }
    }

    #[test]
    fn an_ocr_confused_read_matches_and_says_so() {
        let mut detection = read("36A12345", now(), false);
        detection.plate.as_mut().unwrap().text = "36A-l23.4S".into();
        let enriched =
            enrich(&registry(), &encoded(&detection), &Policy::default(), now()).unwrap();
        assert_eq!(enriched.alerts.len(), 1);
        assert!(enriched.alerts[0].hit.as_ref().unwrap().fuzzy);
        assert!(
            enriched.alerts[0].summary.contains("OCR confusion"),
            "{}",
            enriched.alerts[0].summary
        );
    }

    #[test]
    fn late_events_are_flagged_and_still_checked() {
        let captured = now() - chrono::Duration::hours(3);
        let detection = read("36A12345", captured, false);
        let enriched =
            enrich(&registry(), &encoded(&detection), &Policy::default(), now()).unwrap();
        assert!(enriched.event.late);
        assert_eq!(enriched.event.delay_ms, 3 * 3_600_000);
        assert_eq!(enriched.alerts.len(), 1);
        assert!(enriched.alerts[0].summary.contains("late by 10800 s"));
    }

    #[test]
    fn bad_input_is_rejected_with_a_reason() {
        let policy = Policy::default();
        let reason = |payload: &[u8]| {
            enrich(&registry(), payload, &policy, now())
                .unwrap_err()
                .reason()
        };
        assert_eq!(reason(b"\xff\xff\xff not protobuf"), "malformed");

        let mut unknown = DetectionFactory::new(4).detection("cam-999999", now());
        assert_eq!(reason(&encoded(&unknown)), "unknown_camera");
        unknown.camera_id = String::new();
        assert_eq!(reason(&encoded(&unknown)), "invalid");

        let future =
            DetectionFactory::new(5).detection("cam-000001", now() + chrono::Duration::hours(1));
        assert_eq!(reason(&encoded(&future)), "future_timestamp");
        let ancient =
            DetectionFactory::new(6).detection("cam-000001", now() - chrono::Duration::days(400));
        assert_eq!(reason(&encoded(&ancient)), "too_old");

        let mut labelled = DetectionFactory::new(7).detection("cam-000001", now());
        labelled
            .labels
            .extend((0..100).map(|i| (format!("k{i}"), "v".to_owned())));
        assert_eq!(reason(&encoded(&labelled)), "too_many_labels");
        assert_eq!(reason(&vec![0; policy.max_bytes + 1]), "too_large");
    }

    #[test]
    fn only_the_cameras_own_site_may_report_it() {
        let policy = Policy::default();
        let from = |site: &str| {
            let mut detection = DetectionFactory::new(10).detection("cam-000002", now());
            detection.site_id = site.to_owned();
            enrich(&registry(), &encoded(&detection), &policy, now())
        };
        let own = from("site-thon-1").unwrap();
        assert_eq!(own.event.village_id, "th.bt.v001");
        assert_eq!(
            from("site-elsewhere").unwrap_err(),
            Rejection::SiteMismatch {
                camera_id: "cam-000002".into(),
                camera_site: "site-thon-1".into(),
                detection_site: "site-elsewhere".into(),
            }
        );
        // A detection that names no site did not come through the camera's
        // edge agent, which always stamps its own.
        assert_eq!(from("").unwrap_err().reason(), "site_mismatch");
    }

    #[test]
    fn a_camera_without_a_site_is_accepted_from_any_site() {
        for site in ["", "site-thon-1", "site-elsewhere"] {
            let mut detection = DetectionFactory::new(11).detection("cam-000001", now());
            detection.site_id = site.to_owned();
            enrich(&registry(), &encoded(&detection), &Policy::default(), now()).unwrap();
        }
    }

    #[test]
    fn a_limit_beyond_chronos_range_bounds_nothing() {
        let policy = Policy {
            max_future_skew: Duration::MAX,
            max_age: Duration::MAX,
            late_after: Duration::MAX,
            ..Policy::default()
        };
        let ahead =
            DetectionFactory::new(8).detection("cam-000001", now() + chrono::Duration::hours(1));
        let ancient =
            DetectionFactory::new(9).detection("cam-000001", now() - chrono::Duration::days(400));
        for detection in [ahead, ancient] {
            let enriched = enrich(&registry(), &encoded(&detection), &policy, now()).unwrap();
            assert!(!enriched.event.late);
        }
    }

    #[test]
    fn every_reason_is_listed_once() {
        let at = now();
        let rejections = [
            Rejection::TooLarge { size: 2, max: 1 },
            Rejection::Malformed(String::new()),
            Rejection::Invalid(String::new()),
            Rejection::Labels {
                count: 0,
                max: 0,
                max_len: 0,
            },
            Rejection::UnknownCamera(String::new()),
            Rejection::UnplacedCamera {
                camera_id: String::new(),
                zone_id: String::new(),
            },
            Rejection::SiteMismatch {
                camera_id: String::new(),
                camera_site: String::new(),
                detection_site: String::new(),
            },
            Rejection::FutureTimestamp {
                captured_at: at,
                ahead_s: 0,
            },
            Rejection::TooOld {
                captured_at: at,
                max_age_days: 0,
            },
        ];
        let reasons: Vec<&str> = rejections.iter().map(Rejection::reason).collect();
        assert_eq!(reasons, Rejection::REASONS);
    }
}
