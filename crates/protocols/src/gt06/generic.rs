//! The GPS / LBS / status family (0x10, 0x12, 0x16, 0x22, 0x26, 0x13, ...):
//! one layout with optional blocks and model- or variant-specific tails,
//! read in Traccar's order.

use trackd_model::{AttrKey, AttrValue, KnownKey, Position};

use super::cursor::Cursor;
use super::decode::{Decoder, Variant};
use super::fields::{add_alarm, bit, boolean, dec, hex, int, set, set_named, set_str};
use super::frame::declared_length;
use super::Error;

impl Decoder {
    fn has_gps(&self, ty: u8) -> bool {
        match ty {
            0x10 | 0x12 | 0x22 | 0x25 | 0x37 | 0x2D | 0x31 | 0x11 | 0x16 | 0x26 | 0x27 | 0x32
            | 0xA2 | 0x1A | 0x1E | 0xA0 | 0x17 | 0xA4 | 0x39 => true,
            0xA3 => self.variant != Variant::Seeworld,
            _ => false,
        }
    }

    fn has_lbs(&self, ty: u8) -> bool {
        match ty {
            0x19 | 0x12 | 0x22 | 0x25 | 0x37 | 0x2D | 0x31 | 0x11 | 0x16 | 0x26 | 0x27 | 0x32
            | 0xA2 | 0xA0 | 0x17 | 0xA4 | 0x39 | 0xA5 | 0xA7 => true,
            0xA3 => self.variant != Variant::Seeworld,
            _ => false,
        }
    }

    fn has_status(&self, ty: u8) -> bool {
        match ty {
            0x13 | 0x36 | 0x19 | 0x16 | 0x26 | 0x27 | 0x32 | 0xA2 | 0xA4 | 0x39 | 0xA5 => true,
            0x22 | 0x25 => self.model_nt(),
            0xA3 => self.variant == Variant::Seeworld,
            _ => false,
        }
    }

    /// Whether the type is one of the GPS / LBS / status family.
    pub(crate) fn is_supported(&self, ty: u8) -> bool {
        self.has_gps(ty) || self.has_lbs(ty) || self.has_status(ty)
    }

    /// Decodes a packet of the family.
    pub(crate) fn generic(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
        ty: u8,
    ) -> Result<(), Error> {
        let nt = self.model_nt();
        let nt_driver = nt && matches!(ty, 0x22 | 0x25);
        set(p, KnownKey::Type, int(ty));
        if ty == 0x12 && self.model_is("QH302R") {
            c.skip(8)?;
        }
        let mut device_time = None;
        if nt_driver {
            c.u8()?;
            c.skip(8)?;
            device_time = Some(self.date(c)?);
        }
        if self.has_gps(ty) {
            self.gps(p, c)?;
        } else {
            self.last_location(p, None);
        }
        if let Some(time) = device_time {
            p.device_time = time;
        }
        if self.has_lbs(ty) && c.remaining() > 6 {
            let has_length = self.has_status(ty)
                && !matches!(ty, 0x19 | 0xA5 | 0x39 | 0xA2)
                && (ty != 0x16 || self.variant != Variant::Vxt01);
            self.lbs(c, ty, has_length)?;
        }
        if self.has_status(ty) {
            self.status_block(p, c, ty)?;
        }
        if matches!(ty, 0x36 | 0xA2 | 0x27 | 0xA4 | 0x39) || nt_driver {
            c.u8()?; // language
        }
        if ty == 0x16 && self.variant == Variant::Trx16i {
            c.u8()?;
            rfid(p, c)?;
        }
        if matches!(ty, 0x36 | 0x39) {
            while c.remaining() > 6 {
                let module = c.u16()?;
                let length = usize::from(c.u8()?);
                match module {
                    0x0018 => set(p, KnownKey::Battery, dec(c.u16()?, 2)),
                    0x0032 => set_named(p, "startupStatus", int(c.u8()?)),
                    0x006A => set(p, KnownKey::BatteryLevel, int(c.u8()?)),
                    _ => c.skip(length)?,
                }
            }
        }
        if ty == 0xA2 {
            set(p, KnownKey::Odometer, int(c.u32()?));
            set(p, KnownKey::Hours, int(i64::from(c.u32()?) * 1000));
            c.skip(8)?;
            set(p, KnownKey::Input, int(c.u16()?));
        }
        if ty == 0x12 {
            self.gps_lbs_tail(p, c)?;
        }
        if ty == 0x22 && self.variant == Variant::Seeworld {
            set(p, KnownKey::Ignition, boolean(c.u8()? > 0));
            c.u8()?;
            c.u8()?;
            set(p, KnownKey::Odometer, int(c.u32()?));
            c.u32()?;
            let raw = u64::from(c.u16()?);
            let t = if bit(raw, 15) {
                -((raw & 0x7FFF) as i64)
            } else {
                raw as i64
            };
            set(p, KnownKey::Temp1, dec(t, 2));
            set(p, KnownKey::Humidity, dec(c.u16()?, 2));
        }
        let sl4x = self.variant == Variant::Sl4x;
        if ty == 0x32 && sl4x {
            p.altitude = f64::from(c.i16()?);
        }
        if matches!(ty, 0x22 | 0x37 | 0x2D | 0x31) && c.remaining() >= 9 && !nt {
            set(p, KnownKey::Ignition, boolean(c.u8()? > 0));
            set(p, KnownKey::Event, int(c.u8()?));
            set(p, KnownKey::Archive, boolean(c.u8()? > 0));
            if sl4x {
                if c.remaining() > 8 {
                    set(p, KnownKey::Odometer, int(c.u32()?));
                }
                p.altitude = f64::from(c.i16()?);
            }
        }
        if ty == 0x37 {
            let module = c.u16()?;
            let length = usize::from(c.u8()?);
            match module {
                0x0027 => set(p, KnownKey::Power, dec(c.u16()?, 2)),
                0x002E => set(p, KnownKey::Odometer, int(c.u32()?)),
                // Accuracy: trackd's position has no field for it.
                0x003B => {
                    c.u16()?;
                }
                _ => c.skip(length)?,
            }
        }
        if ty == 0x17 {
            let id = hex(c.take(8)?);
            set_str(p, AttrKey::Known(KnownKey::DriverUniqueId), &id);
            c.u8()?;
        }
        if nt_driver {
            set(p, KnownKey::Odometer, int(c.u24()?));
            set(p, KnownKey::Hours, int(i64::from(c.u24()?) * 60_000));
        }
        if nt && ty == 0x25 {
            let length = usize::from(c.u8()?);
            if length > 0 {
                c.u8()?;
                let id = hex(c.take(length - 1)?);
                set_str(p, AttrKey::Known(KnownKey::DriverUniqueId), &id);
            }
        }
        if c.remaining() == 9 || c.remaining() == 13 {
            set(p, KnownKey::Ignition, boolean(c.u8()? > 0));
            c.u8()?;
            if c.u8()? > 0 {
                set(p, KnownKey::Archive, boolean(true));
            }
        }
        if c.remaining() == 10 {
            set(p, KnownKey::Odometer, int(c.u32()?));
        }
        if matches!(ty, 0x27 | 0xA4) {
            set(p, KnownKey::Geofence, int(c.u8()?));
        }
        Ok(())
    }

    /// The status block: terminal info, voltage or battery, GSM signal and
    /// the alarm / language extension, in each family's layout.
    fn status_block(&self, p: &mut Position, c: &mut Cursor<'_>, ty: u8) -> Result<(), Error> {
        let nt_driver = self.model_nt() && matches!(ty, 0x22 | 0x25);
        if ty == 0xA2 {
            c.u8()?; // network indicator
        }
        self.status(p, c)?;
        if self.variant == Variant::Obd6 {
            let signal = u64::from(c.u16()?);
            let satellites =
                super::fields::between(signal, 10, 15) + super::fields::between(signal, 5, 10);
            set(p, KnownKey::Sat, int(satellites as i64));
            set(p, KnownKey::Rssi, int((signal & 0x1F) as i64));
            add_alarm(p, self.alarm(u32::from(c.u8()?)));
            c.u8()?;
            set(p, KnownKey::BatteryLevel, int(c.u8()?));
            let mode = c.u8()?;
            set(p, KnownKey::Power, dec(c.u16()?, 2));
            c.u8()?;
            c.u16()?;
            if mode == 4 {
                set(p, KnownKey::Temp1, dec(c.i16()?, 1));
            }
        } else if self.variant == Variant::Seeworld && declared_length(c.frame()) == 0x18 {
            c.u16()?;
            c.u8()?;
            set(p, KnownKey::Rssi, int(c.u8()?));
            set(p, KnownKey::Power, AttrValue::Float(f64::from(c.u8()?)));
            c.skip(3)?;
            set(p, KnownKey::Steps, int(c.u32()?));
            set(p, KnownKey::BatteryLevel, int(c.u8()?));
            set(p, KnownKey::Charge, boolean(c.u8()? == 1));
            set(p, KnownKey::Motion, boolean(c.u8()? == 1));
        } else {
            if ty == 0xA2 || nt_driver {
                set(p, KnownKey::Power, dec(c.u16()?, 2));
            }
            if ty == 0x13 && self.model_is("R11") {
                set(p, KnownKey::Power, dec(c.u16()?, 2));
            } else {
                let battery = c.u8()?;
                if nt_driver {
                    set(p, KnownKey::Battery, dec(battery, 1));
                } else if battery <= 6 {
                    set(p, KnownKey::BatteryLevel, int(u32::from(battery) * 100 / 6));
                } else if battery <= 100 {
                    set(p, KnownKey::BatteryLevel, int(battery));
                }
            }
            set(p, KnownKey::Rssi, int(c.u8()?));
            let lw = self.model.as_deref().is_some_and(|m| m.starts_with("LW"));
            if ty == 0x13 && lw {
                set(p, KnownKey::Power, dec(c.u16()? & 0x0FFF, 1));
            } else {
                let mut extension = u32::from(c.u8()?);
                if matches!(ty, 0x27 | 0xA4 | 0x39) {
                    extension += u32::from(c.peek()? >> 4) << 8;
                }
                if ty == 0x13 && self.model_is("SEEWORLD") {
                    set(p, KnownKey::Power, AttrValue::Float(f64::from(extension)));
                } else if self.variant != Variant::Vxt01 {
                    add_alarm(p, self.alarm(extension));
                    if self.variant == Variant::Trx16i {
                        set(p, KnownKey::Event, int(extension));
                    }
                }
            }
        }
        Ok(())
    }

    /// The tails of 0x12 that depend on the device family.
    fn gps_lbs_tail(&self, p: &mut Position, c: &mut Cursor<'_>) -> Result<(), Error> {
        match self.variant {
            Variant::Gt06eCard => {
                set(p, KnownKey::Odometer, int(c.u32()?));
                let length = usize::from(c.u8()?);
                let card = super::fields::ascii(c.take(length)?);
                c.u8()?;
                c.u8()?;
                set_str(p, AttrKey::Known(KnownKey::Card), card.trim());
            }
            Variant::Benway => {
                let mask = u64::from(c.u16()?);
                set(p, KnownKey::Ignition, boolean(bit(mask, 15)));
                set(p, KnownKey::In2, boolean(bit(mask, 14)));
                if bit(mask, 12) {
                    let mut value = (mask & 0x1FF) as i64;
                    if bit(mask, 9) {
                        value = -value;
                    }
                    set(p, KnownKey::Temp1, int(value));
                } else {
                    let value = (mask & 0x3FF) as i64;
                    if bit(mask, 13) {
                        set(p, KnownKey::Adc1, int(value));
                    } else {
                        set(p, KnownKey::Adc1, dec(value, 1));
                    }
                }
            }
            Variant::Vxt01 => {
                self.status(p, c)?;
                set(p, KnownKey::Power, dec(c.u16()?, 2));
                set(p, KnownKey::Rssi, int(c.u8()?));
                c.u8()?;
            }
            Variant::S5 => {
                self.status(p, c)?;
                set(p, KnownKey::Power, dec(c.u16()?, 2));
                set(p, KnownKey::Rssi, int(c.u8()?));
                add_alarm(p, self.alarm(u32::from(c.u8()?)));
                set_named(p, "oil", int(c.u16()?));
                let raw = c.u8()?;
                let temperature = if raw & 0x80 != 0 {
                    -i64::from(raw & 0x7F)
                } else {
                    i64::from(raw)
                };
                set(p, KnownKey::Temp1, int(temperature));
                set(p, KnownKey::Odometer, int(i64::from(c.u32()?) * 10));
            }
            Variant::Wetrust => {
                set(p, KnownKey::Odometer, int(c.u32()?));
                let length = usize::from(c.u8()?);
                let card = super::fields::ascii(c.take(length)?);
                set_str(p, AttrKey::Known(KnownKey::Card), &card);
                if c.u8()? > 0 {
                    add_alarm(p, Some("general"));
                }
                set_named(p, "cardStatus", int(c.u8()?));
                set(p, KnownKey::DrivingTime, int(c.u16()?));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Eight bytes of RFID card, kept unless all zero.
pub(crate) fn rfid(p: &mut Position, c: &mut Cursor<'_>) -> Result<(), Error> {
    let id = hex(c.take(8)?);
    if id.bytes().any(|b| b != b'0') {
        set_str(p, AttrKey::Known(KnownKey::DriverUniqueId), &id);
    }
    Ok(())
}
