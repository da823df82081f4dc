//! Issue 4/8, item 8: reads are bounded. A range with more positions than
//! `max_read_positions` is a 400 (counted, not loaded); a large answer is
//! streamed in slices and still exactly the stored positions in order;
//! the events report likewise (counted, refused over `max_read_events`,
//! streamed in pages that together hold every event once in order);
//! `GET /api/devices` gives every device its latest position from one
//! batched read; one user cannot open live sockets without bound (429).
//! On both backends where the store is involved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::Method;
use support::{
    api, both_backends, create_device, create_user, fix, login, start_on, Backend, START_MS,
};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use trackd_model::Timestamp;
use trackd_server::ServerConfig;

/// More than one streamed slice (20,000) for the big device.
const BIG: usize = 45_000;

const RANGE: &str = "from=2023-01-01T00:00:00Z&to=2024-01-01T00:00:00Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_ranges_are_streamed_whole_and_too_large_ones_refused() {
    for backend in both_backends().await {
        let name = backend.name();
        let config = backend.config();
        let store = trackd_store::Store::open(&config).await.unwrap();
        create_user(&store, "admin@example.com", true).await;
        let big = create_device(&store, "big-1").await;
        let small = create_device(&store, "small-1").await;
        // One second apart, ending before the clock's start.
        let first = START_MS - BIG as i64 * 1000;
        for batch in (0..BIG).collect::<Vec<_>>().chunks(5_000) {
            let positions = batch
                .iter()
                .map(|i| fix(first + *i as i64 * 1000))
                .collect();
            store.append_positions(big, positions).await.unwrap();
        }
        store
            .append_positions(small, vec![fix(START_MS - 5_000), fix(START_MS - 4_000)])
            .await
            .unwrap();
        store.close().await.unwrap();

        let (server, _clock) = start_on(
            &config,
            ServerConfig {
                max_read_positions: BIG + 10,
                ..ServerConfig::none()
            },
        )
        .await;
        let http = server.http.unwrap();
        let cookie = login(http, "admin@example.com").await;

        // The whole range of the big device, streamed: every position once, in order.
        let path = format!("/api/positions?deviceId={}&{RANGE}", big.0);
        let (status, body) = api(http, &cookie, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{name}");
        let times: Vec<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["fixTime"].as_str().unwrap())
            .collect();
        assert_eq!(times.len(), BIG, "{name}");
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "{name}: out of order or repeated"
        );

        // The route report over both devices: device after device.
        let path = format!(
            "/api/reports/route?deviceId={}&deviceId={}&{RANGE}",
            big.0, small.0
        );
        let (status, body) = api(http, &cookie, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{name}");
        let route = body.as_array().unwrap();
        assert_eq!(route.len(), BIG + 2, "{name}");
        assert_eq!(route[BIG]["deviceId"].as_i64(), Some(small.0), "{name}");

        // One over the limit: refused with a 400 naming it, before loading.
        server.shutdown().await.unwrap();
        let (server, _clock) = start_on(
            &config,
            ServerConfig {
                max_read_positions: BIG + 1,
                ..ServerConfig::none()
            },
        )
        .await;
        let http = server.http.unwrap();
        let cookie = login(http, "admin@example.com").await;
        let (status, body) = api(http, &cookie, Method::GET, &path, None).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("shorter"),
            "{name}: {body}"
        );
        // Each device alone still fits.
        let path = format!("/api/reports/route?deviceId={}&{RANGE}", big.0);
        assert_eq!(
            api(http, &cookie, Method::GET, &path, None).await.0,
            200,
            "{name}"
        );
        server.shutdown().await.unwrap();
        if let Backend::Postgres(pg) = &backend {
            pg.drop_database().await;
        }
    }
}

/// More than two pages (10,000) of events for one device.
const MANY_EVENTS: usize = 25_000;

fn alarm(device_id: trackd_model::DeviceId, ms: i64) -> trackd_store::BatchEvent {
    trackd_store::BatchEvent {
        event: trackd_model::NewEvent {
            event_type: trackd_model::EventKind::Alarm,
            event_time: Timestamp::from_millis(ms),
            device_id,
            position_id: None,
            geofence_id: None,
            maintenance_id: None,
            attributes: trackd_model::JsonObject(r#"{"alarm":"sos"}"#.into()),
        },
        position: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_event_reports_are_streamed_whole_and_too_large_ones_refused() {
    for backend in both_backends().await {
        let name = backend.name();
        let config = backend.config();
        let store = trackd_store::Store::open(&config).await.unwrap();
        create_user(&store, "admin@example.com", true).await;
        let noisy = create_device(&store, "noisy-1").await;
        let quiet = create_device(&store, "quiet-1").await;
        // Three events per second, so pages end inside runs of equal times.
        let first = START_MS - MANY_EVENTS as i64 * 1000;
        for (k, batch) in (0..MANY_EVENTS)
            .collect::<Vec<_>>()
            .chunks(5_000)
            .enumerate()
        {
            let events = batch
                .iter()
                .map(|i| alarm(noisy, first + (*i as i64 / 3) * 1000))
                .collect();
            store
                .append_with(noisy, vec![fix(first + k as i64)], events)
                .await
                .unwrap();
        }
        let quiet_events = (0..3).map(|i| alarm(quiet, first + i * 1000)).collect();
        store
            .append_with(quiet, vec![fix(first)], quiet_events)
            .await
            .unwrap();
        store.close().await.unwrap();

        let total = MANY_EVENTS + 3;
        let (server, _clock) = start_on(
            &config,
            ServerConfig {
                max_read_events: total,
                ..ServerConfig::none()
            },
        )
        .await;
        let http = server.http.unwrap();
        let cookie = login(http, "admin@example.com").await;
        let path = format!(
            "/api/reports/events?deviceId={}&deviceId={}&{RANGE}",
            noisy.0, quiet.0
        );
        let (status, body) = api(http, &cookie, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{name}");
        let events = body.as_array().unwrap();
        assert_eq!(events.len(), total, "{name}");
        let keys: Vec<(&str, i64)> = events
            .iter()
            .map(|e| (e["eventTime"].as_str().unwrap(), e["id"].as_i64().unwrap()))
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "{name}: out of order or repeated"
        );
        assert_eq!(
            events.iter().filter(|e| e["deviceId"] == quiet.0).count(),
            3,
            "{name}"
        );
        server.shutdown().await.unwrap();

        // One over the limit: a 400 naming it, before loading; one device fits.
        let (server, _clock) = start_on(
            &config,
            ServerConfig {
                max_read_events: total - 1,
                ..ServerConfig::none()
            },
        )
        .await;
        let http = server.http.unwrap();
        let cookie = login(http, "admin@example.com").await;
        let (status, body) = api(http, &cookie, Method::GET, &path, None).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("events"),
            "{name}: {body}"
        );
        let path = format!("/api/reports/events?deviceId={}&{RANGE}", noisy.0);
        let (status, body) = api(http, &cookie, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(body.as_array().unwrap().len(), MANY_EVENTS, "{name}");
        server.shutdown().await.unwrap();
        if let Backend::Postgres(pg) = &backend {
            pg.drop_database().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_list_carries_every_latest_position_from_one_read() {
    for backend in both_backends().await {
        let name = backend.name();
        let config = backend.config();
        let store = trackd_store::Store::open(&config).await.unwrap();
        create_user(&store, "admin@example.com", true).await;
        let mut expected = Vec::new();
        for n in 0..300_i64 {
            let device = create_device(&store, &format!("fleet-{n}")).await;
            // Every third device has no position; the others two, the
            // newer one stored first.
            if n % 3 != 0 {
                let ids = store
                    .append_positions(
                        device,
                        vec![fix(START_MS - 1000 * n), fix(START_MS - 2_000_000)],
                    )
                    .await
                    .unwrap();
                expected.push((device.0, Some(ids[0].0)));
            } else {
                // Traccar's "no position" is 0.
                expected.push((device.0, Some(0)));
            }
        }
        store.close().await.unwrap();
        let (server, _clock) = start_on(&config, ServerConfig::none()).await;
        let http = server.http.unwrap();
        let cookie = login(http, "admin@example.com").await;
        let (status, devices) = api(http, &cookie, Method::GET, "/api/devices", None).await;
        assert_eq!(status, 200, "{name}");
        let got: Vec<(i64, Option<i64>)> = devices
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["id"].as_i64().unwrap(), d["positionId"].as_i64()))
            .collect();
        assert_eq!(got, expected, "{name}");
        // The latest of all devices: the same ids.
        let (_, latest) = api(http, &cookie, Method::GET, "/api/positions", None).await;
        let mut latest_ids: Vec<i64> = latest
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        latest_ids.sort_unstable();
        let mut want: Vec<i64> = expected
            .iter()
            .filter_map(|(_, id)| *id)
            .filter(|id| *id != 0)
            .collect();
        want.sort_unstable();
        assert_eq!(latest_ids, want, "{name}");
        server.shutdown().await.unwrap();
        if let Backend::Postgres(pg) = &backend {
            pg.drop_database().await;
        }
    }
}

async fn open_socket(http: std::net::SocketAddr, cookie: &str) -> Result<impl Sized, u16> {
    let mut request = format!("ws://{http}/api/socket")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Cookie", cookie.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn one_user_cannot_open_live_sockets_without_bound() {
    let db = support::Db::new();
    let store = db.open().await;
    create_user(&store, "admin@example.com", true).await;
    create_user(&store, "other@example.com", false).await;
    store.close().await.unwrap();
    let (server, _clock) = start_on(
        &db.config(),
        ServerConfig {
            websocket_max_per_user: 2,
            ..ServerConfig::none()
        },
    )
    .await;
    let http = server.http.unwrap();
    let cookie = login(http, "admin@example.com").await;
    let first = open_socket(http, &cookie).await.ok().unwrap();
    let _second = open_socket(http, &cookie).await.ok().unwrap();
    assert_eq!(open_socket(http, &cookie).await.err(), Some(429));
    // Another user is not held back by this one.
    let other = login(http, "other@example.com").await;
    assert!(open_socket(http, &other).await.is_ok());
    // Closing one frees its slot.
    drop(first);
    let started = std::time::Instant::now();
    loop {
        match open_socket(http, &cookie).await {
            Ok(_) => break,
            Err(status) => {
                assert_eq!(status, 429);
                assert!(started.elapsed().as_secs() < 5, "slot never freed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
