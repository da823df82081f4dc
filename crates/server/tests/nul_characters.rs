//! Issue 4/8, item 10: a NUL character anywhere the API reads text (form
//! and JSON bodies, query strings, Basic credentials) is a JSON 400 at the
//! edge on both backends; on PostgreSQL it used to be a 500 (even the login
//! form's email), and nothing with a NUL is ever stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use support::{both_backends, create_user, login, start_on, Backend};
use trackd_server::ServerConfig;

async fn expect_400(what: &str, backend: &str, request: RequestBuilder) {
    let response: Response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 400, "{what} on {backend}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("NUL"),
        "{what} on {backend}: {body}"
    );
}

async fn check(http: SocketAddr, cookie: &str, backend: &str) {
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{http}{path}");
    let with_cookie =
        |method: Method, path: &str| client.request(method, url(path)).header("Cookie", cookie);

    // The login form, raw and percent-encoded.
    expect_400(
        "login email",
        backend,
        client
            .post(url("/api/session"))
            .form(&[("email", "admin\0@example.com"), ("password", "x")]),
    )
    .await;
    expect_400(
        "login password",
        backend,
        client
            .post(url("/api/session"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("email=admin%40example.com&password=a%00b"),
    )
    .await;
    // HTTP Basic credentials.
    expect_400(
        "basic email",
        backend,
        client
            .get(url("/api/devices"))
            .basic_auth("admin\0@example.com", Some("x")),
    )
    .await;
    // JSON bodies: a value, a nested attribute key.
    expect_400(
        "user name",
        backend,
        with_cookie(Method::POST, "/api/users").json(&json!({
            "name": "bad\u{0}name", "email": "n@example.com", "password": "a long password"
        })),
    )
    .await;
    expect_400(
        "device attribute key",
        backend,
        with_cookie(Method::POST, "/api/devices").json(&json!({
            "name": "van", "uniqueId": "nul-1", "attributes": { "k\u{0}": 1 }
        })),
    )
    .await;
    expect_400(
        "server attributes",
        backend,
        with_cookie(Method::PUT, "/api/server")
            .json(&json!({ "attributes": { "note": ["\u{0}"] } })),
    )
    .await;
    // Query strings, for any route.
    expect_400(
        "keyword",
        backend,
        with_cookie(Method::GET, "/api/devices?keyword=%00"),
    )
    .await;
    expect_400(
        "session token",
        backend,
        client.get(url("/api/session?token=abc%00def")),
    )
    .await;
    expect_400(
        "token expiration",
        backend,
        with_cookie(Method::POST, "/api/session/token")
            .form(&[("expiration", "2030-01-01T00:00:00Z\0")]),
    )
    .await;

    // Nothing was stored, and the same requests without the NUL work.
    let (status, devices) = support::api(http, cookie, Method::GET, "/api/devices", None).await;
    assert_eq!(status, 200, "{backend}");
    assert_eq!(devices, json!([]), "{backend}");
    let (status, _) = support::api(
        http,
        cookie,
        Method::POST,
        "/api/devices",
        Some(json!({ "name": "van", "uniqueId": "nul-1", "attributes": { "k": 1 } })),
    )
    .await;
    assert_eq!(status, 200, "{backend}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_a_400_on_both_backends() {
    for backend in both_backends().await {
        let config = backend.config();
        let store = trackd_store::Store::open(&config).await.unwrap();
        create_user(&store, "admin@example.com", true).await;
        store.close().await.unwrap();
        let (server, _clock) = start_on(&config, ServerConfig::none()).await;
        let http = server.http.unwrap();
        let cookie = login(http, "admin@example.com").await;
        check(http, &cookie, backend.name()).await;
        server.shutdown().await.unwrap();
        if let Backend::Postgres(pg) = &backend {
            pg.drop_database().await;
        }
    }
}
