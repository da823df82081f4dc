//! Shapes and query semantics that traccar-web 6.14 and Traccar API clients
//! rely on, each found by running them against trackd: unset ids as 0,
//! geofence areas validated, link filters, string ids in permissions,
//! event type names, `limit`/`offset` paging, the time zone list. Real server, real SQLite,
//! real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use trackd_model::{
    DeviceFields, DeviceId, EventKind, GeofenceFields, GeofenceId, GroupFields, GroupId,
    JsonObject, Link, NewEvent, PositionId, Timestamp, UserFields, UserId,
};
use trackd_server::auth::hash_password;
use trackd_server::{RunningServer, Server, ServerConfig};
use trackd_store::{Store, StoreConfig};

const PASSWORD: &str = "correct horse battery";

struct Harness {
    _dir: tempfile::TempDir,
    store: Store,
    server: RunningServer,
}

async fn harness() -> Harness {
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
    let harness = Harness {
        _dir: dir,
        store,
        server,
    };
    harness.user("admin@example.com", true, 0).await;
    harness
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.http.unwrap())
    }

    async fn user(&self, email: &str, administrator: bool, user_limit: i32) -> UserId {
        let fields = UserFields {
            name: email.into(),
            email: email.into(),
            administrator,
            user_limit,
            device_limit: -1,
            ..UserFields::default()
        };
        let hash = hash_password(PASSWORD).unwrap();
        self.store.create_user(fields, Some(hash)).await.unwrap().id
    }

    async fn device(&self, name: &str, group_id: Option<GroupId>) -> DeviceId {
        let fields = DeviceFields {
            name: name.into(),
            unique_id: format!("{name}-imei"),
            group_id,
            ..DeviceFields::default()
        };
        self.store.create_device(fields).await.unwrap().id
    }

    async fn group(&self, name: &str) -> GroupId {
        let fields = GroupFields {
            name: name.into(),
            ..GroupFields::default()
        };
        self.store.create_group(fields).await.unwrap().id
    }

    async fn geofence(&self, name: &str) -> GeofenceId {
        let fields = GeofenceFields {
            name: name.into(),
            area: "CIRCLE (54.7 25.3, 200)".into(),
            ..GeofenceFields::default()
        };
        self.store.create_geofence(fields).await.unwrap().id
    }

    async fn link(&self, link: Link) {
        self.store.link(link).await.unwrap();
    }

    async fn login(&self, email: &str) -> Session {
        let client = Client::builder().cookie_store(true).build().unwrap();
        let response = client
            .post(self.url("/api/session"))
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "login {email}");
        Session {
            client,
            base: self.url(""),
        }
    }
}

struct Session {
    client: Client,
    base: String,
}

impl Session {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn ids(&self, path: &str) -> Vec<i64> {
        ids(&self.get(path).await)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|item| item["id"].as_i64().expect("an id"))
        .collect()
}

#[tokio::test]
async fn unset_ids_are_zero_not_null() {
    let h = harness().await;
    let admin = h.login("admin@example.com").await;

    let (status, device) = admin
        .post(
            "/api/devices",
            json!({"name": "van", "uniqueId": "1001", "groupId": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{device}");
    for key in ["groupId", "positionId", "calendarId"] {
        assert_eq!(device[key], json!(0), "device {key}: {device}");
    }
    let listed = admin.get("/api/devices").await;
    assert_eq!(listed[0]["groupId"], json!(0), "{listed}");
    assert_eq!(listed[0]["positionId"], json!(0), "{listed}");

    let (status, group) = admin.post("/api/groups", json!({"name": "fleet"})).await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["groupId"], json!(0), "{group}");
    let group_id = group["id"].as_i64().unwrap();

    // 0 in, as traccar-web sends for "no group", is no group; a real id sticks.
    let (status, moved) = admin
        .call(
            Method::PUT,
            &format!("/api/devices/{}", device["id"]),
            Some(json!({"name": "van", "uniqueId": "1001", "groupId": group_id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["groupId"], json!(group_id));
    let (status, back) = admin
        .call(
            Method::PUT,
            &format!("/api/devices/{}", device["id"]),
            Some(json!({"name": "van", "uniqueId": "1001", "groupId": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["groupId"], json!(0));

    let (status, geofence) = admin
        .post(
            "/api/geofences",
            json!({"name": "depot", "area": "CIRCLE (54.7 25.3, 200)"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{geofence}");
    assert_eq!(geofence["calendarId"], json!(0), "{geofence}");
}

#[tokio::test]
async fn geofence_area_is_parsed_when_written() {
    let h = harness().await;
    let admin = h.login("admin@example.com").await;
    for area in [
        "CIRCLE (54.7 25.3, 200)",
        "POLYGON ((54.68 25.27, 54.69 25.27, 54.69 25.29, 54.68 25.27))",
        "LINESTRING (54.68 25.27, 54.69 25.29)",
    ] {
        let (status, body) = admin
            .post("/api/geofences", json!({"name": "ok", "area": area}))
            .await;
        assert_eq!(status, StatusCode::OK, "{area}: {body}");
        // The text is stored as written, not re-rendered.
        assert_eq!(body["area"], json!(area));
        let stored = h
            .store
            .geofence(GeofenceId(body["id"].as_i64().unwrap()))
            .await
            .unwrap()
            .unwrap();
        assert!(stored.geometry.is_some(), "{area}");
    }
    for (area, error) in [
        (
            "POINT (1 2)",
            "area: expected CIRCLE, POLYGON or LINESTRING",
        ),
        ("CIRCLE (123 25, 100)", "area: latitude 123 out of range"),
        (
            "POLYGON ((1 2, 3 4))",
            "area: polygon needs at least 3 points",
        ),
        (
            "LINESTRING (1 2)",
            "area: linestring needs at least 2 points",
        ),
        (
            "CIRCLE (54 25, -1)",
            "area: radius -1 must be a positive number of metres",
        ),
        ("CIRCLE (54 north, 10)", "area: \"north\" is not a number"),
    ] {
        let (status, body) = admin
            .post("/api/geofences", json!({"name": "bad", "area": area}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{area}: {body}");
        assert_eq!(body["error"], json!(error), "{area}");
    }
    let id = h.geofence("kept").await;
    let (status, body) = admin
        .call(
            Method::PUT,
            &format!("/api/geofences/{id}"),
            Some(json!({"name": "kept", "area": "CIRCLE (1 2, 0)"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let stored = h.store.geofence(id).await.unwrap().unwrap();
    assert_eq!(stored.area, "CIRCLE (54.7 25.3, 200)");
}

/// One user with a bit of everything: linked directly, through a group and
/// through a managed user, so a filter that follows inheritance shows more.
struct Links {
    user: i64,
    managed: i64,
    managed_by_managed: i64,
    group: i64,
    device_in_group: i64,
    device_direct: i64,
    fence_of_user: i64,
    fence_of_device: i64,
    fence_of_group: i64,
}

async fn links(h: &Harness) -> Links {
    let user = h.user("user@example.com", false, 5).await;
    let managed = h.user("managed@example.com", false, 5).await;
    let managed_by_managed = h.user("deeper@example.com", false, 0).await;
    let group = h.group("fleet").await;
    let device_in_group = h.device("in-group", Some(group)).await;
    let device_direct = h.device("direct", None).await;
    let _unlinked = h.device("unlinked", None).await;
    let fence_of_user = h.geofence("user's").await;
    let fence_of_device = h.geofence("device's").await;
    let fence_of_group = h.geofence("group's").await;
    h.link(Link::UserManagedUser(user, managed)).await;
    h.link(Link::UserManagedUser(managed, managed_by_managed))
        .await;
    h.link(Link::UserGroup(user, group)).await;
    h.link(Link::UserDevice(user, device_direct)).await;
    h.link(Link::UserGeofence(user, fence_of_user)).await;
    h.link(Link::DeviceGeofence(device_in_group, fence_of_device))
        .await;
    h.link(Link::GroupGeofence(group, fence_of_group)).await;
    // The managed user's own links are inherited by `user`, never direct.
    let managed_device = h.device("managed's", None).await;
    h.link(Link::UserDevice(managed, managed_device)).await;
    h.link(Link::UserDevice(managed_by_managed, device_direct))
        .await;
    Links {
        user: user.get(),
        managed: managed.get(),
        managed_by_managed: managed_by_managed.get(),
        group: group.get(),
        device_in_group: device_in_group.get(),
        device_direct: device_direct.get(),
        fence_of_user: fence_of_user.get(),
        fence_of_device: fence_of_device.get(),
        fence_of_group: fence_of_group.get(),
    }
}

#[tokio::test]
async fn link_filters_list_direct_links_only() {
    let h = harness().await;
    let l = links(&h).await;
    let admin = h.login("admin@example.com").await;

    assert_eq!(
        admin.ids(&format!("/api/devices?userId={}", l.user)).await,
        vec![l.device_direct]
    );
    assert_eq!(
        admin.ids(&format!("/api/groups?userId={}", l.user)).await,
        vec![l.group]
    );
    assert_eq!(
        admin
            .ids(&format!("/api/geofences?userId={}", l.user))
            .await,
        vec![l.fence_of_user]
    );
    assert_eq!(
        admin
            .ids(&format!("/api/geofences?deviceId={}", l.device_in_group))
            .await,
        vec![l.fence_of_device]
    );
    assert_eq!(
        admin
            .ids(&format!("/api/geofences?groupId={}", l.group))
            .await,
        vec![l.fence_of_group]
    );
    assert_eq!(
        admin.ids(&format!("/api/users?userId={}", l.user)).await,
        vec![l.managed]
    );
    assert_eq!(
        admin
            .ids(&format!("/api/users?deviceId={}", l.device_direct))
            .await,
        vec![l.user, l.managed_by_managed]
    );
    // Device-to-device links do not exist in trackd.
    assert_eq!(
        admin
            .ids(&format!("/api/devices?deviceId={}", l.device_in_group))
            .await,
        Vec::<i64>::new()
    );
    // 0 is Traccar's "no filter".
    assert_eq!(admin.ids("/api/geofences?deviceId=0").await.len(), 3);
    // Filters combine.
    assert_eq!(
        admin
            .ids(&format!(
                "/api/geofences?userId={}&groupId={}",
                l.user, l.group
            ))
            .await,
        Vec::<i64>::new()
    );
    // An administrator may ask about anything; nothing is linked to a
    // group that does not exist.
    assert_eq!(
        admin.ids("/api/geofences?groupId=9999").await,
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn link_filters_stay_within_the_callers_scope() {
    let h = harness().await;
    let l = links(&h).await;
    let stranger = h.user("stranger@example.com", false, 5).await;
    let own_device = h.device("stranger's", None).await;
    h.link(Link::UserDevice(stranger, own_device)).await;

    let outsider = h.login("stranger@example.com").await;
    for path in [
        format!("/api/devices?userId={}", l.user),
        format!("/api/groups?userId={}", l.user),
        format!("/api/geofences?userId={}", l.user),
        format!("/api/geofences?deviceId={}", l.device_in_group),
        format!("/api/geofences?groupId={}", l.group),
        format!("/api/users?userId={}", l.user),
        format!("/api/users?deviceId={}", l.device_direct),
        format!("/api/devices?deviceId={}", l.device_direct),
    ] {
        let (status, body) = outsider.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    assert_eq!(
        outsider
            .ids(&format!("/api/devices?userId={stranger}"))
            .await,
        vec![own_device.get()]
    );

    // The user sees the grouped device (through its group) but not the
    // geofence linked to that device: the filter does not widen the scope.
    let user = h.login("user@example.com").await;
    assert_eq!(
        user.ids(&format!("/api/geofences?deviceId={}", l.device_in_group))
            .await,
        Vec::<i64>::new()
    );
    assert_eq!(
        user.ids(&format!("/api/geofences?groupId={}", l.group))
            .await,
        Vec::<i64>::new()
    );
    assert_eq!(
        user.ids(&format!("/api/users?userId={}", l.managed)).await,
        vec![l.managed_by_managed]
    );
}

#[tokio::test]
async fn permissions_accept_ids_as_strings() {
    let h = harness().await;
    let user = h.user("user@example.com", false, 0).await.get();
    let device = h.device("van", None).await.get();
    let admin = h.login("admin@example.com").await;

    // What traccar-web's connection pages send: the page's id as a string.
    let (status, body) = admin
        .post(
            "/api/permissions",
            json!({"userId": user.to_string(), "deviceId": device}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        admin.ids(&format!("/api/devices?userId={user}")).await,
        vec![device]
    );
    let (status, body) = admin
        .call(
            Method::DELETE,
            "/api/permissions",
            Some(json!({"userId": user, "deviceId": format!(" {device} ")})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        admin.ids(&format!("/api/devices?userId={user}")).await,
        Vec::<i64>::new()
    );

    for (body, field) in [
        (json!({"userId": "two", "deviceId": device}), "userId"),
        (json!({"userId": user, "deviceId": "6x"}), "deviceId"),
        (json!({"userId": user, "deviceId": 1.5}), "deviceId"),
        (json!({"userId": user, "deviceId": [device]}), "deviceId"),
    ] {
        let (status, answer) = admin.post("/api/permissions", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(field), "{body}: {error}");
    }
}

#[tokio::test]
async fn list_endpoints_page_with_limit_and_offset() {
    let h = harness().await;
    for i in 0..120 {
        h.device(&format!("device {i:03}"), None).await;
    }
    for i in 0..7 {
        h.group(&format!("group {i}")).await;
        h.geofence(&format!("fence {i}")).await;
        h.user(&format!("user{i}@example.com"), false, 0).await;
    }
    let admin = h.login("admin@example.com").await;

    for (path, total) in [
        ("/api/devices", 120),
        ("/api/groups", 7),
        ("/api/geofences", 7),
        ("/api/users", 8),
    ] {
        let everything = admin.ids(path).await;
        assert_eq!(everything.len(), total, "{path}");
        let mut sorted = everything.clone();
        sorted.sort();
        assert_eq!(everything, sorted, "{path} is in id order");

        // traccar-web's infinite scroll: pages of 50 until a short one.
        let mut paged = Vec::new();
        loop {
            let page = admin
                .ids(&format!("{path}?limit=50&offset={}", paged.len()))
                .await;
            let short = page.len() < 50;
            paged.extend(page);
            assert!(paged.len() <= total, "{path} repeats rows");
            if short {
                break;
            }
        }
        assert_eq!(paged, everything, "{path}");
        assert_eq!(
            admin.ids(&format!("{path}?limit=3&offset=2")).await,
            everything[2..5].to_vec(),
            "{path}"
        );
        assert_eq!(
            admin
                .ids(&format!("{path}?limit=5&offset={total}"))
                .await
                .len(),
            0
        );
        // As Traccar: no limit, no window.
        assert_eq!(admin.ids(&format!("{path}?offset=4")).await, everything);
        assert_eq!(admin.ids(&format!("{path}?limit=0")).await, everything);
        let (status, body) = admin
            .call(Method::GET, &format!("{path}?limit=ten"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(body["error"], json!("limit: \"ten\" is not an integer"));
    }

    // The device table's search box pages too.
    let found = admin
        .get("/api/devices?keyword=DEVICE%2011&limit=5&offset=0")
        .await;
    let names: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "device 110",
            "device 111",
            "device 112",
            "device 113",
            "device 114"
        ]
    );
}

#[tokio::test]
async fn exclude_attributes_drops_attributes() {
    let h = harness().await;
    let admin = h.login("admin@example.com").await;
    let (status, body) = admin
        .post(
            "/api/devices",
            json!({"name": "van", "uniqueId": "77", "attributes": {"speedLimit": 25.0}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let full = admin.get("/api/devices").await;
    assert_eq!(full[0]["attributes"], json!({"speedLimit": 25.0}));
    let bare = admin.get("/api/devices?excludeAttributes=true").await;
    assert_eq!(bare[0]["attributes"], json!({}));
}

#[tokio::test]
async fn server_timezones_lists_iana_names() {
    let h = harness().await;
    let anonymous = Client::new()
        .get(h.url("/api/server/timezones"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let admin = h.login("admin@example.com").await;
    let zones = admin.get("/api/server/timezones").await;
    let zones: Vec<&str> = zones
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z.as_str().expect("zone names are strings"))
        .collect();
    for zone in [
        "Europe/Vilnius",
        "America/Sao_Paulo",
        "Australia/Sydney",
        "UTC",
    ] {
        assert!(zones.contains(&zone), "{zone} missing");
    }
}

#[tokio::test]
async fn event_reports_speak_traccar_type_names() {
    let h = harness().await;
    let device = h.device("van", None).await;
    for (kind, t) in [
        (EventKind::DeviceOnline, 1_000),
        (EventKind::GeofenceEnter, 2_000),
        (EventKind::Alarm, 3_000),
    ] {
        h.store
            .insert_event(NewEvent {
                event_type: kind,
                event_time: Timestamp::from_millis(1_700_000_000_000 + t),
                device_id: device,
                position_id: Some(PositionId::from_parts(device, 0)),
                geofence_id: None,
                maintenance_id: None,
                attributes: JsonObject::default(),
            })
            .await
            .unwrap();
    }
    let admin = h.login("admin@example.com").await;
    let report = |types: &str| {
        format!(
            "/api/reports/events?deviceId={device}&from=2000-01-01T00:00:00Z\
             &to=2100-01-01T00:00:00Z{types}"
        )
    };
    let names = |events: &Value| -> Vec<String> {
        events
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["type"].as_str().unwrap().to_owned())
            .collect()
    };

    let all = admin.get(&report("")).await;
    assert_eq!(names(&all), ["deviceOnline", "geofenceEnter", "alarm"]);
    // Unset ids are 0, a set one is the plain number.
    assert_eq!(all[0]["geofenceId"], json!(0), "{all}");
    assert_eq!(all[0]["maintenanceId"], json!(0), "{all}");
    assert_eq!(all[0]["deviceId"], json!(device.get()), "{all}");
    assert_eq!(all[0]["positionId"], json!(device.get() << 32), "{all}");
    let one = admin.get(&format!("/api/events/{}", all[2]["id"])).await;
    assert_eq!(one["type"], json!("alarm"), "{one}");

    let filtered = admin.get(&report("&type=alarm&type=geofenceEnter")).await;
    assert_eq!(names(&filtered), ["geofenceEnter", "alarm"]);
    // `allEvents` is Traccar's "no filter".
    let everything = admin.get(&report("&type=allEvents")).await;
    assert_eq!(names(&everything), names(&all));

    let (status, body) = admin
        .call(
            Method::GET,
            &report("&type=alarm&type=deviceTeleported"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("\"deviceTeleported\""), "{error}");
}
