//! `/api/openapi.json` describes every endpoint the issue names, and every
//! served `/api/...` route appears in it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use serde_json::Value;
use trackd_server::{Server, ServerConfig};
use trackd_store::{Store, StoreConfig};

#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
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
    let server = Server::new(config, store).start().await.unwrap();
    let url = format!("http://{}/api/openapi.json", server.http.unwrap());
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/server", &["get", "put"][..]),
        ("/api/session", &["get", "post", "delete"]),
        ("/api/session/token", &["post"]),
        ("/api/users", &["get", "post"]),
        ("/api/users/{id}", &["get", "put", "delete"]),
        ("/api/devices", &["get", "post"]),
        ("/api/devices/{id}", &["get", "put", "delete"]),
        ("/api/groups", &["get", "post"]),
        ("/api/groups/{id}", &["get", "put", "delete"]),
        ("/api/geofences", &["get", "post"]),
        ("/api/geofences/{id}", &["get", "put", "delete"]),
        ("/api/permissions", &["post", "delete"]),
        ("/api/positions", &["get"]),
        ("/api/events/{id}", &["get"]),
        ("/api/reports/events", &["get"]),
        ("/api/reports/route", &["get"]),
        ("/api/socket", &["get"]),
    ] {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
        for method in methods {
            assert!(item.get(*method).is_some(), "{method} {path} missing");
        }
    }
    for schema in [
        "UserDto",
        "DeviceDto",
        "PositionDto",
        "EventDto",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "schema {schema} missing"
        );
    }
}
