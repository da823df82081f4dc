//! Issue 4/8 (a newcomer's first ten minutes): the API takes the time forms
//! the CLI takes (`from=2023-11-14`, ISO-8601, epoch milliseconds), and a
//! time it cannot read is a 400 that says which forms it expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::Method;
use support::{api, create_device, create_user, fix, login, start_on, START_MS};
use trackd_server::ServerConfig;

async fn route(
    http: std::net::SocketAddr,
    cookie: &str,
    device: trackd_model::DeviceId,
    range: &str,
) -> (u16, serde_json::Value) {
    let path = format!("/api/reports/route?deviceId={}&{range}", device.0);
    api(http, cookie, Method::GET, &path, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_take_dates_iso_times_and_epoch_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        trackd_store::StoreConfig::new(format!("sqlite:{}", dir.path().join("t.db").display()));
    let store = trackd_store::Store::open(&config).await.unwrap();
    create_user(&store, "admin@example.com", true).await;
    let device = create_device(&store, "dates-1").await;
    // START_MS is 2023-11-14T22:13:20Z: one fix on the 13th, two on the 14th.
    let day = 86_400_000;
    let fixes = vec![
        fix(START_MS - day),
        fix(START_MS - 60_000),
        fix(START_MS - 1_000),
    ];
    store.append_positions(device, fixes).await.unwrap();
    store.close().await.unwrap();
    let (server, _clock) = start_on(&config, ServerConfig::none()).await;
    let http = server.http.unwrap();
    let cookie = login(http, "admin@example.com").await;
    for (range, expected) in [
        ("from=2023-11-14&to=2023-11-15".to_owned(), 2),
        ("from=2023-11-13&to=2023-11-15".to_owned(), 3),
        (
            "from=2023-11-14T00:00:00Z&to=2023-11-15T00:00:00Z".to_owned(),
            2,
        ),
        (format!("from={}&to={}", START_MS - day, START_MS), 3),
    ] {
        let (status, body) = route(http, &cookie, device, &range).await;
        assert_eq!(status, 200, "{range}: {body}");
        assert_eq!(body.as_array().unwrap().len(), expected, "{range}");
    }
    let (status, body) = route(http, &cookie, device, "from=yesterday&to=2023-11-15").await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("from") && error.contains("2024-05-01"),
        "{error}"
    );
    server.shutdown().await.unwrap();
}
