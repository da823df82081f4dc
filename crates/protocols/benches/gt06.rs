//! GT06 decode speed: GPS + LBS packets (0x12) through the `Session`
//! contract, records per second on one core. The corpus is one connection:
//! a login, then 10 000 packets of a vehicle driving, fed in 1 KiB chunks.
//!
//! Run: `cargo bench -p trackd-protocols --bench gt06`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use trackd_model::{AttrValue, KnownKey, Position, Timestamp};
use trackd_protocols::gt06::{encode_gps, encode_login};
use trackd_protocols::{Output, SessionConfig, Transport};

const PACKETS: usize = 10_000;
const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);

fn corpus() -> Vec<u8> {
    let mut stream = encode_login("356307042441013", 0);
    for i in 0..PACKETS {
        let step = i as f64;
        let mut p = Position {
            fix_time: Timestamp::from_millis(1_767_225_600_000 + i as i64 * 10_000),
            valid: true,
            latitude: 54.6872 + step * 1e-4,
            longitude: 25.2797 - step * 1e-4,
            speed: (40.0 + (i % 50) as f64) / 3.6,
            course: (i % 360) as f64,
            ..Position::default()
        };
        p.attributes.set(KnownKey::Sat, AttrValue::Int(9));
        stream.extend(encode_gps(&p, (i % 65_536) as u16));
    }
    stream
}

fn decode_all(stream: &[u8]) -> usize {
    let info = trackd_protocols::protocol("gt06").expect("gt06 registered");
    let mut session = (info.new_session)(Transport::Tcp, &SessionConfig::default());
    let mut records = 0;
    for chunk in stream.chunks(1024) {
        session.handle_bytes(NOW, chunk);
        while let Some(output) = session.poll() {
            match output {
                Output::Identified(_) => session.accept(true),
                Output::Records { records: r, ack } => {
                    records += r.len();
                    black_box((r, ack));
                }
                other => {
                    black_box(other);
                }
            }
        }
    }
    records
}

fn bench(c: &mut Criterion) {
    let stream = corpus();
    assert_eq!(decode_all(&stream), PACKETS);
    let mut group = c.benchmark_group("gt06");
    group.throughput(Throughput::Elements(PACKETS as u64));
    group.bench_function("gps_packets_session", |b| {
        b.iter(|| decode_all(black_box(&stream)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
