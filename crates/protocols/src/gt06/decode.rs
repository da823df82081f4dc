//! One frame into a [`Packet`], with the per-connection state Traccar keeps
//! (time zone from the login, device model, the variant guessed from the
//! frame's type and length) plus the last valid fix, which status packets
//! without a location borrow.

use trackd_model::{AttrKey, KnownKey, Position, Protocol, Timestamp};

use super::cursor::Cursor;
use super::fields::{dec, int, set, set_str};
use super::frame::{declared_length, is_extended, type_offset};
use super::Error;

/// What one frame says.
#[derive(Clone, Debug, PartialEq)]
pub enum Packet {
    /// A login (0x01): the IMEI, the time zone it announced and the ack to
    /// send once the device is accepted.
    Login {
        /// IMEI (15 digits: Traccar drops the leading BCD nibble).
        imei: String,
        /// Seconds east of UTC, when the login carries a time zone.
        timezone: Option<i32>,
        /// The login acknowledgement.
        ack: Vec<u8>,
    },
    /// A position: commit it, then send `ack` (unless `ack_now`, which
    /// means the ack is a keepalive answer to send at once).
    Position {
        /// The decoded position (server time not set).
        position: Box<Position>,
        /// Bytes to answer with; possibly empty (Traccar sends nothing).
        ack: Vec<u8>,
        /// Whether `ack` goes out before the commit (heartbeat, status).
        ack_now: bool,
    },
    /// No position: an answer to send at once (possibly empty) and an
    /// optional log line.
    Answer {
        /// Bytes to send at once; possibly empty.
        reply: Vec<u8>,
        /// What to log.
        notice: Option<String>,
    },
}

/// Device families Traccar tells apart by type and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    Vxt01,
    WanwayS20,
    Sr411Mini,
    Gt06eCard,
    Benway,
    S5,
    Space10x,
    Standard,
    Obd6,
    Wetrust,
    Jc400,
    Sl4x,
    Seeworld,
    Rfid,
    Lw4g,
    Trx16i,
}

/// Where the last valid fix was.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LastFix {
    time: Timestamp,
    latitude: f64,
    longitude: f64,
    altitude: f64,
    course: f64,
}

/// The decoding state of one connection.
#[derive(Clone, Debug)]
pub struct Decoder {
    /// Upper-cased device model, if known.
    pub(crate) model: Option<String>,
    /// Seconds east of UTC of the device clock.
    pub(crate) tz_offset_s: i32,
    pub(crate) variant: Variant,
    /// Whether the current frame carried a GPS block.
    pub(crate) has_fix: bool,
    last_fix: Option<LastFix>,
    now: Timestamp,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            model: None,
            tz_offset_s: 0,
            variant: Variant::Standard,
            has_fix: false,
            last_fix: None,
            now: Timestamp::from_millis(0),
        }
    }
}

/// Traccar's answer frame: header, length, type, content, serial, CRC, stop.
pub fn response(extended: bool, ty: u8, serial: u16, content: &[u8]) -> Vec<u8> {
    let length = 5 + content.len();
    let mut out = Vec::with_capacity(length + 6);
    if extended {
        out.extend_from_slice(&[0x79, 0x79]);
        out.extend_from_slice(&(length.min(usize::from(u16::MAX)) as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[0x78, 0x78]);
        out.push(length.min(usize::from(u8::MAX)) as u8);
    }
    out.push(ty);
    out.extend_from_slice(content);
    out.extend_from_slice(&serial.to_be_bytes());
    let crc = super::frame::crc16_x25(out.get(2..).unwrap_or_default());
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&[0x0D, 0x0A]);
    out
}

/// The serial number: the two bytes before CRC and stop bytes.
fn serial_of(frame: &[u8]) -> u16 {
    frame
        .len()
        .checked_sub(6)
        .and_then(|at| frame.get(at..at + 2))
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
}

impl Decoder {
    /// A decoder for a device of `model` (Traccar's model override), if known.
    pub fn new(model: Option<&str>) -> Self {
        let mut decoder = Decoder::default();
        decoder.set_model(model);
        decoder
    }

    /// Sets the device model (some packet layouts depend on it).
    pub fn set_model(&mut self, model: Option<&str>) {
        self.model = model.map(str::to_uppercase);
    }

    /// Sets the device clock's offset east of UTC, in seconds.
    pub fn set_timezone(&mut self, offset_s: i32) {
        self.tz_offset_s = offset_s;
    }

    pub(crate) fn model_is(&self, name: &str) -> bool {
        self.model.as_deref() == Some(name)
    }

    pub(crate) fn model_nt(&self) -> bool {
        matches!(
            self.model.as_deref(),
            Some("NT11" | "NT20" | "NT26" | "NT40" | "NT46" | "VL100" | "XT40")
        )
    }

    /// A position of this protocol at `now`, without a fix yet.
    pub(crate) fn blank(&self) -> Position {
        Position {
            protocol: Protocol::Gt06,
            fix_time: self.now,
            device_time: self.now,
            ..Position::default()
        }
    }

    /// A packet without a location: the last valid fix of this connection,
    /// marked invalid (a status never claims a fix); device time is the
    /// packet's own or now.
    pub(crate) fn last_location(&self, p: &mut Position, device_time: Option<Timestamp>) {
        p.valid = false;
        p.device_time = device_time.unwrap_or(self.now);
        match self.last_fix {
            Some(last) => {
                p.fix_time = last.time;
                p.latitude = last.latitude;
                p.longitude = last.longitude;
                p.altitude = last.altitude;
                p.course = last.course;
            }
            None => p.fix_time = p.device_time,
        }
    }

    /// Decodes one whole frame (header to stop bytes; framing and CRC are
    /// the caller's business) received at `now`.
    pub fn decode(&mut self, frame: &[u8], now: Timestamp) -> Result<Packet, Error> {
        self.now = now;
        self.has_fix = false;
        let at = type_offset(frame);
        let ty = *frame.get(at).ok_or(Error::Truncated { at })?;
        self.variant = variant_of(frame);
        let mut c = Cursor::new(frame, at + 1);
        let packet = self.dispatch(&mut c, ty)?;
        if let Packet::Position { position, .. } = &packet {
            if self.has_fix && position.valid {
                self.last_fix = Some(LastFix {
                    time: position.fix_time,
                    latitude: position.latitude,
                    longitude: position.longitude,
                    altitude: position.altitude,
                    course: position.course,
                });
            }
        }
        Ok(packet)
    }

    fn dispatch(&mut self, c: &mut Cursor<'_>, ty: u8) -> Result<Packet, Error> {
        let frame = c.frame();
        let extended = is_extended(frame);
        let serial = serial_of(frame);
        let ack = response(false, ty, serial, &[]);
        let mut p = self.blank();
        // Each arm leaves `Some(ack)` for "ack after commit", `None` for
        // "Traccar sends nothing", or returns its own packet.
        let reply: Option<Vec<u8>> = match ty {
            0x01 => return self.login(c, serial),
            0x23 => {
                self.last_location(&mut p, None);
                let status = u64::from(c.u8()?);
                set(
                    &mut p,
                    KnownKey::Armed,
                    super::fields::boolean(status & 1 == 1),
                );
                set(
                    &mut p,
                    KnownKey::Ignition,
                    super::fields::boolean(status & 2 == 2),
                );
                set(
                    &mut p,
                    KnownKey::Charge,
                    super::fields::boolean(status & 4 == 4),
                );
                if c.remaining() >= 8 {
                    set(&mut p, KnownKey::Battery, dec(c.u16()?, 2));
                }
                if c.remaining() >= 7 {
                    set(&mut p, KnownKey::Rssi, int(c.u8()?));
                }
                return Ok(Packet::Position {
                    position: Box::new(p),
                    ack,
                    ack_now: true,
                });
            }
            0x2A => {
                let text = b"NA&&NA&&0##";
                let mut content = vec![text.len() as u8, 0, 0, 0, 0];
                content.extend_from_slice(text);
                return Ok(Packet::Answer {
                    reply: response(true, 0x97, 0, &content),
                    notice: None,
                });
            }
            0x8A => {
                let content = super::encode::utc_fields(self.now);
                return Ok(Packet::Answer {
                    reply: response(false, 0x8A, 0, &content),
                    notice: None,
                });
            }
            0x34 if self.variant != Variant::Sl4x => {
                self.x1_gps(&mut p, c)?;
                None
            }
            0x35 => {
                return Ok(Packet::Answer {
                    reply: Vec::new(),
                    notice: Some("photo transfer not supported".to_owned()),
                })
            }
            0x17 if self.variant != Variant::Rfid => Some(self.wifi(&mut p, c, ty)?),
            0x69 | 0xF3 => Some(self.wifi(&mut p, c, ty)?),
            0x94 if !extended => {
                self.last_location(&mut p, None);
                set(&mut p, KnownKey::Power, dec(c.i16()?, 2));
                None
            }
            0x24 if self.variant == Variant::Sr411Mini => {
                self.gps(&mut p, c)?;
                self.lbs(c, ty, false)?;
                set(
                    &mut p,
                    KnownKey::Ignition,
                    super::fields::boolean(c.u8()? > 0),
                );
                set(&mut p, KnownKey::Power, dec(c.u16()?, 2));
                set(&mut p, KnownKey::Battery, dec(c.u16()?, 2));
                None
            }
            0x28 | 0x2E | 0x24 | 0x18 | 0x2C | 0xA1 | 0x34 | 0xA9 => {
                self.cells(&mut p, c, ty)?;
                Some(ack)
            }
            0xA2 if self.variant != Variant::Lw4g => {
                self.cells(&mut p, c, ty)?;
                Some(ack)
            }
            0x33 if !extended => {
                self.cells(&mut p, c, ty)?;
                Some(ack)
            }
            0xB2 => {
                self.bluetooth_clock(&mut p, c)?;
                Some(ack)
            }
            0x15 => {
                self.string(&mut p, c)?;
                Some(ack)
            }
            0x40 => {
                self.bms(&mut p, c)?;
                Some(ack)
            }
            0x13 if c.remaining() == 22 => {
                self.status_22(&mut p, c)?;
                return Ok(Packet::Position {
                    position: Box::new(p),
                    ack,
                    ack_now: true,
                });
            }
            0x61 => {
                c.skip(8)?;
                self.gps(&mut p, c)?;
                self.lbs(c, ty, false)?;
                let id = (u64::from(c.u32()?) << 16) | u64::from(c.u16()?);
                set_str(
                    &mut p,
                    AttrKey::Known(KnownKey::DriverUniqueId),
                    &id.to_string(),
                );
                Some(ack)
            }
            0x36 if self.variant == Variant::Trx16i => {
                self.location_rfid(&mut p, c, ty)?;
                Some(ack)
            }
            _ if self.is_supported(ty) && !(extended && matches!(ty, 0x32 | 0x36)) => {
                if ty == 0x19 && self.variant == Variant::Space10x {
                    // Traccar drops the multi-cell variant without an answer.
                    return Ok(Packet::Answer {
                        reply: Vec::new(),
                        notice: Some("multi-cell lbs status dropped".to_owned()),
                    });
                }
                self.generic(&mut p, c, ty)?;
                if ty == 0x13 {
                    return Ok(Packet::Position {
                        position: Box::new(p),
                        ack,
                        ack_now: true,
                    });
                }
                Some(ack)
            }
            0x95 => {
                self.alarm_packet(&mut p, c)?;
                Some(ack)
            }
            0x21 => {
                self.string_info(&mut p, c)?;
                None
            }
            0x94 => {
                if !self.info(&mut p, c)? {
                    return Ok(Packet::Answer {
                        reply: Vec::new(),
                        notice: Some("info packet without data dropped".to_owned()),
                    });
                }
                None
            }
            0x36 | 0x41 => {
                let reply = if ty == 0x41 {
                    response(true, ty, serial, &[])
                } else {
                    Vec::new()
                };
                return Ok(Packet::Answer {
                    reply,
                    notice: Some("photo transfer not supported".to_owned()),
                });
            }
            0x32 | 0x33 => Some(self.az735(&mut p, c, ty, serial)?),
            0x8C => {
                self.obd(&mut p, c)?;
                None
            }
            0x70 => Some(self.modular(&mut p, c)?),
            0x9B => {
                self.serial_data(&mut p, c)?;
                None
            }
            0xF1 | 0xF2 => {
                self.peripheral(&mut p, c, ty)?;
                Some(ack)
            }
            0x38 => {
                self.gps(&mut p, c)?;
                c.u8()?;
                c.u8()?;
                self.lbs(c, ty, false)?;
                None
            }
            0x80..=0x82 => {
                return Ok(Packet::Answer {
                    reply: Vec::new(),
                    notice: Some(command_text(c)),
                })
            }
            _ => {
                return Ok(Packet::Answer {
                    reply: ack,
                    notice: Some(format!("unknown packet type 0x{ty:02x}")),
                })
            }
        };
        Ok(Packet::Position {
            position: Box::new(p),
            ack: reply.unwrap_or_default(),
            ack_now: false,
        })
    }

    fn login(&mut self, c: &mut Cursor<'_>, serial: u16) -> Result<Packet, Error> {
        let data_length = declared_length(c.frame()).saturating_sub(5);
        let digits = super::fields::hex(c.take(8)?);
        let imei = digits.get(1..).unwrap_or_default().to_owned();
        if !imei.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidImei(digits));
        }
        c.u16()?;
        let timezone = if data_length > 10 {
            let bits = i32::from(c.u16()?);
            let hours = (bits >> 4) / 100;
            let minutes = (bits >> 4) % 100;
            let offset = (hours * 60 + minutes) * 60;
            Some(if bits & 0x8 != 0 { -offset } else { offset })
        } else {
            None
        };
        Ok(Packet::Login {
            imei,
            timezone,
            ack: response(false, 0x01, serial, &[]),
        })
    }
}

/// The text of a command response (0x80..0x82): length, server flag, text.
fn command_text(c: &mut Cursor<'_>) -> String {
    let text = c
        .u8()
        .ok()
        .and_then(|len| {
            c.skip(4).ok()?;
            c.take(usize::from(len).saturating_sub(4)).ok()
        })
        .map(super::fields::ascii)
        .unwrap_or_default();
    format!("command response: {}", text.trim_end_matches('\0'))
}

/// Traccar's `decodeVariant`: a device family from header, type and length.
fn variant_of(frame: &[u8]) -> Variant {
    if is_extended(frame) {
        return Variant::Standard;
    }
    let length = declared_length(frame);
    let ty = frame.get(3).copied().unwrap_or_default();
    let at4 = frame
        .get(4..6)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    match (ty, length) {
        (0x12 | 0x16, 0x24) => Variant::Vxt01,
        (0x24, 0x31) => Variant::WanwayS20,
        (0x24, 0x2E) => Variant::Sr411Mini,
        (0x12, l) if l >= 0x71 => Variant::Gt06eCard,
        (0x12, 0x21) => Variant::Benway,
        (0x12, 0x2B) => Variant::S5,
        (0x19, l) if l >= 0x17 => Variant::Space10x,
        (0x13, 0x13) => Variant::Obd6,
        (0x12, 0x29) => Variant::Wetrust,
        (0x95, _) if at4 == 0xFFFF => Variant::Jc400,
        (0x34, 0x37) | (0x31, 0x2A) | (0x32, 0x27 | 0x29) => Variant::Sl4x,
        (0x22, 0x2F) | (0x16, 0x26) | (0xA3, 0x0C | 0x18) => Variant::Seeworld,
        (0x17, 0x28) => Variant::Rfid,
        (0xA2, 0x40) => Variant::Lw4g,
        (0x36, 0x35) | (0x16, 0x2D) => Variant::Trx16i,
        _ => Variant::Standard,
    }
}
