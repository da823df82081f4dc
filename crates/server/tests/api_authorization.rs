//! The authorization matrix: for every endpoint and method, a user of one
//! organization asking for, listing, changing or deleting another
//! organization's objects gets nothing (403/404, no leak in lists), and
//! read-only users cannot write. Real server, real SQLite, real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use trackd_model::{
    DeviceFields, EventKind, GeofenceFields, GroupFields, Link, NewEvent, Position, Protocol,
    Timestamp, UserFields, UserId,
};
use trackd_server::auth::hash_password;
use trackd_server::{RunningServer, Server, ServerConfig};
use trackd_store::{Store, StoreConfig};

const PASSWORD: &str = "correct horse battery";

struct Org {
    manager: String,
    user: String,
    readonly: String,
    user_id: i64,
    device: i64,
    group: i64,
    geofence: i64,
    position: i64,
    event: i64,
}

struct World {
    _dir: tempfile::TempDir,
    server: RunningServer,
    a: Org,
    b: Org,
}

async fn user(store: &Store, email: &str, user_limit: i32, readonly: bool) -> UserId {
    let fields = UserFields {
        name: email.into(),
        email: email.into(),
        user_limit,
        readonly,
        device_limit: -1,
        ..UserFields::default()
    };
    let hash = hash_password(PASSWORD).unwrap();
    store.create_user(fields, Some(hash)).await.unwrap().id
}

async fn org(store: &Store, name: &str) -> Org {
    let manager = user(store, &format!("manager@{name}.test"), 10, false).await;
    let member = user(store, &format!("user@{name}.test"), 0, false).await;
    let readonly = user(store, &format!("readonly@{name}.test"), 0, true).await;
    for managed in [member, readonly] {
        store
            .link(Link::UserManagedUser(manager, managed))
            .await
            .unwrap();
    }
    let group = store
        .create_group(GroupFields {
            name: format!("{name} group"),
            ..GroupFields::default()
        })
        .await
        .unwrap()
        .id;
    let device = store
        .create_device(DeviceFields {
            name: format!("{name} truck"),
            unique_id: format!("{name}-imei"),
            group_id: Some(group),
            ..DeviceFields::default()
        })
        .await
        .unwrap()
        .id;
    let geofence = store
        .create_geofence(GeofenceFields {
            name: format!("{name} depot"),
            area: "CIRCLE (54.7 25.3, 200)".into(),
            ..GeofenceFields::default()
        })
        .await
        .unwrap()
        .id;
    for who in [manager, member, readonly] {
        store.link(Link::UserGroup(who, group)).await.unwrap();
        store.link(Link::UserGeofence(who, geofence)).await.unwrap();
    }
    let position = Position {
        protocol: Protocol::Teltonika,
        fix_time: Timestamp::from_millis(1_700_000_000_000),
        device_time: Timestamp::from_millis(1_700_000_000_000),
        server_time: Timestamp::from_millis(1_700_000_000_500),
        valid: true,
        latitude: 54.7,
        longitude: 25.3,
        ..Position::default()
    };
    let ids = store
        .append_positions(device, vec![position])
        .await
        .unwrap();
    let position = ids[0];
    assert_eq!(
        store.latest_position(device).await.unwrap().unwrap().id,
        position
    );
    let event = store
        .insert_event(NewEvent {
            event_type: EventKind::DeviceOnline,
            event_time: Timestamp::from_millis(1_700_000_000_000),
            device_id: device,
            position_id: Some(position),
            geofence_id: None,
            maintenance_id: None,
            attributes: Default::default(),
        })
        .await
        .unwrap()
        .id;
    Org {
        manager: format!("manager@{name}.test"),
        user: format!("user@{name}.test"),
        readonly: format!("readonly@{name}.test"),
        user_id: member.get(),
        device: device.get(),
        group: group.get(),
        geofence: geofence.get(),
        position: position.get(),
        event: event.get(),
    }
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig {
        url: format!("sqlite:{}", dir.path().join("trackd.db").display()),
        read_only: false,
    })
    .await
    .unwrap();
    let a = org(&store, "alpha").await;
    let b = org(&store, "bravo").await;
    let config = ServerConfig {
        listeners: Vec::new(),
        http: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..ServerConfig::default()
    };
    let server = Server::new(config, store).start().await.unwrap();
    World {
        _dir: dir,
        server,
        a,
        b,
    }
}

impl World {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.http.unwrap())
    }

    async fn login(&self, email: &str) -> Client {
        let client = Client::builder().cookie_store(true).build().unwrap();
        let response = client
            .post(self.url("/api/session"))
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "login {email}");
        client
    }
}

async fn call(
    client: &Client,
    method: Method,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .map(|items| items.iter().filter_map(|i| i["id"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn no_organization_sees_or_touches_another() {
    let w = world().await;
    for email in [&w.a.manager, &w.a.user, &w.a.readonly] {
        let client = w.login(email).await;
        let b = &w.b;
        // Positive control: the caller's own organization is visible.
        for path in [
            format!("/api/devices/{}", w.a.device),
            format!("/api/groups/{}", w.a.group),
            format!("/api/geofences/{}", w.a.geofence),
            format!("/api/events/{}", w.a.event),
        ] {
            let (status, _) = call(&client, Method::GET, w.url(&path), None).await;
            assert_eq!(status, StatusCode::OK, "{email} GET {path}");
        }
        let (_, own) = call(&client, Method::GET, w.url("/api/positions"), None).await;
        assert_eq!(
            ids(&own),
            vec![w.a.position],
            "{email} sees its latest position"
        );
        // Lists never leak.
        for (path, foreign) in [
            ("/api/devices", b.device),
            ("/api/groups", b.group),
            ("/api/geofences", b.geofence),
            ("/api/users", b.user_id),
            ("/api/positions", b.position),
        ] {
            let (status, list) = call(&client, Method::GET, w.url(path), None).await;
            assert_eq!(status, StatusCode::OK, "{email} GET {path}");
            assert!(
                !ids(&list).contains(&foreign),
                "{email} GET {path} leaks {foreign}"
            );
        }
        // Direct reads, changes and deletes are refused.
        let foreign_objects = [
            (
                "devices",
                b.device,
                json!({"name": "x", "uniqueId": "x-imei"}),
            ),
            ("groups", b.group, json!({"name": "x"})),
            (
                "geofences",
                b.geofence,
                json!({"name": "x", "area": "CIRCLE (1 2, 3)"}),
            ),
            (
                "users",
                b.user_id,
                json!({"name": "x", "email": "x@x.test"}),
            ),
        ];
        for (kind, id, body) in &foreign_objects {
            let url = w.url(&format!("/api/{kind}/{id}"));
            for (method, body) in [
                (Method::GET, None),
                (Method::PUT, Some(body.clone())),
                (Method::DELETE, None),
            ] {
                let (status, _) = call(&client, method.clone(), url.clone(), body).await;
                assert!(
                    status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                    "{email} {method} {url}: {status}"
                );
            }
        }
        for path in [
            format!("/api/positions?deviceId={}", b.device),
            format!(
                "/api/positions?deviceId={}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
                b.device
            ),
            format!("/api/events/{}", b.event),
            format!(
                "/api/reports/events?deviceId={}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
                b.device
            ),
            format!(
                "/api/reports/route?groupId={}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
                b.group
            ),
        ] {
            let (status, _) = call(&client, Method::GET, w.url(&path), None).await;
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                "{email} GET {path}: {status}"
            );
        }
        let (_, by_id) = call(
            &client,
            Method::GET,
            w.url(&format!("/api/positions?id={}", b.position)),
            None,
        )
        .await;
        assert_eq!(
            ids(&by_id),
            Vec::<i64>::new(),
            "{email} position by id leaks"
        );
        // Links to foreign objects, or for foreign users, are refused.
        for body in [
            json!({"userId": w.a.user_id, "deviceId": b.device}),
            json!({"userId": w.a.user_id, "groupId": b.group}),
            json!({"userId": w.a.user_id, "geofenceId": b.geofence}),
            json!({"userId": b.user_id, "deviceId": w.a.device}),
            json!({"userId": w.a.user_id, "managedUserId": b.user_id}),
            json!({"deviceId": w.a.device, "geofenceId": b.geofence}),
        ] {
            for method in [Method::POST, Method::DELETE] {
                let (status, _) = call(
                    &client,
                    method.clone(),
                    w.url("/api/permissions"),
                    Some(body.clone()),
                )
                .await;
                assert!(
                    status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                    "{email} {method} permission {body}: {status}"
                );
            }
        }
    }
    // The other organization's objects are untouched.
    let b_manager = w.login(&w.b.manager).await;
    let (status, device) = call(
        &b_manager,
        Method::GET,
        w.url(&format!("/api/devices/{}", w.b.device)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(device["name"], "bravo truck");
}

#[tokio::test]
async fn readonly_users_cannot_write() {
    let w = world().await;
    let client = w.login(&w.a.readonly).await;
    let a = &w.a;
    let writes = [
        (
            Method::POST,
            "/api/devices".to_owned(),
            json!({"name": "n", "uniqueId": "n-1"}),
        ),
        (
            Method::PUT,
            format!("/api/devices/{}", a.device),
            json!({"name": "n", "uniqueId": "alpha-imei"}),
        ),
        (
            Method::DELETE,
            format!("/api/devices/{}", a.device),
            Value::Null,
        ),
        (Method::POST, "/api/groups".to_owned(), json!({"name": "n"})),
        (
            Method::PUT,
            format!("/api/groups/{}", a.group),
            json!({"name": "n"}),
        ),
        (
            Method::DELETE,
            format!("/api/groups/{}", a.group),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/geofences".to_owned(),
            json!({"name": "n", "area": "CIRCLE (1 2, 3)"}),
        ),
        (
            Method::PUT,
            format!("/api/geofences/{}", a.geofence),
            json!({"name": "n", "area": "CIRCLE (1 2, 3)"}),
        ),
        (
            Method::DELETE,
            format!("/api/geofences/{}", a.geofence),
            Value::Null,
        ),
        (
            Method::POST,
            "/api/users".to_owned(),
            json!({"name": "n", "email": "n@n.test", "password": PASSWORD}),
        ),
        (
            Method::POST,
            "/api/permissions".to_owned(),
            json!({"userId": a.user_id, "deviceId": a.device}),
        ),
    ];
    for (method, path, body) in writes {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = call(&client, method.clone(), w.url(&path), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "readonly {method} {path}");
        assert!(answer["error"].is_string(), "error body names the problem");
    }
    // Reads still work.
    let (status, devices) = call(&client, Method::GET, w.url("/api/devices"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&devices), vec![a.device]);
}

#[tokio::test]
async fn a_permission_revoked_while_logged_in_applies_to_the_next_request() {
    let w = world().await;
    let member = w.login(&w.a.user).await;
    let manager = w.login(&w.a.manager).await;
    let device = format!("/api/devices/{}", w.a.device);
    let positions = format!("/api/positions?deviceId={}", w.a.device);
    assert_eq!(
        call(&member, Method::GET, w.url(&device), None).await.0,
        StatusCode::OK
    );
    let (status, list) = call(&member, Method::GET, w.url(&positions), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&list), vec![w.a.position]);

    let unlink = json!({ "userId": w.a.user_id, "groupId": w.a.group });
    let (status, body) = call(
        &manager,
        Method::DELETE,
        w.url("/api/permissions"),
        Some(unlink),
    )
    .await;
    assert!(status.is_success(), "manager unlinks: {status} {body}");

    // Same session, no new login: the device is gone as if it never existed.
    let (status, _) = call(&member, Method::GET, w.url(&device), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = call(&member, Method::GET, w.url("/api/devices"), None).await;
    assert!(
        !ids(&list).contains(&w.a.device),
        "device still listed: {list}"
    );
    let (status, list) = call(&member, Method::GET, w.url(&positions), None).await;
    assert!(
        status == StatusCode::NOT_FOUND || ids(&list).is_empty(),
        "positions still readable: {status} {list}"
    );
    // The manager still sees it.
    assert_eq!(
        call(&manager, Method::GET, w.url(&device), None).await.0,
        StatusCode::OK
    );
}
