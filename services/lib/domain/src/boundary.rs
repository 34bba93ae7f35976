//! Zone outlines: a GeoJSON "Polygon" or "MultiPolygon" geometry in WGS 84
//! ([longitude, latitude]), checked and bounded before the registry keeps it
//! (an imported file is untrusted input, and every service holds the
//! registry in memory).

use geojson::{Geometry, GeometryValue, Position};

/// Longest GeoJSON text a zone's outline may have.
pub const MAX_BOUNDARY_BYTES: usize = 512 * 1024;
/// Most vertices a zone's outline may have, over all its rings.
pub const MAX_BOUNDARY_VERTICES: usize = 20_000;

/// A closed ring of (longitude, latitude) points; the first point repeats
/// last.
pub type Ring = Vec<(f64, f64)>;

/// An outline: polygons, each an outer ring and its holes.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundary {
    polygons: Vec<Vec<Ring>>,
}

/// Why an outline was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoundaryError {
    #[error("the outline is {0} bytes; at most {MAX_BOUNDARY_BYTES} are accepted")]
    TooLarge(usize),
    #[error("the outline is not a GeoJSON geometry: {0}")]
    NotGeoJson(String),
    #[error("the outline is a {0}; only Polygon and MultiPolygon are accepted")]
    WrongType(&'static str),
    #[error("the outline has no polygon")]
    Empty,
    #[error("the outline has {0} vertices; at most {MAX_BOUNDARY_VERTICES} are accepted")]
    TooManyVertices(usize),
    #[error("a ring has {0} points; a closed ring needs at least 4")]
    ShortRing(usize),
    #[error("a ring does not end where it starts")]
    OpenRing,
    #[error("a point is not [longitude, latitude] within ±180, ±90: {0:?}")]
    BadPoint(Vec<f64>),
}

impl Boundary {
    /// One polygon from its outer ring (closed here if it is not).
    pub fn polygon(mut outer: Ring) -> Result<Self, BoundaryError> {
        if let (Some(&first), Some(&last)) = (outer.first(), outer.last())
            && first != last
        {
            outer.push(first);
        }
        let boundary = Self {
            polygons: vec![vec![outer]],
        };
        boundary.check()?;
        Ok(boundary)
    }

    /// Parses and checks a GeoJSON geometry object.
    pub fn from_geojson(text: &str) -> Result<Self, BoundaryError> {
        if text.len() > MAX_BOUNDARY_BYTES {
            return Err(BoundaryError::TooLarge(text.len()));
        }
        // serde_json with float_roundtrip (the workspace's): coordinates
        // read back exactly as written.
        let geometry: Geometry = serde_json::from_str(text)
            .map_err(|error| BoundaryError::NotGeoJson(error.to_string()))?;
        Self::from_geometry(&geometry)
    }

    /// Checks a parsed GeoJSON geometry (e.g. a feature's).
    pub fn from_geometry(geometry: &Geometry) -> Result<Self, BoundaryError> {
        let polygons = match &geometry.value {
            GeometryValue::Polygon { coordinates } => vec![rings(coordinates)?],
            GeometryValue::MultiPolygon { coordinates } => coordinates
                .iter()
                .map(|polygon| rings(polygon))
                .collect::<Result<_, _>>()?,
            other => return Err(BoundaryError::WrongType(other.type_name())),
        };
        let boundary = Self { polygons };
        boundary.check()?;
        Ok(boundary)
    }

    fn check(&self) -> Result<(), BoundaryError> {
        if self.polygons.is_empty() || self.polygons.iter().any(Vec::is_empty) {
            return Err(BoundaryError::Empty);
        }
        let vertices = self.vertex_count();
        if vertices > MAX_BOUNDARY_VERTICES {
            return Err(BoundaryError::TooManyVertices(vertices));
        }
        for ring in self.polygons.iter().flatten() {
            if ring.len() < 4 {
                return Err(BoundaryError::ShortRing(ring.len()));
            }
            if ring.first() != ring.last() {
                return Err(BoundaryError::OpenRing);
            }
            if let Some(&(lon, lat)) = ring
                .iter()
                .find(|(lon, lat)| !(lon.abs() <= 180.0 && lat.abs() <= 90.0))
            {
                return Err(BoundaryError::BadPoint(vec![lon, lat]));
            }
        }
        Ok(())
    }

    /// The polygons: outer ring first, then holes.
    pub fn polygons(&self) -> &[Vec<Ring>] {
        &self.polygons
    }

    pub fn vertex_count(&self) -> usize {
        self.polygons.iter().flatten().map(Vec::len).sum()
    }

    /// Whether (longitude, latitude) lies inside (even-odd rule: inside an
    /// outer ring and outside its holes).
    pub fn contains(&self, point: (f64, f64)) -> bool {
        self.polygons.iter().any(|rings| {
            rings
                .iter()
                .filter(|ring| ring_contains(ring, point))
                .count()
                % 2
                == 1
        })
    }

    /// The GeoJSON geometry object, as text.
    pub fn to_geojson(&self) -> String {
        let position = |&(lon, lat): &(f64, f64)| Position::from([lon, lat]);
        let polygon = |rings: &Vec<Ring>| -> Vec<Vec<Position>> {
            rings
                .iter()
                .map(|ring| ring.iter().map(position).collect())
                .collect()
        };
        let value = match self.polygons.as_slice() {
            [one] => GeometryValue::Polygon {
                coordinates: polygon(one),
            },
            many => GeometryValue::MultiPolygon {
                coordinates: many.iter().map(polygon).collect(),
            },
        };
        value.to_string()
    }
}

fn rings(polygon: &[Vec<Position>]) -> Result<Vec<Ring>, BoundaryError> {
    polygon
        .iter()
        .map(|ring| {
            ring.iter()
                .map(|position| match position.as_slice() {
                    // A third value (altitude) is allowed and dropped.
                    [lon, lat] | [lon, lat, _] if lon.is_finite() && lat.is_finite() => {
                        Ok((*lon, *lat))
                    }
                    other => Err(BoundaryError::BadPoint(other.to_vec())),
                })
                .collect()
        })
        .collect()
}

/// Ray casting: whether `point` is inside `ring`.
fn ring_contains(ring: &[(f64, f64)], (x, y): (f64, f64)) -> bool {
    let mut inside = false;
    for edge in ring.windows(2) {
        let ((x1, y1), (x2, y2)) = (edge[0], edge[1]);
        if (y1 > y) != (y2 > y) && x < x1 + (y - y1) / (y2 - y1) * (x2 - x1) {
            inside = !inside;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARE: &str =
        r#"{"type":"Polygon","coordinates":[[[105,20],[106,20],[106,21],[105,21],[105,20]]]}"#;

    #[test]
    fn a_polygon_reads_and_writes_back_the_same() {
        let boundary = Boundary::from_geojson(SQUARE).unwrap();
        assert_eq!(boundary.vertex_count(), 5);
        assert_eq!(
            Boundary::from_geojson(&boundary.to_geojson()).unwrap(),
            boundary
        );
        assert!(boundary.contains((105.5, 20.5)));
        assert!(!boundary.contains((104.9, 20.5)));
    }

    #[test]
    fn coordinates_survive_the_text_exactly() {
        // Outlines are compared after a trip through the database as text.
        let ring: Ring = (0..200)
            .map(|i| {
                let angle = f64::from(i) * 0.031_415_926_535_897_93;
                (
                    105.0 + angle.cos() * 0.123_456_789_012_345,
                    20.0 + angle.sin() / 3.0,
                )
            })
            .collect();
        let boundary = Boundary::polygon(ring).unwrap();
        assert_eq!(
            Boundary::from_geojson(&boundary.to_geojson()).unwrap(),
            boundary
        );
    }

    #[test]
    fn holes_and_multipolygons_count_as_geojson_says() {
        let text = r#"{"type":"MultiPolygon","coordinates":[
            [[[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]],
            [[[20,0],[21,0],[21,1],[20,1],[20,0]]]]}"#;
        let boundary = Boundary::from_geojson(text).unwrap();
        assert!(boundary.contains((1.0, 1.0)));
        assert!(!boundary.contains((5.0, 5.0)), "inside the hole");
        assert!(boundary.contains((20.5, 0.5)));
        assert_eq!(
            Boundary::from_geojson(&boundary.to_geojson()).unwrap(),
            boundary
        );
    }

    #[test]
    fn bad_outlines_are_refused_in_words() {
        let refused = |text: &str| Boundary::from_geojson(text).unwrap_err().to_string();
        assert!(refused("{").contains("not a GeoJSON geometry"));
        assert!(refused(r#"{"type":"Point","coordinates":[105,20]}"#).contains("a Point"));
        assert!(
            refused(r#"{"type":"Polygon","coordinates":[[[105,20],[106,20],[105,20]]]}"#)
                .contains("3 points")
        );
        assert!(
            refused(r#"{"type":"Polygon","coordinates":[[[105,20],[106,20],[106,21],[105,21]]]}"#)
                .contains("does not end where it starts")
        );
        assert!(
            refused(r#"{"type":"Polygon","coordinates":[[[205,20],[106,20],[106,21],[205,20]]]}"#)
                .contains("within ±180")
        );
        assert!(refused(r#"{"type":"MultiPolygon","coordinates":[]}"#).contains("no polygon"));
        assert!(refused(&" ".repeat(MAX_BOUNDARY_BYTES + 1)).contains("bytes"));
    }

    #[test]
    fn too_many_vertices_are_refused() {
        let ring: Ring = (0..=MAX_BOUNDARY_VERTICES)
            .map(|i| {
                let angle = i as f64 / MAX_BOUNDARY_VERTICES as f64 * std::f64::consts::TAU;
                (angle.cos(), angle.sin())
            })
            .collect();
        assert!(matches!(
            Boundary::polygon(ring),
            Err(BoundaryError::TooManyVertices(_))
        ));
    }

    #[test]
    fn an_open_ring_given_by_points_is_closed() {
        let boundary = Boundary::polygon(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]).unwrap();
        assert_eq!(boundary.polygons()[0][0].len(), 4);
    }
}
