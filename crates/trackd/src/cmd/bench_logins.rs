//! `trackd bench logins`: what a flood of failed logins costs a running
//! server (issue 4/8, item 2), in memory and in the real user's login time.
//!
//! `--attackers` tasks, all from one source address, keep one bad login
//! each in flight (a fresh unknown account every time, so every attempt
//! would need a password hash) for `--duration` seconds. Meanwhile the
//! real user logs in from another source address (any 127.0.0.0/8 address
//! works on loopback) every `--real-every-ms`. The server's resident memory
//! is sampled from /proc throughout.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Mutex;

/// Options of `trackd bench logins`.
#[derive(Debug, clap::Args)]
pub(crate) struct LoginsArgs {
    /// HTTP address of the server.
    #[arg(long)]
    http: String,
    /// The server's process id, to read its memory from /proc.
    #[arg(long)]
    server_pid: u32,
    /// Concurrent bad logins kept in flight.
    #[arg(long, default_value_t = 500)]
    attackers: usize,
    /// Source address of the bad logins.
    #[arg(long, default_value = "127.0.0.1")]
    attacker_from: IpAddr,
    /// Spread the bad logins over this many source addresses: the IPv4
    /// addresses from --attacker-from on (a distributed attack, which the
    /// per-address throttle does not stop, so the hashing queue is what
    /// holds).
    #[arg(long, default_value_t = 1)]
    attacker_addresses: u32,
    /// Seconds the attack lasts.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Login of the real user (password from TRACKD_PASSWORD).
    #[arg(long)]
    email: String,
    /// Source address of the real user.
    #[arg(long, default_value = "127.0.0.2")]
    real_from: IpAddr,
    /// Milliseconds between the real user's logins.
    #[arg(long, default_value_t = 250)]
    real_every_ms: u64,
}

/// (VmRSS, VmHWM) in KiB.
pub(crate) fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub(crate) async fn run(args: LoginsArgs) -> anyhow::Result<()> {
    let password = std::env::var(super::user::PASSWORD_ENV).with_context(|| {
        format!(
            "set {} to the password of --email",
            super::user::PASSWORD_ENV
        )
    })?;
    let (rss_before, _) = memory_kib(args.server_pid).context("reading the server's memory")?;
    let url = format!("http://{}/api/session", args.http);
    let first = match args.attacker_from {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(_) => anyhow::bail!("--attacker-from must be an IPv4 address"),
    };
    let attackers = (0..args.attacker_addresses.max(1))
        .map(|i| {
            reqwest::Client::builder()
                .local_address(IpAddr::from(std::net::Ipv4Addr::from(
                    first.wrapping_add(i),
                )))
                .timeout(Duration::from_secs(120))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let real = reqwest::Client::builder()
        .local_address(args.real_from)
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(0)
        .build()?;

    let started = Instant::now();
    let until = started + Duration::from_secs(args.duration);
    let statuses = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let mut tasks = Vec::with_capacity(args.attackers);
    for task in 0..args.attackers {
        let client = attackers[task % attackers.len()].clone();
        let url = url.clone();
        let statuses = statuses.clone();
        tasks.push(tokio::spawn(async move {
            let mut attempt = 0u64;
            while Instant::now() < until {
                attempt += 1;
                let email = format!("nobody-{task}-{attempt}@example.com");
                let answer = client
                    .post(&url)
                    .form(&[("email", email.as_str()), ("password", "not the password")])
                    .send()
                    .await;
                let key = match answer {
                    Ok(response) => response.status().as_u16().to_string(),
                    Err(_) => "error".to_owned(),
                };
                *statuses.lock().await.entry(key).or_default() += 1;
            }
        }));
    }

    let pid = args.server_pid;
    let sampler = tokio::spawn(async move {
        let mut peak = 0u64;
        while Instant::now() < until + Duration::from_secs(2) {
            if let Some((rss, _)) = memory_kib(pid) {
                peak = peak.max(rss);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        peak
    });

    let mut real_times = Vec::new();
    let mut real_failed = BTreeMap::<String, u64>::new();
    // Let the first wave of bad logins arrive before the real user tries.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while Instant::now() < until {
        let sent = Instant::now();
        let answer = real
            .post(&url)
            .form(&[
                ("email", args.email.as_str()),
                ("password", password.as_str()),
            ])
            .send()
            .await;
        let took = sent.elapsed();
        match answer {
            Ok(response) if response.status().is_success() => real_times.push(took),
            Ok(response) => {
                *real_failed
                    .entry(response.status().as_u16().to_string())
                    .or_default() += 1;
            }
            Err(_) => *real_failed.entry("error".to_owned()).or_default() += 1,
        }
        tokio::time::sleep(Duration::from_millis(args.real_every_ms)).await;
    }
    for task in tasks {
        let _ = task.await;
    }
    let attack_secs = started.elapsed().as_secs_f64();
    let peak = sampler.await.unwrap_or(0);
    let (rss_after, hwm) = memory_kib(args.server_pid).unwrap_or((0, 0));

    let statuses = statuses.lock().await;
    let total: u64 = statuses.values().sum();
    let breakdown: Vec<String> = statuses.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    println!(
        "attack: {} concurrent bad logins from {} ({} address(es)) for {:.1}s: {} answered ({})",
        args.attackers,
        args.attacker_from,
        attackers.len(),
        attack_secs,
        total,
        breakdown.join(", ")
    );
    real_times.sort();
    let failed: Vec<String> = real_failed
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    println!(
        "real user from {}: {} logins ok, {} not ({}); login time p50 {} ms, p99 {} ms, max {} ms",
        args.real_from,
        real_times.len(),
        real_failed.values().sum::<u64>(),
        if failed.is_empty() {
            "-".to_owned()
        } else {
            failed.join(", ")
        },
        percentile(&real_times, 0.5).as_millis(),
        percentile(&real_times, 0.99).as_millis(),
        real_times.last().copied().unwrap_or_default().as_millis(),
    );
    println!(
        "server RSS: before {:.1} MiB, peak sampled {:.1} MiB (+{:.1} MiB), high-water mark {:.1} MiB (+{:.1} MiB), after {:.1} MiB",
        mib(rss_before),
        mib(peak),
        mib(peak.saturating_sub(rss_before)),
        mib(hwm),
        mib(hwm.saturating_sub(rss_before)),
        mib(rss_after),
    );
    Ok(())
}
