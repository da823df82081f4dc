//! Load check: N devices at R records/s against an in-process sink server.
//!
//! `cargo run --release -p trackd-simulator --example loopback_load -- 1000 100 10`
//! (devices, records per second per device, seconds). The sink runs on its own
//! single-threaded runtime, the simulator on a two-worker runtime, so the
//! process's CPU time shows what the simulator costs.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use trackd_simulator::{run, SimConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let devices: usize = args.next().map_or(Ok(1_000), |arg| arg.parse())?;
    let rate: f64 = args.next().map_or(Ok(100.0), |arg| arg.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |arg| arg.parse())?;

    let sink = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = sink.local_addr()?;
    sink.set_nonblocking(true)?;
    std::thread::spawn(move || -> std::io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let listener = TcpListener::from_std(sink)?;
            loop {
                let (stream, _) = listener.accept().await?;
                tokio::spawn(async move {
                    let _ = sink_device(stream).await;
                });
            }
        })
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let config = SimConfig {
        rate,
        duration: Some(Duration::from_secs(seconds)),
        ..SimConfig::new(address.to_string(), devices)
    };
    let report = runtime.block_on(run(config, |progress| {
        println!(
            "{:>4.0}s sent {:>9} acked {:>9} ({:>6}/s) p50 {:>6} us p99 {:>6} us connected {:>5} errors {}",
            progress.elapsed.as_secs_f64(),
            progress.records_sent,
            progress.records_acked,
            progress.records_acked_last_second,
            progress.ack_latency_p50_us,
            progress.ack_latency_p99_us,
            progress.connected_devices,
            progress.errors,
        );
    }))?;
    println!("{report:#?}");
    Ok(())
}

async fn sink_device(mut stream: TcpStream) -> std::io::Result<()> {
    let imei_len = usize::from(stream.read_u16().await?);
    let mut imei = vec![0u8; imei_len];
    stream.read_exact(&mut imei).await?;
    stream.write_all(&[0x01]).await?;
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; 8];
        stream.read_exact(&mut header).await?;
        let data_len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        payload.resize(data_len + 4, 0);
        stream.read_exact(&mut payload).await?;
        let n_records = payload.get(1).copied().unwrap_or(0);
        stream
            .write_all(&u32::from(n_records).to_be_bytes())
            .await?;
    }
}
