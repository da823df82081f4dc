//! What the ingest, presence, revocation and shutdown tests share: a real
//! server on ephemeral loopback ports over a temporary SQLite store, on a
//! manual clock; device clients that speak the real wire formats; a
//! WebSocket client that waits for pushes with a deadline.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trackd_model::{DeviceFields, DeviceId, ManualClock, Position, Timestamp, UserFields, UserId};
use trackd_protocols::teltonika::{
    encode_imei, encode_tcp_frame, encode_udp_packet, AvlRecord, Codec,
};
use trackd_protocols::Transport;
use trackd_server::auth::hash_password;
use trackd_server::{RunningServer, Server, ServerConfig};
use trackd_store::{Store, StoreConfig};

/// Every test user's password.
pub(crate) const PASSWORD: &str = "correct horse battery";
/// Where the manual clock starts: 2023-11-14T22:13:20Z.
pub(crate) const START_MS: i64 = 1_700_000_000_000;
/// How long a test waits for something that must happen.
pub(crate) const MUST: Duration = Duration::from_secs(5);

/// A temporary store directory.
pub(crate) struct Db {
    pub(crate) dir: tempfile::TempDir,
}

impl Db {
    pub(crate) fn new() -> Db {
        Db {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn config(&self) -> StoreConfig {
        StoreConfig {
            url: format!("sqlite:{}", self.dir.path().join("trackd.db").display()),
            read_only: false,
        }
    }

    pub(crate) async fn open(&self) -> Store {
        Store::open(&self.config()).await.unwrap()
    }
}

/// A running server with its store directory and clock.
pub(crate) struct Env {
    pub(crate) db: Db,
    pub(crate) server: RunningServer,
    pub(crate) clock: Arc<ManualClock>,
}

/// The loopback address on an ephemeral port.
pub(crate) fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl Env {
    /// Opens a fresh store, lets `setup` fill it, then starts `config`
    /// (with the HTTP API on loopback) on a manual clock.
    pub(crate) async fn start<F, Fut>(config: ServerConfig, setup: F) -> Env
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let db = Db::new();
        let store = db.open().await;
        setup(store.clone()).await;
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START_MS)));
        let config = ServerConfig {
            http: Some(loopback()),
            ..config
        };
        let server = Server::with_clock(config, store, clock.clone())
            .start()
            .await
            .unwrap();
        Env { db, server, clock }
    }

    pub(crate) fn store(&self) -> &Store {
        self.server.store()
    }

    pub(crate) fn http(&self) -> SocketAddr {
        self.server.http.unwrap()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http())
    }

    pub(crate) fn device_port(&self, protocol: &str, transport: Transport) -> SocketAddr {
        self.server.listener(protocol, transport).unwrap()
    }

    /// Fix times (ms) of the device's stored positions, in store order.
    pub(crate) async fn stored(&self, unique_id: &str) -> Vec<i64> {
        stored(self.store(), unique_id).await
    }

    /// Logs in and returns the `JSESSIONID=...` cookie pair.
    pub(crate) async fn login(&self, email: &str) -> String {
        login(self.http(), email).await
    }
}

/// Fix times (ms) of a device's stored positions; empty if it is unknown.
pub(crate) async fn stored(store: &Store, unique_id: &str) -> Vec<i64> {
    let Some(device) = store.device_by_unique_id(unique_id).await.unwrap() else {
        return Vec::new();
    };
    store
        .positions(device.id, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap()
        .iter()
        .map(|p| p.position.fix_time.as_millis())
        .collect()
}

/// Creates a user with [`PASSWORD`].
pub(crate) async fn create_user(store: &Store, email: &str, administrator: bool) -> UserId {
    store
        .create_user(
            UserFields {
                name: email.into(),
                email: email.into(),
                administrator,
                device_limit: -1,
                user_limit: if administrator { -1 } else { 0 },
                ..UserFields::default()
            },
            Some(hash_password(PASSWORD).unwrap()),
        )
        .await
        .unwrap()
        .id
}

/// Creates a device.
pub(crate) async fn create_device(store: &Store, unique_id: &str) -> DeviceId {
    store
        .create_device(DeviceFields {
            name: format!("device {unique_id}"),
            unique_id: unique_id.into(),
            ..DeviceFields::default()
        })
        .await
        .unwrap()
        .id
}

/// Logs in at `http` and returns the `JSESSIONID=...` cookie pair.
pub(crate) async fn login(http: SocketAddr, email: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("http://{http}/api/session"))
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "login of {email}");
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// An API call with a session cookie; returns status and JSON body (Null if none).
pub(crate) async fn api(
    http: SocketAddr,
    cookie: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{http}{path}"))
        .header("Cookie", cookie);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, value)
}

/// A WebSocket client of `/api/socket`.
pub(crate) struct Ws {
    pub(crate) socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What a socket delivered while waiting.
#[derive(Debug)]
pub(crate) enum Got {
    /// A JSON text message.
    Json(Value),
    /// The server closed (with this close code, if any) or the stream ended.
    Closed(Option<u16>),
    /// Nothing within the time.
    Nothing,
}

impl Ws {
    /// Opens `/api/socket` with a header (`Cookie` or `Authorization`).
    pub(crate) async fn connect(http: SocketAddr, header: &'static str, value: &str) -> Ws {
        let mut request = format!("ws://{http}/api/socket")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(header, value.parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Ws { socket }
    }

    /// The next JSON message or close, waiting up to `wait`.
    pub(crate) async fn next(&mut self, wait: Duration) -> Got {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Ok(message) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
                return Got::Nothing;
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Got::Json(serde_json::from_str(&text).unwrap());
                }
                Some(Ok(Message::Close(frame))) => {
                    return Got::Closed(frame.map(|f| u16::from(f.code)));
                }
                None | Some(Err(_)) => return Got::Closed(None),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Waits up to `wait` for a message one of whose `list` items
    /// (`positions`, `devices`) matches; returns that item. Panics on close
    /// or timeout.
    pub(crate) async fn expect_item(
        &mut self,
        list: &str,
        wait: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Got::Json(value) => {
                    if let Some(item) = value[list]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|item| matches(item))
                    {
                        return item.clone();
                    }
                }
                other => panic!("expected a matching {list} item, got {other:?}"),
            }
        }
    }

    /// Asserts that within `wait` no `list` item matching arrives; returns
    /// how the wait ended (`Nothing` or `Closed`).
    pub(crate) async fn expect_no_item(
        &mut self,
        list: &str,
        wait: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Got {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Got::Json(value) => {
                    let found = value[list].as_array().into_iter().flatten().any(&matches);
                    assert!(!found, "unexpected {list} item: {value}");
                }
                other => return other,
            }
        }
    }
}

/// A position item of this device and fix time (ISO, as the API renders it).
pub(crate) fn position_of(device_id: i64, fix_ms: i64) -> impl Fn(&Value) -> bool {
    let fix = iso(fix_ms);
    move |item: &Value| item["deviceId"].as_i64() == Some(device_id) && item["fixTime"] == *fix
}

/// Any position item of this device.
pub(crate) fn any_position_of(device_id: i64) -> impl Fn(&Value) -> bool {
    move |item: &Value| item["deviceId"].as_i64() == Some(device_id)
}

/// A device item of this id with this status.
pub(crate) fn status_of(device_id: i64, status: &'static str) -> impl Fn(&Value) -> bool {
    move |item: &Value| item["id"].as_i64() == Some(device_id) && item["status"] == status
}

/// Traccar's rendering of a UTC time in milliseconds.
/// A valid fix at `ms` (fix, device and server time), near Vilnius; the
/// latitude varies a little with the time so records differ in content.
pub(crate) fn fix(ms: i64) -> Position {
    Position {
        fix_time: Timestamp::from_millis(ms),
        device_time: Timestamp::from_millis(ms),
        server_time: Timestamp::from_millis(ms),
        valid: true,
        latitude: 54.6 + (ms % 1000) as f64 * 1e-5,
        longitude: 25.3,
        ..Position::default()
    }
}

pub(crate) fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3f+00:00")
        .to_string()
}

/// A Teltonika record at `timestamp_ms`.
pub(crate) fn avl(timestamp_ms: i64) -> AvlRecord {
    AvlRecord {
        timestamp_ms: timestamp_ms as u64,
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
    }
}

/// A Teltonika TCP device connection past its handshake.
pub(crate) struct Teltonika {
    pub(crate) stream: TcpStream,
}

impl Teltonika {
    /// Connects and identifies; panics unless accepted.
    pub(crate) async fn connect(addr: SocketAddr, imei: &str) -> Teltonika {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&encode_imei(imei)).await.unwrap();
        let mut reply = [0u8; 1];
        tokio::time::timeout(MUST, stream.read_exact(&mut reply))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply[0], 1, "{imei} accepted");
        Teltonika { stream }
    }

    /// Sends one record and waits for its ack.
    pub(crate) async fn report(&mut self, timestamp_ms: i64) {
        let frame = encode_tcp_frame(Codec::Codec8Ext, &[avl(timestamp_ms)]);
        self.stream.write_all(&frame).await.unwrap();
        let mut ack = [0u8; 4];
        tokio::time::timeout(MUST, self.stream.read_exact(&mut ack))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u32::from_be_bytes(ack), 1);
    }
}

/// Sends one Teltonika UDP datagram with one record and waits for its answer.
pub(crate) async fn teltonika_udp(addr: SocketAddr, imei: &str, timestamp_ms: i64) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let packet = encode_udp_packet(1, 1, imei, Codec::Codec8Ext, &[avl(timestamp_ms)]);
    socket.send_to(&packet, addr).await.unwrap();
    let mut reply = [0u8; 64];
    let (n, _) = tokio::time::timeout(MUST, socket.recv_from(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply[..n].last(), Some(&1), "one record acknowledged");
}

/// Sends one OsmAnd query report; returns the status.
pub(crate) async fn osmand_report(addr: SocketAddr, unique_id: &str, fix_ms: i64) -> u16 {
    let position = Position {
        fix_time: Timestamp::from_millis(fix_ms),
        device_time: Timestamp::from_millis(fix_ms),
        valid: true,
        latitude: 54.6,
        longitude: 25.3,
        ..Position::default()
    };
    let query = trackd_protocols::osmand::encode_query(&position, unique_id);
    reqwest::Client::new()
        .post(format!("http://{addr}/?{query}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A store on either backend for tests that must hold on both.
pub(crate) enum Backend {
    /// A temporary SQLite file.
    Sqlite(Db),
    /// A throwaway PostgreSQL database, dropped at the end.
    Postgres(PgDatabase),
}

impl Backend {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    pub(crate) fn config(&self) -> StoreConfig {
        match self {
            Backend::Sqlite(db) => db.config(),
            Backend::Postgres(pg) => StoreConfig {
                url: pg.url.clone(),
                read_only: false,
            },
        }
    }
}

/// SQLite, and PostgreSQL at 127.0.0.1:5432 unless it is unreachable and
/// `TRACKD_REQUIRE_PG` is not set (then the PostgreSQL half is skipped).
pub(crate) async fn both_backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite(Db::new())];
    if let Some(pg) = PgDatabase::create_or_skip().await {
        backends.push(Backend::Postgres(pg));
    }
    backends
}

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A throwaway PostgreSQL database.
pub(crate) struct PgDatabase {
    pub(crate) url: String,
    name: String,
}

impl PgDatabase {
    async fn create_or_skip() -> Option<PgDatabase> {
        use sqlx::Connection as _;
        let connect = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(PG_ADMIN_URL),
        )
        .await;
        let mut conn = match connect {
            Ok(Ok(conn)) => conn,
            failed => {
                let why = match failed {
                    Ok(Err(err)) => err.to_string(),
                    _ => "timeout".to_owned(),
                };
                if std::env::var_os("TRACKD_REQUIRE_PG").is_some() {
                    panic!("postgres required (TRACKD_REQUIRE_PG) but unreachable: {why}");
                }
                eprintln!("skipped postgres half: unreachable ({why})");
                return None;
            }
        };
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!(
            "trackd_server_test_{}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .unwrap();
        Some(PgDatabase {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        })
    }

    /// Drops the database (after the test's connections are closed).
    pub(crate) async fn drop_database(&self) {
        use sqlx::Connection as _;
        if let Ok(mut conn) = sqlx::PgConnection::connect(PG_ADMIN_URL).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

/// Starts `config` (HTTP API on loopback) over a store opened at `store`,
/// on a manual clock.
pub(crate) async fn start_on(
    store: &StoreConfig,
    config: ServerConfig,
) -> (RunningServer, Arc<ManualClock>) {
    let store = Store::open(store).await.unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START_MS)));
    let config = ServerConfig {
        http: Some(loopback()),
        ..config
    };
    let server = Server::with_clock(config, store, clock.clone())
        .start()
        .await
        .unwrap();
    (server, clock)
}

/// Logs in from a chosen source address (any 127.0.0.0/8 address works on
/// loopback); returns the status and, on success, the cookie pair.
pub(crate) async fn login_from(
    http: SocketAddr,
    from: std::net::IpAddr,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> (u16, Option<String>, Option<String>) {
    let client = reqwest::Client::builder()
        .local_address(from)
        .build()
        .unwrap();
    let mut request = client
        .post(format!("http://{http}/api/session"))
        .form(&[("email", email), ("password", password)]);
    if let Some(forwarded) = forwarded_for {
        request = request.header("X-Forwarded-For", forwarded);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    (status, cookie, retry_after)
}
