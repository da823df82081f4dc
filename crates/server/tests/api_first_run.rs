//! Before the first user: `newServer` is true (as in Traccar) and `GET /`
//! is a page saying what this is and how to create that user; both change
//! once a user exists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use serde_json::Value;
use trackd_model::UserFields;
use trackd_server::{Server, ServerConfig};
use trackd_store::{Store, StoreConfig};

#[tokio::test]
async fn new_server_and_front_page_follow_the_first_user() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig {
        url: format!("sqlite:{}", dir.path().join("trackd.db").display()),
        read_only: false,
    })
    .await
    .unwrap();
    let config = ServerConfig {
        listeners: Vec::new(),
        http: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..ServerConfig::default()
    };
    let server = Server::new(config, store.clone()).start().await.unwrap();
    let base = format!("http://{}", server.http.unwrap());

    let settings: Value = reqwest::get(format!("{base}/api/server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["newServer"], Value::Bool(true));
    let front = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(front.status(), 200);
    assert!(front.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = front.text().await.unwrap();
    assert!(page.contains("This is trackd"), "{page}");
    assert!(page.contains("/api/openapi.json"), "{page}");
    assert!(page.contains("There are no users yet"), "{page}");

    store
        .create_user(
            UserFields {
                name: "a".into(),
                email: "a@example.com".into(),
                ..UserFields::default()
            },
            None,
        )
        .await
        .unwrap();
    let settings: Value = reqwest::get(format!("{base}/api/server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["newServer"], Value::Bool(false));
    let page = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("This is trackd"), "{page}");
    assert!(!page.contains("There are no users yet"), "{page}");
    server.shutdown().await.unwrap();
}
