//! Permission changes reach live WebSocket connections without reconnect:
//! after an unlink (device or group) the device's positions stop while the
//! socket stays open for the rest; after the account is disabled or
//! deleted, the session logged out or the password changed, the socket is
//! closed (1008) and nothing more of the devices arrives. Each change is
//! made through the API, then a position is sent at once: it must not
//! arrive.
//!
//! A socket opened with an API token closes when that token is revoked
//! (`POST /api/session/token/revoke`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use support::{
    api, create_device, create_user, loopback, position_of, Env, Got, Teltonika, Ws, MUST,
    PASSWORD, START_MS,
};
use trackd_model::{DeviceFields, GroupFields, Link};
use trackd_protocols::Transport;
use trackd_server::ServerConfig;

const ADMIN: &str = "admin@example.test";
const USER: &str = "driver@example.test";
const IMEI_1: &str = "356000000000401";
const IMEI_2: &str = "356000000000402";
const IMEI_GROUP: &str = "356000000000403";
/// How long a position that must not arrive is waited for.
const MUST_NOT: Duration = Duration::from_millis(1500);

/// How the user's socket authenticates.
#[derive(Clone, Copy, Debug)]
enum Auth {
    Session,
    Basic,
    /// A bearer token made by the user; the token is kept in `World::token`.
    Token,
}

struct World {
    env: Env,
    admin: String,
    /// The user's session cookie (the socket's credential for `Auth::Session`).
    user_cookie: String,
    user_id: i64,
    group_id: i64,
    /// Directly linked devices 1 and 2, and the group's device.
    devices: [i64; 3],
    trackers: [Teltonika; 3],
    ws: Ws,
    /// The next fix time each tracker reports.
    next_fix: i64,
    /// The API token of `Auth::Token`.
    token: Option<String>,
}

async fn world(auth: Auth) -> World {
    let config = ServerConfig::none().listen("teltonika", Transport::Tcp, loopback());
    let env = Env::start(config, |store| async move {
        create_user(&store, ADMIN, true).await;
        let user = create_user(&store, USER, false).await;
        let group = store
            .create_group(GroupFields {
                name: "fleet".into(),
                ..GroupFields::default()
            })
            .await
            .unwrap()
            .id;
        for imei in [IMEI_1, IMEI_2] {
            let device = create_device(&store, imei).await;
            store.link(Link::UserDevice(user, device)).await.unwrap();
        }
        store
            .create_device(DeviceFields {
                name: "group van".into(),
                unique_id: IMEI_GROUP.into(),
                group_id: Some(group),
                ..DeviceFields::default()
            })
            .await
            .unwrap();
        store.link(Link::UserGroup(user, group)).await.unwrap();
    })
    .await;
    let store = env.store();
    let user_id = store.user_by_email(USER).await.unwrap().unwrap().id.get();
    let mut devices = [0; 3];
    for (slot, imei) in devices.iter_mut().zip([IMEI_1, IMEI_2, IMEI_GROUP]) {
        *slot = store
            .device_by_unique_id(imei)
            .await
            .unwrap()
            .unwrap()
            .id
            .get();
    }
    let group_id = store
        .device(devices[2].into())
        .await
        .unwrap()
        .unwrap()
        .group_id
        .unwrap()
        .get();
    let admin = env.login(ADMIN).await;
    let user_cookie = env.login(USER).await;
    let mut token = None;
    let ws = match auth {
        Auth::Session => Ws::connect(env.http(), "Cookie", &user_cookie).await,
        Auth::Token => {
            let made = reqwest::Client::new()
                .post(format!("http://{}/api/session/token", env.http()))
                .header("Cookie", &user_cookie)
                .form(&[("expiration", "")])
                .send()
                .await
                .unwrap();
            assert_eq!(made.status(), 200);
            let secret = made.text().await.unwrap();
            let ws = Ws::connect(env.http(), "Authorization", &format!("Bearer {secret}")).await;
            token = Some(secret);
            ws
        }
        Auth::Basic => {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
            Ws::connect(env.http(), "Authorization", &format!("Basic {encoded}")).await
        }
    };
    let addr = env.device_port("teltonika", Transport::Tcp);
    let trackers = [
        Teltonika::connect(addr, IMEI_1).await,
        Teltonika::connect(addr, IMEI_2).await,
        Teltonika::connect(addr, IMEI_GROUP).await,
    ];
    let mut world = World {
        env,
        admin,
        user_cookie,
        user_id,
        group_id,
        devices,
        trackers,
        ws,
        next_fix: START_MS - 100_000,
        token,
    };
    // Before any change the user sees every one of its devices live.
    for tracker in 0..3 {
        let fix = world.report(tracker).await;
        let device = world.devices[tracker];
        world
            .ws
            .expect_item("positions", MUST, position_of(device, fix))
            .await;
    }
    world
}

impl World {
    /// Tracker `index` reports one record (acked, so committed); returns its fix time.
    async fn report(&mut self, index: usize) -> i64 {
        self.next_fix += 1000;
        let fix = self.next_fix;
        self.trackers[index].report(fix).await;
        fix
    }

    async fn admin_call(&self, method: Method, path: &str, body: Option<Value>) {
        let (status, answer) = api(self.env.http(), &self.admin, method, path, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
    }

    /// Changes the user through `PUT /api/users/{id}` as the admin.
    async fn edit_user(&self, change: impl FnOnce(&mut Value)) {
        let path = format!("/api/users/{}", self.user_id);
        let (status, mut user) = api(self.env.http(), &self.admin, Method::GET, &path, None).await;
        assert_eq!(status, 200);
        change(&mut user);
        self.admin_call(Method::PUT, &path, Some(user)).await;
    }

    /// Reports from every tracker and asserts that nothing of `hidden`
    /// arrives within [`MUST_NOT`]; the others' positions must arrive,
    /// unless `closed`, when the socket must close with 1008 instead.
    async fn assert_after_change(&mut self, hidden: &[i64], closed: bool) {
        let mut expected = Vec::new();
        for index in 0..3 {
            let fix = self.report(index).await;
            let device = self.devices[index];
            if !hidden.contains(&device) {
                expected.push((device, fix));
            }
        }
        let deadline = tokio::time::Instant::now() + MUST_NOT;
        let mut close = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.ws.next(left).await {
                Got::Json(message) => {
                    for list in ["positions", "devices"] {
                        for item in message[list].as_array().into_iter().flatten() {
                            let key = if list == "positions" {
                                "deviceId"
                            } else {
                                "id"
                            };
                            let device = item[key].as_i64().unwrap();
                            assert!(
                                !hidden.contains(&device),
                                "revoked device {device} still pushed: {message}"
                            );
                            assert!(!closed, "pushed on a revoked socket: {message}");
                            if list == "positions" {
                                let fix = item["fixTime"].as_str().unwrap().to_owned();
                                expected.retain(|&(d, f)| !(d == device && support::iso(f) == fix));
                            }
                        }
                    }
                }
                Got::Closed(code) => {
                    close = Some(code);
                    break;
                }
                Got::Nothing => break,
            }
        }
        if closed {
            assert_eq!(close, Some(Some(1008)), "socket closed as revoked");
        } else {
            assert_eq!(close, None, "socket stays open");
            assert!(
                expected.is_empty(),
                "still-visible positions missing: {expected:?}"
            );
        }
    }
}

#[tokio::test]
async fn unlinking_one_of_two_devices_narrows_the_open_socket() {
    let mut w = world(Auth::Session).await;
    let body = json!({ "userId": w.user_id, "deviceId": w.devices[0] });
    w.admin_call(Method::DELETE, "/api/permissions", Some(body))
        .await;
    let hidden = [w.devices[0]];
    w.assert_after_change(&hidden, false).await;
    // And it stays narrowed.
    w.assert_after_change(&hidden, false).await;
}

#[tokio::test]
async fn unlinking_the_group_hides_its_devices() {
    let mut w = world(Auth::Session).await;
    let body = json!({ "userId": w.user_id, "groupId": w.group_id });
    w.admin_call(Method::DELETE, "/api/permissions", Some(body))
        .await;
    let hidden = [w.devices[2]];
    w.assert_after_change(&hidden, false).await;
}

#[tokio::test]
async fn a_disabled_user_is_closed() {
    let mut w = world(Auth::Session).await;
    w.edit_user(|user| user["disabled"] = json!(true)).await;
    let all = w.devices;
    w.assert_after_change(&all, true).await;
}

#[tokio::test]
async fn a_deleted_user_is_closed() {
    for auth in [Auth::Session, Auth::Basic] {
        let mut w = world(auth).await;
        let path = format!("/api/users/{}", w.user_id);
        w.admin_call(Method::DELETE, &path, None).await;
        let all = w.devices;
        w.assert_after_change(&all, true).await;
    }
}

#[tokio::test]
async fn logging_out_closes_that_sessions_socket() {
    let mut w = world(Auth::Session).await;
    let (status, _) = api(
        w.env.http(),
        &w.user_cookie,
        Method::DELETE,
        "/api/session",
        None,
    )
    .await;
    assert_eq!(status, 204);
    let all = w.devices;
    w.assert_after_change(&all, true).await;
}

#[tokio::test]
async fn a_password_change_closes_the_socket() {
    for auth in [Auth::Session, Auth::Basic] {
        let mut w = world(auth).await;
        w.edit_user(|user| user["password"] = json!("a new and different password"))
            .await;
        let all = w.devices;
        w.assert_after_change(&all, true).await;
    }
}

#[tokio::test]
async fn revoking_the_token_closes_its_socket() {
    let mut w = world(Auth::Token).await;
    let token = w.token.clone().unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("http://{}/api/session/token/revoke", w.env.http()))
        .header("Cookie", &w.user_cookie)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let again = reqwest::Client::new()
        .post(format!("http://{}/api/session/token/revoke", w.env.http()))
        .header("Cookie", &w.user_cookie)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "a revoked token is gone");
    let all = w.devices;
    w.assert_after_change(&all, true).await;
}

#[tokio::test]
async fn an_unrelated_change_keeps_everything_flowing() {
    let mut w = world(Auth::Session).await;
    // A change that bumps the access epoch but takes nothing away.
    w.edit_user(|user| user["phone"] = json!("+37060000000"))
        .await;
    w.assert_after_change(&[], false).await;
}
