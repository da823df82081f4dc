//! Unit tests of the Teltonika layers; data-driven and property tests live
//! in `crates/protocols/tests/`.

use super::*;

#[test]
fn crc16_ibm_check_value() {
    assert_eq!(crc16_ibm(b"123456789"), 0xBB3D);
}

/// The sliced CRC equals the bitwise definition at every length and offset.
#[test]
fn crc16_sliced_matches_bitwise() {
    fn bitwise(data: &[u8]) -> u16 {
        let mut crc = 0u16;
        for &byte in data {
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
    let data: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for start in 0..9 {
        for end in start..data.len() {
            assert_eq!(crc16_ibm(&data[start..end]), bitwise(&data[start..end]));
        }
    }
}

#[test]
fn ack_bytes() {
    assert_eq!(TcpAck { n_records: 2 }.reply(), [0, 0, 0, 2]);
    let ack = UdpAck {
        packet_id: 0xCAFE,
        avl_packet_id: 0x22,
        n_records: 1,
    };
    assert_eq!(ack.reply(), vec![0, 5, 0xCA, 0xFE, 1, 0x22, 1]);
}

#[test]
fn frame_status() {
    assert_eq!(next_frame(&[], 100), FrameStatus::Incomplete);
    assert_eq!(
        next_frame(&[0xFF, 0], 100),
        FrameStatus::Complete {
            kind: FrameKind::Ping,
            len: 1
        }
    );
    assert_eq!(next_frame(&[0, 2, b'1'], 100), FrameStatus::Incomplete);
    assert_eq!(
        next_frame(&[0, 0, 0, 1], 100),
        FrameStatus::Invalid(FrameError::BadPreamble)
    );
    assert_eq!(
        next_frame(&[0, 0, 0, 0, 0, 0, 0, 1], 100),
        FrameStatus::Invalid(FrameError::ImpossibleLength(1))
    );
    let too_large = [0, 0, 0, 0, 0, 1, 0x86, 0x94];
    assert_eq!(
        next_frame(&too_large, 65536).to_owned(),
        FrameStatus::Invalid(FrameError::FrameTooLarge {
            size: 100_000,
            limit: 65536
        })
    );
}

#[test]
fn error_messages() {
    let crc = FrameError::BadCrc {
        frame: 0x1234,
        computed: 0xabcd,
    };
    assert_eq!(
        crc.to_string(),
        "bad crc: frame says 0x1234, computed 0xabcd"
    );
    assert_eq!(
        FrameError::Truncated { at: 57 }.to_string(),
        "truncated at byte 57"
    );
    assert_eq!(
        FrameError::UnknownCodec(0x0a).to_string(),
        "unknown codec 0x0a"
    );
    let large = FrameError::FrameTooLarge {
        size: 100_000,
        limit: 65536,
    };
    assert_eq!(
        large.to_string(),
        "frame too large: 100000 bytes (limit 65536)"
    );
}

#[test]
fn codec12_command_round_trip_shape() {
    let frame = encode_codec12_command("getinfo");
    assert_eq!(
        frame,
        vec![
            0, 0, 0, 0, 0, 0, 0, 0x0F, 0x0C, 1, 5, 0, 0, 0, 7, b'g', b'e', b't', b'i', b'n', b'f',
            b'o', 1, 0, 0, 0x43, 0x12
        ]
    );
    let response = decode_codec12_response(&encode_codec12_response("ok\r\n")).map(|r| r.text);
    assert_eq!(response, Ok("ok".to_owned()));
}

/// Found by the golden split test: a header split inside its length field
/// was judged a bad preamble.
#[test]
fn regression_header_split_inside_length() {
    assert_eq!(
        next_frame(&[0, 0, 0, 0, 0, 0x10], 100),
        FrameStatus::Incomplete
    );
    assert_eq!(
        next_frame(&[0, 0, 1], 100),
        FrameStatus::Invalid(FrameError::BadPreamble)
    );
}

/// A record repeating an IO id keeps one attribute with the last value, as
/// Traccar's map does, also on the append-without-scan fast path.
#[test]
fn repeated_io_id_last_value_wins() {
    use trackd_model::{AttrKey, AttrValueRef, KnownKey};
    let element = |id, value| IoElement {
        id,
        value: IoValue::U8(value),
    };
    let record = AvlRecord {
        timestamp_ms: 1_700_000_000_000,
        priority: 0,
        longitude: 0,
        latitude: 0,
        altitude: 0,
        angle: 0,
        satellites: 5,
        speed_kmh: 0,
        event_io_id: 0,
        generation_type: None,
        io: vec![
            element(21, 1),
            element(7, 9),
            element(21, 4),
            element(263, 2),
            element(7, 3),
        ],
    };
    let frame = encode_tcp_frame(Codec::Codec8Ext, &[record]);
    let positions = decode_tcp_frame(&frame, &DecodeOptions::default()).unwrap_or_default();
    let attributes = &positions[0].attributes;
    assert_eq!(
        attributes.get_known(KnownKey::Rssi),
        Some(AttrValueRef::Int(4))
    );
    assert_eq!(attributes.get(&AttrKey::Io(7)), Some(AttrValueRef::Int(3)));
    assert_eq!(
        attributes.get(&AttrKey::Io(263)),
        Some(AttrValueRef::Int(2))
    );
    assert_eq!(attributes.len(), 3 + 3);
}
