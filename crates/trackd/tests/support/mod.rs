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
