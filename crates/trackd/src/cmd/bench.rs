//! `trackd bench`: the measurements behind docs/BENCHMARKS.md that are not
//! criterion benches (they need a store or sockets).

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trackd_model::NewDevice;
use trackd_protocols::teltonika::{self, Codec, DecodeOptions};
use trackd_simulator::Vehicle;
use trackd_store::{Store, StoreConfig};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Bytes on disk per stored position for the simulator's typical record.
    Storage {
        /// Vehicles whose records are interleaved.
        #[arg(long, default_value_t = 100)]
        devices: usize,
        /// Records per vehicle (one per second of driving).
        #[arg(long, default_value_t = 2000)]
        records: usize,
        /// `postgres://...` to measure PostgreSQL instead of a fresh SQLite file.
        #[arg(long)]
        database: Option<String>,
    },
    /// Hold many idle device connections open against a running server and
    /// report its resident memory.
    Idle {
        /// Teltonika TCP address of the server (it must accept unknown IMEIs or know them).
        #[arg(long)]
        target: String,
        /// Connections to open.
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Seconds to hold them after the last one is accepted.
        #[arg(long, default_value_t = 5)]
        hold: u64,
        /// The server's process id, to read its RSS from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Latency from a device frame to the position on subscribed WebSockets.
    Ws(super::bench_ws::WsArgs),
    /// Purge half of a large store while devices keep appending.
    Purge(super::bench_purge::PurgeArgs),
    /// Memory and the real user's login time under a flood of bad logins.
    Logins(super::bench_logins::LoginsArgs),
    /// Device list and large route reads: time and memory.
    Reads(super::bench_reads::ReadsArgs),
    /// Slow-loris HTTP and silent device connections against a running server.
    SlowClients(super::bench_slow::SlowArgs),
}

pub(crate) async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Storage {
            devices,
            records,
            database,
        } => storage(devices, records, database).await,
        BenchCommand::Idle {
            target,
            connections,
            hold,
            server_pid,
        } => idle(&target, connections, hold, server_pid).await,
        BenchCommand::Ws(args) => super::bench_ws::run(args).await,
        BenchCommand::Purge(args) => super::bench_purge::run(args).await,
        BenchCommand::Logins(args) => super::bench_logins::run(args).await,
        BenchCommand::Reads(args) => super::bench_reads::run(args).await,
        BenchCommand::SlowClients(args) => super::bench_slow::run(args).await,
    }
}

async fn storage(devices: usize, records: usize, database: Option<String>) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let url = database.unwrap_or_else(|| format!("sqlite:{}", dir.join("bench.db").display()));
    let store = Store::open(&StoreConfig {
        url,
        read_only: false,
    })
    .await?;
    let start_ms: u64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z
    let mut vehicles = Vec::with_capacity(devices);
    for i in 0..devices {
        let device = store
            .add_device(NewDevice {
                unique_id: format!("bench-{i}-{start_ms}"),
                name: format!("bench {i}"),
            })
            .await?;
        vehicles.push((device.id, Vehicle::new(i as u64, start_ms)));
    }
    // Ten records per frame, frames interleaved across vehicles, each frame
    // through the real encoder and decoder so the stored positions are
    // exactly what a device's records become.
    let options = DecodeOptions::default();
    let started = Instant::now();
    let mut stored = 0u64;
    for chunk_start in (0..records).step_by(10) {
        let chunk_len = (records - chunk_start).min(10);
        let mut pending = Vec::with_capacity(devices);
        for (device_id, vehicle) in &mut vehicles {
            let mut avl = Vec::with_capacity(chunk_len);
            for r in chunk_start..chunk_start + chunk_len {
                vehicle.advance_to(start_ms + r as u64 * 1000);
                avl.push(trackd_simulator::teltonika::avl_record(&vehicle.fix()));
            }
            let frame = teltonika::encode_tcp_frame(Codec::Codec8Ext, &avl);
            let mut positions = teltonika::decode_tcp_frame(&frame, &options)?;
            for p in &mut positions {
                p.server_time = p.fix_time;
            }
            stored += positions.len() as u64;
            let store = store.clone();
            let device_id = *device_id;
            pending.push(tokio::spawn(async move {
                store.append_positions(device_id, positions).await
            }));
        }
        for task in pending {
            task.await??;
        }
    }
    store.flush().await?;
    let elapsed = started.elapsed();
    let bytes = store.disk_usage_bytes().await?;
    store.close().await?;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "stored {stored} positions of {devices} devices in {:.2}s ({:.0} records/s); {bytes} bytes on disk = {:.1} bytes/position",
        elapsed.as_secs_f64(),
        stored as f64 / elapsed.as_secs_f64(),
        bytes as f64 / stored as f64
    );
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("trackd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("creating temp dir")?;
    Ok(dir)
}

async fn idle(
    target: &str,
    connections: usize,
    hold: u64,
    server_pid: Option<u32>,
) -> anyhow::Result<()> {
    let rss_before = server_pid.and_then(rss_kib);
    let started = Instant::now();
    let mut streams = Vec::with_capacity(connections);
    let mut refused = 0usize;
    // Connect in waves so the listen backlog never overflows.
    for wave in (0..connections).collect::<Vec<_>>().chunks(500) {
        let mut tasks = Vec::with_capacity(wave.len());
        for &i in wave {
            let target = target.to_owned();
            tasks.push(tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(&target).await?;
                let imei = format!("{}", 357_000_000_000_000u64 + i as u64);
                stream.write_all(&teltonika::encode_imei(&imei)).await?;
                let mut reply = [0u8; 1];
                stream.read_exact(&mut reply).await?;
                anyhow::Ok((stream, reply[0]))
            }));
        }
        for task in tasks {
            let (stream, reply) = task.await??;
            if reply != 1 {
                refused += 1;
            }
            streams.push(stream);
        }
    }
    println!(
        "{} connections open and handshaken in {:.1}s ({refused} refused)",
        streams.len(),
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(hold)).await;
    if let Some(pid) = server_pid {
        let after = rss_kib(pid).context("reading server RSS")?;
        println!(
            "server RSS: {:.1} MiB with {} idle connections (before: {})",
            after as f64 / 1024.0,
            streams.len(),
            rss_before.map_or("n/a".to_owned(), |kib| format!(
                "{:.1} MiB",
                kib as f64 / 1024.0
            )),
        );
    }
    drop(streams);
    Ok(())
}

/// Resident set size of a process in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}
