//! Issue 4/8, item 3: slow or idle clients cannot hold the server's
//! sockets. HTTP: a header must arrive within the header timeout, an idle
//! keep-alive connection closes after the idle timeout, connections past
//! the cap get a 503 and the API serves again once one closes. Devices: an
//! unidentified connection closes at the handshake timeout, one that sends
//! more than its handshake can need is closed at once, and devices at
//! their cap leave the API usable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::{create_user, loopback, Env, PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trackd_protocols::Transport;
use trackd_server::ServerConfig;

const SHORT: Duration = Duration::from_millis(600);
/// Longer than any timeout under test: what "closed in time" is held to.
const BOUND: Duration = Duration::from_secs(5);

/// Reads until EOF or reset; how long that took. Panics if the peer keeps
/// the connection open past `BOUND`.
async fn wait_closed(stream: &mut TcpStream) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(BOUND, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (started.elapsed(), got),
            Ok(Ok(n)) => got.extend_from_slice(buf.get(..n).unwrap()),
            Err(_) => panic!("connection still open after {BOUND:?}"),
        }
    }
}

async fn api_server(config: ServerConfig) -> Env {
    Env::start(config, |store| async move {
        create_user(&store, "admin@example.com", true).await;
    })
    .await
}

async fn login_status(http: SocketAddr) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{http}/api/session"))
        .form(&[("email", "admin@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .map_or(0, |response| response.status().as_u16())
}

#[tokio::test]
async fn a_slow_http_header_is_cut_off_at_the_header_timeout() {
    let env = api_server(ServerConfig {
        http_header_timeout: SHORT,
        ..ServerConfig::none()
    })
    .await;
    // A header started and never finished, and a connection that sends
    // nothing at all: both are closed at the header timeout.
    let mut partial = TcpStream::connect(env.http()).await.unwrap();
    partial
        .write_all(b"GET /api/server HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(env.http()).await.unwrap();
    let opened = Instant::now();
    for stream in [&mut partial, &mut silent] {
        wait_closed(stream).await;
    }
    let waited = opened.elapsed();
    assert!(waited >= SHORT.mul_f32(0.8), "closed too early: {waited:?}");
    // A real client is served meanwhile and after.
    assert_eq!(login_status(env.http()).await, 200);
}

#[tokio::test]
async fn a_header_dripped_past_the_timeout_is_closed() {
    let env = api_server(ServerConfig {
        http_header_timeout: SHORT,
        ..ServerConfig::none()
    })
    .await;
    let mut stream = TcpStream::connect(env.http()).await.unwrap();
    stream
        .write_all(b"GET /api/server HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
            closed = true;
            break;
        }
        let mut probe = [0u8; 64];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a dripping header kept the connection for 5 s");
    assert!(started.elapsed() < BOUND);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let env = api_server(ServerConfig {
        http_idle_timeout: SHORT,
        ..ServerConfig::none()
    })
    .await;
    let mut stream = TcpStream::connect(env.http()).await.unwrap();
    stream
        .write_all(b"GET /api/server HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let (idle, answer) = wait_closed(&mut stream).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(idle >= SHORT.mul_f32(0.8), "closed too early: {idle:?}");
}

#[tokio::test]
async fn http_connections_beyond_the_cap_get_503_and_the_api_recovers() {
    let env = api_server(ServerConfig {
        http_max_connections: 4,
        http_header_timeout: Duration::from_secs(30),
        ..ServerConfig::none()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(env.http()).await.unwrap());
    }
    // Let the server accept them all before the one over the cap.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = TcpStream::connect(env.http()).await.unwrap();
    let (_, answer) = wait_closed(&mut over).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(env.server.http_refused() >= 1);
    // One slot frees: the API answers again.
    held.pop();
    let started = Instant::now();
    while login_status(env.http()).await != 200 {
        assert!(started.elapsed() < BOUND, "the API did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn device_config() -> ServerConfig {
    ServerConfig::none().listen("teltonika", Transport::Tcp, loopback())
}

#[tokio::test]
async fn a_silent_unidentified_device_is_closed_after_the_handshake_timeout() {
    let env = api_server(ServerConfig {
        handshake_timeout: SHORT,
        idle_timeout: Duration::from_secs(600),
        ..device_config()
    })
    .await;
    let mut stream = TcpStream::connect(env.device_port("teltonika", Transport::Tcp))
        .await
        .unwrap();
    let (waited, _) = wait_closed(&mut stream).await;
    assert!(waited >= SHORT.mul_f32(0.8), "closed too early: {waited:?}");
}

#[tokio::test]
async fn a_device_that_sends_more_than_a_handshake_without_identifying_is_closed() {
    let env = api_server(ServerConfig {
        handshake_timeout: Duration::from_secs(30),
        ..ServerConfig::none().listen("gt06", Transport::Tcp, loopback())
    })
    .await;
    let mut stream = TcpStream::connect(env.device_port("gt06", Transport::Tcp))
        .await
        .unwrap();
    // A GT06 extended frame promising 60 KiB before any login, then 1,000
    // bytes: the listener must not buffer toward the whole frame.
    let mut junk = vec![0x79, 0x79, 0xF0, 0x00];
    junk.extend(std::iter::repeat_n(b'7', 1000));
    let _ = stream.write_all(&junk).await;
    let (waited, _) = wait_closed(&mut stream).await;
    assert!(waited < Duration::from_secs(3), "held for {waited:?}");
}

#[tokio::test]
async fn devices_at_their_cap_leave_the_api_usable() {
    let env = api_server(ServerConfig {
        max_connections: 3,
        handshake_timeout: Duration::from_secs(30),
        ..device_config()
    })
    .await;
    let addr = env.device_port("teltonika", Transport::Tcp);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The fourth device is closed at once, the API still logs users in.
    let mut over = TcpStream::connect(addr).await.unwrap();
    let (waited, _) = wait_closed(&mut over).await;
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(login_status(env.http()).await, 200);
}
