//! The registry in memory: every zone, team, camera and watchlist entry,
//! indexed for the lookups enrichment and queries make.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use vigil_proto::v1 as pb;

use crate::convert::{ConversionError, to_timestamp};
use crate::plate::{normalize_plate, ocr_key};
use crate::{Camera, Team, WatchlistEntry, Zone, ZoneLevel};

/// One registry record, as carried on the `vigil.registry.v1` topic.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryEntity {
    Zone(Zone),
    Team(Team),
    Camera(Camera),
    Watchlist(WatchlistEntry),
}

impl RegistryEntity {
    /// The compacted topic's key: `<entity>/<id>`, e.g. `camera/cam-00042`.
    pub fn key(&self) -> String {
        match self {
            Self::Zone(z) => format!("zone/{}", z.id),
            Self::Team(t) => format!("team/{}", t.id),
            Self::Camera(c) => format!("camera/{}", c.id),
            Self::Watchlist(w) => format!("watchlist/{}", w.id),
        }
    }

    /// The change message announcing this record, stamped `changed_at`.
    pub fn into_change(self, changed_at: chrono::DateTime<chrono::Utc>) -> pb::RegistryChange {
        use pb::registry_change::Entity;
        let entity = match self {
            Self::Zone(z) => Entity::Zone(z.into()),
            Self::Team(t) => Entity::Team(t.into()),
            Self::Camera(c) => Entity::Camera(c.into()),
            Self::Watchlist(w) => Entity::WatchlistEntry(w.into()),
        };
        pb::RegistryChange {
            changed_at: Some(to_timestamp(changed_at)),
            entity: Some(entity),
        }
    }
}

impl TryFrom<pb::RegistryChange> for RegistryEntity {
    type Error = ConversionError;

    fn try_from(change: pb::RegistryChange) -> Result<Self, Self::Error> {
        use pb::registry_change::Entity;
        match change.entity {
            Some(Entity::Zone(z)) => Ok(Self::Zone(z.try_into()?)),
            Some(Entity::Team(t)) => Ok(Self::Team(t.try_into()?)),
            Some(Entity::Camera(c)) => Ok(Self::Camera(c.try_into()?)),
            Some(Entity::WatchlistEntry(w)) => Ok(Self::Watchlist(w.try_into()?)),
            None => Err(ConversionError::new(
                "RegistryChange",
                "entity",
                "is required",
            )),
        }
    }
}

/// How many records of each kind a registry holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryCounts {
    pub provinces: usize,
    pub communes: usize,
    pub villages: usize,
    pub teams: usize,
    pub members: usize,
    pub cameras: usize,
    pub watchlist: usize,
}

/// A reference the registry cannot resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct IntegrityError {
    /// The record with the problem, e.g. `camera/cam-00042`.
    pub key: String,
    pub problem: String,
}

/// A watchlist entry a plate read matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WatchMatch<'a> {
    pub entry: &'a WatchlistEntry,
    /// Matched through the OCR-confusion key, not the exact plate.
    pub fuzzy: bool,
}

/// Every registry record, indexed by id (teams also by zone, watchlist
/// entries also by plate and by OCR-confusion key).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    zones: BTreeMap<String, Zone>,
    teams: BTreeMap<String, Team>,
    cameras: BTreeMap<String, Camera>,
    watchlist: BTreeMap<String, WatchlistEntry>,
    team_by_zone: HashMap<String, String>,
    watch_by_plate: HashMap<String, BTreeSet<String>>,
    watch_by_key: HashMap<String, BTreeSet<String>>,
}

impl Registry {
    /// Inserts or replaces a record. Returns false when an equal record was
    /// already there (nothing changed).
    pub fn upsert(&mut self, entity: RegistryEntity) -> bool {
        fn put<T: PartialEq>(map: &mut BTreeMap<String, T>, id: &str, value: T) -> bool {
            if map.get(id) == Some(&value) {
                return false;
            }
            map.insert(id.to_owned(), value);
            true
        }
        match entity {
            RegistryEntity::Zone(z) => put(&mut self.zones, &z.id.clone(), z),
            RegistryEntity::Camera(c) => put(&mut self.cameras, &c.id.clone(), c),
            RegistryEntity::Watchlist(w) => {
                self.unindex_watch(&w.id);
                let id = w.id.clone();
                self.watch_by_plate
                    .entry(w.plate.as_str().to_owned())
                    .or_default()
                    .insert(id.clone());
                self.watch_by_key
                    .entry(ocr_key(w.plate.as_str()))
                    .or_default()
                    .insert(id.clone());
                put(&mut self.watchlist, &id, w)
            }
            RegistryEntity::Team(t) => {
                let (id, zone_id) = (t.id.clone(), t.zone_id.clone());
                if let Some(old) = self.teams.get(&id)
                    && old.zone_id != zone_id
                {
                    self.team_by_zone.remove(&old.zone_id);
                }
                self.team_by_zone.insert(zone_id, id.clone());
                put(&mut self.teams, &id, t)
            }
        }
    }

    /// Removes the record with topic key `key` (a tombstone). Returns whether
    /// it existed.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some((kind, id)) = key.split_once('/') else {
            return false;
        };
        match kind {
            "zone" => self.zones.remove(id).is_some(),
            "camera" => self.cameras.remove(id).is_some(),
            "watchlist" => {
                self.unindex_watch(id);
                self.watchlist.remove(id).is_some()
            }
            "team" => match self.teams.remove(id) {
                Some(team) => {
                    self.team_by_zone.remove(&team.zone_id);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    fn unindex_watch(&mut self, id: &str) {
        let Some(old) = self.watchlist.get(id) else {
            return;
        };
        let plate = old.plate.as_str().to_owned();
        for (index, key) in [
            (&mut self.watch_by_plate, plate.clone()),
            (&mut self.watch_by_key, ocr_key(&plate)),
        ] {
            if let Some(ids) = index.get_mut(&key) {
                ids.remove(id);
                if ids.is_empty() {
                    index.remove(&key);
                }
            }
        }
    }

    /// Active watchlist entries a plate read matches: exactly (its
    /// normalized form equals the entry's plate) or, failing that, through
    /// the OCR-confusion key (`36A-l23.45` for `36A12345`).
    pub fn watch_matches(&self, plate_text: &str, now: DateTime<Utc>) -> Vec<WatchMatch<'_>> {
        let exact: BTreeSet<&String> = normalize_plate(plate_text)
            .ok()
            .and_then(|plate| self.watch_by_plate.get(plate.as_str()))
            .map(|ids| ids.iter().collect())
            .unwrap_or_default();
        let fuzzy = self
            .watch_by_key
            .get(&ocr_key(plate_text))
            .into_iter()
            .flatten()
            .filter(|id| !exact.contains(id));
        let exact_matches = exact.iter().map(|id| (*id, false));
        exact_matches
            .chain(fuzzy.map(|id| (id, true)))
            .filter_map(|(id, fuzzy)| {
                self.watchlist
                    .get(id)
                    .map(|entry| WatchMatch { entry, fuzzy })
            })
            .filter(|m| m.entry.is_active(now))
            .collect()
    }

    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.get(id)
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.get(id)
    }

    pub fn camera(&self, id: &str) -> Option<&Camera> {
        self.cameras.get(id)
    }

    pub fn watchlist_entry(&self, id: &str) -> Option<&WatchlistEntry> {
        self.watchlist.get(id)
    }

    /// The team responsible for a village-level zone.
    pub fn team_for_zone(&self, zone_id: &str) -> Option<&Team> {
        self.team_by_zone
            .get(zone_id)
            .and_then(|id| self.teams.get(id))
    }

    /// The commune or ward a zone belongs to (itself, for a commune); `None`
    /// when the way up is broken or goes round in a cycle.
    pub fn commune_of(&self, zone_id: &str) -> Option<&Zone> {
        let mut zone = self.zones.get(zone_id)?;
        // Up through village-level zones; a way up longer than the
        // registry has zones is a cycle (one bad record must not hang a
        // consumer).
        for _ in 0..=self.zones.len() {
            match zone.level() {
                ZoneLevel::Village => zone = self.zones.get(zone.parent_id.as_deref()?)?,
                ZoneLevel::Commune => return Some(zone),
                ZoneLevel::Province => return None,
            }
        }
        None
    }

    /// Whether `zone_id` is `ancestor` or lies below it (a village in its
    /// commune, anything in the province); `false` for an unknown zone or a
    /// way up that goes round in a cycle.
    pub fn is_within(&self, zone_id: &str, ancestor: &str) -> bool {
        let mut current = self.zones.get(zone_id);
        for _ in 0..=self.zones.len() {
            let Some(zone) = current else { return false };
            if zone.id == ancestor {
                return true;
            }
            current = zone.parent_id.as_deref().and_then(|id| self.zones.get(id));
        }
        false
    }

    pub fn zones(&self) -> impl ExactSizeIterator<Item = &Zone> {
        self.zones.values()
    }

    /// The communes and wards (zones one level below the province).
    pub fn communes(&self) -> impl Iterator<Item = &Zone> {
        self.zones().filter(|z| z.level() == ZoneLevel::Commune)
    }

    pub fn teams(&self) -> impl ExactSizeIterator<Item = &Team> {
        self.teams.values()
    }

    pub fn cameras(&self) -> impl ExactSizeIterator<Item = &Camera> {
        self.cameras.values()
    }

    pub fn watchlist(&self) -> impl ExactSizeIterator<Item = &WatchlistEntry> {
        self.watchlist.values()
    }

    /// Every record, parents before children (zones by depth, then teams,
    /// cameras and watchlist entries), so a reader applying them in order
    /// never sees a dangling reference.
    pub fn entities(&self) -> impl Iterator<Item = RegistryEntity> + '_ {
        let mut zones: Vec<&Zone> = self.zones.values().collect();
        zones.sort_by_key(|z| z.level());
        zones
            .into_iter()
            .cloned()
            .map(RegistryEntity::Zone)
            .chain(self.teams.values().cloned().map(RegistryEntity::Team))
            .chain(self.cameras.values().cloned().map(RegistryEntity::Camera))
            .chain(
                self.watchlist
                    .values()
                    .cloned()
                    .map(RegistryEntity::Watchlist),
            )
    }

    pub fn counts(&self) -> RegistryCounts {
        let at = |level| self.zones.values().filter(|z| z.level() == level).count();
        RegistryCounts {
            provinces: at(ZoneLevel::Province),
            communes: at(ZoneLevel::Commune),
            villages: at(ZoneLevel::Village),
            teams: self.teams.len(),
            members: self.teams.values().map(|t| t.members.len()).sum(),
            cameras: self.cameras.len(),
            watchlist: self.watchlist.len(),
        }
    }

    /// Every broken reference: a zone whose parent is missing or not one
    /// level up, a team or camera outside a village-level zone, a watchlist
    /// entry owned by an unknown zone.
    pub fn integrity_errors(&self) -> Vec<IntegrityError> {
        let mut errors = Vec::new();
        let mut problem =
            |key: String, problem: String| errors.push(IntegrityError { key, problem });
        for zone in self.zones.values() {
            let expected_parent = match zone.level() {
                ZoneLevel::Province => None,
                ZoneLevel::Commune => Some(ZoneLevel::Province),
                ZoneLevel::Village => Some(ZoneLevel::Commune),
            };
            let parent = zone.parent_id.as_deref().map(|id| (id, self.zones.get(id)));
            match (expected_parent, parent) {
                (None, None) => {}
                (Some(level), Some((_, Some(p)))) if p.level() == level => {}
                (_, Some((id, Some(_)))) => {
                    problem(
                        format!("zone/{}", zone.id),
                        format!("parent {id} is not one level up"),
                    );
                }
                (_, Some((id, None))) => {
                    problem(
                        format!("zone/{}", zone.id),
                        format!("parent zone {id} does not exist"),
                    );
                }
                (Some(_), None) => problem(format!("zone/{}", zone.id), "has no parent".to_owned()),
            }
        }
        let village = |id: &str| {
            self.zones
                .get(id)
                .is_some_and(|z| z.level() == ZoneLevel::Village)
        };
        for team in self.teams.values() {
            if !village(&team.zone_id) {
                problem(
                    format!("team/{}", team.id),
                    format!("zone {} is not a known village-level zone", team.zone_id),
                );
            }
        }
        for camera in self.cameras.values() {
            if !village(&camera.zone_id) {
                problem(
                    format!("camera/{}", camera.id),
                    format!("zone {} is not a known village-level zone", camera.zone_id),
                );
            }
        }
        for entry in self.watchlist.values() {
            if !self.zones.contains_key(&entry.owner_zone_id) {
                problem(
                    format!("watchlist/{}", entry.id),
                    format!("owner zone {} does not exist", entry.owner_zone_id),
                );
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, plate: &str, expires_at: Option<DateTime<Utc>>) -> RegistryEntity {
        RegistryEntity::Watchlist(WatchlistEntry {
            id: id.to_owned(),
            plate: plate.parse().unwrap(),
            reason: "stolen".to_owned(),
            priority: 1,
            expires_at,
            owner_zone_id: "th".to_owned(),
            created_by: None,
        })
    }

    #[test]
    fn plates_match_exactly_or_through_ocr_confusions() {
        let mut registry = Registry::default();
        registry.upsert(entry("w1", "36A-123.45", None));
        let now = Utc::now();

        let exact = registry.watch_matches("36A 123.45", now);
        assert_eq!(exact.len(), 1);
        assert!(!exact[0].fuzzy);

        let fuzzy = registry.watch_matches("36A-l23.4S", now);
        assert_eq!(fuzzy.len(), 1);
        assert_eq!(fuzzy[0].entry.id, "w1");
        assert!(fuzzy[0].fuzzy);

        assert!(registry.watch_matches("36A-999.99", now).is_empty());
    }

    #[test]
    fn expired_replaced_and_removed_entries_stop_matching() {
        let mut registry = Registry::default();
        let now = Utc::now();
        registry.upsert(entry(
            "w1",
            "36A12345",
            Some(now - chrono::Duration::hours(1)),
        ));
        assert!(
            registry.watch_matches("36A12345", now).is_empty(),
            "expired"
        );

        registry.upsert(entry("w1", "29B67890", None));
        assert!(
            registry.watch_matches("36A12345", now).is_empty(),
            "replaced plate"
        );
        assert_eq!(registry.watch_matches("29B67890", now).len(), 1);

        registry.remove("watchlist/w1");
        assert!(
            registry.watch_matches("29B67890", now).is_empty(),
            "removed"
        );
    }

    #[test]
    fn a_zone_is_within_itself_and_its_ancestors_only() {
        let zone = |id: &str, kind, parent: Option<&str>| {
            RegistryEntity::Zone(Zone {
                id: id.to_owned(),
                kind,
                name: id.to_owned(),
                parent_id: parent.map(str::to_owned),
                path: vec![id.to_owned()],
                police_unit: None,
                boundary: None,
            })
        };
        let mut registry = Registry::default();
        registry.upsert(zone("th", crate::ZoneKind::Province, None));
        registry.upsert(zone("th.a", crate::ZoneKind::Commune, Some("th")));
        registry.upsert(zone("th.b", crate::ZoneKind::Commune, Some("th")));
        registry.upsert(zone("th.a.v1", crate::ZoneKind::Village, Some("th.a")));
        registry.upsert(zone("loop", crate::ZoneKind::Village, Some("loop")));
        for ancestor in ["th.a.v1", "th.a", "th"] {
            assert!(registry.is_within("th.a.v1", ancestor), "{ancestor}");
        }
        assert!(!registry.is_within("th.a.v1", "th.b"));
        assert!(!registry.is_within("th.a", "th.a.v1"), "not below itself");
        assert!(!registry.is_within("nowhere", "th"), "unknown zone");
        assert!(!registry.is_within("loop", "th"), "a cycle ends");
    }

    #[test]
    fn a_cycle_of_village_level_zones_has_no_commune() {
        let village = |id: &str, parent: &str| {
            RegistryEntity::Zone(Zone {
                id: id.to_owned(),
                kind: crate::ZoneKind::Village,
                name: id.to_owned(),
                parent_id: Some(parent.to_owned()),
                path: vec![id.to_owned()],
                police_unit: None,
                boundary: None,
            })
        };
        let mut registry = Registry::default();
        // A commune re-imported as a village under one of its own villages,
        // and a village that is its own parent.
        registry.upsert(village("th.bt", "th.bt.v001"));
        registry.upsert(village("th.bt.v001", "th.bt"));
        registry.upsert(village("th.loop", "th.loop"));
        let (answer, answered) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let communes = ["th.bt.v001", "th.loop"].map(|id| registry.commune_of(id).is_some());
            let _ = answer.send(communes);
        });
        let communes = answered
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("commune_of returns");
        assert_eq!(communes, [false, false]);
    }
}
