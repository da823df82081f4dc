//! Figure 1: Codec 8 Extended decode speed, records per second on one core,
//! trackd (into `trackd_model::Position`, names and units applied) side by
//! side with `nom-teltonika` 0.3 (into its own owned structs), on the same
//! corpus: 1000 TCP frames of 4 realistic FMB records with 10 IO elements.
//!
//! Run: `cargo bench -p trackd-protocols --bench decode`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nom_teltonika::decoder::take_frame;
use nom_teltonika::protocol::{Frame, FrameView};
use trackd_protocols::teltonika::{
    decode_tcp_frame, encode_tcp_frame, AvlRecord, Codec, DecodeOptions, IoElement, IoValue,
};

const FRAMES: usize = 1000;
const RECORDS_PER_FRAME: usize = 4;

/// A deterministic, realistic record: a vehicle driving, the usual FMB set
/// of IO elements (ignition, movement, GSM signal, sleep mode, external and
/// battery voltage, PDOP, HDOP, total and trip odometer).
fn record(frame: usize, index: usize) -> AvlRecord {
    let step = (frame * RECORDS_PER_FRAME + index) as i32;
    let io = vec![
        IoElement {
            id: 239,
            value: IoValue::U8(1),
        },
        IoElement {
            id: 240,
            value: IoValue::U8(1),
        },
        IoElement {
            id: 21,
            value: IoValue::U8(4),
        },
        IoElement {
            id: 200,
            value: IoValue::U8(0),
        },
        IoElement {
            id: 66,
            value: IoValue::U16(12_400 + (step % 300) as u16),
        },
        IoElement {
            id: 67,
            value: IoValue::U16(4_020),
        },
        IoElement {
            id: 181,
            value: IoValue::U16(12),
        },
        IoElement {
            id: 182,
            value: IoValue::U16(9),
        },
        IoElement {
            id: 16,
            value: IoValue::U32(1_234_567 + step as u32 * 15),
        },
        IoElement {
            id: 199,
            value: IoValue::U32(step as u32 * 15),
        },
    ];
    AvlRecord {
        timestamp_ms: 1_700_000_000_000 + step as u64 * 1000,
        priority: 0,
        longitude: 250_000_000 + step * 37,
        latitude: 546_000_000 + step * 21,
        altitude: 120,
        angle: (step % 360) as u16,
        satellites: 11,
        speed_kmh: 54,
        event_io_id: 0,
        generation_type: None,
        io,
    }
}

fn corpus() -> Vec<Vec<u8>> {
    (0..FRAMES)
        .map(|frame| {
            let records: Vec<AvlRecord> = (0..RECORDS_PER_FRAME)
                .map(|index| record(frame, index))
                .collect();
            encode_tcp_frame(Codec::Codec8Ext, &records)
        })
        .collect()
}

fn trackd_decode(corpus: &[Vec<u8>], options: &DecodeOptions) -> usize {
    let mut n_records = 0;
    for frame in corpus {
        let positions = decode_tcp_frame(frame, options).unwrap();
        n_records += positions.len();
        black_box(positions);
    }
    n_records
}

fn nom_decode(corpus: &[Vec<u8>]) -> usize {
    let mut n_records = 0;
    for frame in corpus {
        let mut input = &frame[..];
        let view = take_frame(&mut input).unwrap();
        let owned = view.evaluate();
        if let Frame::Avl(packet) = &owned {
            n_records += packet.records().len();
        }
        black_box(owned);
    }
    n_records
}

fn decode(c: &mut Criterion) {
    let corpus = corpus();
    let options = DecodeOptions::default();
    let total = FRAMES * RECORDS_PER_FRAME;
    // Both decoders must see the same, valid corpus.
    assert_eq!(trackd_decode(&corpus, &options), total);
    assert_eq!(nom_decode(&corpus), total);
    assert!(corpus.iter().all(|frame| {
        let mut input = &frame[..];
        matches!(take_frame(&mut input), Ok(FrameView::Avl(_)))
    }));

    let mut group = c.benchmark_group("codec8e_decode");
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function("trackd", |b| {
        b.iter(|| trackd_decode(black_box(&corpus), &options))
    });
    group.bench_function("nom_teltonika", |b| {
        b.iter(|| nom_decode(black_box(&corpus)))
    });
    let raw = DecodeOptions { raw_io: true };
    group.bench_function("trackd_raw_io", |b| {
        b.iter(|| trackd_decode(black_box(&corpus), &raw))
    });
    group.bench_function("trackd_avl_records", |b| {
        b.iter(|| {
            for frame in &corpus {
                black_box(
                    trackd_protocols::teltonika::decode_avl_records(&frame[8..frame.len() - 4])
                        .unwrap(),
                );
            }
        })
    });
    group.bench_function("crc_only", |b| {
        b.iter(|| {
            for frame in &corpus {
                black_box(trackd_protocols::teltonika::crc16_ibm(
                    &frame[8..frame.len() - 4],
                ));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
