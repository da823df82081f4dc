//! Unit tests of the Teltonika layers; data-driven and property tests live
//! in `crates/protocols/tests/`.

use super::*;

#[test]
fn crc16_ibm_check_value() {
    assert_eq!(crc16_ibm(b"123456789"), 0xBB3D);
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
