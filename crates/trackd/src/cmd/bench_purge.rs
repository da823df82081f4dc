//! `trackd bench purge`: purge half of a large store while devices keep
//! appending, and report the purge time and the commit (= ACK) latency
//! during it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use trackd_model::{NewDevice, Timestamp};
use trackd_simulator::dialect::gt06;
use trackd_simulator::Vehicle;
use trackd_store::{Store, StoreConfig};

/// Arguments of `trackd bench purge`.
#[derive(Debug, clap::Args)]
pub(crate) struct PurgeArgs {
    /// Devices in the store.
    #[arg(long, default_value_t = 1_000)]
    devices: usize,
    /// Positions stored before the purge, spread over `days` days.
    #[arg(long, default_value_t = 10_000_000)]
    positions: u64,
    /// Days of history the positions span (the purge removes the older half).
    #[arg(long, default_value_t = 10)]
    days: u64,
    /// Records per second appended during the purge (one record per append,
    /// spread over the devices, as devices sending one fix per frame).
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// `postgres://...` to measure PostgreSQL instead of a fresh SQLite file.
    #[arg(long)]
    database: Option<String>,
}

const DAY_MS: u64 = 86_400_000;

pub(crate) async fn run(args: PurgeArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("trackd-bench-purge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("creating temp dir")?;
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", dir.join("bench.db").display()));
    let store = Store::open(&StoreConfig::new(url)).await?;
    let result = measure(&store, &args).await;
    store.close().await?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(store: &Store, args: &PurgeArgs) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64);
    let start_ms = (now / DAY_MS - args.days) * DAY_MS;
    let per_device = args.positions / args.devices.max(1) as u64;
    let step_ms = (args.days * DAY_MS / per_device.max(1)).max(1);
    let suffix = std::process::id();
    let mut devices = Vec::with_capacity(args.devices);
    for i in 0..args.devices {
        let device = store
            .add_device(NewDevice {
                unique_id: format!("purge-{suffix}-{i}"),
                name: format!("purge {i}"),
            })
            .await?;
        devices.push(device.id);
    }

    // Fill: every device's history, 500 records per append, devices interleaved.
    let started = Instant::now();
    let mut vehicles: Vec<Vehicle> = (0..args.devices)
        .map(|i| Vehicle::new(i as u64, start_ms))
        .collect();
    let mut written = 0u64;
    let mut next = 0u64;
    while next < per_device {
        let n = (per_device - next).min(500);
        let mut tasks = Vec::with_capacity(args.devices);
        for (vehicle, &device_id) in vehicles.iter_mut().zip(&devices) {
            let batch: Vec<_> = (next..next + n)
                .map(|k| {
                    vehicle.advance_to(start_ms + k * step_ms);
                    gt06::position(&vehicle.fix())
                })
                .collect();
            written += batch.len() as u64;
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.append_positions(device_id, batch).await
            }));
        }
        for task in tasks {
            task.await??;
        }
        next += n;
    }
    store.flush().await?;
    println!(
        "filled {written} positions of {} devices over {} days in {:.1}s",
        args.devices,
        args.days,
        started.elapsed().as_secs_f64()
    );

    // Live load: each device appends one current record per period.
    let period = Duration::from_secs_f64(args.devices as f64 / args.rate.max(1) as f64);
    let stop = Arc::new(AtomicBool::new(false));
    let purging = Arc::new(AtomicBool::new(false));
    let mut load = Vec::with_capacity(args.devices);
    for (i, &device_id) in devices.iter().enumerate() {
        let store = store.clone();
        let stop = stop.clone();
        let purging = purging.clone();
        load.push(tokio::spawn(async move {
            let mut vehicle = Vehicle::new(1_000_000 + i as u64, now);
            let mut during = Histogram::<u64>::new(3)?;
            let mut outside = Histogram::<u64>::new(3)?;
            // Spread the devices over the period.
            tokio::time::sleep(period.mul_f64(i as f64 / 1_000.0 % 1.0)).await;
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                ticker.tick().await;
                k += 1;
                vehicle.advance_to(now + k * 100);
                let record = gt06::position(&vehicle.fix());
                let sent = Instant::now();
                store.append_positions(device_id, vec![record]).await?;
                let micros = sent.elapsed().as_micros() as u64;
                if purging.load(Ordering::Relaxed) {
                    during.record(micros)?;
                } else {
                    outside.record(micros)?;
                }
            }
            anyhow::Ok((during, outside))
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cut =
        Timestamp::from_millis((start_ms + args.days * DAY_MS / 2) as i64 + DAY_MS as i64 / 3);
    purging.store(true, Ordering::Relaxed);
    let purge_started = Instant::now();
    let purged = store.purge_positions(None, cut).await?;
    let purge_time = purge_started.elapsed();
    purging.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut during = Histogram::<u64>::new(3)?;
    let mut outside = Histogram::<u64>::new(3)?;
    for task in load {
        let (d, o) = task.await??;
        during.add(d)?;
        outside.add(o)?;
    }
    println!(
        "purged {} positions ({} whole chunks, {} rewritten) before {} in {:.2}s",
        purged.positions,
        purged.whole_chunks,
        purged.rewritten_chunks,
        chrono::DateTime::from_timestamp_millis(cut.as_millis())
            .map_or_else(|| cut.as_millis().to_string(), |time| time.to_rfc3339()),
        purge_time.as_secs_f64()
    );
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "appends during the purge: {} ({:.0}/s); commit latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        during.len(),
        during.len() as f64 / purge_time.as_secs_f64().max(1e-9),
        ms(&during, 0.5),
        ms(&during, 0.99),
        during.max() as f64 / 1000.0
    );
    println!(
        "appends before and after: {}; commit latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        outside.len(),
        ms(&outside, 0.5),
        ms(&outside, 0.99),
        outside.max() as f64 / 1000.0
    );
    // Correctness: exactly the history before the cut went; the rest stays.
    let cut_ms = cut.as_millis() as u64;
    let before_per_device = (0..per_device)
        .filter(|k| start_ms + k * step_ms < cut_ms)
        .count() as u64;
    let expected = before_per_device * args.devices as u64;
    anyhow::ensure!(
        purged.positions == expected,
        "purged {} positions, expected {expected}",
        purged.positions
    );
    let sample = devices[devices.len() / 2];
    let left = store.count_positions(sample).await?;
    let history_left = per_device - before_per_device;
    anyhow::ensure!(
        left >= history_left,
        "device {sample} keeps {left} positions, fewer than its {history_left} after the cut"
    );
    println!(
        "check: purged exactly the {expected} positions before the cut; device {sample} keeps {left} ({history_left} of history + live)"
    );
    Ok(())
}
