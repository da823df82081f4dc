//! Alarm (0x95), information (0x94), modular GPS (0x70), AZ735 (0x32 /
//! 0x33 extended), OBD (0x8C), serial pass-through (0x9B) and text
//! location (0x21) packets.

use trackd_model::{kmh_to_mps, AttrKey, AttrValue, KnownKey, Position, Timestamp};

use super::cursor::Cursor;
use super::decode::{response, Decoder, Variant};
use super::fields::{add_alarm, ascii, bit, boolean, dec, hex, int, set, set_named, set_str};
use super::frame::declared_length;
use super::text::{parse_fuel, parse_location};
use super::Error;

impl Decoder {
    /// An alarm packet (0x95): an event code with data, maybe a fix and
    /// the names of recorded files.
    pub(crate) fn alarm_packet(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
    ) -> Result<(), Error> {
        let jc400 = self.variant == Variant::Jc400;
        let extended_alarm = declared_length(c.frame()) > 12;
        if extended_alarm {
            if jc400 {
                c.u16()?;
                c.u8()?;
            }
            self.gps_with(p, c, false, jc400, jc400, jc400, jc400)?;
        } else {
            let time = self.date(c)?;
            self.last_location(p, Some(time));
        }
        if jc400 {
            set(p, KnownKey::Power, dec(c.u16()?, 1));
        }
        let event = c.u8()?;
        set(p, KnownKey::Event, int(event));
        set(p, KnownKey::EventData, int(c.u16()?));
        let alarm = match event {
            0x01 if extended_alarm => Some("sos"),
            0x01 => Some("general"),
            0x0E => Some("lowPower"),
            0x76 => Some("temperature"),
            0x80 => Some("vibration"),
            0x87 => Some("overspeed"),
            0x88 => Some("powerCut"),
            0x90 => Some("hardAcceleration"),
            0x91 => Some("hardBraking"),
            0x92 => Some("hardCornering"),
            0x93 => Some("accident"),
            _ => None,
        };
        add_alarm(p, alarm);
        let files = c.remaining().saturating_sub(6);
        if files > 0 {
            let names = ascii(c.take(files)?);
            set_str(p, AttrKey::Other("eventFiles".into()), &names);
        }
        Ok(())
    }

    /// A text packet (0x21): a "Current position!" report or a reply.
    pub(crate) fn string_info(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
    ) -> Result<(), Error> {
        c.u32()?;
        let encoding = c.u8()?;
        let bytes = c.take(c.remaining().saturating_sub(6))?;
        let data = if encoding == 1 {
            ascii(bytes)
        } else {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|b| u16::from_be_bytes([b[0], b.get(1).copied().unwrap_or_default()]))
                .collect();
            String::from_utf16_lossy(&units)
        };
        match parse_location(&data) {
            Some(fix) => {
                p.valid = true;
                p.latitude = fix.latitude;
                p.longitude = fix.longitude;
                p.course = fix.course;
                p.speed = fix.speed_knots * 1852.0 / 3600.0;
                p.fix_time = fix.time;
                p.device_time = fix.time;
                self.has_fix = true;
            }
            None => {
                self.last_location(p, None);
                set_str(p, AttrKey::Known(KnownKey::Result), &data);
            }
        }
        Ok(())
    }

    /// An information packet (0x94) in the extended frame: its sub-type
    /// says what it carries. `false` when Traccar makes nothing of it.
    pub(crate) fn info(&mut self, p: &mut Position, c: &mut Cursor<'_>) -> Result<bool, Error> {
        let sub = c.u8()?;
        self.last_location(p, None);
        match sub {
            0x00 => set(p, KnownKey::Adc1, dec(c.u16()?, 2)),
            0x04 => {
                let text = ascii(c.take(c.remaining().saturating_sub(6))?);
                for item in text.split(';') {
                    let mut pair = item.split('=');
                    let (Some(name), Some(value)) = (pair.next(), pair.next()) else {
                        continue;
                    };
                    let Ok(value) = i64::from_str_radix(value, 16) else {
                        continue;
                    };
                    let key = match name {
                        "ALM1" | "ALM2" | "ALM3" | "ALM4" => {
                            format!("alarm{}Status", name.get(3..4).unwrap_or_default())
                        }
                        "STA1" => "otherStatus".to_owned(),
                        "DYD" => "engineStatus".to_owned(),
                        _ => continue,
                    };
                    set_named(p, &key, int(value));
                }
            }
            0x05 => {
                if c.remaining() >= 13 {
                    p.device_time = self.date(c)?;
                }
                let flags = u64::from(c.u8()?);
                set(p, KnownKey::Door, boolean(bit(flags, 0)));
                p.attributes.set(AttrKey::Io(1), boolean(bit(flags, 2)));
            }
            0x0A => {
                c.skip(16)?;
                let iccid = hex(c.take(10)?);
                set_str(
                    p,
                    AttrKey::Known(KnownKey::Iccid),
                    iccid.trim_end_matches('f'),
                );
            }
            0x0B => match declared_length(c.frame()).checked_sub(6) {
                Some(1) => {
                    let tech = if (c.u8()? as i8) > 0 { "4G" } else { "2G" };
                    set_str(p, AttrKey::Other("networkTechnology".into()), tech);
                }
                Some(2) => set(p, KnownKey::Power, dec(c.u16()?, 2)),
                _ => {}
            },
            0x0D => {
                if c.peek()? != b'!' {
                    c.skip(6)?;
                }
                let text = ascii(c.take(c.remaining().saturating_sub(6))?);
                let Some((temperature, fuel)) = parse_fuel(&text) else {
                    return Ok(false);
                };
                set(p, KnownKey::Temp1, AttrValue::Float(temperature));
                set(p, KnownKey::Fuel, AttrValue::Float(fuel));
            }
            0x1B => {
                if c.peek()?.is_ascii_alphabetic() {
                    let text = ascii(c.take(c.remaining().saturating_sub(6))?);
                    set_str(p, AttrKey::Other("serial".into()), text.trim());
                } else {
                    c.u8()?;
                    c.u8()?;
                    let id = hex(c.take(4)?);
                    set_str(p, AttrKey::Known(KnownKey::DriverUniqueId), &id);
                    c.u8()?;
                    c.u8()?;
                }
            }
            0x1E => {
                set(p, KnownKey::Temp1, dec(c.i32()?, 1));
                set(p, KnownKey::Humidity, dec(c.i32()?, 1));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// AZ735 GPS (0x32) and alarm (0x33) in the extended frame; returns
    /// the (extended) ack.
    pub(crate) fn az735(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
        ty: u8,
        serial: u16,
    ) -> Result<Vec<u8>, Error> {
        if !self.gps_with(p, c, true, true, true, false, false)? {
            let time = p.device_time;
            self.last_location(p, Some(time));
        }
        if self.lbs(c, ty, true)? {
            set(p, KnownKey::Rssi, int(c.u8()?));
        }
        let cells = usize::from(c.u8()?);
        c.skip(cells)?;
        let wifi = usize::from(c.u8()?);
        c.skip(wifi)?;
        let status = c.u8()?;
        set(p, KnownKey::Status, int(status));
        if ty == 0x33 {
            match status {
                0xA0 => set(p, KnownKey::Armed, boolean(true)),
                0xA1 => set(p, KnownKey::Armed, boolean(false)),
                0xA2 | 0xA3 => add_alarm(p, Some("lowBattery")),
                0xA4 => add_alarm(p, Some("general")),
                0xA5 => add_alarm(p, Some("door")),
                _ => {}
            }
        }
        let reserved = usize::from(c.u8()?);
        c.skip(reserved)?;
        Ok(response(true, ty, serial, &[]))
    }

    /// OBD data (0x8C): `PID=value` pairs in hex.
    pub(crate) fn obd(&mut self, p: &mut Position, c: &mut Cursor<'_>) -> Result<(), Error> {
        let time = self.date(c)?;
        self.last_location(p, Some(time));
        set(p, KnownKey::Ignition, boolean(c.u8()? > 0));
        let n = c
            .remaining()
            .checked_sub(18)
            .ok_or(Error::Truncated { at: 0 })?;
        let text = ascii(c.take(n)?);
        for pair in text.split(',') {
            let mut values = pair.split('=');
            let (Some(pid), Some(value)) = (values.next(), values.next()) else {
                continue;
            };
            let Some(pid) = pid.get(..2).and_then(|h| u8::from_str_radix(h, 16).ok()) else {
                continue;
            };
            if pid == 74 {
                set_str(p, AttrKey::Known(KnownKey::Vin), value);
                continue;
            }
            let key = match pid {
                40 => KnownKey::Odometer,
                43 => KnownKey::Fuel,
                45 => KnownKey::CoolantTemp,
                53 => KnownKey::ObdSpeed,
                54 => KnownKey::Rpm,
                71 => KnownKey::FuelUsed,
                73 => KnownKey::Hours,
                _ => continue,
            };
            // Traccar parses a Java int: eight hex digits at most.
            if let Ok(raw) = i32::from_str_radix(value, 16) {
                set(p, key, dec(raw, 2));
            }
        }
        Ok(())
    }

    /// Modular GPS (0x70): typed modules; returns the ack.
    pub(crate) fn modular(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
    ) -> Result<Vec<u8>, Error> {
        let mut fixed = false;
        while c.remaining() > 6 {
            let module = c.u16()?;
            let length = usize::from(c.u16()?);
            match module {
                0x03 => set_str(p, AttrKey::Known(KnownKey::Iccid), &hex(c.take(10)?)),
                0x09 => set(p, KnownKey::Sat, int(c.u8()?)),
                0x0A => set(p, KnownKey::SatVisible, int(c.u8()?)),
                0x11 => c.skip(2 + 2 + 2 + 3 + 1)?,
                0x18 => set(p, KnownKey::Battery, dec(c.u16()?, 2)),
                0x28 => set(p, KnownKey::Hdop, dec(c.u8()?, 1)),
                0x29 => set(p, KnownKey::Index, int(c.u32()?)),
                0x2A => {
                    let input = c.u8()?;
                    set(p, KnownKey::Door, boolean(input & 0x0F > 0));
                    set_named(p, "tamper", boolean(input >> 4 > 0));
                }
                0x2B => set_named(p, "bootReason", int(c.u8()?)),
                0x2E => set(p, KnownKey::Odometer, int(c.u32_le()?)),
                0x33 => {
                    let time = Timestamp::from_millis(i64::from(c.u32()?) * 1000);
                    p.fix_time = time;
                    p.device_time = time;
                    set(p, KnownKey::Sat, int(c.u8()?));
                    p.altitude = f64::from(c.i16()?);
                    let mut latitude = f64::from(c.u32()?) / 60.0 / 30000.0;
                    let mut longitude = f64::from(c.u32()?) / 60.0 / 30000.0;
                    p.speed = kmh_to_mps(f64::from(c.u8()?));
                    let flags = u64::from(c.u16()?);
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
                    fixed = true;
                    self.has_fix = true;
                }
                0x34 => {
                    let event = c.u8()?;
                    let alarm = match event {
                        0x10 => Some("door"),
                        0x12 => Some("removing"),
                        0x14 => Some("geofenceEnter"),
                        0x15 => Some("geofenceExit"),
                        0x16 => Some("temperature"),
                        0x1A => Some("lowBattery"),
                        0x1B => Some("overspeed"),
                        0x1C => Some("powerOn"),
                        0x1D => Some("powerOff"),
                        0x20 => Some("vibration"),
                        0x21 => Some("powerCut"),
                        0x23 => Some("tampering"),
                        _ => None,
                    };
                    add_alarm(p, alarm);
                    set(p, KnownKey::Event, int(event));
                    c.u32_le()?;
                    let content = usize::from(c.u8()?);
                    c.skip(content)?;
                }
                0x7F => {
                    set_str(p, AttrKey::Other("tag1Id".into()), &hex(c.take(6)?));
                    set_named(p, "tag1Battery", dec(c.u16()?, 3));
                    set_named(p, "tag1BatteryLevel", int(c.u8()?));
                    set_named(p, "tag1Temp", dec(c.i16()?, 1));
                    set_named(p, "tag1Humidity", int(c.i16()?));
                    set_named(p, "tag1Status", int(c.u8()?));
                }
                _ => c.skip(length)?,
            }
        }
        if !fixed {
            self.last_location(p, None);
        }
        let serial = c.u16()?;
        Ok(response(false, 0x70, serial, &[]))
    }

    /// Serial pass-through (0x9B): text when printable, else hex.
    pub(crate) fn serial_data(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
    ) -> Result<(), Error> {
        self.last_location(p, None);
        c.u8()?;
        let n = c
            .remaining()
            .checked_sub(6)
            .ok_or(Error::Truncated { at: 0 })?;
        let data = c.take(n)?;
        // Traccar's test: no control bytes but CR and LF, nothing above 0x7F.
        let printable = data
            .iter()
            .all(|&b| (0x20..0x80).contains(&b) || b == b'\r' || b == b'\n');
        let value = if printable {
            ascii(data).trim().to_owned()
        } else {
            hex(data)
        };
        set_str(p, AttrKey::Known(KnownKey::Result), &value);
        Ok(())
    }
}
