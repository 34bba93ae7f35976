//! `vigilctl registry show`: the registry's counts, or one camera, zone or
//! team, as lines for people or as JSON (`--json`). Both come from the
//! same view, with enumerations in the import file's words (`fixed`,
//! `commune`, `captain`).

use anyhow::Context;
use serde::Serialize;
use vigil_domain::registry::RegistryCounts;
use vigil_domain::{Registry, Team};

use super::records::{CameraRecord, MemberRecord, ZoneRecord};

/// How many records of each kind the registry holds.
#[derive(Debug, Serialize)]
pub(super) struct CountsView {
    provinces: usize,
    communes: usize,
    villages: usize,
    teams: usize,
    members: usize,
    cameras: usize,
    watchlist: usize,
}

impl From<RegistryCounts> for CountsView {
    fn from(counts: RegistryCounts) -> Self {
        Self {
            provinces: counts.provinces,
            communes: counts.communes,
            villages: counts.villages,
            teams: counts.teams,
            members: counts.members,
            cameras: counts.cameras,
            watchlist: counts.watchlist,
        }
    }
}

impl CountsView {
    pub(super) fn lines(&self) -> Vec<String> {
        [
            ("provinces", self.provinces),
            ("communes and wards", self.communes),
            ("villages, hamlets, residential groups", self.villages),
            ("security teams", self.teams),
            ("team members", self.members),
            ("cameras", self.cameras),
            ("watchlist entries", self.watchlist),
        ]
        .into_iter()
        .map(|(what, count)| format!("{count:>8}  {what}"))
        .collect()
    }
}

#[derive(Debug, Serialize)]
pub(super) struct MemberView {
    member_id: String,
    name: String,
    role: String,
    phone: String,
}

#[derive(Debug, Serialize)]
pub(super) struct TeamView {
    team_id: String,
    name: String,
    zone_id: String,
    members: Vec<MemberView>,
}

impl TeamView {
    fn of(team: &Team) -> Self {
        Self {
            team_id: team.id.clone(),
            name: team.name.clone(),
            zone_id: team.zone_id.clone(),
            members: MemberRecord::from_team(team)
                .into_iter()
                .map(|m| MemberView {
                    member_id: m.member_id,
                    name: m.name,
                    role: m.role,
                    phone: m.phone,
                })
                .collect(),
        }
    }

    fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("team       {} ({})", self.name, self.team_id)];
        lines.extend(
            self.members
                .iter()
                .map(|m| format!("  {:<8} {:<24} {}", m.role, m.name, m.phone)),
        );
        lines
    }
}

#[derive(Debug, Serialize)]
pub(super) struct CameraView {
    #[serde(flatten)]
    camera: CameraRecord,
    zone_path: Vec<String>,
    police_unit: Option<String>,
    team: Option<TeamView>,
}

#[derive(Debug, Serialize)]
pub(super) struct ZoneView {
    #[serde(flatten)]
    zone: ZoneRecord,
    path: Vec<String>,
    subzones: usize,
    cameras: usize,
    team: Option<TeamView>,
}

/// What `show` prints.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum View {
    Counts(CountsView),
    Camera(CameraView),
    Zone(ZoneView),
    Team(TeamView),
}

impl View {
    pub(super) fn camera(registry: &Registry, id: &str) -> anyhow::Result<Self> {
        let camera = registry
            .camera(id)
            .with_context(|| format!("no camera {id:?}"))?;
        Ok(Self::Camera(CameraView {
            camera: CameraRecord::from_camera(camera),
            zone_path: registry
                .zone(&camera.zone_id)
                .map(|z| z.path.clone())
                .unwrap_or_default(),
            police_unit: registry
                .commune_of(&camera.zone_id)
                .and_then(|c| c.police_unit.clone()),
            team: registry.team_for_zone(&camera.zone_id).map(TeamView::of),
        }))
    }

    pub(super) fn zone(registry: &Registry, id: &str) -> anyhow::Result<Self> {
        let zone = registry
            .zone(id)
            .with_context(|| format!("no zone {id:?}"))?;
        let prefix = format!("{id}.");
        Ok(Self::Zone(ZoneView {
            zone: ZoneRecord::from_zone(zone),
            path: zone.path.clone(),
            subzones: registry
                .zones()
                .filter(|z| z.parent_id.as_deref() == Some(id))
                .count(),
            cameras: registry
                .cameras()
                .filter(|c| c.zone_id == id || c.zone_id.starts_with(&prefix))
                .count(),
            team: registry.team_for_zone(id).map(TeamView::of),
        }))
    }

    pub(super) fn team(registry: &Registry, id: &str) -> anyhow::Result<Self> {
        let team = registry
            .team(id)
            .with_context(|| format!("no team {id:?}"))?;
        Ok(Self::Team(TeamView::of(team)))
    }

    /// The view as lines for a person.
    pub(super) fn lines(&self) -> Vec<String> {
        let team_lines = |team: &Option<TeamView>| team.as_ref().map(TeamView::lines);
        match self {
            Self::Counts(counts) => counts.lines(),
            Self::Camera(view) => {
                let c = &view.camera;
                let mut lines = vec![
                    format!("camera     {}", c.camera_id),
                    format!("kind       {}", c.kind),
                    format!("owner      {}", c.owner),
                    format!("position   {:.5}, {:.5}", c.latitude, c.longitude),
                    format!("installed  {}", c.installed_on),
                    format!("zone       {} ({})", c.zone_id, view.zone_path.join(" > ")),
                ];
                lines.extend(view.police_unit.iter().map(|u| format!("police     {u}")));
                lines.extend(team_lines(&view.team).into_iter().flatten());
                lines
            }
            Self::Zone(view) => {
                let mut lines = vec![
                    format!("zone       {} ({})", view.zone.zone_id, view.zone.kind),
                    format!("path       {}", view.path.join(" > ")),
                    format!("subzones   {}", view.subzones),
                    format!("cameras    {}", view.cameras),
                ];
                if !view.zone.police_unit.is_empty() {
                    lines.push(format!("police     {}", view.zone.police_unit));
                }
                lines.extend(team_lines(&view.team).into_iter().flatten());
                lines
            }
            Self::Team(team) => {
                let mut lines = vec![format!("zone       {}", team.zone_id)];
                lines.extend(team.lines());
                lines
            }
        }
    }

    /// Prints the view as lines, or as pretty JSON.
    pub(super) fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(self)?);
        } else {
            for line in self.lines() {
                println!("{line}");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use vigil_synth::ProvinceSpec;

    use super::*;

    fn province() -> Registry {
        vigil_synth::province(&ProvinceSpec {
            cameras: 20,
            seed: 3,
        })
    }

    #[test]
    fn enumerations_print_as_words() {
        let registry = province();
        let camera = registry.cameras().next().unwrap();
        let text = View::camera(&registry, &camera.id)
            .unwrap()
            .lines()
            .join("\n");
        assert!(
            !text.contains("CAMERA_") && !text.contains("MEMBER_ROLE"),
            "{text}"
        );
        assert!(text.contains("  captain "), "{text}");
        let kind = text.lines().nth(1).unwrap();
        assert!(
            [
                "kind       fixed",
                "kind       ptz",
                "kind       plate_reader"
            ]
            .contains(&kind),
            "{kind}"
        );
        let zone = View::zone(&registry, "th.ba-thuoc").unwrap().lines();
        assert_eq!(zone[0], "zone       th.ba-thuoc (commune)");
    }

    #[test]
    fn json_has_the_same_fields_in_words() {
        let registry = province();
        let camera = registry.cameras().next().unwrap();
        let json = serde_json::to_value(View::camera(&registry, &camera.id).unwrap()).unwrap();
        assert_eq!(json["camera_id"], camera.id.as_str());
        assert_eq!(json["team"]["members"][0]["role"], "captain");
        assert_eq!(json["zone_path"][0], "Thanh Hóa");
        let counts = serde_json::to_value(View::Counts(registry.counts().into())).unwrap();
        assert_eq!(counts["communes"], 166);
        assert_eq!(counts["cameras"], 20);
    }
}
