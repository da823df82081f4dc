//! The OsmAnd HTTP listener over a real socket against a real SQLite store:
//! `200` only once the records are durable, a JSON batch is all-or-nothing,
//! and every bad request is a JSON 4xx that stores nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::{create_device, loopback, Env, START_MS};
use trackd_model::{Position, Timestamp};
use trackd_protocols::osmand::{encode_json, encode_query};
use trackd_protocols::Transport;
use trackd_server::ServerConfig;

const ID: &str = "osmand-phone-1";

async fn start() -> Env {
    let config = ServerConfig::none().listen("osmand", Transport::Http, loopback());
    Env::start(config, |store| async move {
        create_device(&store, ID).await;
    })
    .await
}

fn url(env: &Env, query: &str) -> String {
    let addr = env.device_port("osmand", Transport::Http);
    if query.is_empty() {
        format!("http://{addr}/")
    } else {
        format!("http://{addr}/?{query}")
    }
}

fn fix(fix_ms: i64) -> Position {
    Position {
        fix_time: Timestamp::from_millis(fix_ms),
        device_time: Timestamp::from_millis(fix_ms),
        valid: true,
        latitude: 54.687_157,
        longitude: 25.279_652,
        speed: 3.0,
        course: 180.0,
        altitude: 120.0,
        ..Position::default()
    }
}

async fn post_json(env: &Env, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(url(env, ""))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Asserts a 4xx with a JSON `{"error": "..."}` body.
async fn assert_json_4xx(response: reqwest::Response, what: &str) {
    let status = response.status();
    assert!(status.is_client_error(), "{what}: status {status}");
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{what}: error body is not JSON: {text:?}"));
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn get_query_is_200_and_stored_when_answered() {
    let env = start().await;
    let query = encode_query(&fix(START_MS - 1000), ID);
    let response = reqwest::get(url(&env, &query)).await.unwrap();
    assert_eq!(response.status(), 200);
    // The 200 came after the commit: the record is readable now.
    assert_eq!(env.stored(ID).await, vec![START_MS - 1000]);
    let device = env.store().device_by_unique_id(ID).await.unwrap().unwrap();
    let stored = env
        .store()
        .positions(device.id, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let position = &stored[0].position;
    assert!((position.latitude - 54.687_157).abs() < 1e-6);
    assert!((position.longitude - 25.279_652).abs() < 1e-6);
    assert_eq!(position.server_time.as_millis(), START_MS);
}

#[tokio::test]
async fn json_body_and_batch_of_three_are_stored_in_order() {
    let env = start().await;
    let one = post_json(&env, encode_json(&[fix(START_MS - 10_000)], ID)).await;
    assert_eq!(one.status(), 200);
    assert_eq!(env.stored(ID).await, vec![START_MS - 10_000]);

    let batch: Vec<Position> = (0..3).map(|i| fix(START_MS - 9_000 + i * 1000)).collect();
    let three = post_json(&env, encode_json(&batch, ID)).await;
    assert_eq!(three.status(), 200);
    assert_eq!(
        env.stored(ID).await,
        vec![
            START_MS - 10_000,
            START_MS - 9_000,
            START_MS - 8_000,
            START_MS - 7_000
        ]
    );
}

#[tokio::test]
async fn a_batch_with_one_bad_location_stores_nothing() {
    let env = start().await;
    let batch: Vec<Position> = (0..3).map(|i| fix(START_MS - 5_000 + i * 1000)).collect();
    let mut body: Value = serde_json::from_str(&encode_json(&batch, ID)).unwrap();
    body["location"][1]["coords"]["latitude"] = json!(123.0);
    let response = post_json(&env, body.to_string()).await;
    assert_eq!(response.status(), 400);
    assert_json_4xx(response, "batch with lat 123").await;
    assert!(env.stored(ID).await.is_empty());
}

#[tokio::test]
async fn bad_requests_are_json_4xx_and_store_nothing() {
    let env = start().await;
    let good = encode_query(&fix(START_MS - 1000), ID);
    let without_id: String = good
        .split('&')
        .filter(|pair| !pair.starts_with("id="))
        .collect::<Vec<_>>()
        .join("&");
    let replace_lat = |lat: &str| {
        good.split('&')
            .map(|pair| {
                if pair.starts_with("lat=") {
                    format!("lat={lat}")
                } else {
                    pair.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    let cases = [
        ("missing id", without_id),
        ("non-numeric lat", replace_lat("north")),
        ("lat=123", replace_lat("123")),
    ];
    for (what, query) in cases {
        let response = reqwest::Client::new()
            .post(url(&env, &query))
            .send()
            .await
            .unwrap();
        assert_json_4xx(response, what).await;
    }

    let huge = format!(
        "{{\"device_id\":\"{ID}\",\"location\":{{\"timestamp\":\"2023-11-14T22:13:19Z\",\"extras\":{{\"pad\":\"{}\"}}}}}}",
        "x".repeat(1024 * 1024)
    );
    assert_json_4xx(post_json(&env, huge).await, "1 MB body").await;

    let stranger = encode_query(&fix(START_MS - 1000), "nobody-knows-me");
    let response = reqwest::get(url(&env, &stranger)).await.unwrap();
    assert_json_4xx(response, "unknown device").await;
    assert!(env
        .store()
        .device_by_unique_id("nobody-knows-me")
        .await
        .unwrap()
        .is_none());

    assert!(env.stored(ID).await.is_empty(), "nothing stored");
}
