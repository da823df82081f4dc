//! Teltonika over TCP: the IMEI handshake (one-byte verdict), Codec 8
//! Extended AVL frames of up to 255 records, and the four-byte record count
//! that acknowledges a frame.

use trackd_protocols::teltonika::{
    encode_imei, encode_tcp_frame, AvlRecord, Codec, IoElement, IoValue,
};

use super::Conn;
use crate::client::DeviceError;
use crate::vehicle::Fix;

/// Teltonika AVL IO ids the simulator reports.
pub mod io_id {
    /// Ignition (u8 0/1).
    pub const IGNITION: u16 = 239;
    /// Movement (u8 0/1).
    pub const MOVEMENT: u16 = 240;
    /// GSM signal (u8 1..5).
    pub const GSM_SIGNAL: u16 = 21;
    /// Sleep mode (u8, 0 = none).
    pub const SLEEP_MODE: u16 = 200;
    /// GNSS status (u8, 1 = on with fix).
    pub const GNSS_STATUS: u16 = 69;
    /// External voltage (u16 mV).
    pub const EXTERNAL_VOLTAGE: u16 = 66;
    /// Battery voltage (u16 mV).
    pub const BATTERY_VOLTAGE: u16 = 67;
    /// Battery current (u16 mA).
    pub const BATTERY_CURRENT: u16 = 68;
    /// GNSS PDOP (u16, x10).
    pub const GNSS_PDOP: u16 = 181;
    /// GNSS HDOP (u16, x10).
    pub const GNSS_HDOP: u16 = 182;
    /// Total odometer (u32 m).
    pub const TOTAL_ODOMETER: u16 = 16;
    /// GNSS speed (u16 km/h).
    pub const SPEED: u16 = 24;
}

/// The Codec 8 Extended record a Teltonika tracker makes of `fix`.
pub fn avl_record(fix: &Fix) -> AvlRecord {
    let mut record = AvlRecord {
        timestamp_ms: 0,
        priority: 0,
        longitude: 0,
        latitude: 0,
        altitude: 0,
        angle: 0,
        satellites: 0,
        speed_kmh: 0,
        event_io_id: 0,
        generation_type: None,
        io: Vec::with_capacity(12),
    };
    avl_record_into(fix, &mut record);
    record
}

/// Like [`avl_record`], but overwrites `record` and reuses its IO vector.
pub fn avl_record_into(fix: &Fix, record: &mut AvlRecord) {
    let speed_kmh = (fix.speed_mps * 3.6)
        .round()
        .clamp(0.0, f64::from(u16::MAX)) as u16;
    let millivolts = |volts: f64| (volts * 1_000.0).round().clamp(0.0, f64::from(u16::MAX)) as u16;
    let x10 = |dop: f64| (dop * 10.0).round().clamp(0.0, f64::from(u16::MAX)) as u16;
    record.timestamp_ms = fix.time_ms;
    record.priority = 0;
    record.longitude = (fix.longitude * 1e7).round() as i32;
    record.latitude = (fix.latitude * 1e7).round() as i32;
    record.altitude = fix.altitude_m.round() as i16;
    record.angle = (fix.course_deg.round() as u16) % 360;
    record.satellites = fix.satellites;
    record.speed_kmh = speed_kmh;
    record.event_io_id = if fix.ignition_changed {
        io_id::IGNITION
    } else {
        0
    };
    record.generation_type = None;
    let odometer_m = fix.odometer_m.clamp(0.0, f64::from(u32::MAX)) as u32;
    // In wire order (grouped by width), so a decoded record compares equal.
    let elements = [
        (io_id::IGNITION, IoValue::U8(u8::from(fix.ignition))),
        (io_id::MOVEMENT, IoValue::U8(u8::from(fix.moving))),
        (io_id::GSM_SIGNAL, IoValue::U8(fix.gsm_level)),
        (io_id::SLEEP_MODE, IoValue::U8(0)),
        (io_id::GNSS_STATUS, IoValue::U8(1)),
        (
            io_id::EXTERNAL_VOLTAGE,
            IoValue::U16(millivolts(fix.external_voltage_v)),
        ),
        (
            io_id::BATTERY_VOLTAGE,
            IoValue::U16(millivolts(fix.battery_voltage_v)),
        ),
        (
            io_id::BATTERY_CURRENT,
            IoValue::U16(millivolts(fix.battery_current_a)),
        ),
        (io_id::GNSS_PDOP, IoValue::U16(x10(fix.pdop))),
        (io_id::GNSS_HDOP, IoValue::U16(x10(fix.hdop))),
        (io_id::SPEED, IoValue::U16(speed_kmh)),
        (io_id::TOTAL_ODOMETER, IoValue::U32(odometer_m)),
    ];
    record.io.clear();
    record.io.extend(
        elements
            .into_iter()
            .map(|(id, value)| IoElement { id, value }),
    );
}

/// A Teltonika device's wire state: its record buffers, reused frame to frame.
#[derive(Debug, Default)]
pub(crate) struct Teltonika {
    records: Vec<AvlRecord>,
}

impl Teltonika {
    /// Sends the IMEI; `Ok(false)` when the server refuses it.
    pub(crate) async fn open(&mut self, conn: &mut Conn, imei: &str) -> Result<bool, DeviceError> {
        conn.write_all(&encode_imei(imei)).await?;
        let reply = conn.read_exact::<1>().await?;
        match reply[0] {
            0x01 => Ok(true),
            0x00 => Ok(false),
            other => Err(DeviceError::BadHandshake(other)),
        }
    }

    /// One AVL frame of `fixes` into `out`.
    pub(crate) fn encode(&mut self, fixes: &[Fix], out: &mut Vec<u8>) {
        for (index, fix) in fixes.iter().enumerate() {
            match self.records.get_mut(index) {
                Some(record) => avl_record_into(fix, record),
                None => self.records.push(avl_record(fix)),
            }
        }
        let n = fixes.len().min(self.records.len());
        *out = encode_tcp_frame(Codec::Codec8Ext, &self.records[..n]);
    }

    /// Waits for the record count; it must match what the frame held.
    pub(crate) async fn await_ack(conn: &mut Conn, n_records: usize) -> Result<(), DeviceError> {
        let ack = conn.read_exact::<4>().await?;
        let acked = u32::from_be_bytes(ack);
        if acked as usize != n_records {
            return Err(DeviceError::AckMismatch {
                sent: n_records as u32,
                acked,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::vehicle::Vehicle;
    use trackd_protocols::teltonika::decode_avl_records;

    #[test]
    fn records_survive_the_shared_encoder_and_decoder() {
        let mut vehicle = Vehicle::new(5, 1_700_000_000_000);
        let records: Vec<AvlRecord> = (0..3_600u64)
            .map(|second| {
                vehicle.advance_to(1_700_000_000_000 + second * 1_000);
                avl_record(&vehicle.fix())
            })
            .collect();
        for chunk in records.chunks(255) {
            let frame = encode_tcp_frame(Codec::Codec8Ext, chunk);
            let decoded = decode_avl_records(&frame[8..frame.len() - 4]).unwrap();
            assert_eq!(decoded, chunk);
        }
        assert!(records
            .iter()
            .any(|record| record.event_io_id == io_id::IGNITION));
        assert!(records.iter().all(|record| record.io.len() == 12));
    }

    #[test]
    fn units_become_teltonika_units() {
        let mut vehicle = Vehicle::new(2, 1_700_000_000_000);
        vehicle.advance_to(1_700_000_600_000);
        let fix = Fix {
            speed_mps: 12.5,
            external_voltage_v: 13.95,
            odometer_m: 1_234.4,
            ..vehicle.fix()
        };
        let record = avl_record(&fix);
        assert_eq!(record.speed_kmh, 45);
        let value = |id| {
            record
                .io
                .iter()
                .find(|e| e.id == id)
                .map(|e| e.value.clone())
        };
        assert_eq!(value(io_id::SPEED), Some(IoValue::U16(45)));
        assert_eq!(value(io_id::EXTERNAL_VOLTAGE), Some(IoValue::U16(13_950)));
        assert_eq!(value(io_id::TOTAL_ODOMETER), Some(IoValue::U32(1_234)));
        assert_eq!(record.timestamp_ms, 1_700_000_600_000);
    }
}
