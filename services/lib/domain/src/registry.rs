//! The registry in memory: every zone, team, camera and watchlist entry,
//! indexed for the lookups enrichment and queries make.

use std::collections::{BTreeMap, HashMap};

use vigil_proto::v1 as pb;

use crate::convert::{ConversionError, to_timestamp};
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

/// Every registry record, indexed by id (and teams also by zone).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    zones: BTreeMap<String, Zone>,
    teams: BTreeMap<String, Team>,
    cameras: BTreeMap<String, Camera>,
    watchlist: BTreeMap<String, WatchlistEntry>,
    team_by_zone: HashMap<String, String>,
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
            RegistryEntity::Watchlist(w) => put(&mut self.watchlist, &w.id.clone(), w),
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
            "watchlist" => self.watchlist.remove(id).is_some(),
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

    /// The commune or ward a zone belongs to (itself, for a commune).
    pub fn commune_of(&self, zone_id: &str) -> Option<&Zone> {
        let mut zone = self.zones.get(zone_id)?;
        while zone.level() == ZoneLevel::Village {
            zone = self.zones.get(zone.parent_id.as_deref()?)?;
        }
        (zone.level() == ZoneLevel::Commune).then_some(zone)
    }

    pub fn zones(&self) -> impl ExactSizeIterator<Item = &Zone> {
        self.zones.values()
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
