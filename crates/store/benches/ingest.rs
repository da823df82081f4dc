//! SQLite group-commit ingest benchmark: 1,000 interleaved devices, each
//! awaiting its ACK before sending its next packet of records, then bytes on
//! disk per position after `flush()`.
//!
//! `cargo bench -p trackd-store --bench ingest` (env: BENCH_DEVICES,
//! BENCH_PACKETS per device, BENCH_RECORDS per packet).

use std::time::{Duration, Instant};

use trackd_model::{
    AttrKey, AttrValue, Attributes, DeviceId, KnownKey, NewDevice, Position, Protocol, Timestamp,
};
use trackd_store::{Store, StoreConfig};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A typical Teltonika record: ten IO elements plus sat/priority/event.
fn typical(device: i64, k: i64) -> Position {
    let fix = 1_700_000_000_000 + k * 1000;
    let mut attributes = Attributes::new();
    attributes.push(AttrKey::Known(KnownKey::Priority), AttrValue::Int(0));
    attributes.push(
        AttrKey::Known(KnownKey::Sat),
        AttrValue::Int(9 + (k / 17) % 3),
    );
    attributes.push(AttrKey::Known(KnownKey::Event), AttrValue::Int(0));
    attributes.push(AttrKey::Known(KnownKey::Ignition), AttrValue::Bool(true));
    attributes.push(
        AttrKey::Known(KnownKey::Motion),
        AttrValue::Bool(k % 50 != 0),
    );
    attributes.push(
        AttrKey::Known(KnownKey::Power),
        AttrValue::Decimal {
            raw: 12_400 + (k % 5) * 13,
            scale: 3,
        },
    );
    attributes.push(
        AttrKey::Known(KnownKey::Battery),
        AttrValue::Decimal {
            raw: 4_100 - (k / 100) % 50,
            scale: 3,
        },
    );
    attributes.push(AttrKey::Io(21), AttrValue::Int(3 + (k / 30) % 2));
    attributes.push(AttrKey::Io(69), AttrValue::Int(1));
    attributes.push(AttrKey::Io(181), AttrValue::Int(7 + (k / 10) % 4));
    attributes.push(AttrKey::Io(182), AttrValue::Int(5 + (k / 10) % 3));
    attributes.push(AttrKey::Io(200), AttrValue::Int(0));
    attributes.push(AttrKey::Io(241), AttrValue::Int(24_602));
    let speed_kmh = 40 + (k % 40);
    Position {
        protocol: Protocol::Teltonika,
        fix_time: Timestamp(fix),
        device_time: Timestamp(fix),
        server_time: Timestamp(fix + 300 + (k * 37) % 400),
        valid: true,
        latitude: 54.68 + device as f64 * 0.001 + k as f64 * 0.000_11,
        longitude: 25.27 + k as f64 * 0.000_07,
        altitude: 112.0 + (k % 9) as f64,
        speed: speed_kmh as f64 / 3.6,
        course: ((k * 3) % 360) as f64,
        attributes,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

struct Outcome {
    total: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Runs `n_devices` concurrent devices; with `rate > 0` they are paced to
/// that many records per second in total, otherwise they send as fast as
/// their ACKs come back.
async fn ingest(
    store: &Store,
    devices: &[DeviceId],
    n_packets: usize,
    per_packet: usize,
    rate: usize,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let n_devices = devices.len();
    let interval = if rate > 0 {
        Duration::from_secs_f64((n_devices * per_packet) as f64 / rate as f64)
    } else {
        Duration::ZERO
    };
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (index, device) in devices.iter().copied().enumerate() {
        let store = store.clone();
        let offset = interval.mul_f64(index as f64 / n_devices as f64);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(n_packets);
            for packet in 0..n_packets {
                if rate > 0 {
                    tokio::time::sleep_until(started + offset + interval * packet as u32).await;
                }
                let base = (packet * per_packet) as i64;
                let positions: Vec<Position> = (0..per_packet as i64)
                    .map(|k| typical(index as i64, base + k))
                    .collect();
                let sent = Instant::now();
                store.append_positions(device, positions).await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, trackd_store::StoreError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    latencies.sort();
    Ok(Outcome {
        total: n_devices * n_packets * per_packet,
        elapsed: started.elapsed(),
        latencies,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n_devices = env("BENCH_DEVICES", 1000);
    let n_packets = env("BENCH_PACKETS", 200);
    let per_packet = env("BENCH_RECORDS", 10);
    let rates = [0, env("BENCH_RATE", 100_000)];
    for rate in rates {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        let store = Store::open(&StoreConfig::new(url)).await?;
        let mut devices = Vec::new();
        for i in 0..n_devices {
            let device = store
                .add_device(NewDevice {
                    unique_id: format!("35630704{i:07}"),
                    name: format!("v{i}"),
                })
                .await?;
            devices.push(device.id);
        }
        let outcome = ingest(&store, &devices, n_packets, per_packet, rate).await?;
        let mode = if rate > 0 {
            format!("paced at {rate} records/s")
        } else {
            "saturated".to_string()
        };
        let total = outcome.total;
        println!(
            "ingest ({mode}): {total} records from {n_devices} devices ({per_packet}/packet) in {:.2} s = {:.0} records/s",
            outcome.elapsed.as_secs_f64(),
            total as f64 / outcome.elapsed.as_secs_f64()
        );
        let latencies = &outcome.latencies;
        println!(
            "  ack latency: p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
            percentile(latencies, 0.5).as_secs_f64() * 1e3,
            percentile(latencies, 0.99).as_secs_f64() * 1e3,
            percentile(latencies, 0.999).as_secs_f64() * 1e3,
            percentile(latencies, 1.0).as_secs_f64() * 1e3
        );
        let flush_started = Instant::now();
        store.flush().await?;
        println!("  flush: {:.2} s", flush_started.elapsed().as_secs_f64());
        let mut bytes = store.disk_usage_bytes().await?;
        let db_file = dir.path().join("bench.db");
        let wal = std::fs::metadata(dir.path().join("bench.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "  files: db {} bytes, wal {wal} bytes",
            std::fs::metadata(&db_file)?.len()
        );
        if wal > 0 {
            // A checkpoint can be busy behind the background checkpointer; measure again.
            tokio::time::sleep(Duration::from_secs(1)).await;
            bytes = store.disk_usage_bytes().await?;
        }
        println!(
            "  disk: {bytes} bytes = {:.1} bytes/position (indexes and log included)",
            bytes as f64 / total as f64
        );
        let read_started = Instant::now();
        let mut read = 0;
        for device in devices.iter().take(100) {
            read += store
                .positions(*device, Timestamp::MIN, Timestamp::MAX)
                .await?
                .len();
        }
        let read_elapsed = read_started.elapsed();
        println!(
            "  full-history read: {read} positions of 100 devices in {:.1} ms ({:.0} positions/s)",
            read_elapsed.as_secs_f64() * 1e3,
            read as f64 / read_elapsed.as_secs_f64()
        );
        let window_started = Instant::now();
        for device in devices.iter().take(100) {
            let from = Timestamp(1_700_000_000_000 + 500_000);
            store
                .positions(*device, from, Timestamp(from.0 + 60_000))
                .await?;
        }
        println!(
            "  1-minute window read: {:.2} ms per device",
            window_started.elapsed().as_secs_f64() * 10.0
        );
        store.close().await?;
    }
    Ok(())
}
