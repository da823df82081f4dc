//! Issue 4/8, item 7: records no real fix can produce (dated 2100 or
//! u64::MAX ms, latitude 214°, 65,535 km/h) are acknowledged and kept raw,
//! marked `valid = false` with an `invalidReason`, and never become the
//! latest position (`/api/positions`, `positionId`, the socket's first
//! message, after a restart too) nor go out on the live stream. On both
//! backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use support::{
    any_position_of, api, avl, both_backends, create_device, create_user, iso, login, loopback,
    start_on, Backend, Got, Teltonika, Ws, START_MS,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trackd_protocols::teltonika::{encode_tcp_frame, AvlRecord, Codec};
use trackd_protocols::Transport;
use trackd_server::ServerConfig;

const IMEI: &str = "356307042441013";
const GOOD_BEFORE: i64 = START_MS - 60_000;
const GOOD_AFTER: i64 = START_MS - 10_000;
/// 2100-01-01T00:00:00Z.
const YEAR_2100: i64 = 4_102_444_800_000;

fn implausible() -> Vec<AvlRecord> {
    vec![
        avl(YEAR_2100),
        AvlRecord {
            timestamp_ms: u64::MAX,
            ..avl(0)
        },
        AvlRecord {
            latitude: 2_140_000_000,
            ..avl(START_MS - 30_000)
        },
        AvlRecord {
            speed_kmh: u16::MAX,
            ..avl(START_MS - 20_000)
        },
    ]
}

fn config() -> ServerConfig {
    ServerConfig::none().listen("teltonika", Transport::Tcp, loopback())
}

async fn send_acked(device: &mut Teltonika, records: &[AvlRecord]) {
    let frame = encode_tcp_frame(Codec::Codec8Ext, records);
    device.stream.write_all(&frame).await.unwrap();
    let mut ack = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), device.stream.read_exact(&mut ack))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u32::from_be_bytes(ack) as usize, records.len(), "all acked");
}

async fn latest_fix(http: std::net::SocketAddr, cookie: &str) -> (String, i64) {
    let (status, latest) = api(http, cookie, Method::GET, "/api/positions", None).await;
    assert_eq!(status, 200, "{latest}");
    let latest = latest.as_array().unwrap();
    assert_eq!(latest.len(), 1, "{latest:?}");
    (
        latest[0]["fixTime"].as_str().unwrap().to_owned(),
        latest[0]["id"].as_i64().unwrap(),
    )
}

async fn device_position_id(http: std::net::SocketAddr, cookie: &str) -> i64 {
    let (status, devices) = api(http, cookie, Method::GET, "/api/devices", None).await;
    assert_eq!(status, 200);
    devices[0]["positionId"].as_i64().unwrap()
}

/// The socket's first positions message, right after connecting.
async fn first_socket_fix(http: std::net::SocketAddr, cookie: &str) -> String {
    let mut ws = Ws::connect(http, "Cookie", cookie).await;
    loop {
        match ws.next(Duration::from_secs(5)).await {
            Got::Json(value) if value.get("positions").is_some() => {
                let positions = value["positions"].as_array().unwrap();
                assert_eq!(positions.len(), 1, "{value}");
                return positions[0]["fixTime"].as_str().unwrap().to_owned();
            }
            Got::Json(_) => {}
            other => panic!("no positions message: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_fixes_are_kept_marked_and_never_become_the_latest() {
    for backend in both_backends().await {
        let name = backend.name();
        let store_config = backend.config();
        let store = trackd_store::Store::open(&store_config).await.unwrap();
        create_user(&store, "admin@example.com", true).await;
        let device_id = create_device(&store, IMEI).await.0;
        store.close().await.unwrap();

        let (server, _clock) = start_on(&store_config, config()).await;
        let http = server.http.unwrap();
        let cookie = login(http, "admin@example.com").await;
        let mut live = Ws::connect(http, "Cookie", &cookie).await;
        let addr = server.listener("teltonika", Transport::Tcp).unwrap();
        let mut device = Teltonika::connect(addr, IMEI).await;
        device.report(GOOD_BEFORE).await;
        send_acked(&mut device, &implausible()).await;
        // Resent after a lost ack: still one copy of each.
        send_acked(&mut device, &implausible()).await;
        device.report(GOOD_AFTER).await;

        // The live stream carried the two real fixes and nothing else.
        let mut seen = Vec::new();
        loop {
            match live.next(Duration::from_millis(700)).await {
                Got::Json(value) => {
                    for item in value["positions"].as_array().into_iter().flatten() {
                        if any_position_of(device_id)(item) {
                            seen.push(item["fixTime"].as_str().unwrap().to_owned());
                        }
                    }
                }
                Got::Nothing => break,
                Got::Closed(code) => panic!("{name}: socket closed {code:?}"),
            }
        }
        assert!(
            seen.iter()
                .all(|fix| *fix == iso(GOOD_BEFORE) || *fix == iso(GOOD_AFTER)),
            "{name}: live stream carried {seen:?}"
        );
        assert!(seen.contains(&iso(GOOD_AFTER)), "{name}: {seen:?}");

        let (fix, id) = latest_fix(http, &cookie).await;
        assert_eq!(fix, iso(GOOD_AFTER), "{name}: latest");
        assert_eq!(device_position_id(http, &cookie).await, id, "{name}");
        assert_eq!(
            first_socket_fix(http, &cookie).await,
            iso(GOOD_AFTER),
            "{name}"
        );

        // Everything is kept, the implausible records marked.
        let path = format!(
            "/api/positions?deviceId={device_id}&from=1970-01-01T00:00:00Z&to=9999-12-31T00:00:00Z"
        );
        let (status, all) = api(http, &cookie, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{name}: {all}");
        let all = all.as_array().unwrap();
        let marked: Vec<&Value> = all
            .iter()
            .filter(|p| p["attributes"].get("invalidReason").is_some())
            .collect();
        let mut reasons: Vec<&str> = marked
            .iter()
            .map(|p| p["attributes"]["invalidReason"].as_str().unwrap())
            .collect();
        reasons.sort_unstable();
        // u64::MAX ms lies past 9999-12-31 and outside the range read.
        assert_eq!(
            reasons,
            ["coordinatesOutOfRange", "futureFixTime", "impossibleSpeed"],
            "{name}: {all:?}"
        );
        assert!(marked.iter().all(|p| p["valid"] == false), "{name}");
        assert_eq!(all.len(), 5, "{name}: 2 real + 3 marked in range: {all:?}");

        // A restart rebuilds the latest from the store: still the real fix.
        drop(device);
        drop(live);
        server.shutdown().await.unwrap();
        let (server, _clock) = start_on(&store_config, config()).await;
        let http = server.http.unwrap();
        let cookie = login(http, "admin@example.com").await;
        assert_eq!(latest_fix(http, &cookie).await.0, iso(GOOD_AFTER), "{name}");
        // A newer real fix still replaces it.
        let addr = server.listener("teltonika", Transport::Tcp).unwrap();
        let mut device = Teltonika::connect(addr, IMEI).await;
        device.report(START_MS - 5_000).await;
        assert_eq!(
            latest_fix(http, &cookie).await.0,
            iso(START_MS - 5_000),
            "{name}"
        );
        drop(device);
        server.shutdown().await.unwrap();
        if let Backend::Postgres(pg) = &backend {
            pg.drop_database().await;
        }
    }
}
