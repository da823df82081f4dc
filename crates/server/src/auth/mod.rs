//! Who is calling: credentials (session cookie, bearer token, HTTP Basic)
//! to a [`Caller`] whose [`Scope`] is the single place where permissions
//! are decided.

mod caller;
mod password;
mod rate_limit;
mod scope;
mod secrets;

pub(crate) use caller::{cookie_value, login_with_password as login, password_stamp, BasicCache};
pub use caller::{Caller, Credential, SESSION_COOKIE};
pub use password::{hash_password, verify_password};
pub(crate) use rate_limit::LoginLimiter;
pub use scope::Scope;
pub use secrets::{new_secret, secret_hash};
