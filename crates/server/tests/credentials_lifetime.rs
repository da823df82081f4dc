//! Issue 4/8, item 6 (credentials): a password change ends the user's
//! other sessions and API tokens (the session making the change stays);
//! tokens created without an expiration get the configured default
//! lifetime; expired sessions and tokens are deleted by a background job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use support::{api, create_user, Env, MUST, START_MS};
use trackd_model::{Timestamp, UserId};
use trackd_server::auth::secret_hash;
use trackd_server::ServerConfig;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Creates an API token with the session `cookie`; `expiration` as the form sends it.
async fn new_token(http: SocketAddr, cookie: &str, expiration: Option<&str>) -> String {
    let mut form = Vec::new();
    if let Some(expiration) = expiration {
        form.push(("expiration", expiration));
    }
    let response = reqwest::Client::new()
        .post(format!("http://{http}/api/session/token"))
        .header("Cookie", cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The status of `GET /api/devices` with this bearer token.
async fn with_token(http: SocketAddr, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{http}/api/devices"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The status of `GET /api/devices` with this session cookie.
async fn with_cookie(http: SocketAddr, cookie: &str) -> u16 {
    api(http, cookie, Method::GET, "/api/devices", None).await.0
}

async fn change_password(http: SocketAddr, cookie: &str, user_id: UserId, password: &str) -> u16 {
    let path = format!("/api/users/{user_id}");
    let (status, mut user) = api(http, cookie, Method::GET, &path, None).await;
    assert_eq!(status, 200);
    user["password"] = json!(password);
    api(http, cookie, Method::PUT, &path, Some(user)).await.0
}

async fn login_with(http: SocketAddr, email: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{http}/api/session"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_the_users_other_sessions_and_tokens() {
    let env = Env::start(ServerConfig::none(), |store| async move {
        create_user(&store, "me@example.com", false).await;
        create_user(&store, "other@example.com", false).await;
    })
    .await;
    let http = env.http();
    let me = env
        .store()
        .user_by_email("me@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let changing = env.login("me@example.com").await;
    let laptop = env.login("me@example.com").await;
    let token = new_token(http, &laptop, None).await;
    let bystander = env.login("other@example.com").await;
    assert_eq!(with_token(http, &token).await, 200);

    assert_eq!(
        change_password(http, &changing, me, "a brand new password").await,
        200
    );
    // The session that made the change goes on; the others end.
    assert_eq!(with_cookie(http, &changing).await, 200);
    assert_eq!(with_cookie(http, &laptop).await, 401);
    assert_eq!(with_token(http, &token).await, 401);
    // Nobody else is touched.
    assert_eq!(with_cookie(http, &bystander).await, 200);
    assert_eq!(
        login_with(http, "me@example.com", "a brand new password").await,
        200
    );
    assert_eq!(
        login_with(http, "me@example.com", support::PASSWORD).await,
        401
    );

    // A token can change its user's password too and is the one kept.
    let keeper = new_token(http, &changing, None).await;
    let other_token = new_token(http, &changing, None).await;
    let path = format!("/api/users/{me}");
    let mut user: Value = reqwest::Client::new()
        .get(format!("http://{http}{path}"))
        .bearer_auth(&keeper)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    user["password"] = json!("yet another password");
    let status = reqwest::Client::new()
        .put(format!("http://{http}{path}"))
        .bearer_auth(&keeper)
        .json(&user)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert_eq!(with_token(http, &keeper).await, 200);
    assert_eq!(with_token(http, &other_token).await, 401);
    assert_eq!(with_cookie(http, &changing).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_changing_a_password_ends_all_of_that_users_sessions() {
    let env = Env::start(ServerConfig::none(), |store| async move {
        create_user(&store, "admin@example.com", true).await;
        create_user(&store, "user@example.com", false).await;
    })
    .await;
    let http = env.http();
    let user_id = env
        .store()
        .user_by_email("user@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let admin = env.login("admin@example.com").await;
    let user = env.login("user@example.com").await;
    let token = new_token(http, &user, None).await;
    assert_eq!(
        change_password(http, &admin, user_id, "reset by the admin").await,
        200
    );
    assert_eq!(with_cookie(http, &user).await, 401);
    assert_eq!(with_token(http, &token).await, 401);
    assert_eq!(with_cookie(http, &admin).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_without_an_expiration_get_the_default_lifetime() {
    let config = ServerConfig {
        token_default_lifetime: Some(Duration::from_secs(24 * 3600)),
        ..ServerConfig::none()
    };
    let env = Env::start(config, |store| async move {
        create_user(&store, "t@example.com", false).await;
    })
    .await;
    let http = env.http();
    let cookie = env.login("t@example.com").await;
    let short = new_token(http, &cookie, None).await;
    let empty = new_token(http, &cookie, Some("")).await;
    // An explicit expiration is kept, even beyond the default.
    let long = new_token(http, &cookie, Some("2024-11-14T00:00:00Z")).await;
    env.clock.advance(DAY_MS - 1);
    assert_eq!(with_token(http, &short).await, 200);
    env.clock.advance(1);
    assert_eq!(with_token(http, &short).await, 401);
    assert_eq!(with_token(http, &empty).await, 401);
    assert_eq!(with_token(http, &long).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_default_lifetime_tokens_do_not_expire() {
    let config = ServerConfig {
        token_default_lifetime: None,
        ..ServerConfig::none()
    };
    let env = Env::start(config, |store| async move {
        create_user(&store, "t@example.com", false).await;
    })
    .await;
    let cookie = env.login("t@example.com").await;
    let token = new_token(env.http(), &cookie, None).await;
    env.clock.advance(20 * 365 * DAY_MS);
    assert_eq!(with_token(env.http(), &token).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_and_tokens_are_purged_in_the_background() {
    let config = ServerConfig {
        credential_purge_interval: Duration::from_millis(50),
        ..ServerConfig::none()
    };
    let env = Env::start(config, |store| async move {
        let id = create_user(&store, "p@example.com", false).await;
        let t = |ms| Timestamp::from_millis(START_MS + ms);
        store
            .create_session(id, &secret_hash("soon"), t(1_000))
            .await
            .unwrap();
        store
            .create_token(id, &secret_hash("soon"), Some(t(1_000)))
            .await
            .unwrap();
        store
            .create_session(id, &secret_hash("later"), t(DAY_MS))
            .await
            .unwrap();
        store
            .create_token(id, &secret_hash("never"), None)
            .await
            .unwrap();
    })
    .await;
    let store = env.store().clone();
    // Lookups at the start time see a row for as long as it exists.
    let exists = async |hash: &str, session: bool| {
        let at = Timestamp::from_millis(START_MS);
        let hash = secret_hash(hash);
        if session {
            store.user_by_session(&hash, at).await.unwrap().is_some()
        } else {
            store.user_by_token(&hash, at).await.unwrap().is_some()
        }
    };
    assert!(exists("soon", true).await && exists("soon", false).await);
    env.clock.advance(1_000);
    let deadline = tokio::time::Instant::now() + MUST;
    while exists("soon", true).await || exists("soon", false).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired credentials still stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(exists("later", true).await);
    assert!(exists("never", false).await);
}
