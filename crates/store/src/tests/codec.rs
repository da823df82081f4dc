//! Property tests of the position codec.

use proptest::prelude::*;
use trackd_model::{AttrKey, AttrValue, Attributes, KnownKey, Position, Protocol, Timestamp};

use crate::encoding::{decode_records, encode_records, merge_dedup, Record};

fn key() -> impl Strategy<Value = AttrKey> {
    prop_oneof![
        (1u8..=57)
            .prop_map(|code| AttrKey::Known(KnownKey::from_code(code).unwrap_or(KnownKey::Sat))),
        any::<u16>().prop_map(AttrKey::Io),
        "[a-zA-Z0-9 é]{0,12}".prop_map(|name| AttrKey::Other(name.into())),
    ]
}

fn value() -> impl Strategy<Value = AttrValue> {
    prop_oneof![
        any::<bool>().prop_map(AttrValue::Bool),
        any::<i64>().prop_map(AttrValue::Int),
        (-100i64..100).prop_map(AttrValue::Int),
        (any::<i64>(), 0u8..=9).prop_map(|(raw, scale)| AttrValue::Decimal { raw, scale }),
        (-1e12f64..1e12).prop_map(AttrValue::Float),
        ".{0,10}".prop_map(|s: String| AttrValue::Str(s.into())),
        proptest::collection::vec(any::<u8>(), 0..10).prop_map(|b| AttrValue::Bytes(b.into())),
    ]
}

fn position() -> impl Strategy<Value = Position> {
    (
        (
            any::<bool>(),
            0i64..4_000_000_000_000,
            -100_000i64..100_000,
            -10_000i64..100_000,
            any::<bool>(),
        ),
        (
            -900_000_000i64..=900_000_000,
            -1_800_000_000i64..=1_800_000_000,
            -100_000i64..100_000,
        ),
        (0i64..200_000, 0i64..36_000),
        proptest::collection::vec((key(), value()), 0..6),
    )
        .prop_map(
            |(
                (valid, fix, device_offset, lag, teltonika),
                (lat, lon, alt),
                (speed, course),
                attributes,
            )| Position {
                protocol: if teltonika {
                    Protocol::Teltonika
                } else {
                    Protocol::Unknown
                },
                fix_time: Timestamp(fix),
                device_time: Timestamp(fix + device_offset),
                server_time: Timestamp(fix + lag),
                valid,
                latitude: lat as f64 / 1e7,
                longitude: lon as f64 / 1e7,
                altitude: alt as f64 / 10.0,
                speed: speed as f64 / 360.0,
                course: course as f64 / 100.0,
                attributes: attributes.into_iter().collect::<Attributes>(),
            },
        )
}

fn records() -> impl Strategy<Value = Vec<Record>> {
    proptest::collection::vec((0u32..1_000_000, position()), 0..20).prop_map(|items| {
        let mut records: Vec<Record> = items
            .into_iter()
            .map(|(seq, position)| Record { seq, position })
            .collect();
        // Repeat key sets now and then, as real devices do.
        for index in 1..records.len() {
            if index % 2 == 0 {
                let previous = records[index - 1].position.attributes.clone();
                records[index].position.attributes = previous;
            }
        }
        records
    })
}

proptest! {
    #[test]
    fn chunk_encoding_round_trips(records in records()) {
        let blob = encode_records(records.iter().map(|r| (r.seq, &r.position)));
        let decoded = decode_records(&blob, 0).unwrap();
        prop_assert_eq!(&decoded, &records);
        let again = encode_records(decoded.iter().map(|r| (r.seq, &r.position)));
        prop_assert_eq!(again, blob);
    }

    #[test]
    fn relative_sequences_add_the_base(records in records(), base in 0u32..1000) {
        let blob = encode_records(records.iter().enumerate().map(|(i, r)| (i as u32, &r.position)));
        let decoded = decode_records(&blob, base).unwrap();
        for (index, record) in decoded.iter().enumerate() {
            prop_assert_eq!(record.seq, base + index as u32);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_records(&bytes, 0);
        let mut versioned = bytes.clone();
        versioned.insert(0, 1);
        let _ = decode_records(&versioned, u32::MAX);
    }

    #[test]
    fn corrupted_blobs_never_panic(records in records(), index in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let blob = encode_records(records.iter().map(|r| (r.seq, &r.position)));
        let mut flipped = blob.clone();
        let at = index.index(flipped.len());
        flipped[at] = byte;
        let _ = decode_records(&flipped, 0);
        let _ = decode_records(&blob[..cut.index(blob.len())], 0);
    }

    #[test]
    fn merge_dedup_keeps_first_arrival(records in records()) {
        let mut doubled: Vec<Record> = records.clone();
        doubled.extend(records.iter().map(|r| {
            let mut copy = r.clone();
            copy.seq += 2_000_000;
            copy.position.server_time = Timestamp(copy.position.server_time.0 + 5);
            copy
        }));
        let mut single = records.clone();
        merge_dedup(&mut single);
        merge_dedup(&mut doubled);
        prop_assert_eq!(doubled, single);
    }
}

#[test]
fn typical_record_is_small() {
    let records: Vec<Record> = (0..256)
        .map(|k| Record {
            seq: k as u32,
            position: super::typical_position(1_700_000_000_000 + k * 1000, k),
        })
        .collect();
    let blob = encode_records(records.iter().map(|r| (r.seq, &r.position)));
    let per_record = blob.len() as f64 / 256.0;
    assert!(per_record < 40.0, "{per_record} bytes per typical record");
}

#[test]
fn rejects_unknown_version_and_trailing_bytes() {
    assert!(decode_records(&[2, 0], 0).is_err());
    assert!(decode_records(&[1, 0, 0], 0).is_err());
    assert_eq!(decode_records(&[1, 0], 0).unwrap(), Vec::new());
}
