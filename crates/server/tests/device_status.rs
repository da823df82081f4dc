//! Device status follows the connection: a TCP device is `online` while a
//! connection of it is open and `offline` once the last one closes; UDP and
//! HTTP devices are `online` on a report and `unknown` once the status
//! timeout passed on the (manual) clock. Every change is pushed to
//! WebSocket clients as `{"devices":[...]}`, and `GET /api/devices` agrees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use reqwest::Method;
use support::{
    api, create_device, create_user, loopback, osmand_report, status_of, teltonika_udp, Env, Got,
    Teltonika, Ws, MUST, START_MS,
};
use trackd_protocols::Transport;
use trackd_server::ServerConfig;

const TCP_IMEI: &str = "356000000000301";
const UDP_IMEI: &str = "356000000000302";
const HTTP_ID: &str = "phone-303";
const ADMIN: &str = "admin@example.test";
const STATUS_TIMEOUT: Duration = Duration::from_secs(60);

struct World {
    env: Env,
    cookie: String,
    ws: Ws,
    tcp: i64,
    udp: i64,
    http: i64,
}

async fn world() -> World {
    let config = ServerConfig {
        status_timeout: STATUS_TIMEOUT,
        ..ServerConfig::none()
    }
    .listen("teltonika", Transport::Tcp, loopback())
    .listen("teltonika", Transport::Udp, loopback())
    .listen("osmand", Transport::Http, loopback());
    let env = Env::start(config, |store| async move {
        create_user(&store, ADMIN, true).await;
        for id in [TCP_IMEI, UDP_IMEI, HTTP_ID] {
            create_device(&store, id).await;
        }
    })
    .await;
    let id = |unique_id: &'static str| {
        let store = env.store().clone();
        async move {
            store
                .device_by_unique_id(unique_id)
                .await
                .unwrap()
                .unwrap()
                .id
                .get()
        }
    };
    let (tcp, udp, http) = (id(TCP_IMEI).await, id(UDP_IMEI).await, id(HTTP_ID).await);
    let cookie = env.login(ADMIN).await;
    let ws = Ws::connect(env.http(), "Cookie", &cookie).await;
    World {
        env,
        cookie,
        ws,
        tcp,
        udp,
        http,
    }
}

/// The status `GET /api/devices` shows for a device.
async fn listed_status(world: &World, device_id: i64) -> String {
    let (status, devices) = api(
        world.env.http(),
        &world.cookie,
        Method::GET,
        "/api/devices",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let device = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"].as_i64() == Some(device_id))
        .unwrap();
    device["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tcp_device_is_offline_only_when_its_last_connection_closes() {
    let mut w = world().await;
    assert_eq!(listed_status(&w, w.tcp).await, "offline", "never connected");
    let addr = w.env.device_port("teltonika", Transport::Tcp);

    let first = Teltonika::connect(addr, TCP_IMEI).await;
    w.ws.expect_item("devices", MUST, status_of(w.tcp, "online"))
        .await;
    assert_eq!(listed_status(&w, w.tcp).await, "online");

    let mut second = Teltonika::connect(addr, TCP_IMEI).await;
    second.report(START_MS - 1000).await;
    drop(first);
    w.ws.expect_no_item(
        "devices",
        Duration::from_millis(700),
        status_of(w.tcp, "offline"),
    )
    .await;
    assert_eq!(listed_status(&w, w.tcp).await, "online", "one still open");

    drop(second);
    let pushed =
        w.ws.expect_item("devices", MUST, status_of(w.tcp, "offline"))
            .await;
    assert_eq!(pushed["uniqueId"], TCP_IMEI);
    assert_eq!(listed_status(&w, w.tcp).await, "offline");
}

#[tokio::test]
async fn udp_and_http_devices_turn_unknown_after_the_status_timeout() {
    let mut w = world().await;
    teltonika_udp(
        w.env.device_port("teltonika", Transport::Udp),
        UDP_IMEI,
        START_MS - 2000,
    )
    .await;
    w.ws.expect_item("devices", MUST, status_of(w.udp, "online"))
        .await;
    assert_eq!(
        osmand_report(
            w.env.device_port("osmand", Transport::Http),
            HTTP_ID,
            START_MS - 1000
        )
        .await,
        200
    );
    w.ws.expect_item("devices", MUST, status_of(w.http, "online"))
        .await;
    assert_eq!(listed_status(&w, w.udp).await, "online");
    assert_eq!(listed_status(&w, w.http).await, "online");

    // Not yet: one millisecond short of the timeout.
    let timeout_ms = i64::try_from(STATUS_TIMEOUT.as_millis()).unwrap();
    w.env.clock.advance(timeout_ms - 1);
    w.ws.expect_no_item("devices", Duration::from_millis(1200), |item| {
        item["status"] == "unknown"
    })
    .await;
    assert_eq!(listed_status(&w, w.udp).await, "online");

    w.env.clock.advance(1);
    // The sweep ticks every 500 ms of real time; both are pushed, maybe
    // in one message.
    let mut pending = vec![w.udp, w.http];
    let deadline = tokio::time::Instant::now() + MUST;
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Got::Json(message) = w.ws.next(left).await else {
            panic!("unknown not pushed for {pending:?}");
        };
        for item in message["devices"].as_array().into_iter().flatten() {
            if item["status"] == "unknown" {
                let id = item["id"].as_i64().unwrap();
                assert!(pending.contains(&id), "unexpected unknown: {item}");
                pending.retain(|&p| p != id);
            }
        }
    }
    assert_eq!(listed_status(&w, w.udp).await, "unknown");
    assert_eq!(listed_status(&w, w.http).await, "unknown");
    assert_eq!(listed_status(&w, w.tcp).await, "offline");

    // Reporting again brings it back online, pushed.
    teltonika_udp(
        w.env.device_port("teltonika", Transport::Udp),
        UDP_IMEI,
        START_MS + 1000,
    )
    .await;
    w.ws.expect_item("devices", MUST, status_of(w.udp, "online"))
        .await;
}
