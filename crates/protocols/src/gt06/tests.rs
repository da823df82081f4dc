//! Unit tests of the GT06 layers; data-driven and property tests live in
//! `crates/protocols/tests/`.

use super::*;

#[test]
fn crc_x25_check_value() {
    assert_eq!(crc16_x25(b"123456789"), 0x906E);
}

#[test]
fn login_ack_matches_the_documented_example() {
    // The GT06 protocol document's login answer for serial 0x0001.
    assert_eq!(
        response(false, 0x01, 0x0001, &[]),
        vec![0x78, 0x78, 0x05, 0x01, 0x00, 0x01, 0xD9, 0xDC, 0x0D, 0x0A]
    );
}

#[test]
fn framing_waits_for_the_declared_length() {
    let frame = encode_login("123456789012345", 7);
    for cut in 0..frame.len() {
        assert_eq!(next_frame(&frame[..cut], 1024), FrameStatus::Incomplete);
    }
    assert_eq!(
        next_frame(&frame, 1024),
        FrameStatus::Complete {
            kind: FrameKind::Standard,
            len: frame.len()
        }
    );
    assert!(matches!(
        next_frame(b"GET / HTTP/1.1", 1024),
        FrameStatus::Invalid(Error::BadHeader(_))
    ));
}

#[test]
fn civil_time_rolls_over_like_a_lenient_calendar() {
    let a = fields::civil_time([15, 10, 20, 14, 21, 11], 0);
    assert_eq!(a.as_millis(), 1_445_350_871_000);
    let b = fields::civil_time([15, 13, 1, 0, 0, 0], 0);
    let c = fields::civil_time([16, 1, 1, 0, 0, 0], 0);
    assert_eq!(b, c);
    let east = fields::civil_time([15, 10, 20, 14, 21, 11], 3600);
    assert_eq!(east.as_millis(), a.as_millis() - 3_600_000);
}
