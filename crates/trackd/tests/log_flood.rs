//! Issue 4/8, item 9, against the real binary: a flood of garbage
//! datagrams writes a bounded number of log lines and a "suppressed N"
//! summary, and a device cannot forge a log line through a newline in its
//! Codec 12 response.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::DevicePorts;
use trackd_protocols::teltonika::{encode_codec12_response, encode_imei};

const GARBAGE: usize = 5_000;
const FAKE: &str = "2026-12-03T00:00:00.000000Z ERROR trackd_server: forged line";

#[test]
fn floods_are_summarised_and_device_text_cannot_forge_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let ports = DevicePorts::free();
    let config = ports.write_config(dir.path(), None);
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trackd"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .args([
            "--bind",
            "127.0.0.1",
            "--http-port",
            "0",
            "--register-unknown",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("TRACKD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let started = Instant::now();
    while !read_log().contains("trackd listening") {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "did not start: {}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = read_log().lines().count();

    // A device whose Codec 12 response carries a newline and a fake line.
    let mut device = TcpStream::connect(("127.0.0.1", ports.teltonika)).unwrap();
    device
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    device.write_all(&encode_imei("356307042441077")).unwrap();
    let mut accepted = [0u8; 1];
    device.read_exact(&mut accepted).unwrap();
    assert_eq!(accepted[0], 1);
    device
        .write_all(&encode_codec12_response(&format!("ok\n{FAKE}\r\n")))
        .unwrap();

    // Garbage datagrams, each a rejected "frame".
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in 0..GARBAGE {
        let junk = [0xde, 0xad, (n % 251) as u8, 0xbe, 0xef, 0x00, 0x01];
        socket
            .send_to(&junk, ("127.0.0.1", ports.teltonika))
            .unwrap();
        if n % 500 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // The summary comes at the end of the rate limit's 10 s window.
    let started = Instant::now();
    while !read_log().contains("similar log lines") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no suppressed summary: {}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = read_log();
    let written = text.lines().count() - before;
    assert!(
        written < 200,
        "{GARBAGE} garbage datagrams wrote {written} lines:\n{text}"
    );
    assert!(
        text.lines().all(|line| !line.starts_with(FAKE)),
        "a device forged a log line:\n{text}"
    );
    assert!(
        text.contains("ok\\n2026-12-03"),
        "notice not logged escaped:\n{text}"
    );
}
