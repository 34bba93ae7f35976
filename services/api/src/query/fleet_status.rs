//! FleetStatus: how a zone's cameras are doing now, per commune (online,
//! offline, never heard from, spooled detections, oldest heartbeat), and
//! optionally camera by camera.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt};
use vigil_proto::v1::{
    CameraState, CommuneFleet, CoverageState, FleetStatusRequest, FleetStatusResponse,
};
use vigil_store::CameraStatus;

use crate::auth::{Action, Caller};
use crate::backend::{Backend, Target, timestamp};
use crate::error::ApiResult;

/// A camera of the zone asked about, with its commune.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FleetCamera {
    camera_id: String,
    village_id: String,
    commune_id: String,
    commune_name: String,
}

pub(super) async fn serve(
    backend: &Backend,
    caller: &Caller,
    request: FleetStatusRequest,
) -> ApiResult<FleetStatusResponse> {
    caller.require(Action::ReadEvents)?;
    let (province_wide, cameras) = {
        let registry = backend.registry();
        let zone_id = caller.scoped_zone(&registry, &request.zone_id)?;
        let province_wide = matches!(backend.target(&registry, &zone_id), Target::Province(_));
        let cameras: Vec<FleetCamera> = registry
            .cameras()
            .filter(|camera| crate::auth::within(&registry, &camera.zone_id, &zone_id))
            .map(|camera| {
                let commune = registry.commune_of(&camera.zone_id);
                FleetCamera {
                    camera_id: camera.id.clone(),
                    village_id: camera.zone_id.clone(),
                    commune_id: commune.map(|c| c.id.clone()).unwrap_or_default(),
                    commune_name: commune.map(|c| c.name.clone()).unwrap_or_default(),
                }
            })
            .collect();
        (province_wide, cameras)
    };
    let statuses = &backend.stores.statuses;
    let known: HashMap<String, CameraStatus> = if province_wide {
        // One scan of the table beats ten thousand point reads.
        statuses
            .all()
            .await?
            .into_iter()
            .map(|status| (status.camera_id.clone(), status))
            .collect()
    } else {
        let reads: Vec<_> = cameras
            .iter()
            .map(|camera| statuses.get(&camera.camera_id))
            .collect();
        futures::stream::iter(reads)
            .buffer_unordered(backend.limits.fanout)
            .try_filter_map(|status| std::future::ready(Ok(status)))
            .map_ok(|status| (status.camera_id.clone(), status))
            .try_collect()
            .await?
    };
    Ok(fleet(cameras, &known, request.include_cameras))
}

/// The fleet of `cameras` given what is known about each (`statuses` by
/// camera id; a camera missing there was never heard from).
fn fleet(
    cameras: Vec<FleetCamera>,
    statuses: &HashMap<String, CameraStatus>,
    include_cameras: bool,
) -> FleetStatusResponse {
    let mut communes: BTreeMap<String, CommuneFleet> = BTreeMap::new();
    // A heartbeat carries its site's spool depth, the same for every camera
    // of the site: per commune, each site counts once, as of its latest
    // heartbeat.
    let mut spools: BTreeMap<(String, String), &CameraStatus> = BTreeMap::new();
    let mut states = Vec::new();
    for camera in cameras {
        let fleet = communes
            .entry(camera.commune_id.clone())
            .or_insert_with(|| CommuneFleet {
                commune_id: camera.commune_id,
                name: camera.commune_name,
                ..CommuneFleet::default()
            });
        fleet.cameras += 1;
        let status = statuses.get(&camera.camera_id);
        let state = match status {
            None => {
                fleet.unknown += 1;
                CoverageState::Unknown
            }
            Some(status) if status.online => {
                fleet.online += 1;
                spools
                    .entry((fleet.commune_id.clone(), status.site_id.clone()))
                    .and_modify(|latest| {
                        if status.last_heartbeat > latest.last_heartbeat {
                            *latest = status;
                        }
                    })
                    .or_insert(status);
                CoverageState::Covered
            }
            Some(_) => {
                fleet.offline += 1;
                CoverageState::Offline
            }
        };
        let heartbeat = status.and_then(|s| s.last_heartbeat);
        if let Some(at) = heartbeat {
            let at = timestamp(at.timestamp_millis());
            if fleet
                .oldest_heartbeat
                .as_ref()
                .is_none_or(|old| at.seconds < old.seconds)
            {
                fleet.oldest_heartbeat = Some(at);
            }
        }
        if include_cameras {
            states.push(CameraState {
                camera_id: camera.camera_id,
                village_id: camera.village_id,
                site_id: status.map(|s| s.site_id.clone()).unwrap_or_default(),
                state: state.into(),
                last_heartbeat: heartbeat.map(|at| timestamp(at.timestamp_millis())),
                buffer_depth: status.map_or(0, |s| s.buffer_depth),
                link_state: status.map_or(0, |s| s.link_state.into()),
                changed_at: status
                    .and_then(|s| s.changed_at)
                    .map(|at| timestamp(at.timestamp_millis())),
            });
        }
    }
    for ((commune_id, _site), latest) in spools {
        if let Some(fleet) = communes.get_mut(&commune_id) {
            fleet.buffered = fleet.buffered.saturating_add(latest.buffer_depth);
        }
    }
    states.sort_by(|a, b| a.camera_id.cmp(&b.camera_id));
    FleetStatusResponse {
        communes: communes.into_values().collect(),
        cameras: states,
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use vigil_proto::v1::heartbeat::LinkState;

    use super::*;

    fn camera(id: &str, commune: &str) -> FleetCamera {
        FleetCamera {
            camera_id: id.into(),
            village_id: format!("{commune}.v1"),
            commune_id: commune.into(),
            commune_name: format!("Commune {commune}"),
        }
    }

    fn status(id: &str, online: bool, heartbeat_s: i64, buffer_depth: u64) -> CameraStatus {
        CameraStatus {
            camera_id: id.into(),
            site_id: format!("site-{id}"),
            last_heartbeat: DateTime::from_timestamp(heartbeat_s, 0),
            buffer_depth,
            link_state: LinkState::default(),
            online,
            changed_at: None,
        }
    }

    fn fixture() -> (Vec<FleetCamera>, HashMap<String, CameraStatus>) {
        let cameras = vec![
            camera("cam-3", "th.b"),
            camera("cam-1", "th.a"),
            camera("cam-2", "th.a"),
            camera("cam-4", "th.a"),
        ];
        let statuses = [
            status("cam-1", true, 2_000, 5),
            status("cam-2", false, 1_000, 7),
            status("cam-3", true, 3_000, 1),
        ]
        .into_iter()
        .map(|s| (s.camera_id.clone(), s))
        .collect();
        (cameras, statuses)
    }

    #[test]
    fn communes_count_their_cameras_by_state() {
        let (cameras, statuses) = fixture();
        let response = fleet(cameras, &statuses, false);
        assert!(response.cameras.is_empty());
        let [a, b] = response.communes.as_slice() else {
            panic!("{:?}", response.communes);
        };
        assert_eq!(
            (a.commune_id.as_str(), a.name.as_str()),
            ("th.a", "Commune th.a")
        );
        assert_eq!((a.cameras, a.online, a.offline, a.unknown), (3, 1, 1, 1));
        // Only online cameras' spools count as buffered.
        assert_eq!(a.buffered, 5);
        assert_eq!(a.oldest_heartbeat.unwrap().seconds, 1_000);
        assert_eq!((b.commune_id.as_str(), b.cameras, b.online), ("th.b", 1, 1));
    }

    #[test]
    fn cameras_are_listed_by_id_when_asked() {
        let (cameras, statuses) = fixture();
        let response = fleet(cameras, &statuses, true);
        let listed: Vec<(&str, i32)> = response
            .cameras
            .iter()
            .map(|c| (c.camera_id.as_str(), c.state))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("cam-1", CoverageState::Covered as i32),
                ("cam-2", CoverageState::Offline as i32),
                ("cam-3", CoverageState::Covered as i32),
                ("cam-4", CoverageState::Unknown as i32),
            ]
        );
        assert_eq!(response.cameras[1].buffer_depth, 7);
        assert!(response.cameras[3].last_heartbeat.is_none());
    }

    #[test]
    fn a_site_spool_counts_once_per_commune_as_of_its_latest_heartbeat() {
        let cameras = vec![
            camera("cam-1", "th.a"),
            camera("cam-2", "th.a"),
            camera("cam-3", "th.a"),
            camera("cam-4", "th.b"),
        ];
        let on_site = |id: &str, site: &str, heartbeat_s: i64, depth: u64| {
            let mut status = status(id, true, heartbeat_s, depth);
            site.clone_into(&mut status.site_id);
            (status.camera_id.clone(), status)
        };
        let statuses = HashMap::from([
            // One site reporting 40, then 30 spooled detections.
            on_site("cam-1", "site-x", 1_000, 40),
            on_site("cam-2", "site-x", 2_000, 30),
            on_site("cam-3", "site-y", 1_500, 2),
            // The same site seen from another commune counts there too.
            on_site("cam-4", "site-x", 2_000, 30),
        ]);
        let response = fleet(cameras, &statuses, false);
        let buffered: Vec<u64> = response.communes.iter().map(|c| c.buffered).collect();
        assert_eq!(buffered, vec![32, 30]);
    }
}
