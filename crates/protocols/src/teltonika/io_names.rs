//! IO element id -> Traccar attribute name and unit.
//!
//! Reproduces Traccar's `TeltonikaProtocolDecoder` naming: the generic ids
//! (registered for every model), the FMB-family ids (only when the device
//! model is known to be one of them, as in Traccar), and the GH3000 ids.
//! A handler reads a fixed width from the start of the element, as
//! Traccar's does; an element too short for its handler falls back to
//! `io<ID>`. Every id without a handler becomes `io<ID>` with its unsigned
//! value (NX and 16-byte values as bytes, rendered hex at the edge).

use trackd_model::{kmh_to_mps, AttrKey, AttrValue, AttrValueRef, KnownKey, Position};

use crate::reader::be_value;

/// Above this many attributes a record is pathological (Codec 8E allows
/// 65535 distinct ids); entries are then appended without the duplicate scan
/// so decoding stays linear.
const DEDUP_LIMIT: usize = 256;

/// Traccar's `fmbXXX` model set.
const FMB_FAMILY: &[&str] = &[
    "FMB001", "FMB010", "FMB002", "FMB020", "FMB003", "FMB110", "FMB120", "FMB122", "FMB125",
    "FMB130", "FMB140", "FMU125", "FMB900", "FMB920", "FMB962", "FMB964", "FM3001", "FMB202",
    "FMB204", "FMB206", "FMT100", "MTB100", "FMP100", "MSP500", "FMC125", "FMM125", "FMU130",
    "FMC130", "FMM130", "FMB150", "FMC150", "FMM150", "FMC920",
];

/// Whether Traccar applies its FMB-family IO names to `model`.
pub(crate) fn is_fmb_family(model: &str) -> bool {
    FMB_FAMILY.contains(&model)
}

/// How to name the elements of one frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IoNamer {
    /// Keep every element as `io<ID>`.
    pub(crate) raw_io: bool,
    /// Apply the FMB-family names too.
    pub(crate) fmb: bool,
}

/// The first `$width` bytes of the `W`-byte element `$value` as an
/// unsigned value, or "no handler" (return false) if the element is shorter.
macro_rules! first_or {
    ($value:expr, $width:expr) => {
        match first::<W>($value, $width) {
            Some(value) => value,
            None => return false,
        }
    };
}

/// Sets an attribute, replacing an earlier one (Traccar's map semantics).
#[inline]
pub(crate) fn set(position: &mut Position, key: AttrKey, value: AttrValue) {
    if position.attributes.len() < DEDUP_LIMIT {
        position.attributes.set(key, value);
    } else {
        position.attributes.push(key, value);
    }
}

#[inline]
fn set_known(position: &mut Position, key: KnownKey, value: AttrValue) {
    set(position, AttrKey::Known(key), value);
}

/// Sets an attribute whose key only this element id produces: when the id
/// is new in the record (`fresh`) the key cannot be present yet, so it is
/// appended without the duplicate scan.
#[inline(always)]
fn put(position: &mut Position, fresh: bool, key: AttrKey, value: AttrValue) {
    if fresh {
        position.attributes.push(key, value);
    } else {
        set_again(position, key, value);
    }
}

/// [`set`] for an element id seen before in the record (rare; out of line).
#[inline(never)]
fn set_again(position: &mut Position, key: AttrKey, value: AttrValue) {
    set(position, key, value);
}

/// Adds an alarm; Traccar joins several with commas.
fn add_alarm(position: &mut Position, alarm: &str) {
    let joined = match position.attributes.get_known(KnownKey::Alarm) {
        Some(AttrValueRef::Str(existing)) => format!("{existing},{alarm}"),
        _ => alarm.to_owned(),
    };
    set_known(
        position,
        KnownKey::Alarm,
        AttrValue::Str(joined.into_boxed_str()),
    );
}

/// The first `width` bytes of the big-endian `W`-byte `value` (W <= 8), if
/// the element is that long.
#[inline(always)]
fn first<const W: usize>(value: u64, width: usize) -> Option<u64> {
    if width > W {
        None
    } else if width == W {
        Some(value)
    } else {
        Some(value >> (8 * (W - width)))
    }
}

#[inline]
fn int(value: u64) -> AttrValue {
    // Traccar reads 8-byte values as a signed long; so does this.
    AttrValue::Int(value as i64)
}

#[inline]
fn decimal(raw: i64, scale: u8) -> AttrValue {
    AttrValue::Decimal { raw, scale }
}

/// Names one fixed-width element (1, 2, 4, 8 or 16 bytes). `fresh`: no
/// element with this id came before in the record.
#[inline(always)]
pub(crate) fn name_fixed<const W: usize>(
    position: &mut Position,
    namer: IoNamer,
    id: u16,
    bytes: &[u8; W],
    fresh: bool,
) {
    if W > 8 {
        put(
            position,
            fresh,
            AttrKey::Io(id),
            AttrValue::Bytes(bytes.as_slice().into()),
        );
        return;
    }
    let value = be_value(bytes);
    if namer.raw_io
        || !(generic::<W>(position, id, value, fresh) || namer.fmb && fmb::<W>(position, id, value))
    {
        put(position, fresh, AttrKey::Io(id), int(value));
    }
}

/// Ids Traccar names for every model (each to a key of its own). Returns
/// false if `id` has no handler (or the element is too short for it).
#[inline(always)]
fn generic<const W: usize>(position: &mut Position, id: u16, bytes: u64, fresh: bool) -> bool {
    use KnownKey as K;
    // Each arm stores its own attribute, so the value's variant is known
    // where it is packed.
    match id {
        1..=4 => {
            let Some(v) = first::<W>(bytes, 1) else {
                return false;
            };
            let key = [K::In1, K::In2, K::In3, K::In4][usize::from(id - 1)];
            put(position, fresh, AttrKey::Known(key), AttrValue::Bool(v > 0));
        }
        16 => put(
            position,
            fresh,
            AttrKey::Known(K::Odometer),
            int(first_or!(bytes, 4)),
        ),
        17..=19 => {
            let v = first_or!(bytes, 2) as u16 as i16;
            let key = [K::AxisX, K::AxisY, K::AxisZ][usize::from(id - 17)];
            put(
                position,
                fresh,
                AttrKey::Known(key),
                AttrValue::Int(v.into()),
            );
        }
        21 => put(
            position,
            fresh,
            AttrKey::Known(K::Rssi),
            int(first_or!(bytes, 1)),
        ),
        25..=28 => {
            let v = first_or!(bytes, 2) as u16 as i16;
            let key = [K::BleTemp1, K::BleTemp2, K::BleTemp3, K::BleTemp4][usize::from(id - 25)];
            put(position, fresh, AttrKey::Known(key), decimal(v.into(), 2));
        }
        66 => put(
            position,
            fresh,
            AttrKey::Known(K::Power),
            decimal(first_or!(bytes, 2) as i64, 3),
        ),
        67 => put(
            position,
            fresh,
            AttrKey::Known(K::Battery),
            decimal(first_or!(bytes, 2) as i64, 3),
        ),
        78 => {
            // The first eight bytes, read little-endian.
            let v = first_or!(bytes, 8).swap_bytes();
            if v != 0 {
                let text = format!("{v:016X}");
                set_known(
                    position,
                    K::DriverUniqueId,
                    AttrValue::Str(text.into_boxed_str()),
                );
            }
        }
        179 => put(
            position,
            fresh,
            AttrKey::Known(K::Out1),
            AttrValue::Bool(first_or!(bytes, 1) > 0),
        ),
        180 => put(
            position,
            fresh,
            AttrKey::Known(K::Out2),
            AttrValue::Bool(first_or!(bytes, 1) > 0),
        ),
        181 => put(
            position,
            fresh,
            AttrKey::Known(K::Pdop),
            decimal(first_or!(bytes, 2) as i64, 1),
        ),
        182 => put(
            position,
            fresh,
            AttrKey::Known(K::Hdop),
            decimal(first_or!(bytes, 2) as i64, 1),
        ),
        199 => put(
            position,
            fresh,
            AttrKey::Known(K::TripOdometer),
            int(first_or!(bytes, 4)),
        ),
        236 => {
            if first_or!(bytes, 1) > 0 {
                add_alarm(position, "general");
            }
        }
        239 => put(
            position,
            fresh,
            AttrKey::Known(K::Ignition),
            AttrValue::Bool(first_or!(bytes, 1) > 0),
        ),
        240 => put(
            position,
            fresh,
            AttrKey::Known(K::Motion),
            AttrValue::Bool(first_or!(bytes, 1) > 0),
        ),
        241 => put(
            position,
            fresh,
            AttrKey::Known(K::Operator),
            int(first_or!(bytes, 4)),
        ),
        253 => match first_or!(bytes, 1) {
            1 => add_alarm(position, "hardAcceleration"),
            2 => add_alarm(position, "hardBraking"),
            3 => add_alarm(position, "hardCornering"),
            _ => {}
        },
        _ => return false,
    }
    true
}

/// Ids Traccar names only for its FMB-family models.
fn fmb<const W: usize>(position: &mut Position, id: u16, bytes: u64) -> bool {
    use KnownKey as K;
    let (key, value) = match id {
        9 => (K::Adc1, decimal(first_or!(bytes, 2) as i64, 3)),
        10 => (K::Adc2, decimal(first_or!(bytes, 2) as i64, 3)),
        11 => {
            let v = first_or!(bytes, 8) as i64;
            (K::Iccid, AttrValue::Str(v.to_string().into_boxed_str()))
        }
        12 => (K::FuelUsed, decimal(first_or!(bytes, 4) as i64, 3)),
        13 => (K::FuelConsumption, decimal(first_or!(bytes, 2) as i64, 2)),
        24 => {
            position.speed = kmh_to_mps(first_or!(bytes, 2) as f64);
            return true;
        }
        30 => (K::FaultCount, int(first_or!(bytes, 1))),
        32 => (
            K::CoolantTemp,
            AttrValue::Int((first_or!(bytes, 1) as u8 as i8).into()),
        ),
        68 => (K::BatteryCurrent, decimal(first_or!(bytes, 2) as i64, 3)),
        72..=75 => {
            let v = first_or!(bytes, 4) as u32 as i32;
            let key = [K::Temp1, K::Temp2, K::Temp3, K::Temp4][usize::from(id - 72)];
            (key, decimal(v.into(), 1))
        }
        80 => (K::DataMode, int(first_or!(bytes, 1))),
        81 => (K::ObdSpeed, int(first_or!(bytes, 1))),
        82 => (K::Throttle, int(first_or!(bytes, 1))),
        83 => (K::FuelUsed, decimal(first_or!(bytes, 4) as i64, 1)),
        84 => (K::FuelLevel, decimal(first_or!(bytes, 2) as i64, 1)),
        85 => (K::Rpm, int(first_or!(bytes, 2))),
        87 => (K::ObdOdometer, int(first_or!(bytes, 4))),
        89 => (K::FuelLevelPercentage, int(first_or!(bytes, 1))),
        110 => (K::FuelConsumption, decimal(first_or!(bytes, 2) as i64, 1)),
        113 => (K::BatteryLevel, int(first_or!(bytes, 1))),
        115 => (
            K::EngineTemp,
            decimal((first_or!(bytes, 2) as u16 as i16).into(), 1),
        ),
        200 => (K::SleepMode, int(first_or!(bytes, 1))),
        232 => (K::CngStatus, AttrValue::Bool(first_or!(bytes, 1) > 0)),
        233 => (K::CngUsed, decimal(first_or!(bytes, 4) as i64, 1)),
        234 => (K::CngLevel, int(first_or!(bytes, 2))),
        235 => (K::OilLevel, int(first_or!(bytes, 1))),
        246 | 247 | 249 | 251 | 252 => {
            if first_or!(bytes, 1) > 0 {
                let alarm = match id {
                    246 => "tow",
                    247 => "accident",
                    249 => "jamming",
                    251 => "idle",
                    _ => "powerCut",
                };
                add_alarm(position, alarm);
            }
            return true;
        }
        662 => (K::Door, AttrValue::Bool(first_or!(bytes, 1) > 0)),
        10800..=10803 => {
            let v = first_or!(bytes, 2) as u16 as i16;
            let key = [K::EyeTemp1, K::EyeTemp2, K::EyeTemp3, K::EyeTemp4][usize::from(id - 10800)];
            (key, decimal(v.into(), 2))
        }
        _ => return false,
    };
    set_known(position, key, value);
    true
}

/// Names one variable-length (NX) element.
pub(crate) fn name_variable(position: &mut Position, namer: IoNamer, id: u16, bytes: &[u8]) {
    if !namer.raw_io {
        match id {
            256 => {
                let vin = String::from_utf8_lossy(bytes).into_owned();
                set_known(
                    position,
                    KnownKey::Vin,
                    AttrValue::Str(vin.into_boxed_str()),
                );
                return;
            }
            281 => {
                let dtcs = String::from_utf8_lossy(bytes).replace(',', " ");
                set_known(
                    position,
                    KnownKey::Dtcs,
                    AttrValue::Str(dtcs.into_boxed_str()),
                );
                return;
            }
            385 if beacons(position, bytes).is_some() => return,
            548 | 10829 | 10831 if ble_tags(position, bytes).is_some() => return,
            _ => {}
        }
    }
    set(position, AttrKey::Io(id), AttrValue::Bytes(bytes.into()));
}

fn other(position: &mut Position, name: String, value: AttrValue) {
    set(position, AttrKey::Other(name.into_boxed_str()), value);
}

fn hex(bytes: &[u8]) -> AttrValue {
    AttrValue::Bytes(bytes.into())
}

/// Splits `n` bytes off the front of `data`.
fn split<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let head = data.get(..n)?;
    *data = data.get(n..)?;
    Some(head)
}

fn byte(data: &mut &[u8]) -> Option<u8> {
    split(data, 1).map(|b| b[0])
}

fn word(data: &mut &[u8]) -> Option<u16> {
    split(data, 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Element 385: iBeacon / Eddystone list (`beacon<N>Uuid`, ...). Attributes
/// decoded before a truncation are kept, as in Traccar.
fn beacons(position: &mut Position, bytes: &[u8]) -> Option<()> {
    let mut data = bytes;
    byte(&mut data)?; // data part
    let mut index = 1;
    while !data.is_empty() {
        let flags = byte(&mut data)?;
        if flags >> 4 > 0 {
            other(
                position,
                format!("beacon{index}Uuid"),
                hex(split(&mut data, 16)?),
            );
            other(
                position,
                format!("beacon{index}Major"),
                AttrValue::Int(word(&mut data)?.into()),
            );
            other(
                position,
                format!("beacon{index}Minor"),
                AttrValue::Int(word(&mut data)?.into()),
            );
        } else {
            other(
                position,
                format!("beacon{index}Namespace"),
                hex(split(&mut data, 10)?),
            );
            other(
                position,
                format!("beacon{index}Instance"),
                hex(split(&mut data, 6)?),
            );
        }
        let rssi = byte(&mut data)? as i8;
        other(
            position,
            format!("beacon{index}Rssi"),
            AttrValue::Int(rssi.into()),
        );
        if flags & 0b10 != 0 {
            other(
                position,
                format!("beacon{index}Battery"),
                decimal(word(&mut data)?.into(), 2),
            );
        }
        if flags & 0b100 != 0 {
            other(
                position,
                format!("beacon{index}Temp"),
                AttrValue::Int(word(&mut data)?.into()),
            );
        }
        index += 1;
    }
    Some(())
}

/// Elements 548, 10829, 10831: BLE tag lists (`tag<N>Rssi`, `tag<N>Voltage`, ...).
fn ble_tags(position: &mut Position, bytes: &[u8]) -> Option<()> {
    let mut data = bytes;
    byte(&mut data)?; // header
    let mut index = 1;
    while !data.is_empty() {
        let len = usize::from(byte(&mut data)?);
        let mut tag = split(&mut data, len)?;
        while !tag.is_empty() {
            let parameter = byte(&mut tag)?;
            let len = usize::from(byte(&mut tag)?);
            let mut value = split(&mut tag, len)?;
            match parameter {
                0 => {
                    let rssi = byte(&mut value)? as i8;
                    other(
                        position,
                        format!("tag{index}Rssi"),
                        AttrValue::Int(rssi.into()),
                    );
                }
                1 => other(position, format!("tag{index}Id"), hex(value)),
                2 => {
                    let flags = byte(&mut value)?;
                    if flags & 0x40 != 0 {
                        other(
                            position,
                            format!("tag{index}LowBattery"),
                            AttrValue::Bool(true),
                        );
                    }
                    if flags & 0x80 != 0 {
                        let voltage = i64::from(byte(&mut value)?) * 10 + 2000;
                        other(
                            position,
                            format!("tag{index}Voltage"),
                            AttrValue::Int(voltage),
                        );
                    }
                }
                13 => {
                    let low = byte(&mut value)?;
                    other(
                        position,
                        format!("tag{index}LowBattery"),
                        AttrValue::Int(low.into()),
                    );
                }
                14 => {
                    let battery = word(&mut value)?;
                    other(
                        position,
                        format!("tag{index}Battery"),
                        AttrValue::Int(battery.into()),
                    );
                }
                _ => {}
            }
        }
        index += 1;
    }
    Some(())
}

/// Names one GH3000 (Codec 7) element.
pub(crate) fn name_gh3000(position: &mut Position, raw_io: bool, id: u16, bytes: &[u8]) {
    use KnownKey as K;
    let value = be_value(bytes);
    if raw_io {
        set(position, AttrKey::Io(id), int(value));
        return;
    }
    match id {
        1 => set_known(position, K::BatteryLevel, int(value)),
        2 => set_known(position, K::UsbConnected, AttrValue::Bool(value == 1)),
        5 => set_known(position, K::Uptime, int(value)),
        20 => set_known(position, K::Hdop, decimal(value as i64, 1)),
        21 => set_known(position, K::Vdop, decimal(value as i64, 1)),
        22 => set_known(position, K::Pdop, decimal(value as i64, 1)),
        67 => set_known(position, K::Battery, decimal(value as i64, 3)),
        221 => set_known(position, K::Button, int(value)),
        222 => {
            if value == 1 {
                add_alarm(position, "sos");
            }
        }
        240 => set_known(position, K::Motion, AttrValue::Bool(value == 1)),
        244 => set_known(position, K::Roaming, AttrValue::Bool(value == 1)),
        _ => set(position, AttrKey::Io(id), int(value)),
    }
}
