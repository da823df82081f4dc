//! Real Traccar clients against the real `trackd serve`:
//!
//! * the PyPI client `pytraccar`, 3.0.0 (token auth) and 2.1.1 (password
//!   auth), each once with host `127.0.0.1` and an unsafe cookie jar and once
//!   with `localhost` and aiohttp's default jar: server, devices, geofences,
//!   positions, event reports, and `subscribe()` receiving a position that
//!   `trackd simulate` sends while it listens (tests/python/pytraccar_check.py);
//! * `schemathesis` fuzzing every operation of `/api/openapi.json` as a
//!   regular user with a Bearer token: no 5xx, and status codes, content
//!   types and bodies as documented (tests/python/schemathesis_check.py).
//!
//! The Python environments live in `<target>/py/` and are made by
//! `tests/python/setup.sh` (CI runs it). Without them the test is skipped,
//! unless `CI` is set: then a missing environment is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::free_port;

const TRACKD: &str = env!("CARGO_BIN_EXE_trackd");
const PASSWORD: &str = "correct horse battery staple";
const CLIENT_EMAIL: &str = "client@trackd.test";
const CLIENT_IMEI: &str = "356307042440100";
const FUZZ_IMEI: &str = "356307042440200";

/// `<target>/py`: the cargo target directory holds the binary in
/// `<target>/<profile>/trackd`.
fn python_root() -> PathBuf {
    Path::new(TRACKD)
        .parent()
        .and_then(Path::parent)
        .expect("binary inside a target directory")
        .join("py")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The interpreters of the three environments, or None (skip) when one is
/// missing outside CI.
fn pythons() -> Option<[PathBuf; 3]> {
    let root = python_root();
    let envs = ["pytraccar3", "pytraccar2", "schemathesis"].map(|name| root.join(name));
    let pythons = envs.clone().map(|env| env.join("bin").join("python"));
    let missing: Vec<String> = envs
        .iter()
        .zip(&pythons)
        .filter(|(_, python)| !python.exists())
        .map(|(env, _)| env.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(pythons);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    assert!(
        !in_ci,
        "CI is set but the Python environments {missing:?} are missing: run tests/python/setup.sh"
    );
    eprintln!("skipped: run tests/python/setup.sh (missing {missing:?})");
    None
}

/// Runs a command to completion within `timeout`, printing its output.
fn run(command: &mut Command, what: &str, timeout: Duration) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{what}: spawn: {err}"));
    let (tx, rx) = mpsc::channel::<String>();
    let mut readers = Vec::new();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        }));
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let mut output = String::new();
    let status = loop {
        while let Ok(line) = rx.try_recv() {
            println!("[{what}] {line}");
            output.push_str(&line);
            output.push('\n');
        }
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for reader in readers {
        let _ = reader.join();
    }
    for line in rx.try_iter() {
        println!("[{what}] {line}");
        output.push_str(&line);
        output.push('\n');
    }
    match status {
        Some(status) => (status.success(), output),
        None => {
            println!("[{what}] killed after {timeout:?}");
            (false, output)
        }
    }
}

/// A `trackd` CLI command that must succeed; returns its stdout.
fn cli(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(TRACKD)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("TRACKD_PASSWORD", PASSWORD)
        .output()
        .expect("run trackd");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "trackd {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The number after "with id" in the CLI's "added ... with id N".
fn added_id(stdout: &str) -> i64 {
    stdout
        .trim()
        .rsplit_once("with id ")
        .and_then(|(_, id)| id.trim().parse().ok())
        .unwrap_or_else(|| panic!("no id in {stdout:?}"))
}

/// `trackd serve` on fixed loopback ports; killed when dropped.
struct Serve(Child);

impl Serve {
    fn start(data_dir: &Path, http_port: u16, teltonika_port: u16, extra: &[&str]) -> Serve {
        let mut child = Command::new(TRACKD)
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .args(["--bind", "127.0.0.1"])
            .args(["--http-port", &http_port.to_string()])
            .args(["--teltonika-port", &teltonika_port.to_string()])
            .env("TRACKD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn trackd serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("trackd listening") {
                    let _ = tx.send(());
                }
                eprintln!("[trackd] {line}");
            }
        });
        let serve = Serve(child);
        rx.recv_timeout(Duration::from_secs(60))
            .expect("trackd serve did not start listening");
        serve
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request with a Bearer token and a JSON body; the status and
/// the body.
fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad response {response:?}"));
    (status, body.to_owned())
}

/// Runs `trackd simulate` for one device until it has been acknowledged.
fn simulate(teltonika_port: u16, imei: &str, seconds: u32) {
    let (ok, output) = run(
        Command::new(TRACKD).args([
            "simulate",
            "--target",
            &format!("127.0.0.1:{teltonika_port}"),
            "--devices",
            "1",
            "--rate",
            "2",
            "--duration",
            &seconds.to_string(),
            "--imei-base",
            imei,
        ]),
        "simulate",
        Duration::from_secs(u64::from(seconds) + 30),
    );
    assert!(ok, "trackd simulate failed:\n{output}");
}

#[test]
fn pytraccar_and_schemathesis_against_trackd() {
    let Some([pytraccar3, pytraccar2, schemathesis]) = pythons() else {
        return;
    };
    let scripts = repo_root().join("tests/python");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();

    // Accounts, tokens and the client's device, all from the CLI.
    cli(
        &data_dir,
        &["user", "add", "--admin", "--email", "admin@trackd.test"],
    );
    let client_id = added_id(&cli(&data_dir, &["user", "add", "--email", CLIENT_EMAIL]));
    let fuzz_email = "fuzz@trackd.test";
    cli(&data_dir, &["user", "add", "--email", fuzz_email]);
    let admin_token = cli(
        &data_dir,
        &["token", "create", "--email", "admin@trackd.test"],
    );
    let client_token = cli(&data_dir, &["token", "create", "--email", CLIENT_EMAIL]);
    let fuzz_token = cli(&data_dir, &["token", "create", "--email", fuzz_email]);
    let device_id = added_id(&cli(
        &data_dir,
        &["device", "add", CLIENT_IMEI, "--name", "pytraccar tracker"],
    ));

    let http_port = free_port();
    let teltonika_port = free_port();
    let serve = Serve::start(&data_dir, http_port, teltonika_port, &[]);
    let url = format!("http://127.0.0.1:{http_port}");

    // The administrator links the CLI's device to the client user.
    let (status, body) = http(
        http_port,
        "POST",
        "/api/permissions",
        admin_token.trim(),
        &format!(r#"{{"userId":{client_id},"deviceId":{device_id}}}"#),
    );
    assert_eq!(status, 204, "POST /api/permissions: {body}");

    for (python, label) in [
        (&pytraccar3, "pytraccar 3.0.0"),
        (&pytraccar2, "pytraccar 2.1.1"),
    ] {
        for host_mode in ["ip", "localhost"] {
            let what = format!("{label} {host_mode}");
            let (ok, output) = run(
                Command::new(python)
                    .arg(scripts.join("pytraccar_check.py"))
                    .args(["--url", &url])
                    // `=`: a token may start with `-`, which argparse
                    // would take for an option.
                    .arg(format!("--token={}", client_token.trim()))
                    .args(["--email", CLIENT_EMAIL])
                    .args(["--password", PASSWORD])
                    .args(["--host-mode", host_mode])
                    .args(["--imei", CLIENT_IMEI])
                    .args(["--trackd", TRACKD])
                    .args(["--teltonika-port", &teltonika_port.to_string()]),
                &what,
                Duration::from_secs(90),
            );
            assert!(ok, "{what} failed:\n{output}");
        }
    }

    // The fuzzing user owns a device (created through the API, so it is
    // linked to it) with a few positions, so reads and writes find objects.
    let (status, body) = http(
        http_port,
        "POST",
        "/api/devices",
        fuzz_token.trim(),
        &format!(r#"{{"name":"fuzzed tracker","uniqueId":"{FUZZ_IMEI}"}}"#),
    );
    assert_eq!(status, 200, "POST /api/devices as the fuzz user: {body}");
    simulate(teltonika_port, FUZZ_IMEI, 2);

    // Last: failed logins it provokes count against 127.0.0.1.
    let (ok, output) = run(
        Command::new(&schemathesis)
            .arg(scripts.join("schemathesis_check.py"))
            .args(["--url", &url])
            .arg(format!("--token={}", fuzz_token.trim())),
        "schemathesis",
        Duration::from_secs(240),
    );
    assert!(ok, "schemathesis found problems:\n{output}");
    drop(serve);

    // The same server over HTTPS (a certificate made here, trusted through
    // SSL_CERT_FILE): pytraccar 3 with `ssl=True`, WebSocket included.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let https_port = free_port();
    let tls_args = [
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ];
    let _serve = Serve::start(&data_dir, https_port, teltonika_port, &tls_args);
    for host_mode in ["ip", "localhost"] {
        let what = format!("pytraccar 3.0.0 over HTTPS {host_mode}");
        let (ok, output) = run(
            Command::new(&pytraccar3)
                .arg(scripts.join("pytraccar_check.py"))
                .args(["--url", &format!("https://127.0.0.1:{https_port}")])
                .arg(format!("--token={}", client_token.trim()))
                .args(["--email", CLIENT_EMAIL])
                .args(["--password", PASSWORD])
                .args(["--host-mode", host_mode])
                .args(["--imei", CLIENT_IMEI])
                .args(["--trackd", TRACKD])
                .args(["--teltonika-port", &teltonika_port.to_string()])
                .env("SSL_CERT_FILE", &cert_path),
            &what,
            Duration::from_secs(90),
        );
        assert!(ok, "{what} failed:\n{output}");
    }
}
