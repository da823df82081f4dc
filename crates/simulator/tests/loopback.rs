//! The simulator against a tiny in-test Teltonika server over loopback TCP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use trackd_simulator::{run, run_until, Progress, SimConfig};

/// How the test server treats devices.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// Accept every IMEI and ack every frame.
    Accept,
    /// Refuse every IMEI.
    Refuse,
    /// Close the connection instead of acking every third frame of each connection.
    DropEveryThirdFrame,
}

/// What the server saw: per IMEI, the timestamps of every acked record.
#[derive(Default)]
struct Seen {
    acked: BTreeMap<String, Vec<u64>>,
    connections: u64,
}

struct TestServer {
    address: String,
    seen: Arc<Mutex<Seen>>,
    records_acked: Arc<AtomicU64>,
}

async fn start_server(behaviour: Behaviour) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let records_acked = Arc::new(AtomicU64::new(0));
    let (seen_for_server, acked_for_server) = (Arc::clone(&seen), Arc::clone(&records_acked));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            seen_for_server.lock().unwrap().connections += 1;
            let (seen, acked) = (Arc::clone(&seen_for_server), Arc::clone(&acked_for_server));
            tokio::spawn(async move {
                // A device hanging up mid-frame at the end of the run is fine.
                let _ = serve_device(stream, behaviour, &seen, &acked).await;
            });
        }
    });
    TestServer {
        address,
        seen,
        records_acked,
    }
}

async fn serve_device(
    mut stream: TcpStream,
    behaviour: Behaviour,
    seen: &Mutex<Seen>,
    records_acked: &AtomicU64,
) -> std::io::Result<()> {
    let imei_len = stream.read_u16().await? as usize;
    let mut imei = vec![0u8; imei_len];
    stream.read_exact(&mut imei).await?;
    let imei = String::from_utf8(imei).unwrap();
    assert_eq!(imei.len(), 15);
    if behaviour == Behaviour::Refuse {
        stream.write_all(&[0x00]).await?;
        return Ok(());
    }
    stream.write_all(&[0x01]).await?;
    let mut n_frames = 0;
    loop {
        let mut header = [0u8; 8];
        stream.read_exact(&mut header).await?;
        assert_eq!(&header[..4], &[0, 0, 0, 0], "preamble");
        let data_len = u32::from_be_bytes(header[4..8].try_into().unwrap()) as usize;
        let mut payload = vec![0u8; data_len + 4];
        stream.read_exact(&mut payload).await?;
        let (data, crc) = payload.split_at(data_len);
        assert_eq!(
            u32::from_be_bytes(crc.try_into().unwrap()),
            u32::from(crc16_ibm(data)),
            "crc"
        );
        assert_eq!(data[0], 0x8E, "codec 8 extended");
        let n_records = data[1];
        assert_eq!(data[data_len - 1], n_records, "n1 == n2");
        n_frames += 1;
        if behaviour == Behaviour::DropEveryThirdFrame && n_frames % 3 == 0 {
            return Ok(());
        }
        let timestamps = record_timestamps(data);
        assert_eq!(timestamps.len(), usize::from(n_records));
        seen.lock()
            .unwrap()
            .acked
            .entry(imei.clone())
            .or_default()
            .extend(timestamps);
        records_acked.fetch_add(u64::from(n_records), Ordering::Relaxed);
        stream
            .write_all(&u32::from(n_records).to_be_bytes())
            .await?;
    }
}

/// The timestamps of a Codec 8 Extended payload, walking its IO groups.
fn record_timestamps(data: &[u8]) -> Vec<u64> {
    let u16_at = |at: usize| usize::from(u16::from_be_bytes([data[at], data[at + 1]]));
    let mut at = 2;
    let mut timestamps = Vec::new();
    for _ in 0..data[1] {
        timestamps.push(u64::from_be_bytes(data[at..at + 8].try_into().unwrap()));
        at += 8 + 1 + 15 + 2; // timestamp, priority, gps element, event io id
        at += 2; // total io count
        for width in [1, 2, 4, 8] {
            let count = u16_at(at);
            at += 2 + count * (2 + width);
        }
        let n_var = u16_at(at);
        at += 2;
        for _ in 0..n_var {
            at += 4 + u16_at(at + 2);
        }
    }
    assert_eq!(at, data.len() - 1, "records fill the payload");
    timestamps
}

fn crc16_ibm(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Parses the ack log into per-IMEI timestamps.
fn read_ack_log(path: &std::path::Path) -> BTreeMap<String, Vec<u64>> {
    let mut logged: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let (imei, timestamps) = line.split_once(' ').unwrap();
        let entry = logged.entry(imei.to_owned()).or_default();
        entry.extend(
            timestamps
                .split(',')
                .map(|timestamp| timestamp.parse::<u64>().unwrap()),
        );
    }
    logged
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("trackd-sim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_devices_all_frames_acked_and_logged() {
    let server = start_server(Behaviour::Accept).await;
    let ack_log = temp_path("ack-log");
    let config = SimConfig {
        target: server.address.clone(),
        devices: 20,
        rate: 50.0,
        duration: Some(Duration::from_secs(2)),
        records_per_frame: 10,
        imei_base: 356_000_000_000_000,
        seed: 1,
        ack_log: Some(ack_log.clone()),
        ..SimConfig::default()
    };
    let mut ticks: Vec<Progress> = Vec::new();
    let report = run(config, |progress| ticks.push(progress.clone()))
        .await
        .unwrap();

    assert_eq!(report.devices, 20);
    assert_eq!(report.errors, 0, "{:?}", report.error_samples);
    assert_eq!(report.refused_devices, 0);
    assert_eq!(report.frames_resent, 0);
    // About 2 s x 50 records/s x 20 devices; connects are staggered over 40 ms.
    assert!(report.records_acked > 1_000, "{report:?}");
    assert_eq!(
        report.records_sent, report.records_acked,
        "every frame acked"
    );
    assert_eq!(report.frames_sent, report.frames_acked);
    assert_eq!(
        report.records_acked,
        server.records_acked.load(Ordering::Relaxed)
    );
    assert!(report.frames_acked * 10 >= report.records_acked);
    assert!(
        report.ack_latency_p50_us > 0 && report.ack_latency_p50_us <= report.ack_latency_p99_us
    );
    assert!(report.ack_latency_p99_us <= report.ack_latency_max_us);
    assert!(report.records_per_second > 400.0, "{report:?}");

    assert!(
        !ticks.is_empty() && ticks.len() <= 3,
        "{} progress ticks",
        ticks.len()
    );
    assert_eq!(ticks[0].connected_devices, 20);
    assert!(ticks[0].records_acked_last_second > 0);

    let logged = read_ack_log(&ack_log);
    let seen = server.seen.lock().unwrap();
    assert_eq!(logged.len(), 20);
    assert_eq!(logged, seen.acked, "ack log matches what the server acked");
    for (imei, timestamps) in &logged {
        assert!(imei.starts_with("3560000000000"), "{imei}");
        assert!(
            timestamps.windows(2).all(|pair| pair[0] < pair[1]),
            "timestamps increase for {imei}"
        );
    }
    let _ = std::fs::remove_file(&ack_log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_imei_stops_every_device() {
    let server = start_server(Behaviour::Refuse).await;
    let config = SimConfig {
        duration: Some(Duration::from_secs(10)),
        ..SimConfig::new(server.address.clone(), 5)
    };
    let started = std::time::Instant::now();
    let report = run(config, |_| {}).await.unwrap();
    assert_eq!(report.refused_devices, 5);
    assert_eq!(report.records_sent, 0);
    assert_eq!(report.records_acked, 0);
    assert_eq!(report.errors, 0);
    // Every device stopped, so the run ends without waiting for its duration.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        server.seen.lock().unwrap().connections,
        5,
        "no retry after a refusal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_connections_resend_the_unacked_frame() {
    let server = start_server(Behaviour::DropEveryThirdFrame).await;
    let ack_log = temp_path("resend-log");
    let config = SimConfig {
        rate: 20.0,
        records_per_frame: 5,
        duration: Some(Duration::from_secs(3)),
        ack_log: Some(ack_log.clone()),
        ..SimConfig::new(server.address.clone(), 3)
    };
    let report = run(config, |_| {}).await.unwrap();
    assert!(report.frames_resent > 0, "{report:?}");
    assert!(report.errors > 0);
    assert!(report.records_sent > report.records_acked);

    // No gap and no duplicate: the server got each record once, and the log says so.
    let logged = read_ack_log(&ack_log);
    assert_eq!(logged, server.seen.lock().unwrap().acked);
    assert_eq!(
        logged.values().map(Vec::len).sum::<usize>() as u64,
        report.records_acked
    );
    for timestamps in logged.values() {
        let unique: BTreeSet<_> = timestamps.iter().collect();
        assert_eq!(unique.len(), timestamps.len());
        assert!(timestamps.windows(2).all(|pair| pair[0] < pair[1]));
    }
    let _ = std::fs::remove_file(&ack_log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_wait_for_a_server_that_starts_late() {
    // Reserve a port, free it, and start the server there a little later.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let late_server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let listener = TcpListener::bind(address).await.unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        let imei_len = stream.read_u16().await.unwrap() as usize;
        let mut imei = vec![0u8; imei_len];
        stream.read_exact(&mut imei).await.unwrap();
        stream.write_all(&[0x01]).await.unwrap();
        let mut header = [0u8; 8];
        stream.read_exact(&mut header).await.unwrap();
        let data_len = u32::from_be_bytes(header[4..8].try_into().unwrap()) as usize;
        let mut payload = vec![0u8; data_len + 4];
        stream.read_exact(&mut payload).await.unwrap();
        stream
            .write_all(&u32::from(payload[1]).to_be_bytes())
            .await
            .unwrap();
        // Records generated while the server was down come first, as history.
        u64::from_be_bytes(payload[2..10].try_into().unwrap())
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = SimConfig {
        rate: 10.0,
        ..SimConfig::new(address.to_string(), 1)
    };
    let simulation = tokio::spawn(run_until(config, |_| {}, async {
        let _ = stopped.await;
    }));
    let first_timestamp = late_server.await.unwrap();
    let _ = stop.send(());
    let report = simulation.await.unwrap().unwrap();
    assert!(report.connect_failures > 0, "{report:?}");
    assert!(report.records_acked >= 1);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        now_ms - first_timestamp >= 400,
        "the first record dates from before the server started"
    );
}

#[tokio::test]
async fn bad_config_is_rejected() {
    for config in [
        SimConfig::new("127.0.0.1:1", 0),
        SimConfig {
            rate: 0.0,
            ..SimConfig::new("127.0.0.1:1", 1)
        },
        SimConfig {
            rate: f64::NAN,
            ..SimConfig::new("127.0.0.1:1", 1)
        },
        SimConfig {
            records_per_frame: 256,
            ..SimConfig::new("127.0.0.1:1", 1)
        },
        SimConfig {
            protocol: trackd_simulator::Protocol::Gt06,
            rate: 2.0,
            ..SimConfig::new("127.0.0.1:1", 1)
        },
        SimConfig {
            imei_base: 999_999_999_999_999,
            ..SimConfig::new("127.0.0.1:1", 2)
        },
    ] {
        let error = run(config, |_| {}).await.unwrap_err();
        assert!(
            error.to_string().starts_with("invalid simulator config"),
            "{error}"
        );
    }
}
