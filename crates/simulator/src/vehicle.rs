//! A deterministic vehicle model: trips and stops inside a city-sized area.
//!
//! The model is pure: no clock, no IO. Time is an argument of
//! [`Vehicle::advance_to`], and every random choice comes from a seeded
//! [`SmallRng`], so the same seed and the same calls give the same records.
//!
//! Random decisions are taken at scheduled instants (a new target speed every
//! tens of seconds, a new target heading, a sensor refresh), not once per step,
//! and the physics is integrated in steps of at most one second; speed and
//! heading follow their targets with bounded acceleration and turn rate, which
//! is what makes consecutive records look like a vehicle following roads.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Metres per degree of latitude (and of longitude at the equator).
const METRES_PER_DEGREE: f64 = 111_320.0;
/// Longest integration step.
const MAX_STEP_MS: u64 = 1_000;
/// Speed gain, km/h per second (about 1.2 m/s²).
const ACCELERATION_KMH_PER_S: f64 = 4.3;
/// Speed loss, km/h per second (about 2 m/s²).
const DECELERATION_KMH_PER_S: f64 = 7.2;
/// Fastest heading change, degrees per second, reached above 10 km/h.
const MAX_TURN_DEG_PER_S: f64 = 12.0;
/// Beyond this fraction of the radius the vehicle steers back to the centre.
const RETURN_FRACTION: f64 = 0.75;

/// The circular area a vehicle starts in and stays in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    /// Centre latitude, degrees.
    pub center_lat: f64,
    /// Centre longitude, degrees.
    pub center_lon: f64,
    /// Radius, metres.
    pub radius_m: f64,
    /// Typical ground altitude, metres.
    pub base_altitude_m: f64,
}

impl Default for Area {
    /// Vilnius, Lithuania (where Teltonika devices come from), 8 km around the old town.
    fn default() -> Self {
        Area {
            center_lat: 54.6872,
            center_lon: 25.2797,
            radius_m: 8_000.0,
            base_altitude_m: 112.0,
        }
    }
}

/// One report of a vehicle's tracker, protocol-free: SI units, degrees, UTC milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// When the fix was taken, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// WGS84 latitude, degrees.
    pub latitude: f64,
    /// WGS84 longitude, degrees.
    pub longitude: f64,
    /// Metres above sea level.
    pub altitude_m: f64,
    /// Metres per second.
    pub speed_mps: f64,
    /// Degrees clockwise from north, 0..360.
    pub course_deg: f64,
    /// Satellites in use.
    pub satellites: u8,
    /// Horizontal dilution of precision.
    pub hdop: f64,
    /// Position dilution of precision.
    pub pdop: f64,
    /// Ignition on.
    pub ignition: bool,
    /// The ignition changed since the previous report.
    pub ignition_changed: bool,
    /// The vehicle is moving.
    pub moving: bool,
    /// Mobile signal, 1 (poor) to 5 (excellent).
    pub gsm_level: u8,
    /// Vehicle supply voltage, volts.
    pub external_voltage_v: f64,
    /// Tracker backup battery voltage, volts.
    pub battery_voltage_v: f64,
    /// Tracker backup battery current, amperes.
    pub battery_current_a: f64,
    /// Total distance driven, metres.
    pub odometer_m: f64,
}

/// What the vehicle is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Ignition on, following roads until the given time.
    Driving { until_ms: u64 },
    /// Trip over: braking to a halt, then parking.
    Stopping,
    /// Ignition off, standing still until the given time.
    Parked { until_ms: u64 },
}

/// One simulated vehicle with its tracker's sensors.
#[derive(Debug, Clone)]
pub struct Vehicle {
    rng: SmallRng,
    area: Area,
    time_ms: u64,
    /// Metres east of the area centre.
    x_m: f64,
    /// Metres north of the area centre.
    y_m: f64,
    heading_deg: f64,
    target_heading_deg: f64,
    speed_kmh: f64,
    target_speed_kmh: f64,
    next_speed_change_ms: u64,
    next_heading_change_ms: u64,
    next_sensor_change_ms: u64,
    phase: Phase,
    ignition: bool,
    ignition_changed: bool,
    odometer_m: f64,
    satellites: u8,
    gsm_signal: u8,
    voltage_noise_mv: i32,
}

impl Vehicle {
    /// A vehicle in the default area, seeded for reproducibility, at time `start_ms`.
    pub fn new(seed: u64, start_ms: u64) -> Vehicle {
        Vehicle::with_area(seed, start_ms, Area::default())
    }

    /// A vehicle starting at a random point of `area`.
    pub fn with_area(seed: u64, start_ms: u64, area: Area) -> Vehicle {
        let mut rng = SmallRng::seed_from_u64(seed);
        // Uniform over the disc, within the part the vehicle does not steer back from.
        let distance = area.radius_m * RETURN_FRACTION * rng.gen::<f64>().sqrt();
        let bearing = rng.gen_range(0.0..std::f64::consts::TAU);
        let heading_deg = rng.gen_range(0.0..360.0);
        let driving = rng.gen_bool(0.7);
        let phase = if driving {
            Phase::Driving {
                until_ms: start_ms + rng.gen_range(60_000..1_800_000),
            }
        } else {
            Phase::Parked {
                until_ms: start_ms + rng.gen_range(10_000..180_000),
            }
        };
        let odometer_m = rng.gen_range(5_000_000.0..300_000_000.0);
        let satellites = rng.gen_range(7..=13);
        let gsm_signal = rng.gen_range(3..=5);
        let mut vehicle = Vehicle {
            rng,
            area,
            time_ms: start_ms,
            x_m: distance * bearing.sin(),
            y_m: distance * bearing.cos(),
            heading_deg,
            target_heading_deg: heading_deg,
            speed_kmh: 0.0,
            target_speed_kmh: 0.0,
            next_speed_change_ms: start_ms,
            next_heading_change_ms: start_ms,
            next_sensor_change_ms: start_ms,
            phase,
            ignition: driving,
            ignition_changed: false,
            odometer_m,
            satellites,
            gsm_signal,
            voltage_noise_mv: 0,
        };
        vehicle.update_sensors();
        vehicle
    }

    /// The vehicle's clock, milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        self.time_ms
    }

    /// Whether the ignition is on.
    pub fn ignition(&self) -> bool {
        self.ignition
    }

    /// Current speed, km/h.
    pub fn speed_kmh(&self) -> f64 {
        self.speed_kmh
    }

    /// Current heading, degrees clockwise from north, 0..360.
    pub fn heading_deg(&self) -> f64 {
        self.heading_deg
    }

    /// Total distance driven, metres (including the initial odometer reading).
    pub fn odometer_m(&self) -> f64 {
        self.odometer_m
    }

    /// Distance from the centre of the area, metres.
    pub fn distance_from_center_m(&self) -> f64 {
        self.x_m.hypot(self.y_m)
    }

    /// Current position as (latitude, longitude) in degrees.
    pub fn lat_lon(&self) -> (f64, f64) {
        let lat = self.area.center_lat + self.y_m / METRES_PER_DEGREE;
        let lon = self.area.center_lon
            + self.x_m / (METRES_PER_DEGREE * self.area.center_lat.to_radians().cos());
        (lat, lon)
    }

    /// Moves the simulation forward to `t_ms`; earlier times are ignored.
    ///
    /// After the call, [`Vehicle::fix`] flags an ignition change that
    /// happened during this interval (`ignition_changed`).
    pub fn advance_to(&mut self, t_ms: u64) {
        self.ignition_changed = false;
        while self.time_ms < t_ms {
            let step_ms = (t_ms - self.time_ms).min(MAX_STEP_MS);
            self.step(step_ms);
            self.time_ms += step_ms;
        }
    }

    /// What the tracker reports about the current state, in SI units.
    pub fn fix(&self) -> Fix {
        let (latitude, longitude) = self.lat_lon();
        // Fewer satellites, worse dilution of precision.
        let hdop = (6.0 + 2.0 * f64::from(14u8.saturating_sub(self.satellites))) / 10.0;
        let pdop = hdop * 1.5 + 0.2;
        let base_voltage_mv = if self.ignition { 14_000 } else { 12_500 };
        Fix {
            time_ms: self.time_ms,
            latitude,
            longitude,
            altitude_m: self.altitude_m(),
            speed_mps: self.speed_kmh / 3.6,
            course_deg: self.heading_deg,
            satellites: self.satellites,
            hdop,
            pdop,
            ignition: self.ignition,
            ignition_changed: self.ignition_changed,
            moving: self.speed_kmh > 0.5,
            gsm_level: self.gsm_signal,
            external_voltage_v: f64::from((base_voltage_mv + self.voltage_noise_mv).max(0))
                / 1_000.0,
            battery_voltage_v: f64::from((4_050 + self.voltage_noise_mv / 10).max(0)) / 1_000.0,
            battery_current_a: if self.ignition { 0.040 } else { 0.0 },
            odometer_m: self.odometer_m,
        }
    }

    /// Gentle hills: a smooth function of position around the base altitude.
    fn altitude_m(&self) -> f64 {
        self.area.base_altitude_m
            + 18.0 * (self.x_m / 1_700.0).sin()
            + 11.0 * (self.y_m / 1_100.0).cos()
    }

    /// One integration step of `step_ms` (at most a second) starting at `self.time_ms`.
    fn step(&mut self, step_ms: u64) {
        let now = self.time_ms;
        let dt_s = step_ms as f64 / 1_000.0;
        self.update_phase(now);
        if now >= self.next_sensor_change_ms {
            self.update_sensors();
        }
        if let Phase::Driving { .. } = self.phase {
            if now >= self.next_speed_change_ms {
                self.choose_target_speed(now);
            }
            if now >= self.next_heading_change_ms {
                self.choose_target_heading(now);
            }
        }
        self.steer_back_if_leaving();

        // Speed follows its target with bounded acceleration.
        if self.speed_kmh < self.target_speed_kmh {
            self.speed_kmh =
                (self.speed_kmh + ACCELERATION_KMH_PER_S * dt_s).min(self.target_speed_kmh);
        } else {
            self.speed_kmh =
                (self.speed_kmh - DECELERATION_KMH_PER_S * dt_s).max(self.target_speed_kmh);
        }

        // Heading follows its target with a bounded turn rate; a standing car does not turn.
        let turn_limit = MAX_TURN_DEG_PER_S * dt_s * (self.speed_kmh / 10.0).min(1.0);
        let turn = angle_difference(self.target_heading_deg, self.heading_deg)
            .clamp(-turn_limit, turn_limit);
        self.heading_deg = (self.heading_deg + turn).rem_euclid(360.0);

        let distance_m = self.speed_kmh / 3.6 * dt_s;
        let heading_rad = self.heading_deg.to_radians();
        self.x_m += distance_m * heading_rad.sin();
        self.y_m += distance_m * heading_rad.cos();
        self.odometer_m += distance_m;
    }

    fn update_phase(&mut self, now: u64) {
        match self.phase {
            Phase::Driving { until_ms } if now >= until_ms => {
                self.phase = Phase::Stopping;
                self.target_speed_kmh = 0.0;
            }
            Phase::Stopping if self.speed_kmh <= 0.0 => {
                self.phase = Phase::Parked {
                    until_ms: now + self.rng.gen_range(120_000..600_000),
                };
                self.set_ignition(false);
            }
            Phase::Parked { until_ms } if now >= until_ms => {
                self.phase = Phase::Driving {
                    until_ms: now + self.rng.gen_range(300_000..2_400_000),
                };
                self.set_ignition(true);
                // Pull away after a few seconds of idling.
                self.target_speed_kmh = 0.0;
                self.next_speed_change_ms = now + self.rng.gen_range(3_000..15_000);
                self.next_heading_change_ms = now;
            }
            _ => {}
        }
    }

    fn set_ignition(&mut self, on: bool) {
        if self.ignition != on {
            self.ignition = on;
            self.ignition_changed = true;
        }
    }

    fn choose_target_speed(&mut self, now: u64) {
        let roll: f64 = self.rng.gen();
        let (target, hold_ms) = if roll < 0.12 {
            // A red light or a traffic jam.
            (0.0, self.rng.gen_range(5_000..40_000))
        } else if roll < 0.75 {
            (
                self.rng.gen_range(30.0..60.0),
                self.rng.gen_range(15_000..90_000),
            )
        } else {
            (
                self.rng.gen_range(60.0..110.0),
                self.rng.gen_range(20_000..120_000),
            )
        };
        self.target_speed_kmh = target;
        self.next_speed_change_ms = now + hold_ms;
    }

    fn choose_target_heading(&mut self, now: u64) {
        let change = if self.rng.gen_bool(0.3) {
            // A turn at a junction.
            if self.rng.gen_bool(0.5) {
                90.0
            } else {
                -90.0
            }
        } else {
            // A bend in the road.
            self.rng.gen_range(-20.0..20.0)
        };
        self.target_heading_deg = (self.heading_deg + change).rem_euclid(360.0);
        self.next_heading_change_ms = now + self.rng.gen_range(5_000..45_000);
    }

    /// Near the edge of the area and not already heading inwards: aim for the centre.
    fn steer_back_if_leaving(&mut self) {
        if self.distance_from_center_m() < self.area.radius_m * RETURN_FRACTION {
            return;
        }
        let to_center_deg = (-self.x_m).atan2(-self.y_m).to_degrees().rem_euclid(360.0);
        if angle_difference(to_center_deg, self.heading_deg).abs() > 45.0 {
            self.target_heading_deg = to_center_deg;
        }
    }

    fn update_sensors(&mut self) {
        let now = self.time_ms;
        self.satellites =
            (i16::from(self.satellites) + self.rng.gen_range(-1..=1)).clamp(6, 14) as u8;
        self.gsm_signal =
            (i16::from(self.gsm_signal) + self.rng.gen_range(-1..=1)).clamp(1, 5) as u8;
        self.voltage_noise_mv = self.rng.gen_range(-150..=250);
        self.next_sensor_change_ms = now + self.rng.gen_range(10_000..30_000);
    }
}

/// Signed smallest rotation from `from_deg` to `to_deg`, in -180..=180.
fn angle_difference(to_deg: f64, from_deg: f64) -> f64 {
    let difference = (to_deg - from_deg).rem_euclid(360.0);
    if difference > 180.0 {
        difference - 360.0
    } else {
        difference
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START_MS: u64 = 1_700_000_000_000;
    const DAY_MS: u64 = 24 * 3_600_000;

    /// One fix per second for `duration_ms`.
    fn drive(seed: u64, duration_ms: u64) -> Vec<Fix> {
        let mut vehicle = Vehicle::new(seed, START_MS);
        (0..=duration_ms / 1_000)
            .map(|second| {
                vehicle.advance_to(START_MS + second * 1_000);
                vehicle.fix()
            })
            .collect()
    }

    fn kmh(fix: &Fix) -> f64 {
        fix.speed_mps * 3.6
    }

    #[test]
    fn speed_and_heading_change_smoothly_between_seconds() {
        for seed in 0..5 {
            let fixes = drive(seed, 4 * 3_600_000);
            for pair in fixes.windows(2) {
                let speed_change = kmh(&pair[1]) - kmh(&pair[0]);
                assert!(
                    speed_change.abs() <= 7.3,
                    "seed {seed}: speed jumped {speed_change} km/h at {}",
                    pair[1].time_ms
                );
                let turn = angle_difference(pair[1].course_deg, pair[0].course_deg);
                assert!(
                    turn.abs() <= 12.01,
                    "seed {seed}: heading jumped {turn} degrees at {}",
                    pair[1].time_ms
                );
            }
        }
    }

    #[test]
    fn odometer_is_monotone_and_counts_distance() {
        let fixes = drive(7, 3 * 3_600_000);
        for pair in fixes.windows(2) {
            assert!(pair[1].odometer_m >= pair[0].odometer_m);
        }
        let driven_m = fixes[fixes.len() - 1].odometer_m - fixes[0].odometer_m;
        assert!(driven_m > 10_000.0, "only {driven_m} m driven in 3 hours");
        // Nobody exceeds 110 km/h, so three hours cover at most 330 km.
        assert!(driven_m < 330_000.0);
    }

    #[test]
    fn vehicle_stays_in_its_area_for_a_day() {
        let area = Area::default();
        for seed in 0..10 {
            let mut vehicle = Vehicle::new(seed, START_MS);
            for second in 0..DAY_MS / 1_000 {
                vehicle.advance_to(START_MS + second * 1_000);
                assert!(
                    vehicle.distance_from_center_m() <= area.radius_m,
                    "seed {seed} left the area: {} m from the centre",
                    vehicle.distance_from_center_m()
                );
            }
        }
    }

    #[test]
    fn same_seed_same_fixes_other_seed_other_fixes() {
        let first = drive(42, 600_000);
        assert_eq!(first, drive(42, 600_000));
        assert_ne!(first, drive(43, 600_000));
    }

    #[test]
    fn small_steps_still_give_smooth_fixes() {
        // At 100 records/s the driver advances in 10 ms steps.
        let mut vehicle = Vehicle::new(9, START_MS);
        let mut previous = vehicle.fix();
        for step in 1..=60_000u64 {
            vehicle.advance_to(START_MS + step * 10);
            let fix = vehicle.fix();
            assert_eq!(fix.time_ms, START_MS + step * 10);
            assert!((kmh(&fix) - kmh(&previous)).abs() <= 0.1);
            assert!(fix.odometer_m >= previous.odometer_m);
            previous = fix;
        }
    }

    #[test]
    fn trips_and_stops_alternate_with_ignition_events() {
        let fixes = drive(3, DAY_MS);
        let mut ignition_changes = 0;
        for pair in fixes.windows(2) {
            let changed = pair[0].ignition != pair[1].ignition;
            assert_eq!(pair[1].ignition_changed, changed);
            ignition_changes += usize::from(changed);
            if !pair[1].ignition {
                assert_eq!(pair[1].speed_mps, 0.0, "parked vehicles do not move");
                assert!(!pair[1].moving);
            }
        }
        assert!(
            ignition_changes >= 20,
            "only {ignition_changes} ignition changes in a day"
        );
        let top_speed = fixes.iter().map(kmh).fold(0.0, f64::max);
        assert!((60.0..=110.0).contains(&top_speed), "top speed {top_speed}");
    }

    #[test]
    fn fixes_carry_plausible_values() {
        for fix in drive(11, 3_600_000) {
            assert!((6..=14).contains(&fix.satellites));
            assert!((0.0..360.0).contains(&fix.course_deg));
            assert!(
                (50.0..200.0).contains(&fix.altitude_m),
                "altitude {}",
                fix.altitude_m
            );
            assert!(fix.hdop >= 0.6 && fix.pdop > fix.hdop);
            let volts = fix.external_voltage_v;
            assert!((12.0..=14.4).contains(&volts), "external voltage {volts}");
            assert_eq!(volts > 13.0, fix.ignition);
            assert!((1..=5).contains(&fix.gsm_level));
            let (lat, lon) = (fix.latitude, fix.longitude);
            assert!((54.5..54.9).contains(&lat) && (25.0..25.5).contains(&lon));
        }
    }
}
