//! Outlines for the synthetic province's map: a province outline shaped
//! like Thanh Hóa's (the Lao border in the west, the coast in the east), cut
//! into one cell per commune around the commune's centre (a Voronoi diagram
//! clipped to the outline), so the communes never overlap and together
//! cover the province. Points are (longitude, latitude).

use vigil_domain::Boundary;

/// Thanh Hóa, roughly: clockwise from the north-west corner, along the
/// borders with Sơn La, Hòa Bình and Ninh Bình, down the coast, along Nghệ
/// An, and up the Lao border.
pub(crate) const PROVINCE_OUTLINE: &[(f64, f64)] = &[
    (104.40, 20.45),
    (104.75, 20.60),
    (105.10, 20.67),
    (105.45, 20.55),
    (105.75, 20.42),
    (106.07, 20.15),
    (105.98, 19.85),
    (105.93, 19.62),
    (105.82, 19.30),
    (105.50, 19.38),
    (105.25, 19.50),
    (104.95, 19.60),
    (104.70, 19.78),
    (104.45, 19.95),
    (104.37, 20.20),
];

/// East-west degrees are shorter than north-south ones at this latitude;
/// cells are cut in a plane where both are the same length.
const LONGITUDE_SCALE: f64 = 0.94; // cos(20°)

/// The province's outline.
pub(crate) fn province() -> Boundary {
    Boundary::polygon(PROVINCE_OUTLINE.to_vec()).expect("the built-in outline is valid")
}

/// One cell per site: the part of the province closer to it than to any
/// other site. Sites must lie inside the province.
pub(crate) fn cells(sites: &[(f64, f64)]) -> Vec<Boundary> {
    sites
        .iter()
        .enumerate()
        .map(|(index, &site)| {
            let mut cell = PROVINCE_OUTLINE.to_vec();
            for (other_index, &other) in sites.iter().enumerate() {
                if other_index != index && other != site {
                    cell = closer_to(&cell, site, other);
                }
            }
            Boundary::polygon(cell).expect("a cell of a site inside the province")
        })
        .collect()
}

/// The part of `polygon` closer to `site` than to `other`
/// (Sutherland–Hodgman against one half-plane).
fn closer_to(polygon: &[(f64, f64)], site: (f64, f64), other: (f64, f64)) -> Vec<(f64, f64)> {
    let plane = |(lon, lat): (f64, f64)| (lon * LONGITUDE_SCALE, lat);
    let (s, o) = (plane(site), plane(other));
    let normal = (o.0 - s.0, o.1 - s.1);
    let limit = (o.0 * o.0 + o.1 * o.1 - s.0 * s.0 - s.1 * s.1) / 2.0;
    // Negative or zero: on the site's side.
    let side = |point: (f64, f64)| {
        let p = plane(point);
        p.0 * normal.0 + p.1 * normal.1 - limit
    };
    let mut clipped = Vec::with_capacity(polygon.len() + 2);
    for (index, &current) in polygon.iter().enumerate() {
        let next = polygon[(index + 1) % polygon.len()];
        let (a, b) = (side(current), side(next));
        if a <= 0.0 {
            clipped.push(current);
        }
        if (a <= 0.0) != (b <= 0.0) {
            let t = a / (a - b);
            clipped.push((
                current.0 + t * (next.0 - current.0),
                current.1 + t * (next.1 - current.1),
            ));
        }
    }
    clipped
}

/// `point` if `area` contains it, else a point a little short of where the
/// way from `anchor` (which must be inside) to it leaves `area`: not on the
/// edge, where a neighbour's outline would claim it too.
pub(crate) fn pulled_inside(area: &Boundary, anchor: (f64, f64), point: (f64, f64)) -> (f64, f64) {
    if area.contains(point) {
        return point;
    }
    let at = |t: f64| {
        (
            anchor.0 + t * (point.0 - anchor.0),
            anchor.1 + t * (point.1 - anchor.1),
        )
    };
    let (mut inside, mut outside) = (0.0, 1.0);
    for _ in 0..30 {
        let middle = (inside + outside) / 2.0;
        if area.contains(at(middle)) {
            inside = middle;
        } else {
            outside = middle;
        }
    }
    at(inside * 0.98)
}

/// A point well inside the province (Thanh Hóa city's hinterland).
pub(crate) const INTERIOR: (f64, f64) = (105.5, 19.95);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cover_the_province_once() {
        let sites = [(105.0, 20.3), (105.6, 20.0), (105.8, 19.5), (104.6, 20.1)];
        let cells = cells(&sites);
        for (cell, site) in cells.iter().zip(sites) {
            assert!(cell.contains(site), "a site lies in its own cell");
        }
        let province = province();
        let mut inside = 0;
        for i in 0..60 {
            for j in 0..60 {
                let point = (
                    104.37 + i as f64 * 0.0283 + 0.001,
                    19.30 + j as f64 * 0.0228 + 0.001,
                );
                let owners = cells.iter().filter(|cell| cell.contains(point)).count();
                if province.contains(point) {
                    inside += 1;
                    assert_eq!(owners, 1, "{point:?} is in {owners} cells");
                } else {
                    assert_eq!(owners, 0, "{point:?} is outside the province");
                }
            }
        }
        assert!(inside > 1_000, "the grid samples the province");
    }

    #[test]
    fn points_outside_are_pulled_in_toward_the_anchor() {
        let province = province();
        assert!(province.contains(INTERIOR));
        let pulled = pulled_inside(&province, INTERIOR, (108.0, 19.95));
        assert!(province.contains(pulled));
        assert!(pulled.0 > 105.9 && pulled.0 < 106.1, "{pulled:?}");
        assert_eq!(
            pulled_inside(&province, INTERIOR, (105.0, 20.0)),
            (105.0, 20.0)
        );
    }
}
