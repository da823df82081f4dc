//! Geofence shapes, parsed from Traccar's WKT subset (latitude first):
//! `CIRCLE (lat lon, radius_m)`, `POLYGON ((lat lon, lat lon, ...))` and
//! `LINESTRING (lat lon, ...)`, with containment as Traccar decides it.

use std::fmt;

/// Mean equatorial radius Traccar measures distances with, in metres.
const EARTH_RADIUS_M: f64 = 6_378_137.0;

/// How far from a polyline a point still counts as on it, in metres, when the
/// geofence has no `polylineDistance` attribute (Traccar's default).
pub const DEFAULT_POLYLINE_DISTANCE_M: f64 = 25.0;

/// A point on the WGS-84 globe, in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatLon {
    /// Degrees north, -90 to 90.
    pub lat: f64,
    /// Degrees east, -180 to 180.
    pub lon: f64,
}

impl LatLon {
    /// A point from degrees.
    pub fn new(lat: f64, lon: f64) -> Self {
        LatLon { lat, lon }
    }
}

/// A parsed geofence area.
#[derive(Clone, Debug, PartialEq)]
pub enum Geometry {
    /// Everything within `radius_m` metres of `center`.
    Circle {
        /// Centre of the circle.
        center: LatLon,
        /// Radius in metres, positive.
        radius_m: f64,
    },
    /// The inside of a ring (even-odd rule); the ring may repeat its first
    /// point at the end, as GeoJSON-derived WKT does.
    Polygon {
        /// The corners in order, at least 3.
        ring: Vec<LatLon>,
    },
    /// A corridor along a path; its width comes from the geofence (see
    /// [`Geometry::contains_within`]), not from the WKT.
    Polyline {
        /// The vertices in order, at least 2.
        points: Vec<LatLon>,
    },
}

/// Why an area does not parse.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GeometryError {
    /// Not one of the three shapes.
    #[error("expected CIRCLE, POLYGON or LINESTRING")]
    UnknownShape,
    /// The parentheses do not enclose what the shape needs.
    #[error("{shape} must look like {form}")]
    Syntax {
        /// The shape keyword.
        shape: &'static str,
        /// The expected form.
        form: &'static str,
    },
    /// A coordinate pair without exactly two numbers.
    #[error("point {0:?} needs a latitude and a longitude")]
    Point(String),
    /// A token that is no number.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// A latitude outside -90..90 (or not finite).
    #[error("latitude {0} out of range")]
    Latitude(f64),
    /// A longitude that is not finite.
    #[error("longitude {0} out of range")]
    Longitude(f64),
    /// A radius that is not a positive finite number.
    #[error("radius {0} must be a positive number of metres")]
    Radius(f64),
    /// A polygon with fewer than 3 points.
    #[error("polygon needs at least 3 points")]
    PolygonTooSmall,
    /// A linestring with fewer than 2 points.
    #[error("linestring needs at least 2 points")]
    PolylineTooShort,
}

impl Geometry {
    /// Parses Traccar's WKT. The keyword is matched case-insensitively and
    /// any whitespace separates numbers; longitudes beyond ±180 (maps that
    /// let one draw on a repeated world copy produce them) are wrapped.
    pub fn parse(wkt: &str) -> Result<Geometry, GeometryError> {
        let wkt = wkt.trim();
        let open = wkt.find('(').ok_or(GeometryError::UnknownShape)?;
        let keyword = wkt[..open].trim();
        let body = &wkt[open..];
        if keyword.eq_ignore_ascii_case("CIRCLE") {
            parse_circle(body)
        } else if keyword.eq_ignore_ascii_case("POLYGON") {
            let form = "POLYGON ((lat lon, lat lon, lat lon, ...))";
            let ring = parse_points(enclosed(body, 2, "POLYGON", form)?)?;
            if ring.len() < 3 {
                return Err(GeometryError::PolygonTooSmall);
            }
            Ok(Geometry::Polygon { ring })
        } else if keyword.eq_ignore_ascii_case("LINESTRING") {
            let form = "LINESTRING (lat lon, lat lon, ...)";
            let points = parse_points(enclosed(body, 1, "LINESTRING", form)?)?;
            if points.len() < 2 {
                return Err(GeometryError::PolylineTooShort);
            }
            Ok(Geometry::Polyline { points })
        } else {
            Err(GeometryError::UnknownShape)
        }
    }

    /// Whether the point is inside, a polyline counting
    /// [`DEFAULT_POLYLINE_DISTANCE_M`] to either side.
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        self.contains_within(lat, lon, DEFAULT_POLYLINE_DISTANCE_M)
    }

    /// Whether the point is inside, a polyline counting
    /// `polyline_distance_m` to either side (the geofence's
    /// `polylineDistance` attribute).
    pub fn contains_within(&self, lat: f64, lon: f64, polyline_distance_m: f64) -> bool {
        let point = LatLon::new(lat, lon);
        match self {
            Geometry::Circle { center, radius_m } => distance_m(*center, point) <= *radius_m,
            Geometry::Polygon { ring } => ring_contains(ring, point),
            Geometry::Polyline { points } => points
                .windows(2)
                .any(|w| distance_to_segment_m(point, w[0], w[1]) <= polyline_distance_m),
        }
    }
}

impl fmt::Display for Geometry {
    /// Renders WKT that [`Geometry::parse`] reads back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, points: &[LatLon]| -> fmt::Result {
            for (i, p) in points.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{} {}", p.lat, p.lon)?;
            }
            Ok(())
        };
        match self {
            Geometry::Circle { center, radius_m } => {
                write!(f, "CIRCLE ({} {}, {})", center.lat, center.lon, radius_m)
            }
            Geometry::Polygon { ring } => {
                f.write_str("POLYGON ((")?;
                list(f, ring)?;
                f.write_str("))")
            }
            Geometry::Polyline { points } => {
                f.write_str("LINESTRING (")?;
                list(f, points)?;
                f.write_str(")")
            }
        }
    }
}

/// The text inside `depth` pairs of parentheses, which must close the input.
fn enclosed<'a>(
    body: &'a str,
    depth: usize,
    shape: &'static str,
    form: &'static str,
) -> Result<&'a str, GeometryError> {
    let syntax = GeometryError::Syntax { shape, form };
    let mut inner = body.trim();
    for _ in 0..depth {
        inner = inner
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(|| syntax.clone())?
            .trim();
    }
    // Holes, multi-geometries and stray parentheses are not Traccar's subset.
    if inner.contains(['(', ')']) {
        return Err(syntax);
    }
    Ok(inner)
}

fn parse_circle(body: &str) -> Result<Geometry, GeometryError> {
    let form = "CIRCLE (lat lon, radius)";
    let inner = enclosed(body, 1, "CIRCLE", form)?;
    let (point, radius) = inner.split_once(',').ok_or(GeometryError::Syntax {
        shape: "CIRCLE",
        form,
    })?;
    let center = parse_point(point)?;
    let radius_m = parse_number(radius.trim())?;
    if !(radius_m.is_finite() && radius_m > 0.0) {
        return Err(GeometryError::Radius(radius_m));
    }
    Ok(Geometry::Circle { center, radius_m })
}

fn parse_points(inner: &str) -> Result<Vec<LatLon>, GeometryError> {
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    inner.split(',').map(parse_point).collect()
}

fn parse_point(text: &str) -> Result<LatLon, GeometryError> {
    let mut tokens = text.split_whitespace();
    let (Some(lat), Some(lon), None) = (tokens.next(), tokens.next(), tokens.next()) else {
        return Err(GeometryError::Point(text.trim().to_owned()));
    };
    let lat = parse_number(lat)?;
    let lon = parse_number(lon)?;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(GeometryError::Latitude(lat));
    }
    if !lon.is_finite() {
        return Err(GeometryError::Longitude(lon));
    }
    Ok(LatLon::new(lat, wrap_longitude(lon)))
}

fn parse_number(token: &str) -> Result<f64, GeometryError> {
    token
        .parse::<f64>()
        .map_err(|_| GeometryError::NotANumber(token.to_owned()))
}

/// Brings a finite longitude into -180..=180, keeping in-range values as they are.
fn wrap_longitude(lon: f64) -> f64 {
    if (-180.0..=180.0).contains(&lon) {
        lon
    } else {
        (lon + 180.0).rem_euclid(360.0) - 180.0
    }
}

/// Great-circle (haversine) distance in metres.
pub fn distance_m(a: LatLon, b: LatLon) -> f64 {
    let to_rad = std::f64::consts::PI / 180.0;
    let half_dlat = (b.lat - a.lat) * to_rad / 2.0;
    let half_dlon = (b.lon - a.lon) * to_rad / 2.0;
    let h = half_dlat.sin().powi(2)
        + (a.lat * to_rad).cos() * (b.lat * to_rad).cos() * half_dlon.sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().atan2((1.0 - h).max(0.0).sqrt())
}

/// Distance in metres from `point` to the segment `a`-`b`: to the nearer end
/// when the perpendicular falls outside the segment, else the height of the
/// triangle whose sides are the three great-circle distances (Traccar's
/// approximation, good for the short segments of a route).
pub fn distance_to_segment_m(point: LatLon, a: LatLon, b: LatLon) -> f64 {
    let to_a = distance_m(point, a);
    let to_b = distance_m(point, b);
    let length = distance_m(a, b);
    if length == 0.0 {
        return to_a;
    }
    if to_a * to_a > length * length + to_b * to_b {
        return to_b;
    }
    if to_b * to_b > length * length + to_a * to_a {
        return to_a;
    }
    let s = (to_a + to_b + length) / 2.0;
    let area = (s * (s - to_a) * (s - to_b) * (s - length)).max(0.0).sqrt();
    2.0 * area / length
}

/// Even-odd test with longitude as the x axis. A ring that has corners both
/// east of 90°E and west of 90°W is taken to cross the antimeridian, and its
/// western longitudes (and the point's) are shifted by 360° so it is one
/// piece, as Traccar does.
fn ring_contains(ring: &[LatLon], point: LatLon) -> bool {
    let crosses = ring.iter().any(|p| p.lon > 90.0) && ring.iter().any(|p| p.lon < -90.0);
    let x_of = |lon: f64| {
        if crosses && lon < -90.0 {
            lon + 360.0
        } else {
            lon
        }
    };
    let x = x_of(point.lon);
    let mut inside = false;
    let mut previous = match ring.last() {
        Some(last) => *last,
        None => return false,
    };
    for corner in ring {
        let (x1, y1) = (x_of(previous.lon), previous.lat);
        let (x2, y2) = (x_of(corner.lon), corner.lat);
        if (x1 < x) != (x2 < x) {
            let y_on_edge = y1 + (x - x1) * (y2 - y1) / (x2 - x1);
            if y_on_edge < point.lat {
                inside = !inside;
            }
        }
        previous = *corner;
    }
    inside
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn parse(wkt: &str) -> Geometry {
        Geometry::parse(wkt).unwrap()
    }

    #[test]
    fn parses_the_three_shapes_latitude_first() {
        assert_eq!(
            parse("CIRCLE (54.68 25.28, 150)"),
            Geometry::Circle {
                center: LatLon::new(54.68, 25.28),
                radius_m: 150.0
            }
        );
        assert_eq!(
            parse("POLYGON ((1 2, 3 4, 5 6, 1 2))"),
            Geometry::Polygon {
                ring: vec![
                    LatLon::new(1.0, 2.0),
                    LatLon::new(3.0, 4.0),
                    LatLon::new(5.0, 6.0),
                    LatLon::new(1.0, 2.0)
                ]
            }
        );
        assert_eq!(
            parse("LINESTRING (1 2, 3 4)"),
            Geometry::Polyline {
                points: vec![LatLon::new(1.0, 2.0), LatLon::new(3.0, 4.0)]
            }
        );
    }

    #[test]
    fn tolerates_case_spacing_and_exponents() {
        assert_eq!(
            parse("  circle(  54.68\t25.28 ,150.5 ) "),
            parse("CIRCLE (54.68 25.28, 150.5)")
        );
        assert_eq!(
            parse("POLYGON((1e-7 2,3 4,5 6))"),
            parse("POLYGON ((0.0000001 2, 3 4, 5 6))")
        );
    }

    #[test]
    fn wraps_longitudes_from_a_repeated_world_copy() {
        assert_eq!(
            parse("CIRCLE (10 190, 5)"),
            Geometry::Circle {
                center: LatLon::new(10.0, -170.0),
                radius_m: 5.0
            }
        );
        assert!(matches!(
            parse("CIRCLE (10 180, 5)"),
            Geometry::Circle { center, .. } if center.lon == 180.0
        ));
        assert!(matches!(
            parse("CIRCLE (10 -180, 5)"),
            Geometry::Circle { center, .. } if center.lon == -180.0
        ));
    }

    #[test]
    fn names_what_is_wrong() {
        let err = |wkt: &str| Geometry::parse(wkt).unwrap_err().to_string();
        assert_eq!(err("POINT (1 2)"), "expected CIRCLE, POLYGON or LINESTRING");
        assert_eq!(err(""), "expected CIRCLE, POLYGON or LINESTRING");
        assert_eq!(err("CIRCLE (123 2, 3)"), "latitude 123 out of range");
        assert_eq!(err("CIRCLE (NaN 2, 3)"), "latitude NaN out of range");
        assert_eq!(err("CIRCLE (1 inf, 3)"), "longitude inf out of range");
        assert_eq!(
            err("POLYGON ((1 2, 3 4))"),
            "polygon needs at least 3 points"
        );
        assert_eq!(err("POLYGON (())"), "polygon needs at least 3 points");
        assert_eq!(
            err("LINESTRING (1 2)"),
            "linestring needs at least 2 points"
        );
        assert_eq!(
            err("CIRCLE (1 2, 0)"),
            "radius 0 must be a positive number of metres"
        );
        assert_eq!(
            err("CIRCLE (1 2, -5)"),
            "radius -5 must be a positive number of metres"
        );
        assert_eq!(err("CIRCLE (1 x, 5)"), "\"x\" is not a number");
        assert_eq!(
            err("CIRCLE (1 2 3, 5)"),
            "point \"1 2 3\" needs a latitude and a longitude"
        );
        assert_eq!(
            err("CIRCLE (1 2)"),
            "CIRCLE must look like CIRCLE (lat lon, radius)"
        );
        assert_eq!(
            err("POLYGON ((1 2, 3 4, 5 6), (1 1, 2 2, 3 3))"),
            "POLYGON must look like POLYGON ((lat lon, lat lon, lat lon, ...))"
        );
        assert_eq!(
            err("LINESTRING (1 2, 3 4"),
            "LINESTRING must look like LINESTRING (lat lon, lat lon, ...)"
        );
    }

    #[test]
    fn circle_edge_is_inside_and_just_beyond_is_not() {
        let circle = parse("CIRCLE (0 0, 1000)");
        // 1000 m due north is 1000 / R radians of latitude.
        let edge_lat = (1000.0 / EARTH_RADIUS_M).to_degrees();
        assert!(circle.contains(0.0, 0.0));
        assert!(circle.contains(edge_lat * 0.999_999, 0.0));
        assert!(!circle.contains(edge_lat * 1.000_01, 0.0));
        assert!(!circle.contains(0.0, edge_lat * 1.000_01));
    }

    #[test]
    fn concave_polygon_excludes_its_notch() {
        // A "U" opening north: longitude 0..3, latitude 0..3, the notch at
        // longitude 1..2 from latitude 1 up.
        let u = parse("POLYGON ((0 0, 0 3, 3 3, 3 2, 1 2, 1 1, 3 1, 3 0, 0 0))");
        assert!(u.contains(2.0, 0.5), "west arm");
        assert!(u.contains(2.0, 2.5), "east arm");
        assert!(u.contains(0.5, 1.5), "bottom");
        assert!(!u.contains(1.5, 1.5), "notch");
        assert!(!u.contains(2.5, 1.5), "notch, open end");
        assert!(!u.contains(2.0, -0.5), "west of it");
        assert!(!u.contains(2.0, 3.5), "east of it");
        assert!(!u.contains(3.5, 0.5), "north of it");
    }

    #[test]
    fn polygon_across_the_antimeridian() {
        // Fiji-ish: from 170°E to 170°W.
        let fiji = parse("POLYGON ((-10 170, -10 -170, -20 -170, -20 170))");
        assert!(fiji.contains(-15.0, 179.0));
        assert!(fiji.contains(-15.0, -179.0));
        assert!(fiji.contains(-15.0, 180.0));
        assert!(!fiji.contains(-15.0, 0.0));
        assert!(!fiji.contains(-15.0, 160.0));
        assert!(!fiji.contains(-15.0, -160.0));
        assert!(!fiji.contains(-25.0, 179.0));
    }

    #[test]
    fn polyline_counts_a_corridor_around_its_segments() {
        let road = parse("LINESTRING (0 0, 0 0.01, 0.01 0.01)");
        let metres_per_degree = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        let off = |m: f64| m / metres_per_degree;
        assert!(
            road.contains(off(20.0), 0.005),
            "20 m beside the first segment"
        );
        assert!(!road.contains(off(30.0), 0.005), "30 m beside it");
        assert!(road.contains_within(off(30.0), 0.005, 40.0));
        assert!(road.contains(0.005, 0.01 + off(20.0)), "beside the second");
        assert!(!road.contains(0.0, -off(30.0)), "beyond the start");
    }

    #[test]
    fn distances_match_known_values() {
        let vilnius = LatLon::new(54.6872, 25.2797);
        let kaunas = LatLon::new(54.8985, 23.9036);
        let d = distance_m(vilnius, kaunas);
        assert!((d - 91_000.0).abs() < 1_500.0, "{d}");
        assert_eq!(distance_m(vilnius, vilnius), 0.0);
        let a = LatLon::new(0.0, 0.0);
        assert_eq!(distance_to_segment_m(a, a, a), 0.0);
    }

    fn lat() -> impl Strategy<Value = f64> {
        -90.0..=90.0f64
    }

    fn lon() -> impl Strategy<Value = f64> {
        -180.0..=180.0f64
    }

    fn point() -> impl Strategy<Value = LatLon> {
        (lat(), lon()).prop_map(|(lat, lon)| LatLon::new(lat, lon))
    }

    fn geometry() -> impl Strategy<Value = Geometry> {
        prop_oneof![
            (point(), 0.001..1.0e7f64)
                .prop_map(|(center, radius_m)| Geometry::Circle { center, radius_m }),
            prop::collection::vec(point(), 3..20).prop_map(|ring| Geometry::Polygon { ring }),
            prop::collection::vec(point(), 2..20).prop_map(|points| Geometry::Polyline { points }),
        ]
    }

    proptest! {
        #[test]
        fn parse_reads_back_what_display_renders(geometry in geometry()) {
            prop_assert_eq!(Geometry::parse(&geometry.to_string()), Ok(geometry));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = Geometry::parse(&text);
        }

        #[test]
        fn wkt_like_text_never_panics(
            text in "(CIRCLE|POLYGON|LINESTRING|circle)? ?[(]{0,3}[-0-9.eE ,NaInf]{0,60}[)]{0,3}"
        ) {
            if let Ok(geometry) = Geometry::parse(&text) {
                let _ = geometry.contains(1.0, 2.0);
            }
        }

        #[test]
        fn containment_never_panics(geometry in geometry(), p in point(), width in 0.0..1.0e6f64) {
            let _ = geometry.contains_within(p.lat, p.lon, width);
        }
    }
}
