//! Disabling or deleting a device through the API ends its open
//! connections at once and nothing more of it is stored: the connection
//! closes, a reconnect is refused, datagram and HTTP reports are refused,
//! and the store holds only what was acknowledged before the change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::Method;
use support::{
    api, create_device, create_user, loopback, osmand_report, Env, Teltonika, MUST, START_MS,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trackd_protocols::teltonika::{encode_imei, encode_tcp_frame, Codec};
use trackd_protocols::Transport;
use trackd_server::ServerConfig;

const ADMIN: &str = "admin@example.test";
const IMEI: &str = "356000000000501";
const OTHER: &str = "356000000000502";
const PHONE: &str = "phone-503";

async fn world() -> (Env, String) {
    let config = ServerConfig::none()
        .listen("teltonika", Transport::Tcp, loopback())
        .listen("osmand", Transport::Http, loopback());
    let env = Env::start(config, |store| async move {
        create_user(&store, ADMIN, true).await;
        for id in [IMEI, OTHER, PHONE] {
            create_device(&store, id).await;
        }
    })
    .await;
    let cookie = env.login(ADMIN).await;
    (env, cookie)
}

async fn device_json(env: &Env, cookie: &str, unique_id: &str) -> serde_json::Value {
    let (status, devices) = api(
        env.http(),
        cookie,
        Method::GET,
        &format!("/api/devices?uniqueId={unique_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    devices[0].clone()
}

async fn disable(env: &Env, cookie: &str, unique_id: &str) {
    let mut device = device_json(env, cookie, unique_id).await;
    device["disabled"] = true.into();
    let id = device["id"].as_i64().unwrap();
    let (status, body) = api(
        env.http(),
        cookie,
        Method::PUT,
        &format!("/api/devices/{id}"),
        Some(device),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Waits until the server closes `device`'s connection; panics after `MUST`.
async fn assert_closed(device: &mut Teltonika) {
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(MUST, device.stream.read(&mut byte))
        .await
        .expect("the connection must be closed by the server");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed, not answered: {read:?}"
    );
}

/// A fresh connection of `imei` is refused at the handshake.
async fn assert_refused(env: &Env, imei: &str) {
    let addr = env.device_port("teltonika", Transport::Tcp);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&encode_imei(imei)).await.unwrap();
    let mut reply = [0u8; 1];
    let read = tokio::time::timeout(MUST, stream.read(&mut reply))
        .await
        .unwrap();
    assert!(
        matches!(read, Ok(0) | Err(_)) || reply[0] == 0,
        "handshake of {imei} must be refused"
    );
}

#[tokio::test]
async fn disabling_a_device_closes_its_connections_and_stores_nothing_more() {
    let (env, cookie) = world().await;
    let addr = env.device_port("teltonika", Transport::Tcp);
    let mut first = Teltonika::connect(addr, IMEI).await;
    let mut second = Teltonika::connect(addr, IMEI).await;
    let mut other = Teltonika::connect(addr, OTHER).await;
    first.report(START_MS - 2_000).await;
    second.report(START_MS - 1_000).await;

    disable(&env, &cookie, IMEI).await;
    assert_closed(&mut first).await;
    assert_closed(&mut second).await;
    assert_refused(&env, IMEI).await;
    // A frame written into the closed connection is neither stored nor acked.
    let frame = encode_tcp_frame(Codec::Codec8Ext, &[support::avl(START_MS)]);
    let _ = first.stream.write_all(&frame).await;
    assert_eq!(
        env.stored(IMEI).await,
        vec![START_MS - 2_000, START_MS - 1_000]
    );

    // Another device's connection is untouched.
    other.report(START_MS).await;
    assert_eq!(env.stored(OTHER).await, vec![START_MS]);
}

#[tokio::test]
async fn deleting_a_device_closes_its_connection() {
    let (env, cookie) = world().await;
    let addr = env.device_port("teltonika", Transport::Tcp);
    let mut device = Teltonika::connect(addr, IMEI).await;
    device.report(START_MS).await;
    let id = device_json(&env, &cookie, IMEI).await["id"]
        .as_i64()
        .unwrap();

    let (status, _) = api(
        env.http(),
        &cookie,
        Method::DELETE,
        &format!("/api/devices/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_closed(&mut device).await;
    assert_refused(&env, IMEI).await;
    assert!(
        env.stored(IMEI).await.is_empty(),
        "an unknown device stores nothing"
    );
}

#[tokio::test]
async fn a_disabled_http_device_is_refused_at_once() {
    let (env, cookie) = world().await;
    let addr = env.device_port("osmand", Transport::Http);
    assert_eq!(osmand_report(addr, PHONE, START_MS - 1_000).await, 200);
    disable(&env, &cookie, PHONE).await;
    assert_eq!(osmand_report(addr, PHONE, START_MS).await, 400);
    assert_eq!(env.stored(PHONE).await, vec![START_MS - 1_000]);
}
