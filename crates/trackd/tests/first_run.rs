//! A newcomer's first run of `trackd serve`: what the log says to do next,
//! the demo administrator, `newServer`, the front page and simulating
//! devices against a server that refuses unknown ones.

mod support;

use support::{run_trackd, LoggedServe};

fn data_dir_arg(dir: &tempfile::TempDir) -> String {
    dir.path().join("data").to_string_lossy().into_owned()
}

#[test]
fn serve_logs_the_url_to_open_and_how_to_create_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir_arg(&dir);
    let serve = LoggedServe::start(dir.path(), &["--data-dir", &data], &[]);
    let log = serve.log_text();
    // Bound to 0.0.0.0 (the default): the URL to open is on loopback.
    let url = format!("open http://127.0.0.1:{}/", serve.http_port);
    assert!(log.contains(&url), "{log}");
    // The address prints plainly, not as `Some(...)`.
    assert!(
        log.contains(&format!("http=0.0.0.0:{}", serve.http_port)),
        "{log}"
    );
    assert!(!log.contains("Some("), "{log}");
    assert!(
        log.contains("TRACKD_PASSWORD='...' cargo run --release -p trackd -- user add --admin --email EMAIL --config"),
        "{log}"
    );
    assert!(log.contains(&format!("--data-dir {data}")), "{log}");
    assert!(log.contains("--admin-email EMAIL"), "{log}");
    assert!(log.contains("TRACKD_ADMIN_PASSWORD"), "{log}");
}

#[test]
fn serve_says_nothing_about_a_first_admin_once_users_exist() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir_arg(&dir);
    let (ok, _, stderr) = run_trackd(
        &[
            "user",
            "add",
            "--admin",
            "--email",
            "a@example.com",
            "--data-dir",
            &data,
        ],
        &[("TRACKD_PASSWORD", "correct horse")],
    );
    assert!(ok, "{stderr}");
    let serve = LoggedServe::start(dir.path(), &["--data-dir", &data], &[]);
    let log = serve.log_text();
    assert!(log.contains("open http://127.0.0.1:"), "{log}");
    assert!(!log.contains("no users yet"), "{log}");
}

/// The password of the demo administrator in `log`, if it was printed.
fn demo_password(log: &str) -> Option<String> {
    let line = log
        .lines()
        .find(|line| line.contains("demo administrator created"))?;
    let after = line.split(" with password ").nth(1)?;
    Some(after.split_whitespace().next()?.to_owned())
}

#[test]
fn serve_demo_creates_an_admin_and_shows_its_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir_arg(&dir);
    let args = ["--data-dir", &data, "--demo", "--demo-devices", "1"];
    let serve = LoggedServe::start(dir.path(), &args, &[]);
    let log = serve.log_text();
    let password = demo_password(&log).unwrap_or_else(|| panic!("no demo password: {log}"));
    assert_eq!(password.len(), 16, "{password}");
    let url = format!("http://127.0.0.1:{}/", serve.http_port);
    let line = log
        .lines()
        .find(|line| line.contains("demo administrator created"))
        .unwrap();
    assert!(
        line.contains(&url) && line.contains("admin@demo.local"),
        "{line}"
    );
    assert_eq!(log.matches(&password).count(), 1, "{log}");
    let (status, response) = serve.http(
        "POST",
        "/api/session",
        Some(&format!("email=admin%40demo.local&password={password}")),
    );
    assert_eq!(status, 200, "{response}");
    drop(serve);

    // A later start: a user exists, so no new admin and no password.
    let serve = LoggedServe::start(dir.path(), &args, &[]);
    let log = serve.log_text();
    assert_eq!(demo_password(&log), None, "{log}");
    assert!(!log.contains(&password), "{log}");
    assert!(!log.contains("no users yet"), "{log}");
}

#[test]
fn serve_demo_creates_no_admin_when_users_exist() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir_arg(&dir);
    let (ok, _, stderr) = run_trackd(
        &[
            "user",
            "add",
            "--email",
            "u@example.com",
            "--data-dir",
            &data,
        ],
        &[("TRACKD_PASSWORD", "correct horse")],
    );
    assert!(ok, "{stderr}");
    let args = ["--data-dir", &data, "--demo", "--demo-devices", "1"];
    let serve = LoggedServe::start(dir.path(), &args, &[]);
    let log = serve.log_text();
    assert_eq!(demo_password(&log), None, "{log}");
    let (ok, stdout, _) = run_trackd(&["user", "list", "--data-dir", &data], &[]);
    assert!(ok);
    assert!(!stdout.contains("admin@demo.local"), "{stdout}");
}

#[test]
fn new_server_is_true_until_the_first_user_and_the_front_page_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir_arg(&dir);
    let serve = LoggedServe::start(dir.path(), &["--data-dir", &data], &[]);
    let (status, server) = serve.http("GET", "/api/server", None);
    assert_eq!(status, 200, "{server}");
    assert!(server.contains("\"newServer\":true"), "{server}");
    let (status, page) = serve.http("GET", "/", None);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.to_lowercase().contains("content-type: text/html"),
        "{page}"
    );
    assert!(page.contains("This is trackd"), "{page}");
    assert!(page.contains("/api/openapi.json"), "{page}");
    assert!(page.contains("There are no users yet"), "{page}");
    assert!(page.contains("user add --admin --email"), "{page}");

    let (ok, _, stderr) = run_trackd(
        &[
            "user",
            "add",
            "--admin",
            "--email",
            "a@example.com",
            "--data-dir",
            &data,
        ],
        &[("TRACKD_PASSWORD", "correct horse")],
    );
    assert!(ok, "{stderr}");
    let (_, server) = serve.http("GET", "/api/server", None);
    assert!(server.contains("\"newServer\":false"), "{server}");
    let (status, page) = serve.http("GET", "/", None);
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("There are no users yet"), "{page}");
}

#[test]
fn simulate_against_refused_devices_says_how_to_register_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir_arg(&dir);
    let serve = LoggedServe::start(dir.path(), &["--data-dir", &data], &[]);
    let target = format!("127.0.0.1:{}", serve.ports.teltonika);
    let simulate = [
        "simulate",
        "--target",
        &target,
        "--devices",
        "3",
        "--duration",
        "3",
    ];
    let (_, stdout, stderr) = run_trackd(&simulate, &[]);
    assert!(stdout.contains("refused devices: 3"), "{stdout}{stderr}");
    assert!(stdout.contains("trackd device add <IMEI>"), "{stdout}");
    assert!(stdout.contains("--register"), "{stdout}");
    assert!(stdout.contains("register_unknown = true"), "{stdout}");
}

#[test]
fn simulate_register_registers_the_devices_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir_arg(&dir);
    let serve = LoggedServe::start(dir.path(), &["--data-dir", &data], &[]);
    let target = format!("127.0.0.1:{}", serve.ports.teltonika);
    let simulate = [
        "simulate",
        "--target",
        &target,
        "--devices",
        "3",
        "--duration",
        "3",
        "--register",
        "--data-dir",
        &data,
    ];
    let (ok, stdout, stderr) = run_trackd(&simulate, &[]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("registered 3 devices"), "{stdout}");
    assert!(stdout.contains("refused devices: 0"), "{stdout}");
    assert!(!stdout.contains("records: 0 sent"), "{stdout}");
    let (_, devices, _) = run_trackd(&["device", "list", "--data-dir", &data], &[]);
    assert_eq!(devices.lines().count(), 3, "{devices}");
    // Again: already registered, still accepted.
    let (ok, stdout, stderr) = run_trackd(&simulate, &[]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("registered 0 devices (3 were already registered)"),
        "{stdout}"
    );
}
