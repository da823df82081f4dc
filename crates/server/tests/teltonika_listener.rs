//! The Teltonika listeners over real loopback sockets against a real SQLite
//! store: handshake, acks only after commit, split and merged frames, UDP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use trackd_model::{NewDevice, Timestamp};
use trackd_protocols::teltonika::{
    encode_imei, encode_tcp_frame, encode_udp_packet, AvlRecord, Codec, IoElement, IoValue,
};
use trackd_protocols::Transport;
use trackd_server::{RunningServer, Server, ServerConfig};
use trackd_store::{Store, StoreConfig};

const IMEI: &str = "356307042441013";

struct Harness {
    _dir: tempfile::TempDir,
    server: RunningServer,
}

impl Harness {
    async fn start(register_unknown: bool) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("trackd.db").display());
        let store = Store::open(&StoreConfig {
            url,
            read_only: false,
        })
        .await
        .unwrap();
        store
            .add_device(NewDevice {
                unique_id: IMEI.into(),
                name: "test".into(),
            })
            .await
            .unwrap();
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let config = ServerConfig {
            register_unknown,
            ..ServerConfig::none()
        }
        .listen("teltonika", Transport::Tcp, loopback)
        .listen("teltonika", Transport::Udp, loopback);
        let server = Server::new(config, store).start().await.unwrap();
        Harness { _dir: dir, server }
    }

    fn tcp(&self) -> SocketAddr {
        self.server.listener("teltonika", Transport::Tcp).unwrap()
    }

    async fn stored(&self, unique_id: &str) -> Vec<i64> {
        let store = self.server.store();
        let device = store.device_by_unique_id(unique_id).await.unwrap().unwrap();
        store
            .positions(device.id, Timestamp::MIN, Timestamp::MAX)
            .await
            .unwrap()
            .iter()
            .map(|p| p.position.fix_time.as_millis())
            .collect()
    }
}

fn record(timestamp_ms: u64) -> AvlRecord {
    AvlRecord {
        timestamp_ms,
        priority: 0,
        longitude: 253_000_000,
        latitude: 546_000_000,
        altitude: 120,
        angle: 90,
        satellites: 9,
        speed_kmh: 50,
        event_io_id: 0,
        generation_type: None,
        io: vec![
            IoElement {
                id: 239,
                value: IoValue::U8(1),
            },
            IoElement {
                id: 66,
                value: IoValue::U16(12_800),
            },
        ],
    }
}

fn frames(first_ms: u64, n_frames: usize, per_frame: usize) -> Vec<Vec<u8>> {
    (0..n_frames)
        .map(|f| {
            let records: Vec<AvlRecord> = (0..per_frame)
                .map(|r| record(first_ms + ((f * per_frame + r) as u64) * 1000))
                .collect();
            encode_tcp_frame(Codec::Codec8Ext, &records)
        })
        .collect()
}

async fn handshake(stream: &mut TcpStream, imei: &str) -> u8 {
    stream.write_all(&encode_imei(imei)).await.unwrap();
    let mut reply = [0u8; 1];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut reply))
        .await
        .unwrap()
        .unwrap();
    reply[0]
}

async fn read_ack(stream: &mut TcpStream) -> u32 {
    let mut ack = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut ack))
        .await
        .unwrap()
        .unwrap();
    u32::from_be_bytes(ack)
}

#[tokio::test]
async fn whole_frames_are_acked_with_their_record_count_after_commit() {
    let h = Harness::start(false).await;
    let mut stream = TcpStream::connect(h.tcp()).await.unwrap();
    assert_eq!(handshake(&mut stream, IMEI).await, 0x01);
    for frame in frames(1_700_000_000_000, 3, 4) {
        stream.write_all(&frame).await.unwrap();
        assert_eq!(read_ack(&mut stream).await, 4);
    }
    // The ack came after the commit: the records are readable now.
    assert_eq!(h.stored(IMEI).await.len(), 12);
}

#[tokio::test]
async fn frames_split_byte_by_byte_and_merged_are_all_acked() {
    let h = Harness::start(false).await;
    let mut stream = TcpStream::connect(h.tcp()).await.unwrap();
    assert_eq!(handshake(&mut stream, IMEI).await, 0x01);
    let all = frames(1_700_000_000_000, 4, 3);
    // One frame a byte at a time.
    for byte in &all[0] {
        stream.write_all(std::slice::from_ref(byte)).await.unwrap();
        stream.flush().await.unwrap();
    }
    assert_eq!(read_ack(&mut stream).await, 3);
    // Three frames in one write.
    let merged: Vec<u8> = all[1..].concat();
    stream.write_all(&merged).await.unwrap();
    for _ in 1..4 {
        assert_eq!(read_ack(&mut stream).await, 3);
    }
    assert_eq!(h.stored(IMEI).await.len(), 12);
}

#[tokio::test]
async fn unknown_imei_is_refused_with_zero_and_closed() {
    let h = Harness::start(false).await;
    let mut stream = TcpStream::connect(h.tcp()).await.unwrap();
    assert_eq!(handshake(&mut stream, "359999999999999").await, 0x00);
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .unwrap();
    assert!(
        read.is_err() || rest.is_empty(),
        "connection closed after refusal"
    );
    let device = h
        .server
        .store()
        .device_by_unique_id("359999999999999")
        .await
        .unwrap();
    assert!(device.is_none());
}

#[tokio::test]
async fn unknown_imei_is_registered_when_configured() {
    let h = Harness::start(true).await;
    let mut stream = TcpStream::connect(h.tcp()).await.unwrap();
    assert_eq!(handshake(&mut stream, "359999999999998").await, 0x01);
    stream
        .write_all(&frames(1_700_000_000_000, 1, 2)[0])
        .await
        .unwrap();
    assert_eq!(read_ack(&mut stream).await, 2);
    assert_eq!(h.stored("359999999999998").await.len(), 2);
}

#[tokio::test]
async fn bad_crc_is_not_acked_and_the_resend_is() {
    let h = Harness::start(false).await;
    let mut stream = TcpStream::connect(h.tcp()).await.unwrap();
    assert_eq!(handshake(&mut stream, IMEI).await, 0x01);
    let good = frames(1_700_000_000_000, 1, 2).remove(0);
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    stream.write_all(&bad).await.unwrap();
    stream.write_all(&good).await.unwrap();
    // Only the good frame is acknowledged.
    assert_eq!(read_ack(&mut stream).await, 2);
    let mut extra = [0u8; 4];
    let more = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut extra)).await;
    assert!(more.is_err(), "no second ack");
    assert_eq!(h.stored(IMEI).await.len(), 2);
}

#[tokio::test]
async fn garbage_closes_only_that_connection() {
    let h = Harness::start(false).await;
    let mut good = TcpStream::connect(h.tcp()).await.unwrap();
    assert_eq!(handshake(&mut good, IMEI).await, 0x01);
    let mut bad = TcpStream::connect(h.tcp()).await.unwrap();
    assert_eq!(handshake(&mut bad, IMEI).await, 0x01);
    bad.write_all(&[0xde; 64]).await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), bad.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "garbage connection closed");
    good.write_all(&frames(1_700_000_000_000, 1, 5)[0])
        .await
        .unwrap();
    assert_eq!(read_ack(&mut good).await, 5);
}

#[tokio::test]
async fn resent_frames_are_stored_once() {
    let h = Harness::start(false).await;
    let frame = frames(1_700_000_000_000, 1, 3).remove(0);
    for _ in 0..2 {
        let mut stream = TcpStream::connect(h.tcp()).await.unwrap();
        assert_eq!(handshake(&mut stream, IMEI).await, 0x01);
        stream.write_all(&frame).await.unwrap();
        assert_eq!(read_ack(&mut stream).await, 3);
    }
    assert_eq!(h.stored(IMEI).await.len(), 3);
}

#[tokio::test]
async fn udp_datagrams_are_answered_with_packet_ids_and_count() {
    let h = Harness::start(false).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let records: Vec<AvlRecord> = (0..3)
        .map(|i| record(1_700_000_000_000 + i * 1000))
        .collect();
    let packet = encode_udp_packet(0xcafe, 0x07, IMEI, Codec::Codec8Ext, &records);
    socket
        .send_to(
            &packet,
            h.server.listener("teltonika", Transport::Udp).unwrap(),
        )
        .await
        .unwrap();
    let mut reply = [0u8; 64];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&reply[..n], &[0x00, 0x05, 0xca, 0xfe, 0x01, 0x07, 0x03]);
    assert_eq!(h.stored(IMEI).await.len(), 3);
}
