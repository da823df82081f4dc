//! `trackd serve` with TLS, as a process: a bad certificate is one error
//! line and no start; SIGHUP reloads the certificate, and a failed reload
//! is one error line while the server keeps running.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rcgen::{CertificateParams, KeyPair};
use support::DevicePorts;

const TRACKD: &str = env!("CARGO_BIN_EXE_trackd");

/// A self-signed certificate for 127.0.0.1 (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

fn serve_command(dir: &Path, ports: &DevicePorts) -> Command {
    let config = ports.write_config(dir, Some((&dir.join("cert.pem"), &dir.join("key.pem"))));
    let mut command = Command::new(TRACKD);
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--bind", "127.0.0.1", "--http-port", "0"])
        .env("TRACKD_LOG", "info")
        .env_remove("TRACKD_TLS_CERT")
        .env_remove("TRACKD_TLS_KEY");
    command
}

#[test]
fn a_key_of_another_certificate_is_one_error_line_and_no_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = self_signed();
    let (_, other_key) = self_signed();
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), other_key).unwrap();
    let output = serve_command(dir.path(), &DevicePorts::free())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("does not match"), "{stderr}");
    assert!(errors[0].contains("key.pem"), "{stderr}");
}

#[test]
fn sighup_reloads_the_certificate_and_a_failed_reload_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let mut child = serve_command(dir.path(), &DevicePorts::free())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[trackd] {line}");
            let _ = tx.send(line);
        }
    });
    let wait_for = |what: &str| loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no log line with {what:?}"));
        if line.contains(what) {
            return line;
        }
    };
    wait_for("trackd listening");
    let hangup = || {
        let status = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };

    let (cert, key) = self_signed();
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    hangup();
    wait_for("TLS certificate reloaded");

    std::fs::write(dir.path().join("cert.pem"), "garbage").unwrap();
    hangup();
    let line = wait_for("TLS reload failed");
    assert!(line.contains("cert.pem"), "{line}");
    assert!(line.contains("ERROR"), "{line}");

    // Still running.
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none(), "trackd exited");
    let _ = child.kill();
    let _ = child.wait();
}
