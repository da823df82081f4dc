//! `trackd bench reads`: what large reads cost (issue 4/8, item 8).
//!
//! Fills a fresh store (SQLite, or `--database postgres://...`) with
//! `--devices` devices holding two positions each and one device holding
//! `--route` positions, starts the server in this process, then reports:
//! - the devices' latest positions read one query per device (the old
//!   `GET /api/devices`) against one batched read, and `GET /api/devices`
//!   itself, medians of `--runs`;
//! - the memory a streamed route answer of the big device costs, against
//!   building the same answer in memory as before (this process's RSS).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use trackd_model::{DeviceFields, DeviceId, Position, Timestamp, UserFields};
use trackd_server::{Server, ServerConfig};
use trackd_store::{Store, StoreConfig};

use super::bench_logins::memory_kib;

/// Options of `trackd bench reads`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReadsArgs {
    /// Devices in the list.
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// Positions of the one big device read as a route.
    #[arg(long, default_value_t = 450_000)]
    route: usize,
    /// Repetitions of each list timing (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// `postgres://...` of an empty database to measure instead of SQLite.
    #[arg(long)]
    database: Option<String>,
}

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench password";
/// 2025-01-01T00:00:00Z.
const START_MS: i64 = 1_735_689_600_000;

fn fix(ms: i64) -> Position {
    Position {
        fix_time: Timestamp::from_millis(ms),
        device_time: Timestamp::from_millis(ms),
        server_time: Timestamp::from_millis(ms),
        valid: true,
        latitude: 54.6 + (ms % 10_000) as f64 * 1e-6,
        longitude: 25.3,
        speed: 10.0,
        ..Position::default()
    }
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort_unstable();
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn fill(
    store: &Store,
    devices: usize,
    route: usize,
) -> anyhow::Result<(Vec<DeviceId>, DeviceId)> {
    let hash = trackd_server::auth::hash_password(PASSWORD)
        .map_err(|err| anyhow::anyhow!("hashing: {err}"))?;
    store
        .create_user(
            UserFields {
                name: EMAIL.into(),
                email: EMAIL.into(),
                administrator: true,
                device_limit: -1,
                user_limit: -1,
                ..UserFields::default()
            },
            Some(hash),
        )
        .await?;
    let mut ids = Vec::with_capacity(devices);
    for n in 0..devices {
        let device = store
            .create_device(DeviceFields {
                name: format!("vehicle {n}"),
                unique_id: format!("bench-{n}"),
                ..DeviceFields::default()
            })
            .await?;
        ids.push(device.id);
    }
    let appends = futures_util::stream::iter(ids.clone())
        .map(|id| async move {
            store
                .append_positions(id, vec![fix(START_MS), fix(START_MS + 1000)])
                .await
        })
        .buffer_unordered(64);
    let results: Vec<_> = appends.collect().await;
    for result in results {
        result?;
    }
    let big = store
        .create_device(DeviceFields {
            name: "long route".into(),
            unique_id: "bench-route".into(),
            ..DeviceFields::default()
        })
        .await?
        .id;
    for first in (0..route).step_by(5_000) {
        let batch = (first..route.min(first + 5_000))
            .map(|i| fix(START_MS + i as i64 * 1000))
            .collect();
        store.append_positions(big, batch).await?;
    }
    Ok((ids, big))
}

/// The session cookie pair of a logged-in client, for curl.
async fn login_cookie(
    client: &reqwest::Client,
    http: std::net::SocketAddr,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("http://{http}/api/session"))
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await?;
    let cookie = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .context("no session cookie")?;
    Ok(cookie.to_owned())
}

pub(crate) async fn run(args: ReadsArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("trackd-bench-reads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("creating temp dir")?;
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", dir.join("bench.db").display()));
    let store = Store::open(&StoreConfig {
        url: url.clone(),
        read_only: false,
    })
    .await?;
    let filling = Instant::now();
    let (ids, big) = fill(&store, args.devices, args.route).await?;
    // Reopened, as a server that has run a while: the records compacted
    // into chunks, nothing of them cached.
    store.close().await?;
    let store = Store::open(&StoreConfig {
        url: url.clone(),
        read_only: false,
    })
    .await?;
    println!(
        "filled: {} devices x 2 positions + {} route positions in {:.1}s",
        args.devices,
        args.route,
        filling.elapsed().as_secs_f64()
    );

    let access = trackd_server::access::Access::new(store.clone());
    let viewer = trackd_server::access::Viewer::operator();
    let runs = args.runs.max(1);
    let mut per_device = Vec::with_capacity(runs);
    let mut batched = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        for id in &ids {
            access.latest(&viewer, *id).await?;
        }
        per_device.push(started.elapsed());
        let started = Instant::now();
        access.latest_of_all(&viewer).await?;
        batched.push(started.elapsed());
    }
    println!(
        "latest of {} devices: one read per device {:.1} ms, all in one batched read {:.1} ms (medians of {runs})",
        ids.len(),
        median(per_device).as_secs_f64() * 1e3,
        median(batched).as_secs_f64() * 1e3
    );

    let config = ServerConfig {
        http: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        max_read_positions: args.route.max(1),
        ..ServerConfig::none()
    };
    let running = Server::new(config, store.clone()).start().await?;
    let http = running.http.context("no http listener")?;
    let client = reqwest::Client::builder().cookie_store(true).build()?;
    let login = client
        .post(format!("http://{http}/api/session"))
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await?;
    anyhow::ensure!(login.status().is_success(), "login: {}", login.status());
    let mut list = Vec::with_capacity(runs);
    let mut listed = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let body = client
            .get(format!("http://{http}/api/devices"))
            .send()
            .await?
            .bytes()
            .await?;
        list.push(started.elapsed());
        listed = body.len();
    }
    println!(
        "GET /api/devices ({} devices, {listed} bytes): {:.1} ms (median of {runs})",
        args.devices + 1,
        median(list).as_secs_f64() * 1e3
    );

    let pid = std::process::id();
    let (rss_before, _) = memory_kib(pid).context("reading /proc")?;
    let range = "from=2024-01-01T00:00:00Z&to=2030-01-01T00:00:00Z";
    let started = Instant::now();
    // The client is another process (curl), so the RSS sampled here is
    // the server's alone.
    let token_cookie = login_cookie(&client, http).await?;
    let url = format!("http://{http}/api/reports/route?deviceId={}&{range}", big.0);
    let mut curl = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{size_download}", "-H"])
        .arg(format!("Cookie: {token_cookie}"))
        .arg(&url)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running curl (the route client)")?;
    let mut peak = rss_before;
    let status = loop {
        if let Some(status) = curl.try_wait()? {
            break status;
        }
        if let Some((rss, _)) = memory_kib(pid) {
            peak = peak.max(rss);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    anyhow::ensure!(status.success(), "curl failed: {status}");
    let mut out = String::new();
    if let Some(mut stdout) = curl.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut out)?;
    }
    let bytes: usize = out.trim().parse().unwrap_or(0);
    println!(
        "streamed route of {} positions ({:.1} MB JSON) in {:.2}s: RSS {:.1} MiB before, peak +{:.1} MiB",
        args.route,
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        mib(rss_before),
        mib(peak.saturating_sub(rss_before))
    );

    // As before this change: the whole answer built in memory.
    let (rss_before, _) = memory_kib(pid).context("reading /proc")?;
    let started = Instant::now();
    let positions = access
        .positions(
            &viewer,
            big,
            Timestamp::from_millis(i64::MIN),
            Timestamp::from_millis(i64::MAX),
        )
        .await?
        .unwrap_or_default();
    let dtos: Vec<_> = positions
        .iter()
        .map(trackd_server::api::dto::PositionDto::stored)
        .collect();
    let json = serde_json::to_vec(&dtos)?;
    let (rss_after, _) = memory_kib(pid).context("reading /proc")?;
    println!(
        "built in memory (the old way): {:.1} MB JSON in {:.2}s: RSS +{:.1} MiB",
        json.len() as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        mib(rss_after.saturating_sub(rss_before))
    );
    drop((positions, dtos, json));
    running.shutdown().await?;
    store.close().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
