//! Field readers shared by many packet types: the GPS block, the LBS
//! (cell) block, the status byte, alarm codes, dates and attribute setters.

use trackd_model::{kmh_to_mps, AttrKey, AttrValue, KnownKey, Position, Timestamp};

use super::cursor::Cursor;
use super::decode::{Decoder, Variant};
use super::Error;

/// Sets a known attribute, replacing an earlier value (Traccar's map put).
pub(crate) fn set(p: &mut Position, key: KnownKey, value: AttrValue) {
    p.attributes.set(AttrKey::Known(key), value);
}

/// Sets an attribute by Traccar name (known names get their code).
pub(crate) fn set_named(p: &mut Position, name: &str, value: AttrValue) {
    p.attributes.set(AttrKey::from_name(name), value);
}

/// An integer value.
pub(crate) fn int(value: impl Into<i64>) -> AttrValue {
    AttrValue::Int(value.into())
}

/// `raw / 10^scale` as an exact decimal.
pub(crate) fn dec(raw: impl Into<i64>, scale: u8) -> AttrValue {
    AttrValue::Decimal {
        raw: raw.into(),
        scale,
    }
}

/// A boolean value.
pub(crate) fn boolean(value: bool) -> AttrValue {
    AttrValue::Bool(value)
}

/// Sets a string attribute unless it is empty (Traccar skips empty strings).
pub(crate) fn set_str(p: &mut Position, key: AttrKey, value: &str) {
    if !value.is_empty() {
        p.attributes.set(key, AttrValue::Str(value.into()));
    }
}

/// Appends `alarm` to the comma-separated `alarm` attribute.
pub(crate) fn add_alarm(p: &mut Position, alarm: Option<&str>) {
    let Some(alarm) = alarm else {
        return;
    };
    let joined = match p.attributes.get_known(KnownKey::Alarm) {
        Some(trackd_model::AttrValueRef::Str(old)) => format!("{old},{alarm}"),
        _ => alarm.to_owned(),
    };
    set(p, KnownKey::Alarm, AttrValue::Str(joined.into()));
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Bytes as US-ASCII text (non-ASCII bytes become U+FFFD, as Java decodes).
pub(crate) fn ascii(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii() {
                char::from(b)
            } else {
                '\u{FFFD}'
            }
        })
        .collect()
}

/// Bits `from..to` of `value`.
pub(crate) fn between(value: u64, from: u32, to: u32) -> u64 {
    (value >> from) & ((1u64 << (to - from)) - 1)
}

/// Whether bit `n` of `value` is set.
pub(crate) fn bit(value: u64, n: u32) -> bool {
    value >> n & 1 == 1
}

/// Days from 1970-01-01 to the civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A wall-clock time `offset_s` seconds east of UTC, as UTC. Out-of-range
/// fields roll over (month 13 is January next year), as Java's lenient
/// calendar does.
pub(crate) fn civil_time(fields: [u32; 6], offset_s: i32) -> Timestamp {
    let [year, month, day, hour, minute, second] = fields.map(i64::from);
    let year = if year < 100 { year + 2000 } else { year };
    let months = year * 12 + month - 1;
    let days = days_from_civil(months.div_euclid(12), months.rem_euclid(12) + 1, 1) + day - 1;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - i64::from(offset_s);
    Timestamp::from_millis(seconds.saturating_mul(1000))
}

impl Decoder {
    /// Six bytes `YY MM DD hh mm ss` in the device's time zone.
    pub(crate) fn date(&self, c: &mut Cursor<'_>) -> Result<Timestamp, Error> {
        let b = c.take(6)?;
        let fields = [b[0], b[1], b[2], b[3], b[4], b[5]].map(u32::from);
        Ok(civil_time(fields, self.tz_offset_s))
    }

    /// Traccar's `decodeGps`: date, optional length, satellites, latitude,
    /// longitude, speed (km/h) and the course/status flags. Returns `false`
    /// when a length byte says there is no fix.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gps_with(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
        has_length: bool,
        has_satellites: bool,
        has_speed: bool,
        long_speed: bool,
        swap_flags: bool,
    ) -> Result<bool, Error> {
        let time = self.date(c)?;
        p.fix_time = time;
        p.device_time = time;
        if has_length && c.u8()? == 0 {
            return Ok(false);
        }
        if has_satellites {
            set(p, KnownKey::Sat, int(c.u8()? & 0x0F));
        }
        let mut latitude = f64::from(c.u32()?) / 60.0 / 30000.0;
        let mut longitude = f64::from(c.u32()?) / 60.0 / 30000.0;
        let mut flags = 0u16;
        if swap_flags {
            flags = c.u16()?;
        }
        if has_speed {
            let speed = if long_speed {
                c.u16()?
            } else {
                u16::from(c.u8()?)
            };
            p.speed = kmh_to_mps(f64::from(speed));
        }
        if !swap_flags {
            flags = c.u16()?;
        }
        let flags = u64::from(flags);
        p.course = (flags & 0x3FF) as f64;
        p.valid = bit(flags, 12);
        if !bit(flags, 10) {
            latitude = -latitude;
        }
        if bit(flags, 11) {
            longitude = -longitude;
        }
        p.latitude = latitude;
        p.longitude = longitude;
        if bit(flags, 14) {
            set(p, KnownKey::Ignition, boolean(bit(flags, 15)));
        }
        self.has_fix = true;
        Ok(true)
    }

    /// The common GPS block: satellites and a one-byte speed, no length.
    pub(crate) fn gps(&mut self, p: &mut Position, c: &mut Cursor<'_>) -> Result<bool, Error> {
        self.gps_with(p, c, false, true, true, false, false)
    }

    /// Traccar's `decodeLbs`: reads (and drops: trackd has no cell model)
    /// one cell tower; returns `false` when a zero length byte says there
    /// is none.
    pub(crate) fn lbs(&self, c: &mut Cursor<'_>, ty: u8, has_length: bool) -> Result<bool, Error> {
        let mut length = 0usize;
        if has_length {
            length = usize::from(c.u8()?);
            if length == 0 {
                let frame = c.frame();
                let start = frame.len() - c.remaining();
                let zeroed = frame
                    .iter()
                    .take(start + 45)
                    .skip(start + 9)
                    .all(|&b| b == 0);
                if zeroed {
                    c.skip(c.remaining().min(45))?;
                }
                return Ok(false);
            }
        }
        let sl4x = self.variant == Variant::Sl4x;
        let cell_type = if matches!(ty, 0x38 | 0x39) {
            c.u8()?
        } else {
            0
        };
        let mcc = c.u16()?;
        if bit(u64::from(mcc), 15) || ty == 0x11 || sl4x {
            c.u16()?;
        } else {
            c.u8()?;
        }
        let wide = cell_type >= 3 || matches!(ty, 0xA5 | 0xA0 | 0xA2);
        if wide {
            c.i32()?;
        } else {
            c.u16()?;
        }
        if wide || sl4x {
            c.u64()?;
        } else if matches!(ty, 0x11 | 0x61 | 0x25)
            || self.variant == Variant::Seeworld
            || (self.variant == Variant::Trx16i && ty == 0x36)
        {
            c.u32()?;
        } else {
            c.u24()?;
        }
        if cell_type >= 3 {
            c.u16()?;
        } else if matches!(ty, 0x38 | 0x39) {
            c.u8()?;
        }
        if length > 9 {
            c.skip(length - 9)?;
        }
        Ok(true)
    }

    /// The terminal information byte: ignition, charge, relay and an alarm.
    pub(crate) fn status(&self, p: &mut Position, c: &mut Cursor<'_>) -> Result<(), Error> {
        let status = c.u8()?;
        let s = u64::from(status);
        set(p, KnownKey::Status, int(status));
        set(p, KnownKey::Ignition, boolean(bit(s, 1)));
        set(p, KnownKey::Charge, boolean(bit(s, 2)));
        set(p, KnownKey::Blocked, boolean(bit(s, 7)));
        let alarm = match between(s, 3, 6) {
            1 => Some("vibration"),
            2 => Some("powerCut"),
            3 => Some("lowBattery"),
            4 => Some("sos"),
            6 => Some("geofence"),
            7 if self.variant == Variant::Vxt01 => Some("overspeed"),
            7 => Some("removing"),
            _ => None,
        };
        add_alarm(p, alarm);
        Ok(())
    }

    /// An alarm code of the status extension or the language byte.
    pub(crate) fn alarm(&self, value: u32) -> Option<&'static str> {
        let model = self.model.as_deref().unwrap_or_default();
        let lw = model.starts_with("LW");
        let sw = model == "SEEWORLD";
        let vl = matches!(model, "VL103" | "LL303" | "VL512" | "G18");
        let trx = self.variant == Variant::Trx16i;
        Some(match value {
            0x01 => "sos",
            0x02 => "powerCut",
            0x03 => "vibration",
            0x04 => "geofenceEnter",
            0x05 => "geofenceExit",
            0x06 => "overspeed",
            0x09 if trx => "geofence",
            0x09 if vl => "tow",
            0x09 => "vibration",
            0x0E if trx => "lowPower",
            0x0E | 0x0F => "lowBattery",
            0x11 => "powerOff",
            0x0C | 0x13 | 0x25 | 0x32 => "tampering",
            0x14 => "door",
            0x18 if lw => "accident",
            0x18 => "removing",
            0x19 if lw => "hardAcceleration",
            0x19 => "lowBattery",
            0x1A | 0x27 | 0xF1 => "hardBraking",
            0x1B | 0x2A | 0x2B | 0x2E => "hardCornering",
            0x23 => "fallDown",
            0x26 | 0xF0 => "hardAcceleration",
            0x28 if sw => "hardCornering",
            0x28 if vl => "powerOff",
            0x28 => "hardBraking",
            0x29 if sw => "accident",
            0x29 => "hardAcceleration",
            0x2C | 0xF2 => "accident",
            0x30 if vl => "hardBraking",
            0x30 => "jamming",
            0x33 => "lock",
            0x34 => "unlock",
            0x53 => "fuelLeak",
            0x5B | 0x5C => "temperature",
            0xC9 => "idle",
            0x0107 | 0x010B => "jamming",
            _ => return None,
        })
    }
}
