//! Registry tables: the whole registry is read at once (it is small — tens
//! of thousands of rows) and written one record at a time.
//!
//! Optional text is stored as the empty string, never as null: binding a
//! null in an INSERT writes a tombstone, and tombstones slow every read.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::{DeserializeRow, DeserializeValue, SerializeRow, SerializeValue};
use vigil_domain::{
    Boundary, Camera, ConversionError, Registry, RegistryEntity, Team, WatchlistEntry, Zone,
};
use vigil_proto::v1 as pb;

use crate::{Keyspace, StoreError};

#[derive(Debug, DeserializeRow, SerializeRow)]
struct ZoneRow {
    zone_id: String,
    kind: i32,
    name: String,
    parent_id: String,
    path: Option<Vec<String>>,
    police_unit: String,
    boundary_geojson: Option<String>,
}

#[derive(Debug, DeserializeValue, SerializeValue)]
struct TeamMember {
    member_id: String,
    name: String,
    role: i32,
    phone: String,
}

#[derive(Debug, DeserializeRow, SerializeRow)]
struct TeamRow {
    team_id: String,
    zone_id: String,
    name: String,
    members: Option<Vec<TeamMember>>,
    on_duty_member_id: String,
}

#[derive(Debug, DeserializeRow, SerializeRow)]
struct CameraRow {
    camera_id: String,
    zone_id: String,
    site_id: String,
    latitude: f64,
    longitude: f64,
    kind: i32,
    owner: i32,
    installed_on: NaiveDate,
}

#[derive(Debug, DeserializeRow, SerializeRow)]
struct WatchlistRow {
    entry_id: String,
    plate_normalized: String,
    reason: String,
    priority: i32,
    expires_at: Option<DateTime<Utc>>,
    owner_zone_id: String,
    created_by: String,
}

impl From<Zone> for ZoneRow {
    fn from(zone: Zone) -> Self {
        Self {
            zone_id: zone.id,
            kind: zone.kind.into(),
            name: zone.name,
            parent_id: zone.parent_id.unwrap_or_default(),
            path: Some(zone.path),
            police_unit: zone.police_unit.unwrap_or_default(),
            boundary_geojson: zone.boundary.as_ref().map(Boundary::to_geojson),
        }
    }
}

impl TryFrom<ZoneRow> for Zone {
    type Error = ConversionError;
    fn try_from(row: ZoneRow) -> Result<Self, Self::Error> {
        pb::Zone {
            id: row.zone_id,
            kind: row.kind,
            name: row.name,
            parent_id: row.parent_id,
            path: row.path.unwrap_or_default(),
            police_unit: row.police_unit,
            boundary_geojson: row.boundary_geojson.unwrap_or_default(),
        }
        .try_into()
    }
}

impl From<Team> for TeamRow {
    fn from(team: Team) -> Self {
        let members = team
            .members
            .into_iter()
            .map(|m| TeamMember {
                member_id: m.id,
                name: m.name,
                role: m.role.into(),
                phone: m.phone,
            })
            .collect();
        Self {
            team_id: team.id,
            zone_id: team.zone_id,
            name: team.name,
            members: Some(members),
            on_duty_member_id: team.on_duty_member_id.unwrap_or_default(),
        }
    }
}

impl TryFrom<TeamRow> for Team {
    type Error = ConversionError;
    fn try_from(row: TeamRow) -> Result<Self, Self::Error> {
        let members = row
            .members
            .unwrap_or_default()
            .into_iter()
            .map(|m| pb::Member {
                id: m.member_id,
                name: m.name,
                role: m.role,
                phone: m.phone,
            })
            .collect();
        pb::Team {
            id: row.team_id,
            zone_id: row.zone_id,
            name: row.name,
            members,
            on_duty_member_id: row.on_duty_member_id,
        }
        .try_into()
    }
}

impl From<Camera> for CameraRow {
    fn from(camera: Camera) -> Self {
        Self {
            camera_id: camera.id,
            zone_id: camera.zone_id,
            site_id: camera.site_id.unwrap_or_default(),
            latitude: camera.position.latitude,
            longitude: camera.position.longitude,
            kind: camera.kind.into(),
            owner: camera.owner.into(),
            installed_on: camera.installed_on,
        }
    }
}

impl TryFrom<CameraRow> for Camera {
    type Error = ConversionError;
    fn try_from(row: CameraRow) -> Result<Self, Self::Error> {
        pb::Camera {
            id: row.camera_id,
            zone_id: row.zone_id,
            site_id: row.site_id,
            latitude: row.latitude,
            longitude: row.longitude,
            kind: row.kind,
            owner: row.owner,
            installed_on: row.installed_on.format("%Y-%m-%d").to_string(),
        }
        .try_into()
    }
}

impl From<WatchlistEntry> for WatchlistRow {
    fn from(entry: WatchlistEntry) -> Self {
        Self {
            entry_id: entry.id,
            plate_normalized: entry.plate.as_str().to_owned(),
            reason: entry.reason,
            priority: entry.priority.into(),
            expires_at: entry.expires_at,
            owner_zone_id: entry.owner_zone_id,
            created_by: entry.created_by.unwrap_or_default(),
        }
    }
}

impl TryFrom<WatchlistRow> for WatchlistEntry {
    type Error = ConversionError;
    fn try_from(row: WatchlistRow) -> Result<Self, Self::Error> {
        pb::WatchlistEntry {
            id: row.entry_id,
            plate_normalized: row.plate_normalized,
            reason: row.reason,
            priority: u32::try_from(row.priority).unwrap_or(0),
            expires_at: row.expires_at.map(|at| prost_types::Timestamp {
                seconds: at.timestamp(),
                nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
            }),
            owner_zone_id: row.owner_zone_id,
            created_by: row.created_by,
        }
        .try_into()
    }
}

/// The synthetic province `vigilctl registry seed` last wrote: enough to
/// generate every one of its records again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticProvince {
    pub seed: u64,
    pub cameras: u64,
}

#[derive(Debug, DeserializeRow, SerializeRow)]
struct SyntheticProvinceRow {
    id: String,
    seed: i64,
    cameras: i64,
    seeded_at: DateTime<Utc>,
}

/// The one row of `synthetic_province`.
const SYNTHETIC_PROVINCE_ID: &str = "synthetic";

/// Prepared statements over the registry tables.
#[derive(Debug, Clone)]
pub struct RegistryStore {
    session: Arc<Session>,
    keyspace: String,
    upsert_zone: PreparedStatement,
    upsert_team: PreparedStatement,
    upsert_camera: PreparedStatement,
    upsert_watchlist: PreparedStatement,
    delete_zone: PreparedStatement,
    delete_team: PreparedStatement,
    delete_camera: PreparedStatement,
    delete_watchlist: PreparedStatement,
    get_synthetic_province: PreparedStatement,
    put_synthetic_province: PreparedStatement,
}

const ZONE_COLUMNS: &str = "zone_id, kind, name, parent_id, path, police_unit, boundary_geojson";
const TEAM_COLUMNS: &str = "team_id, zone_id, name, members, on_duty_member_id";
const CAMERA_COLUMNS: &str =
    "camera_id, zone_id, site_id, latitude, longitude, kind, owner, installed_on";
const WATCHLIST_COLUMNS: &str =
    "entry_id, plate_normalized, reason, priority, expires_at, owner_zone_id, created_by";

impl RegistryStore {
    /// Prepares the statements against the migrated `keyspace`.
    pub async fn prepare(keyspace: &Keyspace) -> Result<Self, StoreError> {
        let upsert = |table: &'static str, columns: &'static str| {
            let markers = vec!["?"; columns.split(',').count()].join(", ");
            let cql = format!(
                "INSERT INTO {} ({columns}) VALUES ({markers})",
                keyspace.table(table)
            );
            async move { keyspace.prepare(table, &cql).await }
        };
        let delete = |table: &'static str, key: &'static str| {
            let cql = format!("DELETE FROM {} WHERE {key} = ?", keyspace.table(table));
            async move { keyspace.prepare(table, &cql).await }
        };
        Ok(Self {
            upsert_zone: upsert("zones", ZONE_COLUMNS).await?,
            upsert_team: upsert("teams", TEAM_COLUMNS).await?,
            upsert_camera: upsert("cameras", CAMERA_COLUMNS).await?,
            upsert_watchlist: upsert("watchlist", WATCHLIST_COLUMNS).await?,
            delete_zone: delete("zones", "zone_id").await?,
            delete_team: delete("teams", "team_id").await?,
            delete_camera: delete("cameras", "camera_id").await?,
            delete_watchlist: delete("watchlist", "entry_id").await?,
            get_synthetic_province: keyspace
                .prepare(
                    "synthetic_province",
                    "SELECT id, seed, cameras, seeded_at FROM ${keyspace}.synthetic_province \
                     WHERE id = ?",
                )
                .await?,
            put_synthetic_province: upsert("synthetic_province", "id, seed, cameras, seeded_at")
                .await?,
            keyspace: keyspace.name().to_owned(),
            session: Arc::clone(keyspace.session()),
        })
    }

    /// Reads the whole registry.
    pub async fn load(&self) -> Result<Registry, StoreError> {
        let mut registry = Registry::default();
        for zone in self.scan::<ZoneRow, Zone>("zones", ZONE_COLUMNS).await? {
            registry.upsert(RegistryEntity::Zone(zone));
        }
        for team in self.scan::<TeamRow, Team>("teams", TEAM_COLUMNS).await? {
            registry.upsert(RegistryEntity::Team(team));
        }
        for camera in self
            .scan::<CameraRow, Camera>("cameras", CAMERA_COLUMNS)
            .await?
        {
            registry.upsert(RegistryEntity::Camera(camera));
        }
        for entry in self
            .scan::<WatchlistRow, WatchlistEntry>("watchlist", WATCHLIST_COLUMNS)
            .await?
        {
            registry.upsert(RegistryEntity::Watchlist(entry));
        }
        Ok(registry)
    }

    /// Inserts or replaces one record.
    pub async fn upsert(&self, entity: &RegistryEntity) -> Result<(), StoreError> {
        let result = match entity.clone() {
            RegistryEntity::Zone(z) => {
                self.session
                    .execute_unpaged(&self.upsert_zone, ZoneRow::from(z))
                    .await
            }
            RegistryEntity::Team(t) => {
                self.session
                    .execute_unpaged(&self.upsert_team, TeamRow::from(t))
                    .await
            }
            RegistryEntity::Camera(c) => {
                self.session
                    .execute_unpaged(&self.upsert_camera, CameraRow::from(c))
                    .await
            }
            RegistryEntity::Watchlist(w) => {
                self.session
                    .execute_unpaged(&self.upsert_watchlist, WatchlistRow::from(w))
                    .await
            }
        };
        result.map(drop).map_err(|source| StoreError::Execute {
            what: format!("writing {}", entity.key()),
            source: Box::new(source),
        })
    }

    /// Deletes watchlist entry `entry_id` (no error if it is absent).
    pub async fn delete_watchlist(&self, entry_id: &str) -> Result<(), StoreError> {
        crate::execute(&self.session, &self.delete_watchlist, (entry_id,), || {
            format!("deleting watchlist entry {entry_id}")
        })
        .await
    }

    /// Deletes the record `entity` names (by kind and id; no error if it is
    /// absent).
    pub async fn delete(&self, entity: &RegistryEntity) -> Result<(), StoreError> {
        let (statement, id) = match entity {
            RegistryEntity::Zone(z) => (&self.delete_zone, &z.id),
            RegistryEntity::Team(t) => (&self.delete_team, &t.id),
            RegistryEntity::Camera(c) => (&self.delete_camera, &c.id),
            RegistryEntity::Watchlist(w) => (&self.delete_watchlist, &w.id),
        };
        crate::execute(&self.session, statement, (id,), || {
            format!("deleting {}", entity.key())
        })
        .await
    }

    /// The synthetic province last seeded, if any.
    pub async fn synthetic_province(&self) -> Result<Option<SyntheticProvince>, StoreError> {
        let rows = self
            .session
            .execute_unpaged(&self.get_synthetic_province, (SYNTHETIC_PROVINCE_ID,))
            .await
            .map_err(|source| StoreError::Execute {
                what: "reading synthetic_province".to_owned(),
                source: Box::new(source),
            })?
            .into_rows_result()
            .map_err(|e| crate::rows_error("synthetic_province", e))?;
        let row = rows
            .maybe_first_row::<SyntheticProvinceRow>()
            .map_err(|e| crate::rows_error("synthetic_province", e))?;
        Ok(row.map(|row| SyntheticProvince {
            seed: row.seed.cast_unsigned(),
            cameras: row.cameras.cast_unsigned(),
        }))
    }

    /// Records `province` as the synthetic province the registry holds.
    pub async fn record_synthetic_province(
        &self,
        province: SyntheticProvince,
    ) -> Result<(), StoreError> {
        let row = SyntheticProvinceRow {
            id: SYNTHETIC_PROVINCE_ID.to_owned(),
            seed: province.seed.cast_signed(),
            cameras: province.cameras.cast_signed(),
            seeded_at: Utc::now(),
        };
        crate::execute(&self.session, &self.put_synthetic_province, row, || {
            "recording the synthetic province".to_owned()
        })
        .await
    }

    async fn scan<Row, T>(&self, table: &'static str, columns: &str) -> Result<Vec<T>, StoreError>
    where
        Row: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + 'static,
        T: TryFrom<Row, Error = ConversionError>,
    {
        let rows_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Rows {
            what: table,
            source: e,
        };
        let pager = self
            .session
            .query_iter(
                format!("SELECT {columns} FROM {}.{table}", self.keyspace),
                &[],
            )
            .await
            .map_err(|source| StoreError::Execute {
                what: format!("reading {table}"),
                source: Box::new(source),
            })?;
        let rows: Vec<Row> = pager
            .rows_stream::<Row>()
            .map_err(|e| rows_err(e.into()))?
            .try_collect()
            .await
            .map_err(|e| rows_err(e.into()))?;
        rows.into_iter()
            .map(|row| T::try_from(row).map_err(|e| rows_err(e.into())))
            .collect()
    }
}
