//! Errors a newcomer meets, each checked on the real binary: the message
//! names the thing that is wrong, once.

mod support;

use std::time::{Duration, Instant};

use support::{run_trackd, trackd_command, DevicePorts};

/// `trackd serve` on loopback with device listeners on `ports`; its stderr
/// when it exits (it must fail).
fn serve_fails(dir: &std::path::Path, ports: &DevicePorts, http_port: u16) -> String {
    let config = ports.write_config(dir, None);
    let data = dir.join("data");
    let (ok, _, stderr) = run_trackd(
        &[
            "serve",
            "--config",
            &config.to_string_lossy(),
            "--data-dir",
            &data.to_string_lossy(),
            "--bind",
            "127.0.0.1",
            "--http-port",
            &http_port.to_string(),
        ],
        &[],
    );
    assert!(!ok, "serve started: {stderr}");
    stderr
}

#[test]
fn device_port_in_use_names_the_listener_and_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let ports = DevicePorts::free();
    let _taken = std::net::TcpListener::bind(("127.0.0.1", ports.teltonika)).unwrap();
    let stderr = serve_fails(dir.path(), &ports, 0);
    let expected = format!(
        "cannot listen for teltonika tcp on 127.0.0.1:{}: address in use",
        ports.teltonika
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn http_port_in_use_names_the_api_and_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let ports = DevicePorts::free();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let stderr = serve_fails(dir.path(), &ports, port);
    let expected = format!("cannot listen for the HTTP API on 127.0.0.1:{port}: address in use");
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn bad_port_in_the_environment_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, _, stderr) = run_trackd(
        &["serve", "--data-dir", &data.to_string_lossy()],
        &[("TRACKD_HTTP_PORT", "abc")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("invalid value \"abc\" in environment variable TRACKD_HTTP_PORT"),
        "{stderr}"
    );
}

#[test]
fn data_dir_under_a_file_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file.txt");
    std::fs::write(&file, "not a directory").unwrap();
    let data = file.join("sub");
    let data = data.to_string_lossy();
    let (ok, _, stderr) = run_trackd(&["serve", "--data-dir", &data], &[]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("cannot create data dir {data}: ")),
        "{stderr}"
    );
    assert!(stderr.contains("not a directory"), "{stderr}");
    assert_eq!(stderr.matches(data.as_ref()).count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn data_dir_without_write_permission_is_named_once() {
    use std::os::unix::fs::PermissionsExt;
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        eprintln!("skipped: running as root, whom permission bits do not stop");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    let data_arg = data.to_string_lossy();
    let (ok, _, stderr) = run_trackd(&["serve", "--data-dir", &data_arg], &[]);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "cannot write to data dir {data_arg}: permission denied"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.matches(data_arg.as_ref()).count(), 1, "{stderr}");
}

#[test]
fn missing_data_dir_of_a_reading_command_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("never-created");
    let data = data.to_string_lossy();
    for args in [
        &["user", "list", "--data-dir", &data][..],
        &["export", "positions", "--device", "1", "--data-dir", &data],
    ] {
        let (ok, _, stderr) = run_trackd(args, &[]);
        assert!(!ok);
        assert!(
            stderr.contains(&format!("data dir {data} does not exist")),
            "{stderr}"
        );
        assert_eq!(stderr.matches(data.as_ref()).count(), 1, "{stderr}");
    }
}

/// `trackd user list --database url`: (stderr, how long it took).
fn open_database(url: &str) -> (String, Duration) {
    let started = Instant::now();
    let (ok, _, stderr) = run_trackd(&["user", "list", "--database", url], &[]);
    assert!(!ok, "{url} opened");
    (stderr, started.elapsed())
}

#[test]
fn postgres_refused_is_named_with_host_and_port_within_5_s() {
    let (stderr, took) = open_database("postgres://127.0.0.1:1/x");
    assert!(
        stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:1: connection refused"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[test]
fn postgres_that_never_answers_is_given_up_after_5_s() {
    // The kernel completes the connection, nobody ever answers it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (stderr, took) = open_database(&format!("postgres://u@127.0.0.1:{port}/x"));
    assert!(
        stderr.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port}: no answer within 5 s"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    drop(silent);
}

#[test]
fn postgres_missing_database_is_named() {
    if !support::postgres_listening() {
        eprintln!("skipped: postgres not listening on 127.0.0.1:5432");
        return;
    }
    let name = format!("trackd_no_such_db_{}", std::process::id());
    let (stderr, took) = open_database(&format!("postgres://postgres@127.0.0.1:5432/{name}"));
    assert!(
        stderr.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:5432: database \"{name}\" does not exist"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[test]
fn postgres_unknown_user_is_an_authentication_failure() {
    if !support::postgres_listening() {
        eprintln!("skipped: postgres not listening on 127.0.0.1:5432");
        return;
    }
    // Under trust authentication a role that does not exist is still
    // refused at login.
    let (stderr, _) = open_database("postgres://no_such_user@127.0.0.1:5432/postgres");
    assert!(
        stderr.contains(
            "cannot connect to PostgreSQL at 127.0.0.1:5432: authentication failed for user \"no_such_user\""
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn unknown_database_scheme_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run_trackd(
        &["user", "list", "--database", "mysql://u:secret@db/x"],
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("database URL scheme \"mysql\" is not supported"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
    // Nothing was created under that name.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(!std::path::Path::new("mysql:").exists());
}

#[test]
fn user_add_without_a_terminal_asks_for_trackd_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_string_lossy();
    let trackd = env!("CARGO_BIN_EXE_trackd");
    // `setsid` detaches the child from the test's controlling terminal, as
    // under a service manager or in CI; stdin is /dev/null.
    let mut command = std::process::Command::new("setsid");
    command
        .args([
            trackd,
            "user",
            "add",
            "--admin",
            "--email",
            "a@example.com",
            "--data-dir",
            &data,
        ])
        .env_remove("TRACKD_PASSWORD")
        .stdin(std::process::Stdio::null());
    let output = match command.output() {
        Ok(output) => output,
        Err(err) => {
            eprintln!("skipped: cannot run setsid ({err})");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("no terminal to read the password from: set TRACKD_PASSWORD"),
        "{stderr}"
    );
    assert!(!stderr.contains("os error"), "{stderr}");
}

#[test]
fn export_into_a_closed_pipe_exits_quietly() {
    use std::io::{BufRead, BufReader};
    use trackd_model::{Attributes, NewDevice, Position, Protocol, Timestamp};
    use trackd_store::{Store, StoreConfig};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Far more lines than a pipe buffers, so export is still writing when
    // the reader leaves.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Store::open(&StoreConfig {
            url: format!("sqlite:{}", data.join("trackd.db").display()),
            read_only: false,
        })
        .await
        .unwrap();
        let device = store
            .add_device(NewDevice {
                unique_id: "356000000000001".into(),
                name: "pipe".into(),
            })
            .await
            .unwrap();
        let start = 1_735_689_600_000;
        let positions: Vec<Position> = (0..20_000)
            .map(|i| Position {
                protocol: Protocol::Teltonika,
                fix_time: Timestamp::from_millis(start + i * 1000),
                device_time: Timestamp::from_millis(start + i * 1000),
                server_time: Timestamp::from_millis(start + i * 1000),
                valid: true,
                latitude: 54.0 + i as f64 * 1e-5,
                longitude: 25.0,
                altitude: 100.0,
                speed: 10.0,
                course: 90.0,
                attributes: Attributes::default(),
            })
            .collect();
        store.append_positions(device.id, positions).await.unwrap();
        store.close().await.unwrap();
    });
    let mut child = trackd_command(
        &[
            "export",
            "positions",
            "--device",
            "356000000000001",
            "--data-dir",
            &data.to_string_lossy(),
        ],
        &[],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // `| head -1`: read one line, then close the pipe.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("latitude"), "{first}");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?} {stderr}", output.status);
    assert!(stderr.is_empty(), "{stderr}");
}
