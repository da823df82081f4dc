//! What real Traccar clients (pytraccar, Home Assistant) trip over, checked
//! without Python: position keys they index without a default, event
//! reports for no device at all, and JSON errors where axum answers itself.
//! The clients themselves run in crates/trackd/tests/traccar_clients.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use reqwest::{Client, StatusCode};
use serde_json::Value;
use trackd_model::{Link, NewDevice, Position, Protocol, Timestamp, UserFields};
use trackd_server::auth::{new_secret, secret_hash};
use trackd_server::{RunningServer, Server, ServerConfig};
use trackd_store::{Store, StoreConfig};

struct Setup {
    _dir: tempfile::TempDir,
    server: RunningServer,
    token: String,
    device: i64,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig {
        url: format!("sqlite:{}", dir.path().join("trackd.db").display()),
        read_only: false,
    })
    .await
    .unwrap();
    let user = store
        .create_user(
            UserFields {
                name: "client".into(),
                email: "client@clients.test".into(),
                device_limit: -1,
                ..UserFields::default()
            },
            None,
        )
        .await
        .unwrap()
        .id;
    let token = new_secret();
    store
        .create_token(user, &secret_hash(&token), None)
        .await
        .unwrap();
    let device = store
        .add_device(NewDevice {
            unique_id: "356307042440999".into(),
            name: "tracker".into(),
        })
        .await
        .unwrap()
        .id;
    store.link(Link::UserDevice(user, device)).await.unwrap();
    let position = Position {
        protocol: Protocol::Teltonika,
        fix_time: Timestamp::from_millis(1_700_000_000_000),
        device_time: Timestamp::from_millis(1_700_000_000_000),
        server_time: Timestamp::from_millis(1_700_000_000_500),
        valid: true,
        latitude: 54.7,
        longitude: 25.3,
        ..Position::default()
    };
    store
        .append_positions(device, vec![position])
        .await
        .unwrap();
    let config = ServerConfig {
        listeners: Vec::new(),
        http: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..ServerConfig::default()
    };
    let server = Server::new(config, store).start().await.unwrap();
    Setup {
        _dir: dir,
        server,
        token,
        device: device.get(),
    }
}

impl Setup {
    async fn get(&self, path: &str) -> (StatusCode, String, Value) {
        let response = Client::new()
            .get(format!("http://{}{path}", self.server.http.unwrap()))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        (
            status,
            content_type,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test]
async fn positions_carry_every_key_traccar_sends() {
    let setup = setup().await;
    let (status, _, positions) = setup.get("/api/positions").await;
    assert_eq!(status, StatusCode::OK);
    let position = &positions[0];
    assert_eq!(position["deviceId"], setup.device);
    // Home Assistant reads accuracy, address and geofenceIds with [].
    assert_eq!(position["accuracy"], 0.0);
    for key in ["address", "network", "geofenceIds"] {
        assert!(
            position.get(key).is_some_and(Value::is_null),
            "{key} in {position}"
        );
    }
}

#[tokio::test]
async fn event_report_for_no_device_is_empty() {
    // pytraccar's get_reports_events() without devices, and Home Assistant
    // with no devices yet: Traccar answers an empty list.
    let setup = setup().await;
    let range = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00.123456Z";
    for path in ["/api/reports/events", "/api/reports/route"] {
        let (status, _, body) = setup.get(&format!("{path}?{range}")).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body, Value::Array(Vec::new()), "{path}");
    }
    let (status, _, body) = setup
        .get(&format!(
            "/api/reports/route?{range}&deviceId={}",
            setup.device
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn errors_axum_answers_itself_are_json() {
    let setup = setup().await;
    // A plain GET of the WebSocket path: no upgrade headers.
    let (status, content_type, body) = setup.get("/api/socket").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert!(
        body["error"].as_str().unwrap().contains("upgrade"),
        "{body}"
    );
    // A method the path does not have: 405 with Allow, and a JSON body.
    let response = Client::new()
        .patch(format!("http://{}/api/devices", setup.server.http.unwrap()))
        .bearer_auth(&setup.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().contains_key("allow"));
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
}
