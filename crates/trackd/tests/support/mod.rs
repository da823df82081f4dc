//! Helpers for tests that run the real `trackd` binary.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A port free for both TCP and UDP on loopback right now.
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Loopback ports of the device listeners of one test server; the same
/// ports across restarts, so simulated devices find the server again.
pub struct DevicePorts {
    /// Teltonika TCP and UDP.
    pub teltonika: u16,
    /// GT06 TCP.
    pub gt06: u16,
    /// OsmAnd HTTP.
    pub osmand: u16,
}

impl DevicePorts {
    /// Free ports for every listener.
    pub fn free() -> DevicePorts {
        DevicePorts {
            teltonika: free_port(),
            gt06: free_port(),
            osmand: free_port(),
        }
    }

    /// Writes the `[[listeners]]` config of these ports into `dir`; with
    /// `tls` (certificate, key) every stream listener speaks TLS instead.
    pub fn write_config(
        &self,
        dir: &std::path::Path,
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> std::path::PathBuf {
        let path = dir.join("listeners.toml");
        let mut text = String::new();
        if let Some((cert, key)) = tls {
            text.push_str(&format!(
                "tls_cert = {:?}\ntls_key = {:?}\n",
                cert.display().to_string(),
                key.display().to_string()
            ));
        }
        for (protocol, transport, port) in [
            ("teltonika", "tcp", self.teltonika),
            ("teltonika", "udp", self.teltonika),
            ("gt06", "tcp", self.gt06),
            ("osmand", "http", self.osmand),
        ] {
            let entry = |port: &str, tls: bool| {
                format!(
                    "[[listeners]]\nprotocol = \"{protocol}\"\ntransport = \"{transport}\"\n{port}tls = {tls}\n"
                )
            };
            if tls.is_some() && transport != "udp" {
                // The plain default listener off, the TLS one on the port.
                text.push_str(&entry("enabled = false\n", false));
                text.push_str(&entry(&format!("port = {port}\n"), true));
            } else {
                text.push_str(&entry(&format!("port = {port}\n"), false));
            }
        }
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A `trackd serve` child process; killed with SIGKILL when dropped.
pub struct TrackdProcess {
    child: Option<Child>,
}

impl TrackdProcess {
    /// Starts `trackd serve` on loopback with its device listeners on
    /// `ports` (config file written to `dir`) and waits until it listens.
    pub fn serve(
        ports: &DevicePorts,
        dir: &std::path::Path,
        store_args: &[String],
    ) -> TrackdProcess {
        TrackdProcess::serve_tls(ports, dir, store_args, None)
    }

    /// [`TrackdProcess::serve`], with TLS (certificate, key) on every
    /// stream listener when given.
    pub fn serve_tls(
        ports: &DevicePorts,
        dir: &std::path::Path,
        store_args: &[String],
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> TrackdProcess {
        let config = ports.write_config(dir, tls);
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
            .args(store_args)
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
        rx.recv_timeout(Duration::from_secs(60))
            .expect("trackd serve did not start listening");
        TrackdProcess { child: Some(child) }
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TrackdProcess {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// A throwaway PostgreSQL database.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Creates a fresh database, or returns None (test skipped) when PostgreSQL
/// is unreachable and TRACKD_REQUIRE_PG is not set.
pub async fn postgres_or_skip() -> Option<TestDatabase> {
    use sqlx::Connection;
    let mut conn = match sqlx::PgConnection::connect(PG_ADMIN_URL).await {
        Ok(conn) => conn,
        Err(err) => {
            if std::env::var_os("TRACKD_REQUIRE_PG").is_some() {
                panic!("postgres unreachable at {PG_ADMIN_URL}: {err}");
            }
            eprintln!("skipped: postgres unreachable ({err})");
            return None;
        }
    };
    let name = format!(
        "trackd_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    Some(TestDatabase {
        url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
        name,
    })
}

impl TestDatabase {
    /// Drops the database (after the test's connections are gone).
    pub async fn drop_database(self) {
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(PG_ADMIN_URL).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

/// Runs `trackd` with `args` (and `envs`, without TRACKD_PASSWORD or a
/// TRACKD_* store setting from the caller's environment) to its end:
/// (exit success, stdout, stderr).
pub fn run_trackd(args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let output = trackd_command(args, envs)
        .stdin(Stdio::null())
        .output()
        .expect("run trackd");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The `trackd` command with a clean TRACKD_* environment plus `envs`.
pub fn trackd_command(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trackd"));
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("TRACKD_") {
            command.env_remove(name);
        }
    }
    command.envs(envs.iter().copied());
    command
}

/// A `trackd serve` whose log lines are kept for the test to read;
/// killed when dropped.
pub struct LoggedServe {
    child: Child,
    /// Every stderr line so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The bound HTTP API port.
    pub http_port: u16,
    /// The device listeners' ports.
    pub ports: DevicePorts,
}

impl LoggedServe {
    /// Starts `trackd serve` with loopback device listeners on free ports
    /// (config written to `dir`), `--http-port 0` and the given extra
    /// arguments, and waits until it listens.
    pub fn start(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> LoggedServe {
        let ports = DevicePorts::free();
        let config = ports.write_config(dir, None);
        let config = config.to_string_lossy().into_owned();
        let mut all = vec!["serve", "--config", &config, "--http-port", "0"];
        all.extend_from_slice(args);
        let mut child = trackd_command(&all, envs)
            .env("TRACKD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn trackd serve");
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[trackd] {line}");
                if line.contains("trackd listening") {
                    let port = line
                        .split_whitespace()
                        .find_map(|field| field.strip_prefix("http="))
                        .and_then(|addr| addr.rsplit(':').next())
                        .and_then(|port| port.parse::<u16>().ok());
                    let _ = tx.send(port);
                }
                kept.lock().unwrap().push(line);
            }
        });
        let http_port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("trackd serve did not start listening")
            .expect("no http=<addr> in the listening line");
        LoggedServe {
            child,
            log,
            http_port,
            ports,
        }
    }

    /// The log so far, one string.
    pub fn log_text(&self) -> String {
        // The lines after "trackd listening" are logged right after it.
        std::thread::sleep(Duration::from_millis(200));
        self.log.lock().unwrap().join("\n")
    }

    /// One HTTP/1.1 request to the API; (status, headers + body text).
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.http_port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, response)
    }
}

impl Drop for LoggedServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether PostgreSQL accepts TCP connections on 127.0.0.1:5432.
pub fn postgres_listening() -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], 5432)),
        Duration::from_secs(2),
    )
    .is_ok()
}
