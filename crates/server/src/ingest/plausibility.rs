//! Marking records no real fix can produce, before anything else looks at
//! them: they are acknowledged and kept raw, but flagged `valid = false`
//! with an `invalidReason` attribute, and from then on never become a
//! device's latest position, never reach the processor and never go out
//! on the live bus. Without this, one fix dated 2100 wins "latest"
//! forever.

use std::time::Duration;

use trackd_model::{AttrValue, KnownKey, Position};

/// Knots in metres per second (positions carry m/s).
const KNOT: f64 = 1852.0 / 3600.0;

/// Why a record was marked; the value of its `invalidReason` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Latitude outside ±90° or longitude outside ±180° (or not a number).
    Coordinates,
    /// Fix time further ahead of its arrival than the future limit.
    FutureTime,
    /// Speed above the plausible maximum (or negative, or not a number).
    Speed,
}

impl Reason {
    /// The attribute value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::Coordinates => "coordinatesOutOfRange",
            Reason::FutureTime => "futureFixTime",
            Reason::Speed => "impossibleSpeed",
        }
    }
}

/// The limits a record must keep to count as plausible.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plausibility {
    /// How far past its arrival a fix time may lie.
    pub(crate) future_limit: Duration,
    /// Fastest plausible speed, metres per second.
    pub(crate) max_speed: f64,
}

impl Plausibility {
    /// Limits from a future limit and a top speed in knots.
    pub(crate) fn new(future_limit: Duration, max_speed_knots: f64) -> Self {
        Plausibility {
            future_limit,
            max_speed: max_speed_knots * KNOT,
        }
    }

    /// The first rule `position` breaks, if any; the future is measured
    /// from its arrival (`server_time`), so the verdict does not depend on
    /// when it is checked.
    pub(crate) fn check(&self, position: &Position) -> Option<Reason> {
        let coordinates_ok = position.latitude.is_finite()
            && position.longitude.is_finite()
            && position.latitude.abs() <= 90.0
            && position.longitude.abs() <= 180.0;
        if !coordinates_ok {
            return Some(Reason::Coordinates);
        }
        let limit_ms = i64::try_from(self.future_limit.as_millis()).unwrap_or(i64::MAX);
        let latest_ok = position.server_time.as_millis().saturating_add(limit_ms);
        if position.fix_time.as_millis() > latest_ok {
            return Some(Reason::FutureTime);
        }
        // `!(a <= b)` so that NaN is caught too.
        if !(position.speed >= 0.0 && position.speed <= self.max_speed) {
            return Some(Reason::Speed);
        }
        None
    }

    /// Marks `position` invalid with the reason if it breaks a rule;
    /// whether it did. A record marked before (a resend) keeps its mark.
    pub(crate) fn mark(&self, position: &mut Position) -> bool {
        if position.is_implausible() {
            position.valid = false;
            return true;
        }
        let Some(reason) = self.check(position) else {
            return false;
        };
        position.valid = false;
        position.attributes.set(
            KnownKey::InvalidReason,
            AttrValue::Str(reason.as_str().into()),
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use trackd_model::Timestamp;

    use super::*;

    const DAY_MS: i64 = 24 * 3600 * 1000;

    fn limits() -> Plausibility {
        Plausibility::new(Duration::from_secs(24 * 3600), 1000.0)
    }

    fn fix() -> Position {
        Position {
            fix_time: Timestamp::from_millis(1_764_000_000_000),
            server_time: Timestamp::from_millis(1_764_000_000_500),
            valid: true,
            latitude: 54.68,
            longitude: 25.28,
            speed: 20.0,
            ..Position::default()
        }
    }

    #[test]
    fn a_real_fix_is_left_alone() {
        let mut position = fix();
        assert!(!limits().mark(&mut position));
        assert!(position.valid);
        assert!(!position.is_implausible());
    }

    #[test]
    fn out_of_range_coordinates_are_marked() {
        for (lat, lon) in [
            (214.0, 25.0),
            (-90.5, 0.0),
            (0.0, 180.1),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
        ] {
            let mut position = Position {
                latitude: lat,
                longitude: lon,
                ..fix()
            };
            assert!(limits().mark(&mut position), "{lat} {lon}");
            assert!(!position.valid);
            assert_eq!(
                position.attributes.get_known(KnownKey::InvalidReason),
                Some(AttrValue::Str("coordinatesOutOfRange".into()).view())
            );
        }
    }

    #[test]
    fn fixes_beyond_the_future_limit_are_marked() {
        let arrival = fix().server_time.as_millis();
        let mut within = Position {
            fix_time: Timestamp::from_millis(arrival + DAY_MS - 1),
            ..fix()
        };
        assert!(!limits().mark(&mut within));
        for future in [arrival + DAY_MS + 1, 4_102_444_800_000, i64::MAX] {
            let mut position = Position {
                fix_time: Timestamp::from_millis(future),
                ..fix()
            };
            assert_eq!(limits().check(&position), Some(Reason::FutureTime));
            assert!(limits().mark(&mut position));
        }
    }

    #[test]
    fn impossible_speeds_are_marked() {
        // 35,386 knots, as seen from a broken device.
        for speed in [35_386.0 * KNOT, -1.0, f64::NAN] {
            let position = Position { speed, ..fix() };
            assert_eq!(limits().check(&position), Some(Reason::Speed), "{speed}");
        }
        let airliner = Position {
            speed: 500.0 * KNOT,
            ..fix()
        };
        assert_eq!(limits().check(&airliner), None);
    }

    #[test]
    fn a_resent_marked_record_stays_marked() {
        let mut position = Position {
            latitude: 214.0,
            ..fix()
        };
        assert!(limits().mark(&mut position));
        let mut again = position.clone();
        again.valid = true;
        assert!(limits().mark(&mut again));
        assert_eq!(again, position);
    }
}
