//! Graceful shutdown with many devices mid-stream: `shutdown` returns in
//! time, stops accepting, closes device and WebSocket connections, and on
//! reopening the store every record a device saw acknowledged is there,
//! and no record is there twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{avl, create_user, loopback, stored, Env, Got, Teltonika, Ws, MUST, START_MS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use trackd_model::NewDevice;
use trackd_protocols::teltonika::{encode_tcp_frame, Codec};
use trackd_protocols::Transport;
use trackd_server::ServerConfig;

const DEVICES: usize = 24;
const PER_FRAME: usize = 2;
const ADMIN: &str = "admin@example.test";

fn imei(index: usize) -> String {
    format!("35600000001{index:04}")
}

/// Streams frames until the connection ends; returns the fix times the
/// server acknowledged.
async fn stream_until_closed(
    mut device: Teltonika,
    index: usize,
    acked: Arc<AtomicUsize>,
    enough: Arc<(usize, Notify)>,
) -> Vec<i64> {
    let mut confirmed = Vec::new();
    for frame_no in 0.. {
        let first = START_MS - 3_600_000 + (index as i64) * 7 + frame_no * 10_000;
        let fixes: Vec<i64> = (0..PER_FRAME as i64).map(|r| first + r * 1000).collect();
        let records: Vec<_> = fixes.iter().map(|&fix| avl(fix)).collect();
        if device
            .stream
            .write_all(&encode_tcp_frame(Codec::Codec8Ext, &records))
            .await
            .is_err()
        {
            break;
        }
        let mut ack = [0u8; 4];
        match tokio::time::timeout(MUST, device.stream.read_exact(&mut ack)).await {
            Ok(Ok(_)) => {
                assert_eq!(u32::from_be_bytes(ack) as usize, PER_FRAME);
                confirmed.extend(fixes);
                let total = acked.fetch_add(PER_FRAME, Ordering::SeqCst) + PER_FRAME;
                if total >= enough.0 {
                    enough.1.notify_one();
                }
            }
            // Closed by the shutdown (or it took too long): not acknowledged.
            _ => break,
        }
    }
    confirmed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_stream_loses_no_acked_record_and_stores_none_twice() {
    let config = ServerConfig::none().listen("teltonika", Transport::Tcp, loopback());
    let env = Env::start(config, |store| async move {
        create_user(&store, ADMIN, true).await;
        for index in 0..DEVICES {
            store
                .add_device(NewDevice {
                    unique_id: imei(index),
                    name: format!("truck {index}"),
                })
                .await
                .unwrap();
        }
    })
    .await;
    let cookie = env.login(ADMIN).await;
    let mut ws = Ws::connect(env.http(), "Cookie", &cookie).await;
    let addr = env.device_port("teltonika", Transport::Tcp);

    let acked = Arc::new(AtomicUsize::new(0));
    let wanted = DEVICES * PER_FRAME * 5;
    let enough = Arc::new((wanted, Notify::new()));
    let mut tasks = Vec::new();
    for index in 0..DEVICES {
        let device = Teltonika::connect(addr, &imei(index)).await;
        let (acked, enough) = (acked.clone(), enough.clone());
        tasks.push(tokio::spawn(stream_until_closed(
            device, index, acked, enough,
        )));
    }
    // Shut down while every device is mid-stream.
    tokio::time::timeout(Duration::from_secs(30), enough.1.notified())
        .await
        .expect("devices stream");

    let Env { db, server, .. } = env;
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("shutdown within 10 s")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));

    // Every device connection was closed by the server.
    let mut confirmed = Vec::new();
    for task in tasks {
        let fixes = tokio::time::timeout(MUST, task)
            .await
            .expect("device connection closed")
            .unwrap();
        confirmed.push(fixes);
    }
    // The WebSocket was told the server is going away.
    let end = loop {
        match ws.next(MUST).await {
            Got::Json(_) => continue,
            other => break other,
        }
    };
    assert!(
        matches!(end, Got::Closed(Some(1001)) | Got::Closed(None)),
        "websocket closed at shutdown: {end:?}"
    );
    // No longer accepting.
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );

    let store = db.open().await;
    let mut total = 0;
    for (index, fixes) in confirmed.iter().enumerate() {
        let in_store = stored(&store, &imei(index)).await;
        let unique: HashSet<i64> = in_store.iter().copied().collect();
        assert_eq!(
            unique.len(),
            in_store.len(),
            "device {index}: a record stored twice"
        );
        for fix in fixes {
            assert!(unique.contains(fix), "device {index}: acked {fix} lost");
        }
        total += fixes.len();
    }
    assert!(total >= wanted, "acked {total} records before shutdown");
    store.close().await.unwrap();
}
