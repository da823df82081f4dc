//! Who is calling: credentials (session cookie, bearer token, HTTP Basic)
//! to a [`Caller`] whose [`Scope`] is the single place where permissions
//! are decided. Passwords are checked only through the bounded hashing
//! pool (`hashing.rs`) and behind the login throttle (`rate_limit.rs`),
//! which counts per (account, client address); `address.rs` says what the
//! client address is behind a trusted proxy.

mod address;
mod caller;
mod hashing;
mod limits;
mod password;
mod rate_limit;
mod scope;
mod secrets;

pub(crate) use address::client_ip;
pub use address::parse_trusted_proxy;
pub(crate) use caller::{cookie_value, login_with_password as login, password_stamp, BasicCache};
pub use caller::{Caller, Credential, SESSION_COOKIE};
pub use hashing::HashingStats;
pub(crate) use hashing::{HashError, HashPool};
pub(crate) use limits::{check_device_room, check_grants, check_user_room};
pub use password::{hash_password, verify_password};
pub(crate) use rate_limit::LoginLimiter;
pub use scope::Scope;
pub use secrets::{new_secret, secret_hash};
