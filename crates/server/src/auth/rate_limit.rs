//! Failed-login limits per account and per address, so passwords cannot be
//! guessed at speed. Memory is bounded: the tables are cleared wholesale if
//! a flood of distinct keys fills them.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures counted per key over this window.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures per account within the window before logins are refused.
const MAX_PER_ACCOUNT: usize = 10;
/// Failures per address within the window before logins are refused.
const MAX_PER_ADDRESS: usize = 50;
/// Keys tracked at most (each holds at most MAX_PER_ADDRESS instants).
const MAX_KEYS: usize = 100_000;

/// Counts failed logins.
#[derive(Default)]
pub(crate) struct LoginLimiter {
    accounts: Mutex<HashMap<String, VecDeque<Instant>>>,
    addresses: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

fn recent<K: std::hash::Hash + Eq>(
    table: &Mutex<HashMap<K, VecDeque<Instant>>>,
    key: &K,
    now: Instant,
) -> usize {
    let Ok(mut table) = table.lock() else {
        return 0;
    };
    let Some(times) = table.get_mut(key) else {
        return 0;
    };
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) > WINDOW)
    {
        times.pop_front();
    }
    times.len()
}

fn record<K: std::hash::Hash + Eq>(
    table: &Mutex<HashMap<K, VecDeque<Instant>>>,
    key: K,
    now: Instant,
    cap: usize,
) {
    let Ok(mut table) = table.lock() else {
        return;
    };
    if table.len() >= MAX_KEYS {
        table.clear();
    }
    let times = table.entry(key).or_default();
    times.push_back(now);
    while times.len() > cap {
        times.pop_front();
    }
}

impl LoginLimiter {
    /// Whether a login for `account` from `address` may be attempted now.
    pub(crate) fn allowed(&self, account: &str, address: Option<IpAddr>) -> bool {
        let now = Instant::now();
        let account = account.to_lowercase();
        if recent(&self.accounts, &account, now) >= MAX_PER_ACCOUNT {
            return false;
        }
        match address {
            Some(address) => recent(&self.addresses, &address, now) < MAX_PER_ADDRESS,
            None => true,
        }
    }

    /// Counts a failed login.
    pub(crate) fn failed(&self, account: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        record(&self.accounts, account.to_lowercase(), now, MAX_PER_ACCOUNT);
        if let Some(address) = address {
            record(&self.addresses, address, now, MAX_PER_ADDRESS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_is_locked_after_repeated_failures() {
        let limiter = LoginLimiter::default();
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..MAX_PER_ACCOUNT {
            assert!(limiter.allowed("A@example.com", ip));
            limiter.failed("a@example.com", ip);
        }
        assert!(!limiter.allowed("a@EXAMPLE.com", ip));
        assert!(limiter.allowed("b@example.com", ip));
    }

    #[test]
    fn address_is_locked_across_accounts() {
        let limiter = LoginLimiter::default();
        let ip = Some(IpAddr::from([10, 0, 0, 2]));
        for i in 0..MAX_PER_ADDRESS {
            limiter.failed(&format!("user{i}@example.com"), ip);
        }
        assert!(!limiter.allowed("new@example.com", ip));
        assert!(limiter.allowed("new@example.com", Some(IpAddr::from([10, 0, 0, 3]))));
    }
}
