//! Issue 4/8, item 5: a manager cannot hand out more than it has, and its
//! limits hold for its whole tree (what its sub-managers' users and devices
//! add counts against it too). As Traccar: a non-administrator cannot
//! grant `userLimit`, give a `deviceLimit` above its own, make an
//! administrator, or clear `readonly`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{api, Env, PASSWORD};
use trackd_model::{Link, UserFields, UserId};
use trackd_server::auth::hash_password;
use trackd_server::ServerConfig;
use trackd_store::Store;

async fn user(store: &Store, email: &str, user_limit: i32, device_limit: i32) -> UserId {
    store
        .create_user(
            UserFields {
                name: email.into(),
                email: email.into(),
                user_limit,
                device_limit,
                ..UserFields::default()
            },
            Some(hash_password(PASSWORD).unwrap()),
        )
        .await
        .unwrap()
        .id
}

async fn manages(store: &Store, manager: UserId, managed: UserId) {
    store
        .link(Link::UserManagedUser(manager, managed))
        .await
        .unwrap();
}

fn new_user(email: &str) -> Value {
    json!({ "name": email, "email": email, "password": "a good long password" })
}

fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

async fn post(env: &Env, cookie: &str, path: &str, body: Value) -> (u16, Value) {
    api(env.http(), cookie, Method::POST, path, Some(body)).await
}

/// A manager that may have 3 users and 3 devices.
async fn with_manager() -> Env {
    Env::start(ServerConfig::none(), |store| async move {
        user(&store, "manager@example.com", 3, 3).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_cannot_grant_user_limit_or_administrator() {
    let env = with_manager().await;
    let cookie = env.login("manager@example.com").await;
    for (key, value) in [
        ("userLimit", json!(5)),
        ("userLimit", json!(-1)),
        ("userLimit", json!(1)),
        ("administrator", json!(true)),
    ] {
        let body = with(new_user("sub@example.com"), key, value.clone());
        let (status, answer) = post(&env, &cookie, "/api/users", body).await;
        assert_eq!(status, 403, "{key}={value}: {answer}");
        assert!(answer["error"].is_string());
    }
    assert!(env
        .store()
        .user_by_email("sub@example.com")
        .await
        .unwrap()
        .is_none());
    // A plain user is fine.
    let (status, made) = post(&env, &cookie, "/api/users", new_user("sub@example.com")).await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["userLimit"], 0);
    assert_eq!(made["administrator"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_cannot_give_a_device_limit_above_its_own() {
    let env = with_manager().await;
    let cookie = env.login("manager@example.com").await;
    let body = with(new_user("many@example.com"), "deviceLimit", json!(4));
    let (status, _) = post(&env, &cookie, "/api/users", body).await;
    assert_eq!(status, 403);
    let body = with(new_user("two@example.com"), "deviceLimit", json!(2));
    let (status, made) = post(&env, &cookie, "/api/users", body).await;
    assert_eq!(status, 200);
    assert_eq!(made["deviceLimit"], 2);
    // Left at the default (unlimited), it gets the manager's own.
    let (status, made) = post(&env, &cookie, "/api/users", new_user("dflt@example.com")).await;
    assert_eq!(status, 200);
    assert_eq!(made["deviceLimit"], 3);
    // Nor can it be raised later.
    let path = format!("/api/users/{}", made["id"]);
    let raised = with(made.clone(), "deviceLimit", json!(-1));
    let (status, _) = api(env.http(), &cookie, Method::PUT, &path, Some(raised)).await;
    assert_eq!(status, 403);
    let lowered = with(made, "deviceLimit", json!(1));
    let (status, saved) = api(env.http(), &cookie, Method::PUT, &path, Some(lowered)).await;
    assert_eq!(status, 200);
    assert_eq!(saved["deviceLimit"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_cannot_clear_readonly_or_change_a_user_limit_an_administrator_set() {
    let env = Env::start(ServerConfig::none(), |store| async move {
        let manager = user(&store, "manager@example.com", 5, -1).await;
        let viewer = store
            .create_user(
                UserFields {
                    name: "viewer".into(),
                    email: "viewer@example.com".into(),
                    readonly: true,
                    device_limit: -1,
                    ..UserFields::default()
                },
                None,
            )
            .await
            .unwrap()
            .id;
        let sub = user(&store, "sub@example.com", 2, -1).await;
        manages(&store, manager, viewer).await;
        manages(&store, manager, sub).await;
    })
    .await;
    let cookie = env.login("manager@example.com").await;
    let get = async |email: &str| {
        let id = env.store().user_by_email(email).await.unwrap().unwrap().id;
        let path = format!("/api/users/{id}");
        let (status, value) = api(env.http(), &cookie, Method::GET, &path, None).await;
        assert_eq!(status, 200);
        (path, value)
    };
    let (path, viewer) = get("viewer@example.com").await;
    let cleared = with(viewer.clone(), "readonly", json!(false));
    let (status, _) = api(env.http(), &cookie, Method::PUT, &path, Some(cleared)).await;
    assert_eq!(status, 403);
    // Saving the user unchanged, or changing what a manager may, is fine.
    let renamed = with(viewer, "name", json!("Viewer"));
    let (status, saved) = api(env.http(), &cookie, Method::PUT, &path, Some(renamed)).await;
    assert_eq!(status, 200);
    assert_eq!(saved["readonly"], true);

    let (path, sub) = get("sub@example.com").await;
    for limit in [3, -1, 0] {
        let changed = with(sub.clone(), "userLimit", json!(limit));
        let (status, _) = api(env.http(), &cookie, Method::PUT, &path, Some(changed)).await;
        assert_eq!(status, 403, "userLimit {limit}");
    }
    let promoted = with(sub.clone(), "administrator", json!(true));
    let (status, _) = api(env.http(), &cookie, Method::PUT, &path, Some(promoted)).await;
    assert_eq!(status, 403);
    let (status, _) = api(env.http(), &cookie, Method::PUT, &path, Some(sub)).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_limit_holds_for_the_whole_tree() {
    // The manager may have 2 users; an administrator gave its sub-manager 5.
    let env = Env::start(ServerConfig::none(), |store| async move {
        let manager = user(&store, "manager@example.com", 2, -1).await;
        let sub = user(&store, "sub@example.com", 5, -1).await;
        manages(&store, manager, sub).await;
    })
    .await;
    let sub = env.login("sub@example.com").await;
    // The manager's tree: sub + one = 2.
    let (status, _) = post(&env, &sub, "/api/users", new_user("one@example.com")).await;
    assert_eq!(status, 200);
    let (status, answer) = post(&env, &sub, "/api/users", new_user("two@example.com")).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("managing user"));
    let manager = env.login("manager@example.com").await;
    let (status, _) = post(&env, &manager, "/api/users", new_user("three@example.com")).await;
    assert_eq!(status, 403);
    assert!(env
        .store()
        .user_by_email("two@example.com")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_limit_holds_for_the_whole_tree() {
    // The manager may have 2 devices; its sub-manager is unlimited.
    let env = Env::start(ServerConfig::none(), |store| async move {
        let manager = user(&store, "manager@example.com", 5, 2).await;
        let sub = user(&store, "sub@example.com", 5, -1).await;
        let plain = user(&store, "plain@example.com", 0, 1).await;
        manages(&store, manager, sub).await;
        manages(&store, sub, plain).await;
    })
    .await;
    let device = |n: u32| json!({ "name": format!("truck {n}"), "uniqueId": format!("tree-{n}") });
    let plain = env.login("plain@example.com").await;
    let (status, _) = post(&env, &plain, "/api/devices", device(1)).await;
    assert_eq!(status, 200);
    // The plain user's own limit (1).
    let (status, answer) = post(&env, &plain, "/api/devices", device(2)).await;
    assert_eq!(status, 403, "{answer}");
    let sub = env.login("sub@example.com").await;
    let (status, _) = post(&env, &sub, "/api/devices", device(3)).await;
    assert_eq!(status, 200);
    // Two devices in the manager's tree now: the unlimited sub-manager is
    // held by the manager's limit.
    let (status, answer) = post(&env, &sub, "/api/devices", device(4)).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("managing user"));
    assert!(env
        .store()
        .device_by_unique_id("tree-4")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_cannot_push_a_user_over_its_limits() {
    let env = Env::start(ServerConfig::none(), |store| async move {
        let manager = user(&store, "manager@example.com", 5, 5).await;
        let small = user(&store, "small@example.com", 0, 1).await;
        manages(&store, manager, small).await;
    })
    .await;
    let cookie = env.login("manager@example.com").await;
    let mut ids = Vec::new();
    for n in 0..2 {
        let body = json!({ "name": format!("van {n}"), "uniqueId": format!("link-{n}") });
        let (status, made) = post(&env, &cookie, "/api/devices", body).await;
        assert_eq!(status, 200);
        ids.push(made["id"].as_i64().unwrap());
    }
    let small = env
        .store()
        .user_by_email("small@example.com")
        .await
        .unwrap()
        .unwrap()
        .id
        .get();
    let link = |device: i64| json!({ "userId": small, "deviceId": device });
    let (status, _) = post(&env, &cookie, "/api/permissions", link(ids[0])).await;
    assert_eq!(status, 204);
    // Linking it again changes nothing and is allowed.
    let (status, _) = post(&env, &cookie, "/api/permissions", link(ids[0])).await;
    assert_eq!(status, 204);
    let (status, answer) = post(&env, &cookie, "/api/permissions", link(ids[1])).await;
    assert_eq!(status, 403, "{answer}");
}
