//! Failed-login throttling, so passwords cannot be guessed at speed and
//! nobody can lock anybody else out.
//!
//! Failures are counted per (account, address): after
//! [`FREE_PER_ACCOUNT_ADDRESS`] failures each further one makes that pair
//! wait, 1 s, 2 s, 4 s, ... up to [`MAX_DELAY_MS`]. An attacker guessing a
//! password from one address slows only itself: the real user, from its
//! own address, logs in at once. Failures per address across accounts
//! (one address trying many accounts) are throttled the same way after
//! [`FREE_PER_ADDRESS`]; behind a reverse proxy the address is the client's
//! as the trusted proxy reports it (see `address.rs`), so one proxy's users
//! are not throttled together. A success clears its pair; a key forgets
//! its failures [`FORGET_MS`] after the last one.
//!
//! Attempts in flight count too: an address has at most
//! `login_concurrency_per_address` attempts being checked at once (see
//! [`LoginLimiter::begin`]), so a flood of parallel guesses cannot all pass
//! the check before the first failure is counted, nor fill the hashing
//! queue that other addresses share.
//!
//! Attempts also say where they wait for a hashing thread
//! ([`Attempt::priority`]): an address that failed, or began an attempt
//! that has not succeeded, within the last hour waits behind the others.
//!
//! Time is the server's clock (a manual clock in tests); memory is bounded:
//! when a table is full its forgotten keys are dropped, and if that is not
//! enough it is cleared.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use trackd_model::Timestamp;

use super::hashing::Priority;

/// Failures of one account from one address before delays start.
pub(crate) const FREE_PER_ACCOUNT_ADDRESS: u32 = 5;
/// Failures from one address (all accounts) before delays start.
pub(crate) const FREE_PER_ADDRESS: u32 = 50;
/// The first delay; each further failure doubles it.
const BASE_DELAY_MS: i64 = 1_000;
/// The longest delay.
pub(crate) const MAX_DELAY_MS: i64 = 15 * 60 * 1_000;
/// A key's failures are forgotten this long after the last one.
const FORGET_MS: i64 = 60 * 60 * 1_000;
/// Keys tracked at most per table.
const MAX_KEYS: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last_ms: i64,
    /// No attempt before this instant.
    wait_until_ms: i64,
}

impl Failures {
    fn forgotten(&self, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.last_ms) > FORGET_MS.max(self.wait_until_ms - self.last_ms)
    }
}

/// The delay after the `count`-th failure when `free` are free.
fn delay_ms(count: u32, free: u32) -> i64 {
    if count < free {
        return 0;
    }
    let doublings = (count - free).min(20);
    BASE_DELAY_MS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_DELAY_MS)
}

struct Table<K> {
    free: u32,
    entries: HashMap<K, Failures>,
}

impl<K: std::hash::Hash + Eq> Table<K> {
    fn new(free: u32) -> Self {
        Table {
            free,
            entries: HashMap::new(),
        }
    }

    /// Milliseconds until `key` may try again (0: now).
    fn wait_ms(&mut self, key: &K, now_ms: i64) -> i64 {
        let Some(failures) = self.entries.get(key) else {
            return 0;
        };
        if failures.forgotten(now_ms) {
            self.entries.remove(key);
            return 0;
        }
        (failures.wait_until_ms - now_ms).max(0)
    }

    fn fail(&mut self, key: K, now_ms: i64) {
        if self.entries.len() >= MAX_KEYS && !self.entries.contains_key(&key) {
            self.entries.retain(|_, f| !f.forgotten(now_ms));
            if self.entries.len() >= MAX_KEYS {
                self.entries.clear();
            }
        }
        let failures = self.entries.entry(key).or_insert(Failures {
            count: 0,
            last_ms: now_ms,
            wait_until_ms: now_ms,
        });
        if failures.forgotten(now_ms) {
            failures.count = 0;
        }
        failures.count = failures.count.saturating_add(1);
        failures.last_ms = now_ms;
        failures.wait_until_ms = now_ms.saturating_add(delay_ms(failures.count, self.free));
    }
}

/// Why an attempt may not be made now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Too many failures: wait this many seconds.
    Throttled { retry_after_secs: u64 },
    /// Too many attempts from this address at once.
    Concurrent,
}

struct State {
    pairs: Table<(String, IpAddr)>,
    addresses: Table<IpAddr>,
    in_flight: HashMap<IpAddr, usize>,
    /// When each address last began an attempt that has not succeeded.
    unproven: HashMap<IpAddr, i64>,
}

/// Counts failed and in-flight logins.
pub(crate) struct LoginLimiter {
    state: Arc<Mutex<State>>,
    concurrency_per_address: usize,
}

/// An attempt being checked; dropping it ends the attempt.
pub(crate) struct Attempt {
    state: Arc<Mutex<State>>,
    address: Option<IpAddr>,
    priority: Priority,
}

impl Attempt {
    /// Where the attempt waits for a hashing thread: first if its address
    /// has neither failed nor begun an attempt that did not succeed within
    /// the last hour, so a campaign from many addresses gets one early
    /// guess per address and then waits behind everyone else.
    pub(crate) fn priority(&self) -> Priority {
        self.priority
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let Some(address) = self.address else {
            return;
        };
        if let Ok(mut state) = self.state.lock() {
            if let Some(count) = state.in_flight.get_mut(&address) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    state.in_flight.remove(&address);
                }
            }
        }
    }
}

fn seconds(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1_000).unwrap_or(1).max(1)
}

impl LoginLimiter {
    /// At most `concurrency_per_address` attempts from one address at once.
    pub(crate) fn new(concurrency_per_address: usize) -> Self {
        LoginLimiter {
            state: Arc::new(Mutex::new(State {
                pairs: Table::new(FREE_PER_ACCOUNT_ADDRESS),
                addresses: Table::new(FREE_PER_ADDRESS),
                in_flight: HashMap::new(),
                unproven: HashMap::new(),
            })),
            concurrency_per_address: concurrency_per_address.max(1),
        }
    }

    /// Starts an attempt for `account` from `address` at `now`, or says why
    /// not. Without an address (no peer information) only the account is
    /// known and nothing is throttled.
    pub(crate) fn begin(
        &self,
        account: &str,
        address: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<Attempt, Refusal> {
        let Some(address) = address else {
            return Ok(Attempt {
                state: self.state.clone(),
                address: None,
                priority: Priority::First,
            });
        };
        let now_ms = now.as_millis();
        // A poisoned lock only means another attempt panicked: refuse
        // rather than let guesses through unthrottled.
        let Ok(mut state) = self.state.lock() else {
            return Err(Refusal::Concurrent);
        };
        let pair = (account.to_lowercase(), address);
        let wait = state
            .pairs
            .wait_ms(&pair, now_ms)
            .max(state.addresses.wait_ms(&address, now_ms));
        if wait > 0 {
            return Err(Refusal::Throttled {
                retry_after_secs: seconds(wait),
            });
        }
        let in_flight = state.in_flight.entry(address).or_insert(0);
        if *in_flight >= self.concurrency_per_address {
            return Err(Refusal::Concurrent);
        }
        *in_flight += 1;
        let failed = state
            .addresses
            .entries
            .get(&address)
            .is_some_and(|failures| !failures.forgotten(now_ms));
        let unproven = state
            .unproven
            .get(&address)
            .is_some_and(|since| now_ms.saturating_sub(*since) <= FORGET_MS);
        let priority = if failed || unproven {
            Priority::Later
        } else {
            Priority::First
        };
        if state.unproven.len() >= MAX_KEYS && !state.unproven.contains_key(&address) {
            state
                .unproven
                .retain(|_, since| now_ms.saturating_sub(*since) <= FORGET_MS);
            if state.unproven.len() >= MAX_KEYS {
                state.unproven.clear();
            }
        }
        state.unproven.insert(address, now_ms);
        Ok(Attempt {
            state: self.state.clone(),
            address: Some(address),
            priority,
        })
    }

    /// Counts a failed attempt.
    pub(crate) fn failed(&self, account: &str, address: Option<IpAddr>, now: Timestamp) {
        let Some(address) = address else {
            return;
        };
        if let Ok(mut state) = self.state.lock() {
            let now_ms = now.as_millis();
            state.pairs.fail((account.to_lowercase(), address), now_ms);
            state.addresses.fail(address, now_ms);
        }
    }

    /// A successful login clears the failures of its (account, address)
    /// and proves its address (failures of the address itself stay).
    pub(crate) fn succeeded(&self, account: &str, address: Option<IpAddr>) {
        let Some(address) = address else {
            return;
        };
        if let Ok(mut state) = self.state.lock() {
            state
                .pairs
                .entries
                .remove(&(account.to_lowercase(), address));
            state.unproven.remove(&address);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(T0 + ms)
    }

    fn fail_once(limiter: &LoginLimiter, account: &str, ip: IpAddr, ms: i64) {
        let attempt = limiter.begin(account, Some(ip), at(ms)).unwrap();
        limiter.failed(account, Some(ip), at(ms));
        drop(attempt);
    }

    #[test]
    fn delays_grow_per_account_and_address_and_are_capped() {
        let limiter = LoginLimiter::new(4);
        let attacker = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..FREE_PER_ACCOUNT_ADDRESS - 1 {
            fail_once(&limiter, "a@example.com", attacker, 0);
        }
        assert!(limiter
            .begin("a@example.com", Some(attacker), at(0))
            .is_ok());
        fail_once(&limiter, "a@example.com", attacker, 0);
        // The fifth failure: wait 1 s.
        assert_eq!(
            limiter.begin("A@EXAMPLE.com", Some(attacker), at(0)).err(),
            Some(Refusal::Throttled {
                retry_after_secs: 1
            })
        );
        assert!(limiter
            .begin("a@example.com", Some(attacker), at(1_000))
            .is_ok());
        fail_once(&limiter, "a@example.com", attacker, 1_000);
        assert_eq!(
            limiter
                .begin("a@example.com", Some(attacker), at(1_000))
                .err(),
            Some(Refusal::Throttled {
                retry_after_secs: 2
            })
        );
        // Keep failing whenever allowed: the delay doubles up to the cap.
        let mut now = 1_000;
        let mut last_wait = 0;
        for _ in 0..30 {
            now += match limiter.begin("a@example.com", Some(attacker), at(now)) {
                Err(Refusal::Throttled { retry_after_secs }) => {
                    last_wait = retry_after_secs;
                    retry_after_secs as i64 * 1_000
                }
                other => panic!("{:?}", other.err()),
            };
            fail_once(&limiter, "a@example.com", attacker, now);
        }
        assert_eq!(last_wait as i64 * 1_000, MAX_DELAY_MS);
        // Meanwhile another address logs in to the same account at once,
        // and the attacker may try other accounts.
        let user = IpAddr::from([10, 0, 0, 2]);
        assert!(limiter.begin("a@example.com", Some(user), at(now)).is_ok());
        assert!(limiter
            .begin("b@example.com", Some(attacker), at(now))
            .is_ok());
    }

    #[test]
    fn one_address_trying_many_accounts_is_throttled_alone() {
        let limiter = LoginLimiter::new(4);
        let ip = IpAddr::from([10, 0, 0, 2]);
        for i in 0..FREE_PER_ADDRESS {
            fail_once(&limiter, &format!("user{i}@example.com"), ip, 0);
        }
        assert!(matches!(
            limiter.begin("new@example.com", Some(ip), at(0)),
            Err(Refusal::Throttled { .. })
        ));
        let other = IpAddr::from([10, 0, 0, 3]);
        assert!(limiter.begin("new@example.com", Some(other), at(0)).is_ok());
    }

    #[test]
    fn success_clears_the_pair_and_failures_are_forgotten() {
        let limiter = LoginLimiter::new(4);
        let ip = IpAddr::from([10, 0, 0, 4]);
        for _ in 0..FREE_PER_ACCOUNT_ADDRESS {
            fail_once(&limiter, "a@example.com", ip, 0);
        }
        assert!(limiter.begin("a@example.com", Some(ip), at(0)).is_err());
        limiter.succeeded("a@example.com", Some(ip));
        assert!(limiter.begin("a@example.com", Some(ip), at(0)).is_ok());

        for _ in 0..FREE_PER_ACCOUNT_ADDRESS {
            fail_once(&limiter, "c@example.com", ip, 0);
        }
        assert!(limiter.begin("c@example.com", Some(ip), at(0)).is_err());
        // An hour later the count starts again: five free failures.
        let later = FORGET_MS + 1;
        for _ in 0..FREE_PER_ACCOUNT_ADDRESS - 1 {
            fail_once(&limiter, "c@example.com", ip, later);
        }
        assert!(limiter.begin("c@example.com", Some(ip), at(later)).is_ok());
    }

    #[test]
    fn in_flight_attempts_are_capped_per_address() {
        let limiter = LoginLimiter::new(2);
        let ip = IpAddr::from([10, 0, 0, 5]);
        let first = limiter.begin("a@example.com", Some(ip), at(0)).unwrap();
        let _second = limiter.begin("b@example.com", Some(ip), at(0)).unwrap();
        assert_eq!(
            limiter.begin("c@example.com", Some(ip), at(0)).err(),
            Some(Refusal::Concurrent)
        );
        let other = IpAddr::from([10, 0, 0, 6]);
        assert!(limiter.begin("c@example.com", Some(other), at(0)).is_ok());
        drop(first);
        assert!(limiter.begin("c@example.com", Some(ip), at(0)).is_ok());
    }

    #[test]
    fn unproven_addresses_wait_behind_the_others() {
        let limiter = LoginLimiter::new(4);
        let user = IpAddr::from([10, 0, 0, 7]);
        let guesser = IpAddr::from([10, 0, 0, 8]);
        // A first attempt goes first; while it is pending, or after it
        // failed, the address waits behind; a success proves it again.
        let first = limiter.begin("u@example.com", Some(user), at(0)).unwrap();
        assert_eq!(first.priority(), Priority::First);
        let second = limiter.begin("u@example.com", Some(user), at(0)).unwrap();
        assert_eq!(second.priority(), Priority::Later);
        limiter.succeeded("u@example.com", Some(user));
        drop((first, second));
        let again = limiter.begin("u@example.com", Some(user), at(1)).unwrap();
        assert_eq!(again.priority(), Priority::First);

        let guess = limiter
            .begin("u@example.com", Some(guesser), at(0))
            .unwrap();
        assert_eq!(guess.priority(), Priority::First);
        limiter.failed("u@example.com", Some(guesser), at(0));
        drop(guess);
        let guess = limiter
            .begin("v@example.com", Some(guesser), at(1))
            .unwrap();
        assert_eq!(guess.priority(), Priority::Later);
        // Its own success does not clear the address's failures.
        limiter.succeeded("v@example.com", Some(guesser));
        drop(guess);
        let guess = limiter
            .begin("w@example.com", Some(guesser), at(2))
            .unwrap();
        assert_eq!(guess.priority(), Priority::Later);
        drop(guess);
        // An hour later it is forgotten.
        let later = limiter
            .begin("w@example.com", Some(guesser), at(FORGET_MS + 10))
            .unwrap();
        assert_eq!(later.priority(), Priority::First);
    }

    #[test]
    fn delay_formula() {
        assert_eq!(delay_ms(4, 5), 0);
        assert_eq!(delay_ms(5, 5), 1_000);
        assert_eq!(delay_ms(6, 5), 2_000);
        assert_eq!(delay_ms(15, 5), MAX_DELAY_MS);
        assert_eq!(delay_ms(u32::MAX, 5), MAX_DELAY_MS);
    }
}
