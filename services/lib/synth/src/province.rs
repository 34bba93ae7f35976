//! The synthetic province.

use chrono::{Days, NaiveDate};
use rand::distr::weighted::WeightedIndex;
use rand::prelude::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vigil_domain::{
    Boundary, Camera, CameraKind, CameraOwner, GeoPoint, Member, MemberRole, Registry,
    RegistryEntity, Team, Zone, ZoneKind,
};

use crate::{names, outline};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvinceSpec {
    pub cameras: usize,
    pub seed: u64,
}

impl ProvinceSpec {
    /// Communes and wards after the 2025 merger.
    pub const COMMUNES: usize = 166;
    /// Of those, wards (urban).
    pub const WARDS: usize = 19;
    /// Village-level zones, one security and order protection team each.
    pub const VILLAGES: usize = 4_351;
    /// 13,053 members over 4,351 teams.
    pub const MEMBERS_PER_TEAM: usize = 3;
}

impl Default for ProvinceSpec {
    fn default() -> Self {
        Self {
            cameras: 10_000,
            seed: 36,
        }
    }
}

/// Thanh Hoa's bounding box (south, west, north, east).
const BOUNDS: (f64, f64, f64, f64) = (19.28, 104.37, 20.67, 106.07);
/// Towns wards cluster around: Thanh Hoa city, Sam Son, Bim Son, Nghi Son.
const TOWNS: &[(f64, f64)] = &[
    (19.807, 105.776),
    (19.741, 105.903),
    (20.078, 105.861),
    (19.405, 105.783),
];
/// West of this longitude the province is mountainous and sparse.
const MOUNTAIN_LONGITUDE: f64 = 105.35;
const PROVINCE_ID: &str = "th";
const PROVINCE_NAME: &str = "Thanh Hóa";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Terrain {
    Town,
    Lowland,
    Mountain,
}

impl Terrain {
    /// Relative camera density: towns have many more cameras per village.
    fn camera_weight(self) -> f64 {
        match self {
            Self::Town => 6.0,
            Self::Lowland => 1.5,
            Self::Mountain => 0.4,
        }
    }
}

struct Commune {
    zone: Zone,
    terrain: Terrain,
    /// (latitude, longitude), inside the province.
    centre: (f64, f64),
    /// Its part of the province (also the zone's boundary).
    cell: Boundary,
}

/// Generates the province registry for `spec`.
pub fn province(spec: &ProvinceSpec) -> Registry {
    // Separate streams, so the zones and teams do not depend on how many
    // cameras are asked for.
    let mut zone_rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut camera_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0xCA3E_7A5E);

    let mut registry = Registry::default();
    registry.upsert(RegistryEntity::Zone(Zone {
        id: PROVINCE_ID.to_owned(),
        kind: ZoneKind::Province,
        name: PROVINCE_NAME.to_owned(),
        parent_id: None,
        path: vec![PROVINCE_NAME.to_owned()],
        police_unit: Some("Công an tỉnh Thanh Hóa".to_owned()),
        boundary: Some(outline::province()),
    }));

    let communes = communes(&mut zone_rng);
    let village_counts = village_counts(&mut zone_rng, &communes);
    let mut villages = Vec::with_capacity(ProvinceSpec::VILLAGES);
    for (commune, count) in communes.iter().zip(village_counts) {
        registry.upsert(RegistryEntity::Zone(commune.zone.clone()));
        for index in 1..=count {
            let village = village(&mut zone_rng, commune, index);
            registry.upsert(RegistryEntity::Team(team(&mut zone_rng, &village.0)));
            registry.upsert(RegistryEntity::Zone(village.0.clone()));
            villages.push((village, commune));
        }
    }

    let weights: Vec<f64> = villages
        .iter()
        .map(|((_, terrain, _), _)| {
            terrain.camera_weight() * (0.2 + zone_rng.random::<f64>().powi(2) * 3.0)
        })
        .collect();
    let Ok(pick_village) = WeightedIndex::new(&weights) else {
        return registry;
    };
    for index in 1..=spec.cameras {
        let ((village, _, centre), commune) = &villages[pick_village.sample(&mut camera_rng)];
        registry.upsert(RegistryEntity::Camera(camera(
            &mut camera_rng,
            index,
            village,
            *centre,
            &commune.cell,
        )));
    }
    registry
}

fn communes(rng: &mut ChaCha8Rng) -> Vec<Commune> {
    let province_outline = outline::province();
    let mut used: Vec<String> = names::NAMED_COMMUNES
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    let mut fresh_name = |rng: &mut ChaCha8Rng| loop {
        let name = names::place(rng);
        if !used.contains(&name) {
            used.push(name.clone());
            return name;
        }
    };
    let mut communes = Vec::with_capacity(ProvinceSpec::COMMUNES);
    for index in 0..ProvinceSpec::COMMUNES {
        let is_ward = index < ProvinceSpec::WARDS;
        let name = match names::NAMED_COMMUNES
            .iter()
            .filter(|(_, ward)| *ward == is_ward)
            .nth(if is_ward {
                index
            } else {
                index - ProvinceSpec::WARDS
            }) {
            Some((name, _)) => (*name).to_owned(),
            None => fresh_name(rng),
        };
        let (terrain, centre) = if is_ward {
            let town = TOWNS[index % TOWNS.len()];
            (Terrain::Town, jitter(rng, town, 0.04))
        } else if name == "Bá Thước" {
            (Terrain::Mountain, (20.35, 105.25))
        } else {
            let point = (
                rng.random_range(BOUNDS.0..BOUNDS.2),
                rng.random_range(BOUNDS.1..BOUNDS.3),
            );
            let terrain = if point.1 < MOUNTAIN_LONGITUDE {
                Terrain::Mountain
            } else {
                Terrain::Lowland
            };
            (terrain, point)
        };
        let (kind, unit) = if is_ward {
            (ZoneKind::Ward, "phường")
        } else {
            (ZoneKind::Commune, "xã")
        };
        // A centre drawn in the bounding box may lie outside the outline.
        let (lon, lat) =
            outline::pulled_inside(&province_outline, outline::INTERIOR, (centre.1, centre.0));
        let centre = (lat, lon);
        communes.push(Commune {
            zone: Zone {
                id: format!("{PROVINCE_ID}.{}", names::slug(&name)),
                kind,
                police_unit: Some(format!("Công an {unit} {name}")),
                parent_id: Some(PROVINCE_ID.to_owned()),
                path: vec![PROVINCE_NAME.to_owned(), name.clone()],
                name,
                boundary: None,
            },
            terrain,
            centre,
            cell: province_outline.clone(),
        });
    }
    let sites: Vec<(f64, f64)> = communes.iter().map(|c| (c.centre.1, c.centre.0)).collect();
    for (commune, cell) in communes.iter_mut().zip(outline::cells(&sites)) {
        commune.zone.boundary = Some(cell.clone());
        commune.cell = cell;
    }
    communes
}

/// Splits the province's villages over the communes: every commune gets at
/// least a handful, lowland communes more than mountain ones, and the total
/// is exact.
fn village_counts(rng: &mut ChaCha8Rng, communes: &[Commune]) -> Vec<usize> {
    const MINIMUM: usize = 8;
    let raw: Vec<f64> = communes
        .iter()
        .map(|c| match c.terrain {
            Terrain::Town => rng.random_range(0.6..1.2),
            Terrain::Lowland => rng.random_range(0.8..1.6),
            Terrain::Mountain => rng.random_range(0.5..1.1),
        })
        .collect();
    let spare = ProvinceSpec::VILLAGES - MINIMUM * communes.len();
    let total: f64 = raw.iter().sum();
    let mut counts: Vec<usize> = raw
        .iter()
        .map(|r| MINIMUM + (spare as f64 * r / total).floor() as usize)
        .collect();
    let short = ProvinceSpec::VILLAGES - counts.iter().sum::<usize>();
    for count in counts.iter_mut().take(short) {
        *count += 1;
    }
    counts
}

fn village(rng: &mut ChaCha8Rng, commune: &Commune, index: usize) -> (Zone, Terrain, (f64, f64)) {
    let (kind, name) = match commune.terrain {
        Terrain::Town => (ZoneKind::ResidentialGroup, format!("Tổ dân phố {index}")),
        Terrain::Lowland => (ZoneKind::Village, format!("Thôn {index}")),
        Terrain::Mountain if rng.random_bool(0.5) => {
            (ZoneKind::Hamlet, format!("Bản {}", names::place(rng)))
        }
        Terrain::Mountain => (ZoneKind::Village, format!("Làng {}", names::place(rng))),
    };
    let spread = if commune.terrain == Terrain::Town {
        0.01
    } else {
        0.04
    };
    let centre = inside(
        &commune.cell,
        commune.centre,
        jitter(rng, commune.centre, spread),
    );
    let mut path = commune.zone.path.clone();
    path.push(name.clone());
    let zone = Zone {
        id: format!("{}.v{index:03}", commune.zone.id),
        kind,
        name,
        parent_id: Some(commune.zone.id.clone()),
        path,
        police_unit: None,
        boundary: None,
    };
    (zone, commune.terrain, centre)
}

fn team(rng: &mut ChaCha8Rng, village: &Zone) -> Team {
    let id = format!("{}.team", village.id);
    let roles = [MemberRole::Captain, MemberRole::Deputy, MemberRole::Member];
    let members = roles
        .into_iter()
        .enumerate()
        .map(|(i, role)| Member {
            id: format!("{id}.m{}", i + 1),
            name: names::person(rng),
            role,
            phone: names::phone(rng),
        })
        .collect();
    Team {
        name: format!("Tổ bảo vệ ANTT {}", village.name),
        zone_id: village.id.clone(),
        id,
        members,
        on_duty_member_id: None,
    }
}

fn camera(
    rng: &mut ChaCha8Rng,
    index: usize,
    village: &Zone,
    centre: (f64, f64),
    commune: &Boundary,
) -> Camera {
    let (latitude, longitude) = inside(commune, centre, jitter(rng, centre, 0.006));
    let kind = match rng.random_range(0..100) {
        0..25 => CameraKind::PlateReader,
        25..85 => CameraKind::Fixed,
        _ => CameraKind::Ptz,
    };
    let owner = match rng.random_range(0..100) {
        0..20 => CameraOwner::Police,
        20..55 => CameraOwner::Commune,
        55..85 => CameraOwner::Household,
        _ => CameraOwner::Business,
    };
    let first_install = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default();
    Camera {
        id: format!("cam-{index:06}"),
        zone_id: village.id.clone(),
        // No site: the demo's and load tests' edge agents simulate cameras
        // of many villages, and a camera bound to a site is accepted only
        // from that site's agent (import a registry with sites for that).
        site_id: None,
        position: GeoPoint {
            latitude,
            longitude,
        },
        kind,
        owner,
        installed_on: first_install + Days::new(rng.random_range(0..2_550)),
    }
}

/// `point` (latitude, longitude) if it lies in `area`, else pulled in
/// toward `anchor`, which does.
fn inside(area: &Boundary, anchor: (f64, f64), point: (f64, f64)) -> (f64, f64) {
    let (lon, lat) = outline::pulled_inside(area, (anchor.1, anchor.0), (point.1, point.0));
    (lat, lon)
}

/// A point near `centre`, clamped into the province.
fn jitter(rng: &mut ChaCha8Rng, centre: (f64, f64), spread: f64) -> (f64, f64) {
    let lat = centre.0 + rng.random_range(-spread..spread);
    let lon = centre.1 + rng.random_range(-spread..spread);
    (lat.clamp(BOUNDS.0, BOUNDS.2), lon.clamp(BOUNDS.1, BOUNDS.3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ProvinceSpec {
        ProvinceSpec {
            cameras: 2_000,
            seed: 7,
        }
    }

    #[test]
    fn has_the_real_province_shape() {
        let counts = province(&small()).counts();
        assert_eq!(counts.provinces, 1);
        assert_eq!(counts.communes, 166);
        assert_eq!(counts.villages, 4_351);
        assert_eq!(counts.teams, 4_351);
        assert_eq!(counts.members, 13_053);
        assert_eq!(counts.cameras, 2_000);
    }

    #[test]
    fn is_consistent_and_names_the_known_communes() {
        let registry = province(&small());
        assert_eq!(registry.integrity_errors(), []);
        for id in ["th.ba-thuoc", "th.hac-thanh", "th.quang-phu"] {
            assert!(registry.zone(id).is_some(), "{id} missing");
        }
        let wards = registry
            .zones()
            .filter(|z| z.kind == ZoneKind::Ward)
            .count();
        assert_eq!(wards, ProvinceSpec::WARDS);
    }

    #[test]
    fn same_seed_same_province_other_seed_other_province() {
        assert_eq!(province(&small()), province(&small()));
        let other = province(&ProvinceSpec { seed: 8, ..small() });
        assert_ne!(province(&small()), other);
    }

    #[test]
    fn more_cameras_keep_the_first_ones_in_place() {
        let fewer = province(&small());
        let more = province(&ProvinceSpec {
            cameras: 3_000,
            ..small()
        });
        assert_eq!(fewer.camera("cam-001999"), more.camera("cam-001999"));
    }

    #[test]
    fn towns_are_denser_than_mountains() {
        let registry = province(&ProvinceSpec {
            cameras: 20_000,
            seed: 1,
        });
        let per_village = |kind: ZoneKind| {
            let villages: Vec<_> = registry
                .zones()
                .filter(|z| z.kind == kind)
                .map(|z| z.id.clone())
                .collect();
            let cameras = registry
                .cameras()
                .filter(|c| villages.contains(&c.zone_id))
                .count();
            cameras as f64 / villages.len() as f64
        };
        let town = per_village(ZoneKind::ResidentialGroup);
        let mountain = per_village(ZoneKind::Hamlet);
        assert!(
            town > 3.0 * mountain,
            "town {town:.1} vs mountain {mountain:.1} cameras per village"
        );
    }

    #[test]
    fn cameras_stand_inside_their_communes_outline() {
        let registry = province(&small());
        let province_outline = registry
            .zone("th")
            .and_then(|z| z.boundary.clone())
            .unwrap();
        for camera in registry.cameras() {
            let at = (camera.position.longitude, camera.position.latitude);
            let commune = registry.commune_of(&camera.zone_id).unwrap();
            let outline = commune
                .boundary
                .as_ref()
                .expect("every commune has an outline");
            assert!(outline.contains(at), "{} outside {}", camera.id, commune.id);
            assert!(province_outline.contains(at), "{camera:?}");
        }
    }

    #[test]
    fn communes_do_not_overlap() {
        let registry = province(&small());
        let outlines: Vec<_> = registry
            .communes()
            .map(|c| c.boundary.clone().expect("an outline"))
            .collect();
        assert_eq!(outlines.len(), ProvinceSpec::COMMUNES);
        for camera in registry.cameras().take(500) {
            let at = (camera.position.longitude, camera.position.latitude);
            let owners = outlines.iter().filter(|o| o.contains(at)).count();
            assert_eq!(owners, 1, "{} lies in {owners} communes", camera.id);
        }
    }

    #[test]
    fn cameras_stand_inside_the_province() {
        let registry = province(&small());
        for camera in registry.cameras() {
            let GeoPoint {
                latitude,
                longitude,
            } = camera.position;
            assert!((BOUNDS.0..=BOUNDS.2).contains(&latitude), "{camera:?}");
            assert!((BOUNDS.1..=BOUNDS.3).contains(&longitude), "{camera:?}");
        }
    }
}
