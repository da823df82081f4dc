//! Issue 4/8, items 2 and 4: failed logins can neither exhaust memory
//! (hashing runs on a fixed pool behind a bounded queue; excess attempts
//! are refused with a JSON 429/503 and `Retry-After`, never queued without
//! bound) nor lock anybody out (throttling is per account and client
//! address, and behind a trusted proxy the client address is the one the
//! proxy reports). Real server, real HTTP, manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use support::{create_user, login_from, Env, PASSWORD};
use trackd_server::auth::parse_trusted_proxy;
use trackd_server::ServerConfig;

const ATTACKER: [u8; 4] = [127, 0, 0, 1];
const REAL_USER: [u8; 4] = [127, 0, 0, 2];

fn ip(octets: [u8; 4]) -> IpAddr {
    IpAddr::from(octets)
}

/// `n` bad logins at once from 127.0.0.1, each for a different unknown
/// account (so no per-account throttle is involved); their statuses, with
/// every refusal checked to be JSON with a `Retry-After`.
async fn concurrent_bad_logins(http: SocketAddr, n: usize) -> Vec<u16> {
    let client = reqwest::Client::builder()
        .local_address(ip(ATTACKER))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let attempts: Vec<_> = (0..n)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let response = client
                    .post(format!("http://{http}/api/session"))
                    .form(&[
                        ("email", format!("nobody{i}@example.com")),
                        ("password", "wrong password".to_owned()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                if status == 429 || status == 503 {
                    let retry = response.headers().get("retry-after").cloned();
                    let seconds: u64 = retry.unwrap().to_str().unwrap().parse().unwrap();
                    assert!(seconds >= 1);
                    let body: Value = response.json().await.unwrap();
                    assert!(body["error"].as_str().unwrap().contains("retry later"));
                }
                status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_concurrent_logins_get_503_instead_of_an_unbounded_queue() {
    let config = ServerConfig {
        login_workers: 1,
        login_queue: 2,
        // Let every attempt reach the hashing queue: the queue refuses.
        login_concurrency_per_address: 1_000,
        ..ServerConfig::none()
    };
    let env = Env::start(config, |_| async {}).await;
    let statuses = concurrent_bad_logins(env.http(), 60).await;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    let refused = statuses.iter().filter(|s| **s == 503).count();
    assert!(
        refused > 0,
        "60 at once cannot all fit one worker and a queue of 2"
    );
    let stats = env.server.hashing_stats();
    assert_eq!(stats.workers, 1);
    assert_eq!(stats.peak_running, 1, "{stats:?}");
    assert_eq!(
        stats.completed,
        statuses.iter().filter(|s| **s == 401).count() as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_from_one_address_are_capped_with_429() {
    let config = ServerConfig {
        login_workers: 2,
        login_queue: 1_000,
        login_concurrency_per_address: 2,
        ..ServerConfig::none()
    };
    let env = Env::start(config, |store| async move {
        create_user(&store, "real@example.com", false).await;
    })
    .await;
    let statuses = concurrent_bad_logins(env.http(), 60).await;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(env.server.hashing_stats().peak_running <= 2);
    // The in-flight slots were given back: the real user gets in.
    let (status, cookie, _) = login_from(
        env.http(),
        ip(REAL_USER),
        "real@example.com",
        PASSWORD,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(cookie.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_elsewhere_cannot_lock_the_real_user_out() {
    let env = Env::start(ServerConfig::none(), |store| async move {
        create_user(&store, "victim@example.com", false).await;
    })
    .await;
    let http = env.http();
    let mut throttled = None;
    for _ in 0..20 {
        let (status, _, retry) =
            login_from(http, ip(ATTACKER), "victim@example.com", "guess", None).await;
        assert!(status == 401 || status == 429, "{status}");
        if status == 429 {
            throttled = retry;
            break;
        }
    }
    assert_eq!(
        throttled.as_deref(),
        Some("1"),
        "throttled after 5 failures"
    );
    // The attacker's address is slowed even with the right password ...
    let (status, _, _) = login_from(http, ip(ATTACKER), "victim@example.com", PASSWORD, None).await;
    assert_eq!(status, 429);
    // ... while the real user, from its own address, logs in at once.
    let (status, cookie, _) =
        login_from(http, ip(REAL_USER), "victim@example.com", PASSWORD, None).await;
    assert_eq!(status, 200);
    assert!(cookie.is_some());
    // HTTP Basic counts the same way.
    let basic = reqwest::Client::builder()
        .local_address(ip(ATTACKER))
        .build()
        .unwrap()
        .get(format!("http://{http}/api/devices"))
        .basic_auth("victim@example.com", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 429);
    // The delays grow: after the wait one more guess, then a longer wait.
    env.clock.advance(1_000);
    let (status, _, _) = login_from(http, ip(ATTACKER), "victim@example.com", "guess", None).await;
    assert_eq!(status, 401);
    let (status, _, retry) =
        login_from(http, ip(ATTACKER), "victim@example.com", "guess", None).await;
    assert_eq!(status, 429);
    assert_eq!(retry.as_deref(), Some("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_two_clients_are_throttled_separately() {
    let config = ServerConfig {
        trusted_proxies: vec![parse_trusted_proxy("127.0.0.1/32").unwrap()],
        ..ServerConfig::none()
    };
    let env = Env::start(config, |store| async move {
        create_user(&store, "shared@example.com", false).await;
    })
    .await;
    let http = env.http();
    let proxy = ip(ATTACKER);
    // Both clients come through the proxy at 127.0.0.1.
    let mut last = 0;
    for _ in 0..10 {
        let (status, _, _) = login_from(
            http,
            proxy,
            "shared@example.com",
            "guess",
            Some("203.0.113.1"),
        )
        .await;
        last = status;
    }
    assert_eq!(last, 429, "the guessing client is throttled");
    // A hop the client wrote itself, left of what the proxy saw, is ignored.
    let (status, _, _) = login_from(
        http,
        proxy,
        "shared@example.com",
        PASSWORD,
        Some("198.51.100.1, 203.0.113.1"),
    )
    .await;
    assert_eq!(status, 429);
    let (status, cookie, _) = login_from(
        http,
        proxy,
        "shared@example.com",
        PASSWORD,
        Some("203.0.113.2"),
    )
    .await;
    assert_eq!(status, 200, "the other client behind the proxy is not");
    assert!(cookie.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_peers_forwarded_for_is_ignored() {
    // No trusted proxies: X-Forwarded-For is the client's own claim.
    let env = Env::start(ServerConfig::none(), |store| async move {
        create_user(&store, "target@example.com", false).await;
    })
    .await;
    let http = env.http();
    for i in 0..10 {
        // A new forged address on every guess does not escape the throttle.
        let forged = format!("203.0.113.{i}");
        login_from(
            http,
            ip(ATTACKER),
            "target@example.com",
            "guess",
            Some(&forged),
        )
        .await;
    }
    let (status, _, _) = login_from(
        http,
        ip(ATTACKER),
        "target@example.com",
        PASSWORD,
        Some("203.0.113.99"),
    )
    .await;
    assert_eq!(status, 429);
    let (status, _, _) = login_from(
        http,
        ip(REAL_USER),
        "target@example.com",
        PASSWORD,
        Some("203.0.113.1"),
    )
    .await;
    assert_eq!(
        status, 200,
        "a forged header does not throttle someone else"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_login_past_the_deadline_is_refused() {
    let config = ServerConfig {
        login_workers: 1,
        login_queue: 8,
        login_queue_timeout: Duration::ZERO,
        ..ServerConfig::none()
    };
    let env = Env::start(config, |store| async move {
        create_user(&store, "late@example.com", false).await;
    })
    .await;
    let (status, _, retry) = login_from(
        env.http(),
        ip(REAL_USER),
        "late@example.com",
        PASSWORD,
        None,
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(retry.as_deref(), Some("1"));
}
