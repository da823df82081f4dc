//! `trackd bench slow-clients`: what slow and silent clients cost a
//! running server (issue 4/8, item 3).
//!
//! Opens `--connections` HTTP connections that send half a request header
//! and stop (slow-loris), and as many device connections that never
//! identify; meanwhile a real user logs in and a real device identifies.
//! Reports how the server treated the slow ones (served a slot, refused
//! with 503, closed at its timeouts), its open files and memory, and the
//! real user's and device's answers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::bench_logins::memory_kib;

/// Options of `trackd bench slow-clients`.
#[derive(Debug, clap::Args)]
pub(crate) struct SlowArgs {
    /// HTTP API address of the server.
    #[arg(long)]
    http: SocketAddr,
    /// Teltonika TCP address of the server.
    #[arg(long)]
    device: SocketAddr,
    /// The server's process id, for its open files and memory.
    #[arg(long)]
    server_pid: u32,
    /// Slow HTTP connections, and as many silent device connections.
    #[arg(long, default_value_t = 5_000)]
    connections: usize,
    /// Seconds to wait for the server to close them.
    #[arg(long, default_value_t = 45)]
    wait: u64,
    /// A user to log in meanwhile (password from TRACKD_PASSWORD).
    #[arg(long)]
    email: String,
    /// IMEI of a device the server accepts.
    #[arg(long, default_value = "356307042441013")]
    imei: String,
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// How one slow connection ended.
#[derive(Debug, Default)]
struct Ends {
    refused_503: usize,
    closed: usize,
    open: usize,
    connect_failed: usize,
}

async fn hold(mut stream: TcpStream, wait: Duration) -> (bool, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (true, got),
            Ok(Ok(n)) => got.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(_) => return (false, got),
        }
    }
}

async fn real_login(http: SocketAddr, email: &str, password: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = reqwest::Client::new()
        .post(format!("http://{http}/api/session"))
        .timeout(Duration::from_secs(10))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .map_or(0, |response| response.status().as_u16());
    (status, started.elapsed())
}

async fn real_device(addr: SocketAddr, imei: &str) -> (bool, Duration) {
    let started = Instant::now();
    let identified = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(&trackd_protocols::teltonika::encode_imei(imei))
            .await
            .ok()?;
        let mut reply = [0u8; 1];
        stream.read_exact(&mut reply).await.ok()?;
        Some(reply[0] == 1)
    };
    let ok = tokio::time::timeout(Duration::from_secs(10), identified)
        .await
        .ok()
        .flatten()
        .unwrap_or(false);
    (ok, started.elapsed())
}

pub(crate) async fn run(args: SlowArgs) -> anyhow::Result<()> {
    let password = std::env::var(super::user::PASSWORD_ENV)
        .with_context(|| format!("set {} to the user's password", super::user::PASSWORD_ENV))?;
    if let Some(limit) = trackd_server::raise_fd_limit() {
        println!("client open-file limit: {limit}");
    }
    let pid = args.server_pid;
    let (rss_before, _) = memory_kib(pid).context("reading the server's /proc")?;
    let files_before = open_files(pid);
    let wait = Duration::from_secs(args.wait);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.connections * 2);
    for _ in 0..args.connections {
        let http = args.http;
        tasks.push(tokio::spawn(async move {
            let Ok(mut stream) = TcpStream::connect(http).await else {
                return None;
            };
            let _ = stream
                .write_all(b"GET /api/server HTTP/1.1\r\nHost: x\r\n")
                .await;
            Some(hold(stream, wait).await)
        }));
        let device = args.device;
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(device).await.ok()?;
            Some(hold(stream, wait).await)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let files_during = open_files(pid);
    let (rss_during, _) = memory_kib(pid).unwrap_or_default();
    let (login, login_time) = real_login(args.http, &args.email, &password).await;
    let (device_ok, device_time) = real_device(args.device, &args.imei).await;
    println!(
        "during: server open files {files_before} -> {files_during}, RSS {:.1} -> {:.1} MiB",
        rss_before as f64 / 1024.0,
        rss_during as f64 / 1024.0
    );
    println!(
        "during: real user login {login} in {:.0} ms; real device identified {device_ok} in {:.0} ms",
        login_time.as_secs_f64() * 1e3,
        device_time.as_secs_f64() * 1e3
    );
    let mut http = Ends::default();
    let mut devices = Ends::default();
    for (index, task) in tasks.into_iter().enumerate() {
        let ends = if index % 2 == 0 {
            &mut http
        } else {
            &mut devices
        };
        match task.await.ok().flatten() {
            None => ends.connect_failed += 1,
            Some((false, _)) => ends.open += 1,
            Some((true, got)) if got.starts_with(b"HTTP/1.1 503") => ends.refused_503 += 1,
            Some((true, _)) => ends.closed += 1,
        }
    }
    println!(
        "slow http: {} closed by the server, {} refused 503, {} still open after {}s, {} could not connect",
        http.closed, http.refused_503, http.open, args.wait, http.connect_failed
    );
    println!(
        "silent devices: {} closed by the server, {} still open after {}s, {} could not connect",
        devices.closed, devices.open, args.wait, devices.connect_failed
    );
    println!(
        "all ended within {:.1}s; server open files after: {}",
        started.elapsed().as_secs_f64(),
        open_files(pid)
    );
    Ok(())
}
