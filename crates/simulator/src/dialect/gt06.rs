//! GT06 over TCP: a login packet answered by a login ack, then one GPS +
//! LBS packet (0x12) per fix, each acknowledged by an answer that echoes its
//! type and serial number, and a status packet (0x13, the heartbeat) now and
//! then while idle.

use trackd_model::{AttrValue, KnownKey, Position, Protocol, Timestamp};
use trackd_protocols::gt06::{encode_gps, encode_login, encode_status, next_frame, FrameStatus};

use super::Conn;
use crate::client::DeviceError;
use crate::vehicle::Fix;

/// Login packet type.
const LOGIN: u8 = 0x01;
/// GPS + LBS packet type.
const GPS: u8 = 0x12;
/// Status (heartbeat) packet type.
const STATUS: u8 = 0x13;
/// Server answers are a few dozen bytes; anything longer is not one.
const MAX_REPLY: usize = 1_024;

/// The position a GT06 tracker reports for `fix`: the wire carries whole
/// seconds, whole km/h, whole degrees and the satellite count.
pub fn position(fix: &Fix) -> Position {
    let time = Timestamp::from_millis(i64::try_from(fix.time_ms).unwrap_or(i64::MAX));
    let mut position = Position {
        protocol: Protocol::Gt06,
        fix_time: time,
        device_time: time,
        valid: true,
        latitude: fix.latitude,
        longitude: fix.longitude,
        altitude: fix.altitude_m,
        speed: fix.speed_mps,
        course: fix.course_deg,
        ..Position::default()
    };
    position
        .attributes
        .set(KnownKey::Sat, AttrValue::Int(i64::from(fix.satellites)));
    position
}

/// A GT06 device's wire state: the serial number of its next packet and
/// the serial the server must echo.
#[derive(Debug, Default)]
pub(crate) struct Gt06 {
    next_serial: u16,
    awaiting: u16,
}

impl Gt06 {
    fn serial(&mut self) -> u16 {
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        serial
    }

    /// Logs in; `Ok(false)` when the server closes instead of answering
    /// (that is how a GT06 server refuses an IMEI).
    pub(crate) async fn open(&mut self, conn: &mut Conn, imei: &str) -> Result<bool, DeviceError> {
        let serial = self.serial();
        conn.write_all(&encode_login(imei, serial)).await?;
        match await_answer(conn, LOGIN, serial).await {
            Ok(()) => Ok(true),
            Err(DeviceError::Io(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    /// One GPS packet of the first of `fixes` (GT06 sends one fix a packet).
    pub(crate) fn encode(&mut self, fixes: &[Fix], out: &mut Vec<u8>) {
        let Some(fix) = fixes.first() else {
            out.clear();
            return;
        };
        self.awaiting = self.serial();
        *out = encode_gps(&position(fix), self.awaiting);
    }

    /// Waits for the answer echoing the GPS packet's serial number.
    pub(crate) async fn await_ack(&self, conn: &mut Conn) -> Result<(), DeviceError> {
        await_answer(conn, GPS, self.awaiting).await
    }

    /// Sends a status packet built from `fix` and waits for its answer.
    pub(crate) async fn heartbeat(
        &mut self,
        conn: &mut Conn,
        fix: &Fix,
    ) -> Result<(), DeviceError> {
        // Terminal information: GPS tracking on, ACC (ignition), charging from the vehicle.
        let terminal_info = 0x40 | if fix.ignition { 0x02 | 0x04 } else { 0 };
        let voltage_level = match fix.external_voltage_v {
            v if v >= 12.6 => 6,
            v if v >= 12.2 => 5,
            v if v >= 11.8 => 4,
            _ => 3,
        };
        let gsm = fix.gsm_level.saturating_sub(1).min(4);
        let serial = self.serial();
        conn.write_all(&encode_status(terminal_info, voltage_level, gsm, serial))
            .await?;
        await_answer(conn, STATUS, serial).await
    }
}

/// Reads server frames until the answer of type `ty` echoing `serial`;
/// other answers (to packets of an earlier connection) are skipped.
async fn await_answer(conn: &mut Conn, ty: u8, serial: u16) -> Result<(), DeviceError> {
    loop {
        match answer(conn.pending()) {
            Answer::Incomplete => conn.fill().await?,
            Answer::Invalid(reason) => return Err(DeviceError::BadReply(reason)),
            Answer::Frame {
                len,
                ty: got_ty,
                serial: got_serial,
            } => {
                conn.consume(len);
                if got_ty != ty {
                    continue;
                }
                if got_serial != serial {
                    return Err(DeviceError::SerialMismatch {
                        sent: serial,
                        echoed: got_serial,
                    });
                }
                return Ok(());
            }
        }
    }
}

/// One server frame at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Incomplete,
    Invalid(String),
    Frame { len: usize, ty: u8, serial: u16 },
}

fn answer(buf: &[u8]) -> Answer {
    match next_frame(buf, MAX_REPLY) {
        FrameStatus::Incomplete => Answer::Incomplete,
        FrameStatus::Invalid(error) => Answer::Invalid(error.to_string()),
        FrameStatus::Complete { len, .. } => {
            let type_at = if buf.first() == Some(&0x79) { 4 } else { 3 };
            let ty = buf.get(type_at).copied();
            let serial = len
                .checked_sub(6)
                .and_then(|at| buf.get(at..at + 2))
                .map(|b| u16::from_be_bytes([b[0], b[1]]));
            match (ty, serial) {
                (Some(ty), Some(serial)) if len >= type_at + 7 => Answer::Frame { len, ty, serial },
                _ => Answer::Invalid(format!("answer of {len} bytes is too short")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::vehicle::Vehicle;
    use trackd_protocols::gt06::response;
    use trackd_protocols::{Output, SessionConfig};

    #[test]
    fn answers_are_framed_with_type_and_serial() {
        let ack = response(false, GPS, 0x1234, &[]);
        assert_eq!(answer(&ack[..4]), Answer::Incomplete);
        let mut two = ack.clone();
        two.extend_from_slice(&response(false, STATUS, 7, &[]));
        assert_eq!(
            answer(&two),
            Answer::Frame {
                len: ack.len(),
                ty: GPS,
                serial: 0x1234
            }
        );
        assert!(matches!(answer(b"HTTP/1.1"), Answer::Invalid(_)));
    }

    #[test]
    fn packets_decode_as_the_fix_with_serials_echoed() {
        let mut vehicle = Vehicle::new(4, 1_700_000_000_000);
        vehicle.advance_to(1_700_000_300_000);
        let fix = vehicle.fix();
        let mut wire = Gt06::default();
        let login = encode_login("356000000000001", wire.serial());
        let mut gps = Vec::new();
        wire.encode(&[fix], &mut gps);

        let info = trackd_protocols::gt06::PROTOCOL;
        let mut session =
            (info.new_session)(trackd_protocols::Transport::Tcp, &SessionConfig::default());
        let now = Timestamp::from_millis(1_700_000_300_500);
        session.handle_bytes(now, &login);
        assert!(
            matches!(session.poll(), Some(Output::Identified(imei)) if imei == "356000000000001")
        );
        session.accept(true);
        assert!(matches!(session.poll(), Some(Output::Reply(_))));
        session.handle_bytes(now, &gps);
        let Some(Output::Records { records, ack }) = session.poll() else {
            panic!("no records");
        };
        assert_eq!(
            answer(&ack),
            Answer::Frame {
                len: ack.len(),
                ty: GPS,
                serial: wire.awaiting
            }
        );
        let decoded = &records[0];
        assert_eq!(decoded.fix_time.as_millis(), 1_700_000_300_000);
        assert!(decoded.valid);
        assert!((decoded.latitude - fix.latitude).abs() < 1e-5);
        assert!((decoded.longitude - fix.longitude).abs() < 1e-5);
        assert!((decoded.speed - fix.speed_mps).abs() < 0.3);
    }
}
