//! Which Vigil camera a Frigate camera is.

use std::collections::BTreeMap;
use std::str::FromStr;

/// Frigate camera names to Vigil camera ids, parsed from
/// `name=id,name=id` (whitespace around items is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CameraMap(BTreeMap<String, String>);

impl CameraMap {
    /// The Vigil camera id for Frigate camera `name`: its entry, or
    /// `frigate:<name>` when the map is empty, or `None` when `name` is
    /// missing from a non-empty map.
    pub fn camera_id(&self, name: &str) -> Option<String> {
        if self.0.is_empty() {
            return Some(format!("frigate:{name}"));
        }
        self.0.get(name).cloned()
    }

    /// Whether no camera is mapped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for CameraMap {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut map = BTreeMap::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let (name, id) = item
                .split_once('=')
                .map(|(name, id)| (name.trim(), id.trim()))
                .ok_or_else(|| format!("{item:?} is not frigate_camera=vigil_camera_id"))?;
            if name.is_empty() || id.is_empty() {
                return Err(format!("{item:?} has an empty camera name or id"));
            }
            if map.insert(name.to_owned(), id.to_owned()).is_some() {
                return Err(format!("camera {name:?} is mapped twice"));
            }
        }
        Ok(Self(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_map_parses() {
        let map: CameraMap = " front_gate = cam-000017 ,market=cam-000018, "
            .parse()
            .unwrap();
        assert_eq!(map.camera_id("front_gate").as_deref(), Some("cam-000017"));
        assert_eq!(map.camera_id("market").as_deref(), Some("cam-000018"));
        assert_eq!(map.camera_id("backyard"), None);
        assert!("".parse::<CameraMap>().unwrap().is_empty());
        for bad in ["front_gate", "=cam-1", "gate=", "a=1,a=2"] {
            assert!(bad.parse::<CameraMap>().is_err(), "{bad}");
        }
    }
}
