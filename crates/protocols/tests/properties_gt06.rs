//! GT06 property tests: encode -> decode round trips of random positions
//! and serials through every split of the stream, and arbitrary or mutated
//! bytes into a session without a panic, with output bounded by the input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use proptest::prelude::*;
use trackd_model::{AttrValue, AttrValueRef, KnownKey, Position, Timestamp};
use trackd_protocols::gt06::{
    encode_alarm, encode_gps, encode_login, encode_status, Alarm, Gt06Session,
};
use trackd_protocols::{Output, Session, SessionConfig};

const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// A position the wire can carry exactly: whole seconds in 2000..2099,
/// coordinates on the 1/1 800 000 degree grid, whole km/h and degrees.
fn arb_position() -> impl Strategy<Value = Position> {
    (
        946_684_800i64..4_102_444_800,
        -162_000_000i64..=162_000_000,
        -324_000_000i64..=324_000_000,
        0u32..=255,
        0u32..360,
        any::<bool>(),
        0i64..=15,
    )
        .prop_map(|(secs, lat, lon, kmh, course, valid, sat)| {
            let mut p = Position {
                fix_time: Timestamp::from_millis(secs * 1000),
                latitude: lat as f64 / 1_800_000.0,
                longitude: lon as f64 / 1_800_000.0,
                speed: f64::from(kmh) / 3.6,
                course: f64::from(course),
                valid,
                ..Position::default()
            };
            p.attributes.set(KnownKey::Sat, AttrValue::Int(sat));
            p
        })
}

fn arb_alarm() -> impl Strategy<Value = Alarm> {
    prop_oneof![
        Just(Alarm::Sos),
        Just(Alarm::PowerCut),
        Just(Alarm::Vibration),
        Just(Alarm::GeofenceEnter),
        Just(Alarm::GeofenceExit),
        Just(Alarm::Overspeed),
        Just(Alarm::LowBattery),
        Just(Alarm::PowerOff),
    ]
}

/// Everything a session yields for `chunks`, accepting the login.
fn run(chunks: &[&[u8]]) -> Vec<String> {
    let mut session = Gt06Session::new(&SessionConfig::default());
    let mut out = Vec::new();
    for chunk in chunks {
        session.handle_bytes(NOW, chunk);
        while let Some(output) = session.poll() {
            if matches!(output, Output::Identified(_)) {
                session.accept(true);
            }
            out.push(format!("{output:?}"));
        }
    }
    out
}

fn records(chunks: &[&[u8]]) -> (Vec<Position>, Vec<Vec<u8>>) {
    let mut session = Gt06Session::new(&SessionConfig::default());
    let mut positions = Vec::new();
    let mut acks = Vec::new();
    for chunk in chunks {
        session.handle_bytes(NOW, chunk);
        while let Some(output) = session.poll() {
            match output {
                Output::Identified(_) => session.accept(true),
                Output::Records { records, ack } => {
                    positions.extend(records);
                    acks.push(ack);
                }
                Output::Rejected(e) | Output::Close(e) => panic!("unexpected {e}"),
                Output::Reply(_) | Output::Notice(_) => {}
            }
        }
    }
    (positions, acks)
}

fn same_fix(got: &Position, want: &Position) {
    assert_eq!(got.fix_time, want.fix_time);
    assert_eq!(got.valid, want.valid);
    assert!(
        (got.latitude - want.latitude).abs() < 1e-9,
        "{} {}",
        got.latitude,
        want.latitude
    );
    assert!((got.longitude - want.longitude).abs() < 1e-9);
    assert!((got.speed - want.speed).abs() < 1e-9);
    assert_eq!(got.course, want.course);
    assert_eq!(
        got.attributes.get_known(KnownKey::Sat),
        want.attributes.get_known(KnownKey::Sat)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn gps_and_alarm_round_trip_through_every_split(
        a in arb_position(),
        b in arb_position(),
        alarm in arb_alarm(),
        serial in any::<u16>(),
        imei in 100_000_000_000_000u64..1_000_000_000_000_000,
    ) {
        let imei = imei.to_string();
        let mut stream = encode_login(&imei, serial);
        stream.extend(encode_gps(&a, serial.wrapping_add(1)));
        stream.extend(encode_alarm(&b, alarm, serial.wrapping_add(2)));
        stream.extend(encode_status(0x46, 6, 4, serial.wrapping_add(3)));
        let whole = run(&[&stream]);
        for cut in 0..=stream.len() {
            let (head, tail) = stream.split_at(cut);
            prop_assert_eq!(&whole, &run(&[head, tail]));
        }
        let (positions, acks) = records(&[&stream]);
        prop_assert_eq!(positions.len(), 3);
        same_fix(&positions[0], &a);
        same_fix(&positions[1], &b);
        prop_assert_eq!(
            positions[1].attributes.get_known(KnownKey::Alarm),
            Some(AttrValueRef::Str(alarm.name()))
        );
        // The status packet never claims a fix: it borrows the last valid one.
        prop_assert!(!positions[2].valid);
        // Acks echo type and serial.
        prop_assert_eq!(&acks[0][3..6], &[0x12, (serial.wrapping_add(1) >> 8) as u8, serial.wrapping_add(1) as u8][..]);
        prop_assert_eq!(&acks[1][3..6], &[0x16, (serial.wrapping_add(2) >> 8) as u8, serial.wrapping_add(2) as u8][..]);
        prop_assert!(acks[2].is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), split in any::<usize>()) {
        let mut stream = encode_login("356307042441013", 1);
        stream.extend_from_slice(&data);
        let cut = split % (stream.len() + 1);
        let (head, tail) = stream.split_at(cut);
        let outputs = run(&[head, tail]);
        // At most one output per two input bytes, plus the login's.
        prop_assert!(outputs.len() <= stream.len() / 2 + 2);
    }

    #[test]
    fn mutated_frames_never_panic(
        a in arb_position(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let mut stream = encode_login("356307042441013", 1);
        let login_len = stream.len();
        stream.extend(encode_gps(&a, 2));
        stream.extend(encode_alarm(&a, Alarm::Sos, 3));
        stream.extend(encode_status(0x46, 6, 4, 4));
        for (at, value) in flips {
            let at = login_len + at % (stream.len() - login_len);
            stream[at] = value;
        }
        let outputs = run(&[&stream]);
        let records: usize = outputs.iter().filter(|o| o.starts_with("Records")).count();
        prop_assert!(records <= 3);
        prop_assert!(outputs.len() <= stream.len() / 2 + 2);
    }
}

/// A status packet before any fix is invalid, at 0/0, stamped with now.
#[test]
fn status_without_a_fix_is_never_valid() {
    let mut stream = encode_login("356307042441013", 1);
    stream.extend(encode_status(0x46, 6, 4, 2));
    let (positions, _) = records(&[&stream]);
    assert_eq!(positions.len(), 1);
    assert!(!positions[0].valid);
    assert_eq!(positions[0].fix_time, NOW);
}
