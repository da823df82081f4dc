//! The GT06 listener over real loopback sockets against a real SQLite
//! store: login and heartbeat acked at once, positions acked only once
//! durable, unknown packet types acked and dropped, bad CRCs not acked,
//! unknown IMEIs refused or registered, frames split byte by byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{create_device, loopback, Env, MUST, START_MS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trackd_model::{Position, Timestamp};
use trackd_protocols::gt06::{encode_gps, encode_login, encode_status, response};
use trackd_protocols::Transport;
use trackd_server::ServerConfig;

const IMEI: &str = "356307042441013";

async fn start(register_unknown: bool) -> Env {
    let config = ServerConfig {
        register_unknown,
        ..ServerConfig::none()
    }
    .listen("gt06", Transport::Tcp, loopback());
    Env::start(config, |store| async move {
        create_device(&store, IMEI).await;
    })
    .await
}

async fn connect(env: &Env) -> TcpStream {
    TcpStream::connect(env.device_port("gt06", Transport::Tcp))
        .await
        .unwrap()
}

/// Reads one `78 78` answer frame, or `None` if nothing comes within `wait`
/// or the connection closes.
async fn read_frame(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    tokio::time::timeout(wait, async {
        let mut head = [0u8; 3];
        stream.read_exact(&mut head).await.ok()?;
        assert_eq!(&head[..2], &[0x78, 0x78], "answer header");
        let mut rest = vec![0u8; usize::from(head[2]) + 2];
        stream.read_exact(&mut rest).await.ok()?;
        let mut frame = head.to_vec();
        frame.extend_from_slice(&rest);
        Some(frame)
    })
    .await
    .ok()
    .flatten()
}

/// The ack trackd owes a packet of type `ty` with `serial`.
fn ack(ty: u8, serial: u16) -> Vec<u8> {
    response(false, ty, serial, &[])
}

fn fix(fix_ms: i64) -> Position {
    Position {
        fix_time: Timestamp::from_millis(fix_ms),
        device_time: Timestamp::from_millis(fix_ms),
        valid: true,
        latitude: 54.687_157,
        longitude: 25.279_652,
        speed: 10.0,
        course: 90.0,
        ..Position::default()
    }
}

async fn logged_in(env: &Env) -> TcpStream {
    let mut stream = connect(env).await;
    stream.write_all(&encode_login(IMEI, 1)).await.unwrap();
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x01, 1)));
    stream
}

#[tokio::test]
async fn login_and_heartbeat_are_acked_at_once_positions_after_commit() {
    let env = start(false).await;
    let mut stream = logged_in(&env).await;

    stream
        .write_all(&encode_status(0x46, 4, 3, 2))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x13, 2)));

    for (i, serial) in (3u16..6).enumerate() {
        let fix_ms = START_MS - 60_000 + i as i64 * 1000;
        stream
            .write_all(&encode_gps(&fix(fix_ms), serial))
            .await
            .unwrap();
        assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x12, serial)));
        // The ack means durable: the record is readable right now.
        let stored = env.stored(IMEI).await;
        assert!(
            stored.contains(&fix_ms),
            "gps {serial} stored when acked: {stored:?}"
        );
    }
    let device = env
        .store()
        .device_by_unique_id(IMEI)
        .await
        .unwrap()
        .unwrap();
    let positions = env
        .store()
        .positions(device.id, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let valid: Vec<_> = positions.iter().filter(|p| p.position.valid).collect();
    assert_eq!(valid.len(), 3);
    let first = &valid[0].position;
    assert!((first.latitude - 54.687_157).abs() < 1e-5);
    assert!((first.longitude - 25.279_652).abs() < 1e-5);
    assert_eq!(
        first.server_time.as_millis(),
        START_MS,
        "server time from the clock"
    );
}

#[tokio::test]
async fn unknown_packet_type_is_acked_and_nothing_is_stored() {
    let env = start(false).await;
    let mut stream = logged_in(&env).await;
    let before = env.stored(IMEI).await.len();
    stream
        .write_all(&response(false, 0x7f, 9, &[1, 2, 3, 4]))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x7f, 9)));
    // The connection lives on: a position after it is acked and stored.
    stream
        .write_all(&encode_gps(&fix(START_MS - 5000), 10))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x12, 10)));
    assert_eq!(env.stored(IMEI).await, vec![START_MS - 5000]);
    assert_eq!(before, 0);
}

#[tokio::test]
async fn bad_crc_is_not_acked_and_the_next_good_frame_is() {
    let env = start(false).await;
    let mut stream = logged_in(&env).await;
    let good = encode_gps(&fix(START_MS - 7000), 20);
    let mut bad = encode_gps(&fix(START_MS - 8000), 21);
    let crc_at = bad.len() - 4;
    bad[crc_at] ^= 0x5a;
    stream.write_all(&bad).await.unwrap();
    stream.write_all(&good).await.unwrap();
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x12, 20)));
    assert_eq!(
        read_frame(&mut stream, Duration::from_millis(300)).await,
        None,
        "no ack for the bad frame"
    );
    assert_eq!(env.stored(IMEI).await, vec![START_MS - 7000]);
}

#[tokio::test]
async fn unknown_imei_is_refused_closed_and_nothing_stored() {
    let env = start(false).await;
    let mut stream = connect(&env).await;
    let stranger = "359999999999999";
    stream.write_all(&encode_login(stranger, 1)).await.unwrap();
    stream
        .write_all(&encode_gps(&fix(START_MS - 1000), 2))
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(MUST, stream.read_to_end(&mut rest))
        .await
        .expect("refused connection closed");
    assert!(
        read.is_err() || rest.is_empty(),
        "nothing acknowledged: {rest:02x?}"
    );
    assert!(env
        .store()
        .device_by_unique_id(stranger)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn unknown_imei_is_registered_when_configured() {
    let env = start(true).await;
    let mut stream = connect(&env).await;
    let stranger = "359999999999998";
    stream.write_all(&encode_login(stranger, 1)).await.unwrap();
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x01, 1)));
    stream
        .write_all(&encode_gps(&fix(START_MS - 3000), 2))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x12, 2)));
    assert_eq!(env.stored(stranger).await, vec![START_MS - 3000]);
}

#[tokio::test]
async fn frames_split_byte_by_byte_are_acked() {
    let env = start(false).await;
    let mut stream = connect(&env).await;
    let mut bytes = encode_login(IMEI, 1);
    bytes.extend(encode_gps(&fix(START_MS - 2000), 2));
    bytes.extend(encode_gps(&fix(START_MS - 1000), 3));
    for byte in &bytes {
        stream.write_all(std::slice::from_ref(byte)).await.unwrap();
        stream.flush().await.unwrap();
    }
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x01, 1)));
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x12, 2)));
    assert_eq!(read_frame(&mut stream, MUST).await, Some(ack(0x12, 3)));
    assert_eq!(
        env.stored(IMEI).await,
        vec![START_MS - 2000, START_MS - 1000]
    );
}
