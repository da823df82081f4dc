//! `/api/socket` pushes positions of the caller's devices as they are
//! committed, and nothing of another organization's devices.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use trackd_model::{DeviceFields, Link, UserFields};
use trackd_protocols::teltonika::{encode_imei, encode_tcp_frame, AvlRecord, Codec};
use trackd_protocols::Transport;
use trackd_server::auth::hash_password;
use trackd_server::{Server, ServerConfig};
use trackd_store::{Store, StoreConfig};

const PASSWORD: &str = "correct horse battery";

async fn user_with_device(store: &Store, name: &str, imei: &str) -> i64 {
    let user = store
        .create_user(
            UserFields {
                name: name.into(),
                email: format!("{name}@example.test"),
                device_limit: -1,
                ..UserFields::default()
            },
            Some(hash_password(PASSWORD).unwrap()),
        )
        .await
        .unwrap();
    let device = store
        .create_device(DeviceFields {
            name: format!("{name} van"),
            unique_id: imei.into(),
            ..DeviceFields::default()
        })
        .await
        .unwrap();
    store
        .link(Link::UserDevice(user.id, device.id))
        .await
        .unwrap();
    device.id.get()
}

async fn report(teltonika: SocketAddr, imei: &str, timestamp_ms: u64) {
    let mut stream = TcpStream::connect(teltonika).await.unwrap();
    stream.write_all(&encode_imei(imei)).await.unwrap();
    let mut reply = [0u8; 1];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply[0], 1);
    let record = AvlRecord {
        timestamp_ms,
        priority: 0,
        longitude: 253_000_000,
        latitude: 546_000_000,
        altitude: 100,
        angle: 10,
        satellites: 8,
        speed_kmh: 40,
        event_io_id: 0,
        generation_type: None,
        io: Vec::new(),
    };
    stream
        .write_all(&encode_tcp_frame(Codec::Codec8Ext, &[record]))
        .await
        .unwrap();
    let mut ack = [0u8; 4];
    stream.read_exact(&mut ack).await.unwrap();
    assert_eq!(u32::from_be_bytes(ack), 1);
}

#[tokio::test]
async fn websocket_pushes_own_positions_and_nothing_foreign() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig {
        url: format!("sqlite:{}", dir.path().join("trackd.db").display()),
        read_only: false,
    })
    .await
    .unwrap();
    let alpha_device = user_with_device(&store, "alpha", "356000000000101").await;
    let bravo_device = user_with_device(&store, "bravo", "356000000000202").await;
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = ServerConfig {
        http: Some(loopback),
        ..ServerConfig::none()
    }
    .listen("teltonika", Transport::Tcp, loopback);
    let server = Server::new(config, store).start().await.unwrap();
    let http = server.http.unwrap();

    let login = reqwest::Client::new()
        .post(format!("http://{http}/api/session"))
        .form(&[("email", "alpha@example.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut request = format!("ws://{http}/api/socket")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Cookie", cookie.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    // Bravo's device reports first, then alpha's.
    let teltonika = server.listener("teltonika", Transport::Tcp).unwrap();
    report(teltonika, "356000000000202", 1_700_000_000_000).await;
    report(teltonika, "356000000000101", 1_700_000_001_000).await;

    let mut own_seen = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !own_seen {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("alpha's position pushed within 5 s")
            .unwrap()
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        for list in ["positions", "devices"] {
            for item in value[list].as_array().into_iter().flatten() {
                let device = if list == "positions" {
                    item["deviceId"].as_i64()
                } else {
                    item["id"].as_i64()
                };
                assert_ne!(device, Some(bravo_device), "foreign {list} pushed: {text}");
                if list == "positions" && device == Some(alpha_device) {
                    assert_eq!(item["fixTime"], "2023-11-14T22:13:21.000+00:00");
                    assert!(item["id"].as_i64().unwrap() > 0);
                    own_seen = true;
                }
            }
        }
    }
    // A ping is answered.
    socket
        .send(Message::Ping(vec![1, 2, 3].into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Pong(payload))) => return payload,
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(&pong[..], &[1, 2, 3]);
}

#[tokio::test]
async fn a_device_unlinked_while_connected_is_no_longer_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig {
        url: format!("sqlite:{}", dir.path().join("trackd.db").display()),
        read_only: false,
    })
    .await
    .unwrap();
    let alpha_device = user_with_device(&store, "alpha", "356000000000111").await;
    store
        .create_user(
            UserFields {
                name: "root".into(),
                email: "root@example.test".into(),
                administrator: true,
                device_limit: -1,
                user_limit: -1,
                ..UserFields::default()
            },
            Some(hash_password(PASSWORD).unwrap()),
        )
        .await
        .unwrap();
    let alpha = store
        .user_by_email("alpha@example.test")
        .await
        .unwrap()
        .unwrap()
        .id
        .get();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = ServerConfig {
        http: Some(loopback),
        ..ServerConfig::none()
    }
    .listen("teltonika", Transport::Tcp, loopback);
    let server = Server::new(config, store).start().await.unwrap();
    let http = server.http.unwrap();
    let teltonika = server.listener("teltonika", Transport::Tcp).unwrap();

    let cookie_of = |email: &'static str| async move {
        let login = reqwest::Client::new()
            .post(format!("http://{http}/api/session"))
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let alpha_cookie = cookie_of("alpha@example.test").await;
    let root_cookie = cookie_of("root@example.test").await;
    let mut request = format!("ws://{http}/api/socket")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Cookie", alpha_cookie.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    let pushed = |value: &serde_json::Value| {
        value["positions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["deviceId"].as_i64() == Some(alpha_device))
    };
    report(teltonika, "356000000000111", 1_700_000_001_000).await;
    // The position, and the "offline" of the reporting connection closing:
    // both were published before the unlink and may still arrive after it.
    let offline = |value: &serde_json::Value| {
        value["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| d["id"].as_i64() == Some(alpha_device) && d["status"] == "offline")
    };
    let (mut seen_position, mut seen_offline) = (false, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !(seen_position && seen_offline) {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("own position and status pushed")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let value = serde_json::from_str(&text).unwrap();
            seen_position |= pushed(&value);
            seen_offline |= offline(&value);
        }
    }

    let unlinked = reqwest::Client::new()
        .delete(format!("http://{http}/api/permissions"))
        .header("Cookie", root_cookie)
        .json(&serde_json::json!({ "userId": alpha, "deviceId": alpha_device }))
        .send()
        .await
        .unwrap();
    assert!(unlinked.status().is_success());
    report(teltonika, "356000000000111", 1_700_000_002_000).await;
    let quiet = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(message) = tokio::time::timeout_at(quiet, socket.next()).await {
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert!(!pushed(&value), "unlinked device pushed: {text}");
                assert!(
                    value["devices"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .all(|d| d["id"].as_i64() != Some(alpha_device)),
                    "unlinked device pushed: {text}"
                );
            }
            Some(Ok(Message::Close(frame))) => panic!("narrowed socket closed: {frame:?}"),
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}
