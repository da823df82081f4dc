//! `trackd bench ws`: latency from a device frame arriving at the server to
//! the position reaching subscribed WebSocket clients.
//!
//! Virtual devices report through the real Teltonika listener; N WebSocket
//! clients, logged in as a user who sees every device, receive the pushes.
//! A position's latency is the client's receive time minus its
//! `serverTime` (stamped when the server read the frame); both clocks are
//! this machine's.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Options of `trackd bench ws`.
#[derive(Debug, clap::Args)]
pub(crate) struct WsArgs {
    /// HTTP address of the server.
    #[arg(long)]
    http: String,
    /// Teltonika TCP address of the server.
    #[arg(long)]
    teltonika: String,
    /// Virtual devices (the server must know their IMEIs or register unknown ones).
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Records per second per device.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// WebSocket clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// IMEI of the first virtual device.
    #[arg(long, default_value_t = 358_000_000_000_000)]
    imei_base: u64,
    /// Login of a user who sees the devices (password from TRACKD_PASSWORD).
    #[arg(long)]
    email: String,
}

async fn login(http: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://{http}/api/session"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .context("logging in")?;
    if !response.status().is_success() {
        bail!("login failed: {}", response.status());
    }
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|kv| kv.starts_with("JSESSIONID="))
        })
        .map(str::to_owned)
        .context("no session cookie in the login answer")?;
    Ok(cookie)
}

fn server_time_millis(position: &serde_json::Value) -> Option<i64> {
    let text = position.get("serverTime")?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

pub(crate) async fn run(args: WsArgs) -> anyhow::Result<()> {
    let password = std::env::var(super::user::PASSWORD_ENV).with_context(|| {
        format!(
            "set {} to the password of --email",
            super::user::PASSWORD_ENV
        )
    })?;
    let cookie = login(&args.http, &args.email, &password).await?;
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 600_000, 3,
    )?));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let mut request = format!("ws://{}/api/socket", args.http).into_client_request()?;
        request.headers_mut().insert("Cookie", cookie.parse()?);
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("opening websocket")?;
        let histogram = histogram.clone();
        let measuring = measuring.clone();
        clients.push(tokio::spawn(async move {
            let (_, mut read) = socket.split();
            while let Some(Ok(message)) = read.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let now = chrono::Utc::now().timestamp_millis();
                if !measuring.load(std::sync::atomic::Ordering::Relaxed) {
                    continue;
                }
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                let Some(positions) = value.get("positions").and_then(|p| p.as_array()) else {
                    continue;
                };
                let mut histogram = histogram.lock().await;
                for position in positions {
                    if let Some(server_ms) = server_time_millis(position) {
                        let _ = histogram.record((now - server_ms).max(1) as u64);
                    }
                }
            }
        }));
    }
    println!("{} websocket clients connected", clients.len());
    let sim = trackd_simulator::SimConfig {
        target: args.teltonika.clone(),
        devices: args.devices,
        rate: args.rate,
        duration: Some(Duration::from_secs(args.duration + 5)),
        records_per_frame: 1,
        imei_base: args.imei_base,
        seed: 3,
        ack_log: None,
        ..trackd_simulator::SimConfig::default()
    };
    let simulator = tokio::spawn(trackd_simulator::run(sim, |_| {}));
    // Let every device connect before measuring.
    tokio::time::sleep(Duration::from_secs(5)).await;
    measuring.store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    measuring.store(false, std::sync::atomic::Ordering::Relaxed);
    let report = simulator.await??;
    for client in clients {
        client.abort();
    }
    let histogram = histogram.lock().await;
    println!(
        "{} devices x {}/s, {} websocket clients, {} s: {} positions received; latency frame-in -> websocket: p50 {} ms, p99 {} ms, max {} ms ({} records acked)",
        args.devices,
        args.rate,
        args.clients,
        args.duration,
        histogram.len(),
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
        histogram.max(),
        report.records_acked,
    );
    Ok(())
}
