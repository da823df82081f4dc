//! A private, minimal Teltonika encoder (Codec 8, 8 Extended and 16 over TCP).
//!
//! It mirrors the API of `trackd_protocols::teltonika` so the simulator can be
//! switched to the shared encoder by changing one `use` in `lib.rs`.

/// Which Teltonika AVL codec a frame is encoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Codec 8 (0x08): one-byte IO ids and counts.
    Codec8,
    /// Codec 8 Extended (0x8E): two-byte IO ids and counts, variable-length IO.
    Codec8Ext,
    /// Codec 16 (0x10): two-byte IO ids, one-byte counts, generation type.
    Codec16,
}

/// One AVL record: a GPS fix plus IO elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvlRecord {
    /// Fix time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Record priority (0 low, 1 high, 2 panic).
    pub priority: u8,
    /// Longitude in 1e-7 degrees.
    pub longitude: i32,
    /// Latitude in 1e-7 degrees.
    pub latitude: i32,
    /// Altitude in metres.
    pub altitude: i16,
    /// Heading in degrees, 0..360.
    pub angle: u16,
    /// Satellites in use.
    pub satellites: u8,
    /// Speed in km/h.
    pub speed_kmh: u16,
    /// IO id that triggered the record, 0 for periodic records.
    pub event_io_id: u16,
    /// Codec 16 generation type.
    pub generation_type: Option<u8>,
    /// IO elements.
    pub io: Vec<IoElement>,
}

/// One IO element of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoElement {
    /// IO id.
    pub id: u16,
    /// IO value.
    pub value: IoValue,
}

/// The value of an IO element; its width decides its group in the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoValue {
    /// One-byte value.
    U8(u8),
    /// Two-byte value.
    U16(u16),
    /// Four-byte value.
    U32(u32),
    /// Eight-byte value.
    U64(u64),
    /// Variable-length value (Codec 8 Extended only).
    Var(Vec<u8>),
}

/// Encodes the IMEI handshake: a two-byte length then the ASCII IMEI.
pub fn encode_imei(imei: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + imei.len());
    // An IMEI is 15 digits, so the length always fits.
    out.extend_from_slice(&(imei.len() as u16).to_be_bytes());
    out.extend_from_slice(imei.as_bytes());
    out
}

/// Encodes records as one TCP AVL frame: preamble, length, payload, CRC.
pub fn encode_tcp_frame(codec: Codec, records: &[AvlRecord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + records.len() * 80);
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    let payload_start = out.len();
    out.push(match codec {
        Codec::Codec8 => 0x08,
        Codec::Codec8Ext => 0x8E,
        Codec::Codec16 => 0x10,
    });
    let n_records = records.len().min(255) as u8;
    out.push(n_records);
    for record in records.iter().take(usize::from(n_records)) {
        encode_record(codec, record, &mut out);
    }
    out.push(n_records);
    let payload_len = (out.len() - payload_start) as u32;
    out[4..8].copy_from_slice(&payload_len.to_be_bytes());
    let crc = crc16_ibm(&out[payload_start..]);
    out.extend_from_slice(&u32::from(crc).to_be_bytes());
    out
}

fn encode_record(codec: Codec, record: &AvlRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(&record.timestamp_ms.to_be_bytes());
    out.push(record.priority);
    out.extend_from_slice(&record.longitude.to_be_bytes());
    out.extend_from_slice(&record.latitude.to_be_bytes());
    out.extend_from_slice(&record.altitude.to_be_bytes());
    out.extend_from_slice(&record.angle.to_be_bytes());
    out.push(record.satellites);
    out.extend_from_slice(&record.speed_kmh.to_be_bytes());

    let wide_ids = !matches!(codec, Codec::Codec8);
    let wide_counts = matches!(codec, Codec::Codec8Ext);
    let put_id = |out: &mut Vec<u8>, id: u16| {
        if wide_ids {
            out.extend_from_slice(&id.to_be_bytes());
        } else {
            out.push(id as u8);
        }
    };
    let put_count = |out: &mut Vec<u8>, count: usize| {
        if wide_counts {
            out.extend_from_slice(&(count as u16).to_be_bytes());
        } else {
            out.push(count as u8);
        }
    };

    put_id(out, record.event_io_id);
    if matches!(codec, Codec::Codec16) {
        out.push(record.generation_type.unwrap_or(0));
    }
    let is_var = |value: &IoValue| matches!(value, IoValue::Var(_));
    let n_total = record
        .io
        .iter()
        .filter(|element| wide_counts || !is_var(&element.value))
        .count();
    put_count(out, n_total);
    for width in [1usize, 2, 4, 8] {
        let group = || {
            record.io.iter().filter(move |element| {
                matches!(
                    (&element.value, width),
                    (IoValue::U8(_), 1)
                        | (IoValue::U16(_), 2)
                        | (IoValue::U32(_), 4)
                        | (IoValue::U64(_), 8)
                )
            })
        };
        put_count(out, group().count());
        for element in group() {
            put_id(out, element.id);
            match element.value {
                IoValue::U8(value) => out.push(value),
                IoValue::U16(value) => out.extend_from_slice(&value.to_be_bytes()),
                IoValue::U32(value) => out.extend_from_slice(&value.to_be_bytes()),
                IoValue::U64(value) => out.extend_from_slice(&value.to_be_bytes()),
                IoValue::Var(_) => {}
            }
        }
    }
    if wide_counts {
        put_count(
            out,
            record
                .io
                .iter()
                .filter(|element| is_var(&element.value))
                .count(),
        );
        for element in &record.io {
            if let IoValue::Var(bytes) = &element.value {
                out.extend_from_slice(&element.id.to_be_bytes());
                out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }
}

/// CRC-16/IBM (ARC): reflected polynomial 0xA001, initial value 0.
pub(crate) fn crc16_ibm(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_reference_check_value() {
        // CRC-16/ARC check value for "123456789".
        assert_eq!(crc16_ibm(b"123456789"), 0xBB3D);
    }

    #[test]
    fn imei_handshake_matches_teltonika_example() {
        let bytes = encode_imei("356307042441013");
        assert_eq!(&bytes[..2], &[0x00, 0x0F]);
        assert_eq!(&bytes[2..], b"356307042441013");
    }

    #[test]
    fn codec8_frame_matches_teltonika_example() {
        // The first Codec 8 example of the Teltonika wiki.
        let record = AvlRecord {
            timestamp_ms: 0x0000_016B_40D8_EA30,
            priority: 1,
            longitude: 0,
            latitude: 0,
            altitude: 0,
            angle: 0,
            satellites: 0,
            speed_kmh: 0,
            event_io_id: 1,
            generation_type: None,
            io: vec![
                IoElement {
                    id: 21,
                    value: IoValue::U8(3),
                },
                IoElement {
                    id: 1,
                    value: IoValue::U8(1),
                },
                IoElement {
                    id: 66,
                    value: IoValue::U16(0x5E0F),
                },
                IoElement {
                    id: 241,
                    value: IoValue::U32(0x0000_601A),
                },
                IoElement {
                    id: 78,
                    value: IoValue::U64(0),
                },
            ],
        };
        let expected = "000000000000003608010000016B40D8EA30010000000000000000000000000000000105021503010101425E0F01F10000601A014E0000000000000000010000C7CF";
        let encoded: String = encode_tcp_frame(Codec::Codec8, &[record])
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect();
        assert_eq!(encoded, expected);
    }
}
