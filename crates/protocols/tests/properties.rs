//! Property tests: encode -> decode round trips for every codec over TCP
//! and UDP, and arbitrary or mutated input into every decoder without a
//! panic and with output bounded by the input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use proptest::prelude::*;
use trackd_protocols::teltonika::{
    decode_avl_records, decode_codec12_response, decode_tcp_frame, decode_udp, encode_imei,
    encode_tcp_frame, encode_udp_packet, AvlRecord, Codec, DecodeOptions, IoElement, IoValue,
    TcpEvent, TcpSession,
};

fn arb_value(codec: Codec) -> BoxedStrategy<IoValue> {
    let fixed = prop_oneof![
        any::<u8>().prop_map(IoValue::U8),
        any::<u16>().prop_map(IoValue::U16),
        any::<u32>().prop_map(IoValue::U32),
        any::<u64>().prop_map(IoValue::U64),
    ];
    if codec == Codec::Codec8Ext {
        prop_oneof![4 => fixed, 1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(IoValue::Var)]
            .boxed()
    } else {
        fixed.boxed()
    }
}

fn arb_record(codec: Codec) -> impl Strategy<Value = AvlRecord> {
    let max_id = if codec == Codec::Codec8 {
        255u16
    } else {
        u16::MAX
    };
    let element = (0..=max_id, arb_value(codec)).prop_map(|(id, value)| IoElement { id, value });
    (
        (
            any::<u64>(),
            any::<u8>(),
            any::<i32>(),
            any::<i32>(),
            any::<i16>(),
        ),
        (
            any::<u16>(),
            any::<u8>(),
            any::<u16>(),
            0..=max_id,
            any::<u8>(),
        ),
        proptest::collection::vec(element, 0..20),
    )
        .prop_map(
            move |((ts, priority, lon, lat, alt), (angle, sat, speed, event, gen), io)| AvlRecord {
                timestamp_ms: ts,
                priority,
                longitude: lon,
                latitude: lat,
                altitude: alt,
                angle,
                satellites: sat,
                speed_kmh: speed,
                event_io_id: event,
                generation_type: (codec == Codec::Codec16).then_some(gen),
                io,
            },
        )
}

fn arb_codec() -> impl Strategy<Value = Codec> {
    prop_oneof![
        Just(Codec::Codec8),
        Just(Codec::Codec8Ext),
        Just(Codec::Codec16)
    ]
}

fn arb_batch() -> impl Strategy<Value = (Codec, Vec<AvlRecord>)> {
    arb_codec().prop_flat_map(|codec| {
        (
            Just(codec),
            proptest::collection::vec(arb_record(codec), 0..6),
        )
    })
}

/// The wire groups elements by width (1, 2, 4, 8, then variable): what a
/// decoder sees is the records with their elements in that order.
fn wire_order(records: &[AvlRecord]) -> Vec<AvlRecord> {
    let rank = |value: &IoValue| match value {
        IoValue::U8(_) => 0,
        IoValue::U16(_) => 1,
        IoValue::U32(_) => 2,
        IoValue::U64(_) => 3,
        IoValue::Var(_) => 4,
    };
    records
        .iter()
        .map(|record| {
            let mut record = record.clone();
            record.io.sort_by_key(|element| rank(&element.value));
            record
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tcp_round_trip((codec, records) in arb_batch()) {
        let frame = encode_tcp_frame(codec, &records);
        let data = &frame[8..frame.len() - 4];
        prop_assert_eq!(decode_avl_records(data), Ok(wire_order(&records)));

        let positions = decode_tcp_frame(&frame, &DecodeOptions::default());
        prop_assert_eq!(positions.as_ref().map(Vec::len), Ok(records.len()));
        let raw = decode_tcp_frame(&frame, &DecodeOptions { raw_io: true });
        for (position, record) in raw.unwrap_or_default().iter().zip(&records) {
            // Header + every element, nothing renamed (duplicate ids collapse).
            prop_assert!(position.attributes.len() <= 3 + record.io.len());
            prop_assert_eq!(position.valid, record.satellites != 0);
            prop_assert_eq!(position.latitude, f64::from(record.latitude) / 1e7);
        }

        let mut session = TcpSession::new(DecodeOptions::default());
        session.handle_bytes(&encode_imei("356307042441013"));
        prop_assert_eq!(session.poll_event(), Some(TcpEvent::Imei("356307042441013".into())));
        session.accept_imei(true);
        session.handle_bytes(&frame);
        match session.poll_event() {
            Some(TcpEvent::Records { records: decoded, ack }) => {
                prop_assert_eq!(ack.n_records as usize, records.len());
                prop_assert_eq!(Ok(decoded), positions);
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
        prop_assert_eq!(session.poll_event(), None);
    }

    #[test]
    fn udp_round_trip((codec, records) in arb_batch(), packet_id: u16, avl_id: u8) {
        let datagram = encode_udp_packet(packet_id, avl_id, "356307042441013", codec, &records);
        // Datagrams are limited to 64 KiB by their u16 length.
        prop_assume!(datagram.len() <= usize::from(u16::MAX));
        let packet = decode_udp(&datagram, &DecodeOptions::default());
        let packet = packet.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(packet.imei.as_str(), "356307042441013");
        prop_assert_eq!(packet.ack.packet_id, packet_id);
        prop_assert_eq!(packet.ack.avl_packet_id, avl_id);
        prop_assert_eq!(usize::from(packet.ack.n_records), records.len());
        let tcp = decode_tcp_frame(&encode_tcp_frame(codec, &records), &DecodeOptions::default());
        prop_assert_eq!(Ok(packet.records), tcp);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        feed_everything(&bytes);
    }

    #[test]
    fn mutated_frames_never_panic(
        (codec, records) in arb_batch(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 1..8),
    ) {
        let mut frame = encode_tcp_frame(codec, &records);
        for (at, byte, kind) in edits {
            let at = at % (frame.len() + 1);
            match kind {
                0 if at < frame.len() => frame[at] = byte,
                1 => frame.insert(at, byte),
                _ => frame.truncate(at),
            }
        }
        feed_everything(&frame);
        let mut datagram = encode_udp_packet(1, 2, "356307042441013", codec, &records);
        let half = datagram.len() / 2;
        if let Some(b) = datagram.get_mut(half) {
            *b ^= 0x5A;
        }
        feed_everything(&datagram);
    }
}

/// Every decoder over `bytes`: no panic, output bounded by the input.
fn feed_everything(bytes: &[u8]) {
    let options = DecodeOptions::default();
    let bound = |positions: &[trackd_model::Position]| {
        assert!(positions.len() <= bytes.len() / 5 + 1);
        let attributes: usize = positions.iter().map(|p| p.attributes.len()).sum();
        assert!(attributes <= 3 * positions.len() + bytes.len());
    };
    if let Ok(positions) = decode_tcp_frame(bytes, &options) {
        bound(&positions);
    }
    if let Ok(packet) = decode_udp(bytes, &options) {
        bound(&packet.records);
    }
    let _ = decode_codec12_response(bytes);
    let _ = decode_avl_records(bytes);
    for prefix in [&[][..], &encode_imei("356307042441013")[..]] {
        let mut session = TcpSession::new(options);
        session.handle_bytes(prefix);
        session.handle_bytes(bytes);
        let mut events = 0;
        while let Some(event) = session.poll_event() {
            events += 1;
            assert!(events <= bytes.len() + 2, "more events than bytes");
            match event {
                TcpEvent::Imei(_) => {
                    session.accept_imei(true);
                }
                TcpEvent::Records { records, .. } => bound(&records),
                _ => {}
            }
        }
    }
}
