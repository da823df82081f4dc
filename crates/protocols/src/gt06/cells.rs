//! Packets about radio surroundings (Wi-Fi and multi-cell LBS) and the
//! smaller fixed layouts (X1 GPS, TRX16i RFID, 22-byte status, BMS,
//! Bluetooth clock-in, string replies, peripheral status).

use trackd_model::{AttrKey, AttrValue, KnownKey, Position, Timestamp};

use super::cursor::Cursor;
use super::decode::{Decoder, Variant};
use super::fields::{ascii, between, boolean, civil_time, dec, hex, int, set, set_named, set_str};
use super::generic::rfid;
use super::Error;

/// One BCD byte as its two decimal digits.
fn bcd(byte: u8) -> u32 {
    u32::from(byte >> 4) * 10 + u32::from(byte & 0x0F)
}

impl Decoder {
    /// Wi-Fi packets (0x17, 0x69, 0xF3): a BCD time, access points and
    /// (except 0xF3) cells. Returns the answer Traccar sends (0xF3: none).
    pub(crate) fn wifi(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
        ty: u8,
    ) -> Result<Vec<u8>, Error> {
        let time = c.take(6)?;
        let fields = [time[0], time[1], time[2], time[3], time[4], time[5]].map(bcd);
        self.last_location(p, Some(civil_time(fields, 0)));
        let count = if ty == 0xF3 {
            c.u8()?
        } else {
            c.frame().get(2).copied().unwrap_or_default()
        };
        for _ in 0..count {
            if ty == 0xF3 {
                c.skip(2)?;
            }
            c.skip(6)?;
            if ty != 0xF3 {
                c.u8()?;
            }
        }
        if ty == 0xF3 {
            return Ok(Vec::new());
        }
        let cells = c.u8()?;
        c.skip(3)?;
        for _ in 0..cells {
            c.skip(5)?;
        }
        let mut reply = vec![0x78, 0x78, 0x00, ty];
        reply.extend_from_slice(time);
        reply.extend_from_slice(&[0x0D, 0x0A]);
        Ok(reply)
    }

    /// Multi-cell LBS packets (0x18, 0x24, 0x28, 0x2C, 0x2E, 0xA1, 0xA2,
    /// 0x33, 0x34, 0xA9); the cells themselves are read and dropped.
    pub(crate) fn cells(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
        ty: u8,
    ) -> Result<(), Error> {
        let time = self.date(c)?;
        self.last_location(p, Some(time));
        let wanway_or_sl4x = matches!(self.variant, Variant::WanwayS20 | Variant::Sl4x);
        if wanway_or_sl4x {
            c.u8()?;
        }
        let mcc = c.u16()?;
        if mcc & 0x8000 != 0 || self.variant == Variant::Sl4x {
            c.u16()?;
        } else {
            c.u8()?;
        }
        let cell4g = ty == 0xA9 && c.u8()? > 0;
        let count = if self.variant == Variant::WanwayS20 || ty == 0xA9 {
            c.u8()?
        } else if ty == 0x33 {
            6
        } else {
            7
        };
        for _ in 0..count {
            if matches!(ty, 0xA1 | 0xA2) || cell4g {
                c.skip(4 + 8)?;
            } else if matches!(ty, 0x33 | 0x34) {
                c.skip(2 + 4)?;
            } else {
                c.skip(2 + 3)?;
            }
            c.u8()?;
        }
        if !wanway_or_sl4x {
            c.u8()?;
        }
        if !matches!(ty, 0x28 | 0x2E | 0x24 | 0xA1 | 0x34) {
            let wifi = c.u8()?;
            for _ in 0..wifi {
                c.skip(7)?;
            }
        }
        if ty == 0xA9 {
            let alarm = u32::from(c.u8()?);
            let language = u32::from(c.u8()?);
            super::fields::add_alarm(p, self.alarm((language >> 4) << 8 | alarm));
        }
        Ok(())
    }

    /// Bluetooth clock-in (0xB2).
    pub(crate) fn bluetooth_clock(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
    ) -> Result<(), Error> {
        let time = self.date(c)?;
        self.last_location(p, Some(time));
        set(p, KnownKey::Rssi, int(c.u8()? as i8));
        set_str(p, AttrKey::Other("tagMac".into()), &hex(c.take(6)?));
        set_str(p, AttrKey::Other("tagUuid".into()), &hex(c.take(16)?));
        set_named(p, "tagMajor", int(c.u16()?));
        set_named(p, "tagMinor", int(c.u16()?));
        set_named(p, "tagBattery", dec(c.u16()?, 2));
        set_named(p, "clock", int(between(u64::from(c.u8()?), 2, 6) as i64));
        Ok(())
    }

    /// X1 GPS (0x34): GPS, odometer, cell, driver id, voltages, ports.
    pub(crate) fn x1_gps(&mut self, p: &mut Position, c: &mut Cursor<'_>) -> Result<(), Error> {
        c.u32()?;
        self.gps(p, c)?;
        c.u16()?;
        set(p, KnownKey::Odometer, int(c.u32()?));
        c.skip(2 + 1 + 2 + 4)?;
        let driver = c.u32()?;
        if driver > 0 {
            set_str(
                p,
                AttrKey::Known(KnownKey::DriverUniqueId),
                &driver.to_string(),
            );
        }
        set(p, KnownKey::Battery, dec(c.u16()?, 2));
        set(p, KnownKey::Power, dec(c.u16()?, 2));
        let ports = u64::from(c.u32()?);
        set(p, KnownKey::Input, int(c.u8()?));
        set(p, KnownKey::Output, int(c.u8()?));
        for i in 1..=between(ports, 20, 24) {
            set_named(p, &format!("adc{i}"), dec(c.u16()?, 2));
        }
        Ok(())
    }

    /// TRX16i location with RFID (0x36).
    pub(crate) fn location_rfid(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
        ty: u8,
    ) -> Result<(), Error> {
        self.gps(p, c)?;
        self.lbs(c, ty, false)?;
        set(p, KnownKey::Ignition, boolean(c.u8()? > 0));
        set_named(p, "uploadMode", int(c.u8()?));
        set(p, KnownKey::Archive, boolean(c.u8()? > 0));
        set(p, KnownKey::Odometer, int(c.u32()?));
        set(p, KnownKey::Power, dec(c.u16()?, 2));
        set(p, KnownKey::Battery, dec(c.u8()?, 1));
        set(p, KnownKey::Hours, int(i64::from(c.u24()?) * 60_000));
        rfid(p, c)
    }

    /// The 22-byte status (0x13): battery level and a temperature.
    pub(crate) fn status_22(&mut self, p: &mut Position, c: &mut Cursor<'_>) -> Result<(), Error> {
        self.last_location(p, None);
        c.skip(1 + 2 + 1 + 1)?;
        set(p, KnownKey::BatteryLevel, int(c.u8()?));
        c.skip(1 + 2 + 1 + 2 + 2)?;
        let value = c.u16()?;
        let magnitude = i64::from(value & 0x7FFF);
        let temperature = if value & 0x8000 != 0 {
            magnitude
        } else {
            -magnitude
        };
        set(p, KnownKey::Temp1, dec(temperature, 1));
        Ok(())
    }

    /// Battery management (0x40).
    pub(crate) fn bms(&mut self, p: &mut Position, c: &mut Cursor<'_>) -> Result<(), Error> {
        c.skip(8)?;
        let time = Timestamp::from_millis(i64::from(c.u32()?) * 1000);
        self.last_location(p, Some(time));
        set_named(p, "relativeCapacity", int(c.u8()?));
        set_named(p, "remainingCapacity", int(c.u16()?));
        set_named(p, "absoluteCapacity", int(c.u8()?));
        set_named(p, "fullCapacity", int(c.u16()?));
        set_named(p, "batteryHealth", int(c.u8()?));
        set_named(
            p,
            "batteryTemp",
            AttrValue::Float(f64::from(c.u16()?) / 10.0 - 273.1),
        );
        set_named(p, "current", int(c.u16()?));
        set(p, KnownKey::Battery, dec(c.u16()?, 3));
        set_named(p, "cycleIndex", int(c.u16()?));
        for i in 1..=14 {
            set_named(p, &format!("batteryCell{i}"), dec(c.u16()?, 3));
        }
        set_named(p, "currentChargeInterval", int(c.u16()?));
        set_named(p, "maxChargeInterval", int(c.u16()?));
        let barcode = ascii(c.take(16)?);
        set_str(p, AttrKey::Other("barcode".into()), barcode.trim());
        set_named(p, "batteryVersion", int(c.u16()?));
        let maker = ascii(c.take(16)?);
        set_str(p, AttrKey::Other("manufacturer".into()), maker.trim());
        set_named(p, "batteryStatus", int(c.u32()?));
        set_named(p, "controllerStatus", int(c.u32()?));
        set_named(p, "controllerFault", int(c.u32()?));
        Ok(())
    }

    /// A string reply (0x15): ICCID or a command result.
    pub(crate) fn string(&mut self, p: &mut Position, c: &mut Cursor<'_>) -> Result<(), Error> {
        self.last_location(p, None);
        let length = usize::from(c.u8()?);
        if length > 0 {
            c.u32()?;
            let n = length.checked_sub(4).ok_or(Error::Truncated { at: 0 })?;
            let data = ascii(c.take(n)?);
            if let Some(rest) = data.strip_prefix("<ICCID:") {
                let iccid = rest.get(..20).ok_or(Error::Truncated { at: 0 })?;
                set_str(p, AttrKey::Known(KnownKey::Iccid), iccid);
            } else {
                set_str(p, AttrKey::Known(KnownKey::Result), &data);
            }
        }
        Ok(())
    }

    /// Peripheral (0xF2) and device (0xF1) status lists.
    pub(crate) fn peripheral(
        &mut self,
        p: &mut Position,
        c: &mut Cursor<'_>,
        ty: u8,
    ) -> Result<(), Error> {
        let time = Timestamp::from_millis(i64::from(c.u32()?) * 1000);
        self.last_location(p, Some(time));
        while c.remaining() > 6 {
            let id = c.u16()?;
            if ty == 0xF2 {
                match id {
                    0x000A => {
                        let length = usize::from(c.u16()?);
                        c.u8()?;
                        set_str(p, AttrKey::Other("mac".into()), &hex(c.take(6)?));
                        let event = c.u8()?;
                        set(p, KnownKey::Event, int(event));
                        let data = c.u8()?;
                        if event > 0 {
                            set(p, KnownKey::EventData, int(data));
                        }
                        set_named(p, "dataType", int(c.u8()?));
                        let n = length.checked_sub(10).ok_or(Error::Truncated { at: 0 })?;
                        set_str(p, AttrKey::Other("dataDetails".into()), &hex(c.take(n)?));
                    }
                    0x000C => {
                        c.u8()?;
                        set_named(p, "externalBatteryLevel", int(c.u8()?));
                        if c.u8()? > 0 {
                            set_named(p, "externalBatteryCharge", boolean(true));
                        }
                        set_named(p, "externalBatteryCycles", int(c.u16()?));
                        c.skip(6)?;
                    }
                    _ => {
                        let length = usize::from(c.u8()?);
                        let n = if length == 0 {
                            usize::from(c.u8()?)
                        } else {
                            length
                        };
                        c.skip(n)?;
                    }
                }
            } else {
                let length = usize::from(c.u8()?);
                match id {
                    0x0001 => {
                        let motion = c.u8()?;
                        set(p, KnownKey::Motion, boolean(motion == 2 || motion == 4));
                    }
                    0x0002 => set(p, KnownKey::Armed, boolean(c.u8()? > 0)),
                    0x0004 => set(p, KnownKey::Ignition, boolean(c.u8()? > 0)),
                    0x0005 => set(p, KnownKey::Power, dec(c.u16()?, 2)),
                    0x0007 => set(p, KnownKey::Charge, boolean(c.u8()? > 0)),
                    0x000A => set_named(p, "chargeVoltage", int(c.u16()?)),
                    0x000B => set_named(p, "batteryTemp", dec(c.u16()?, 1)),
                    _ => c.skip(length)?,
                }
            }
        }
        Ok(())
    }
}
