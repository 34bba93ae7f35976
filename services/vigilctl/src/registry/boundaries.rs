//! Zone outlines as a GeoJSON FeatureCollection: one Feature per zone, the
//! zone named by `properties.zone_id` (or the feature's own `id`), its
//! geometry a Polygon or MultiPolygon in WGS 84. Import sets the outline of
//! zones the registry already has; export writes every zone that has one.

use std::path::Path;

use anyhow::{Context, bail};
use geojson::{Feature, FeatureCollection, GeoJson, Geometry, JsonObject, JsonValue, feature::Id};
use vigil_domain::{Boundary, Registry, RegistryEntity};

use super::records::ZoneRecord;

/// Largest outline file read (a province's communes and villages at full
/// detail stay well under it).
const MAX_FILE_BYTES: u64 = 256 << 20;

/// The zones of `path` with their new outlines, or every problem found
/// (by feature number) when any feature is bad.
pub(super) fn read(path: &Path, current: &Registry) -> anyhow::Result<Vec<RegistryEntity>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("opening {}", path.display()))?
        .len();
    if size > MAX_FILE_BYTES {
        bail!(
            "{}: {size} bytes; outline files of at most {MAX_FILE_BYTES} bytes are read",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let collection = match text.parse::<GeoJson>() {
        Ok(GeoJson::FeatureCollection(collection)) => collection,
        Ok(GeoJson::Feature(feature)) => FeatureCollection::from_iter([feature]),
        Ok(GeoJson::Geometry(_)) => bail!(
            "{}: a bare geometry names no zone; give a Feature or FeatureCollection with properties.zone_id",
            path.display()
        ),
        Err(error) => bail!("{}: not GeoJSON: {error}", path.display()),
    };
    let (zones, errors) = outlines(collection.features, current);
    if !errors.is_empty() {
        bail!(
            "{}: {}",
            path.display(),
            super::report_errors(&errors, "nothing imported")
        );
    }
    Ok(zones)
}

/// The zones with their new outlines, and the problems, by feature.
fn outlines(features: Vec<Feature>, current: &Registry) -> (Vec<RegistryEntity>, Vec<String>) {
    let mut zones = Vec::new();
    let mut errors = Vec::new();
    for (index, feature) in features.into_iter().enumerate() {
        let at = format!("feature {}", index + 1);
        let Some(zone_id) = zone_id(&feature) else {
            errors.push(format!(
                "{at}: no properties.zone_id (nor an id) naming the zone"
            ));
            continue;
        };
        let Some(zone) = current.zone(&zone_id) else {
            errors.push(format!(
                "{at}: zone {zone_id} is not in the registry (import it first)"
            ));
            continue;
        };
        let Some(geometry) = &feature.geometry else {
            errors.push(format!("{at} ({zone_id}): no geometry"));
            continue;
        };
        match Boundary::from_geometry(geometry) {
            Ok(boundary) => {
                let mut zone = zone.clone();
                zone.boundary = Some(boundary);
                zones.push(RegistryEntity::Zone(zone));
            }
            Err(error) => errors.push(format!("{at} ({zone_id}): {error}")),
        }
    }
    (zones, errors)
}

fn zone_id(feature: &Feature) -> Option<String> {
    let from_properties = feature
        .properties
        .as_ref()
        .and_then(|properties| properties.get("zone_id"))
        .and_then(JsonValue::as_str)
        .map(str::to_owned);
    let from_id = match &feature.id {
        Some(Id::String(id)) => Some(id.clone()),
        _ => None,
    };
    from_properties
        .or(from_id)
        .filter(|id| !id.trim().is_empty())
}

/// Writes the zones of `zones` that have an outline as a FeatureCollection.
pub(super) fn write(out: impl std::io::Write, zones: &[ZoneRecord]) -> anyhow::Result<()> {
    let mut features = Vec::new();
    for zone in zones
        .iter()
        .filter(|zone| !zone.boundary_geojson.is_empty())
    {
        let geometry: Geometry = zone
            .boundary_geojson
            .parse()
            .with_context(|| format!("the stored outline of {}", zone.zone_id))?;
        let mut properties = JsonObject::new();
        properties.insert("zone_id".into(), zone.zone_id.clone().into());
        properties.insert("kind".into(), zone.kind.clone().into());
        properties.insert("name".into(), zone.name.clone().into());
        properties.insert("parent_id".into(), zone.parent_id.clone().into());
        features.push(Feature {
            bbox: None,
            geometry: Some(geometry),
            id: Some(Id::String(zone.zone_id.clone())),
            properties: Some(properties),
            foreign_members: None,
        });
    }
    serde_json::to_writer(out, &GeoJson::from(FeatureCollection::from_iter(features)))
        .context("writing GeoJSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_domain::{Zone, ZoneKind};

    fn registry() -> Registry {
        let mut registry = Registry::default();
        registry.upsert(RegistryEntity::Zone(Zone {
            id: "th".into(),
            kind: ZoneKind::Province,
            name: "Thanh Hóa".into(),
            parent_id: None,
            path: vec!["Thanh Hóa".into()],
            police_unit: None,
            boundary: None,
        }));
        registry
    }

    fn features(text: &str) -> Vec<Feature> {
        match text.parse::<GeoJson>().unwrap() {
            GeoJson::FeatureCollection(collection) => collection.features,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outlines_are_set_on_known_zones_and_every_problem_named() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"zone_id":"th"},
           "geometry":{"type":"Polygon","coordinates":[[[105,20],[106,20],[106,21],[105,20]]]}},
          {"type":"Feature","properties":{"zone_id":"th.nowhere"},
           "geometry":{"type":"Polygon","coordinates":[[[105,20],[106,20],[106,21],[105,20]]]}},
          {"type":"Feature","properties":{},"geometry":null},
          {"type":"Feature","id":"th","properties":null,
           "geometry":{"type":"Point","coordinates":[105,20]}}]}"#;
        let (zones, errors) = outlines(features(text), &registry());
        assert_eq!(zones.len(), 1);
        let RegistryEntity::Zone(zone) = &zones[0] else {
            panic!("{zones:?}")
        };
        assert!(zone.boundary.as_ref().unwrap().contains((105.7, 20.2)));
        assert_eq!(
            errors,
            [
                "feature 2: zone th.nowhere is not in the registry (import it first)",
                "feature 3: no properties.zone_id (nor an id) naming the zone",
                "feature 4 (th): the outline is a Point; only Polygon and MultiPolygon are accepted",
            ]
        );
    }

    #[test]
    fn export_reads_back_as_the_same_outlines() {
        let mut registry = registry();
        let boundary =
            Boundary::polygon(vec![(105.0, 20.0), (106.0, 20.0), (106.0, 21.0)]).unwrap();
        let mut zone = registry.zone("th").unwrap().clone();
        zone.boundary = Some(boundary.clone());
        registry.upsert(RegistryEntity::Zone(zone.clone()));
        let mut out = Vec::new();
        write(&mut out, &[ZoneRecord::from_zone(&zone)]).unwrap();
        let (zones, errors) = outlines(features(std::str::from_utf8(&out).unwrap()), &registry);
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(zones, [RegistryEntity::Zone(zone)]);
    }
}
