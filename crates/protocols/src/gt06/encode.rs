//! Building what GT06 devices send, for the simulator and round-trip tests.
//!
//! Encoding never fails: out-of-range values saturate (speeds above
//! 255 km/h, years outside 2000..2255).

use trackd_model::{AttrValueRef, KnownKey, Position, Timestamp};

use super::decode::response;

/// Alarm codes of the GPS + LBS + status packet (0x16), by Traccar's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alarm {
    /// `sos` (0x01).
    Sos,
    /// `powerCut` (0x02).
    PowerCut,
    /// `vibration` (0x03).
    Vibration,
    /// `geofenceEnter` (0x04).
    GeofenceEnter,
    /// `geofenceExit` (0x05).
    GeofenceExit,
    /// `overspeed` (0x06).
    Overspeed,
    /// `lowBattery` (0x0F).
    LowBattery,
    /// `powerOff` (0x11).
    PowerOff,
}

impl Alarm {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            Alarm::Sos => 0x01,
            Alarm::PowerCut => 0x02,
            Alarm::Vibration => 0x03,
            Alarm::GeofenceEnter => 0x04,
            Alarm::GeofenceExit => 0x05,
            Alarm::Overspeed => 0x06,
            Alarm::LowBattery => 0x0F,
            Alarm::PowerOff => 0x11,
        }
    }

    /// Traccar's alarm name, as the decoder sets it.
    pub fn name(self) -> &'static str {
        match self {
            Alarm::Sos => "sos",
            Alarm::PowerCut => "powerCut",
            Alarm::Vibration => "vibration",
            Alarm::GeofenceEnter => "geofenceEnter",
            Alarm::GeofenceExit => "geofenceExit",
            Alarm::Overspeed => "overspeed",
            Alarm::LowBattery => "lowBattery",
            Alarm::PowerOff => "powerOff",
        }
    }
}

/// The login packet (0x01) of `imei` (up to 16 digits, BCD, zero-padded
/// on the left; non-digits count as 0).
pub fn encode_login(imei: &str, serial: u16) -> Vec<u8> {
    let digits: Vec<u8> = imei
        .bytes()
        .map(|b| if b.is_ascii_digit() { b - b'0' } else { 0 })
        .collect();
    let digits = &digits[digits.len().saturating_sub(16)..];
    let mut padded = vec![0u8; 16 - digits.len()];
    padded.extend_from_slice(digits);
    let mut content: Vec<u8> = padded.chunks(2).map(|d| d[0] << 4 | d[1]).collect();
    // Type identification code, then no time zone.
    content.extend_from_slice(&[0x00, 0x00]);
    response(false, 0x01, serial, &content)
}

/// The status / heartbeat packet (0x13): terminal information byte,
/// voltage level (0..=6), GSM signal (0..=4), alarm and language.
pub fn encode_status(terminal_info: u8, voltage_level: u8, gsm: u8, serial: u16) -> Vec<u8> {
    response(
        false,
        0x13,
        serial,
        &[terminal_info, voltage_level, gsm, 0x00, 0x02],
    )
}

/// A GPS + LBS packet (0x12) of `position` (second precision; speed in
/// whole km/h; course in whole degrees; an all-zero cell).
pub fn encode_gps(position: &Position, serial: u16) -> Vec<u8> {
    let mut content = gps_block(position);
    content.extend_from_slice(&[0; 8]);
    response(false, 0x12, serial, &content)
}

/// A GPS + LBS + status alarm packet (0x16) of `position` with `alarm`.
pub fn encode_alarm(position: &Position, alarm: Alarm, serial: u16) -> Vec<u8> {
    let mut content = gps_block(position);
    content.push(9);
    content.extend_from_slice(&[0; 8]);
    let ignition = matches!(
        position.attributes.get_known(KnownKey::Ignition),
        Some(AttrValueRef::Bool(true))
    );
    let terminal_info = 0x40 | if ignition { 0x02 } else { 0 };
    content.extend_from_slice(&[terminal_info, 6, 4, alarm.code(), 0x02]);
    response(false, 0x16, serial, &content)
}

/// Date, satellites, latitude, longitude, speed and course/status flags.
fn gps_block(position: &Position) -> Vec<u8> {
    let mut out = Vec::with_capacity(18);
    out.extend_from_slice(&utc_fields(position.fix_time));
    let satellites = match position.attributes.get_known(KnownKey::Sat) {
        Some(AttrValueRef::Int(n)) => n.clamp(0, 15) as u8,
        _ => 0,
    };
    // High nibble: GPS information length (12), as devices send it.
    out.push(0xC0 | satellites);
    let scale = |deg: f64| (deg.abs().min(180.0) * 1_800_000.0).round() as u32;
    out.extend_from_slice(&scale(position.latitude).to_be_bytes());
    out.extend_from_slice(&scale(position.longitude).to_be_bytes());
    let kmh = (position.speed * 3.6).round().clamp(0.0, 255.0) as u8;
    out.push(kmh);
    let course = (position.course.round() as i64).rem_euclid(360) as u16;
    let mut flags = course & 0x3FF;
    if position.valid {
        flags |= 1 << 12;
    }
    if position.latitude >= 0.0 {
        flags |= 1 << 10;
    }
    if position.longitude < 0.0 {
        flags |= 1 << 11;
    }
    out.extend_from_slice(&flags.to_be_bytes());
    out
}

/// `YY MM DD hh mm ss` in UTC.
pub(crate) fn utc_fields(time: Timestamp) -> [u8; 6] {
    let secs = time.as_millis().div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    [
        (year - 2000).clamp(0, 255) as u8,
        month as u8,
        day as u8,
        (rem / 3600) as u8,
        (rem / 60 % 60) as u8,
        (rem % 60) as u8,
    ]
}
