//! The authenticated caller of an API request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use trackd_model::{Timestamp, User, UserId};

use super::rate_limit::Refusal;
use super::{client_ip, secret_hash, HashError, Scope};
use crate::api::error::{ApiError, ApiResult};
use crate::server::Shared;

/// Name of the session cookie, as Traccar's clients expect it.
pub const SESSION_COOKIE: &str = "JSESSIONID";

/// How long a verified HTTP Basic credential is remembered, so clients that
/// send Basic auth on every request do not pay for Argon2 every time.
const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);

/// An authenticated user and what it may see.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// What the user may see.
    pub scope: Scope,
    /// How it authenticated, so a long-lived connection can check that
    /// the credential still holds.
    pub credential: Credential,
}

/// The credential a caller presented (hashes only, never the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A session cookie, by the SHA-256 of its value.
    Session(String),
    /// An API token, by the SHA-256 of its value.
    Token(String),
    /// HTTP Basic email and password.
    Basic,
}

/// A fingerprint of a user's stored password hash: when it changes, the
/// password changed.
pub(crate) async fn password_stamp(shared: &Shared, user_id: UserId) -> ApiResult<String> {
    let hash = shared.store.user_password_hash(user_id).await?;
    Ok(secret_hash(hash.as_deref().unwrap_or_default()))
}

impl Caller {
    /// The caller as a reader of personal data.
    pub fn viewer(&self) -> crate::access::Viewer {
        crate::access::Viewer::user(self.user.id, self.scope.clone())
    }

    /// Whether the credential, the account and the password (`stamp`, from
    /// [`password_stamp`] when the connection opened) still hold: `Some`
    /// with the caller's fresh scope, `None` if revoked.
    pub(crate) async fn recheck(&self, shared: &Shared, stamp: &str) -> ApiResult<Option<Caller>> {
        let now = shared.now();
        let user = match &self.credential {
            Credential::Session(hash) => shared.store.user_by_session(hash, now).await?,
            Credential::Token(hash) => shared.store.user_by_token(hash, now).await?,
            Credential::Basic => shared.store.user(self.user.id).await?,
        };
        let Some(user) = user.filter(|user| user.id == self.user.id && user.may_log_in(now)) else {
            return Ok(None);
        };
        if password_stamp(shared, user.id).await? != stamp {
            return Ok(None);
        }
        let scope = Scope::resolve(&shared.store, &user).await?;
        Ok(Some(Caller {
            user,
            scope,
            credential: self.credential.clone(),
        }))
    }

    /// Refuses read-only users.
    pub fn require_writable(&self) -> ApiResult<()> {
        if self.user.readonly && !self.user.administrator {
            return Err(ApiError::forbidden("read-only user"));
        }
        Ok(())
    }

    /// Refuses users who may not change devices.
    pub fn require_device_writable(&self) -> ApiResult<()> {
        self.require_writable()?;
        if self.user.device_readonly && !self.user.administrator {
            return Err(ApiError::forbidden("user may not change devices"));
        }
        Ok(())
    }

    /// Refuses everyone but administrators.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.user.administrator {
            Ok(())
        } else {
            Err(ApiError::forbidden("administrator only"))
        }
    }

    /// Whether the caller is an administrator.
    pub fn is_admin(&self) -> bool {
        self.user.administrator
    }
}

/// The client address (the peer, or what a trusted proxy says), when the
/// server was started with connect info.
pub(crate) fn client_address(parts: &Parts, shared: &Shared) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| client_ip(info.0.ip(), &parts.headers, &shared.config.trusted_proxies))
}

/// The value of one cookie in the request.
pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    cookie_value(&parts.headers, name)
}

/// The value of one cookie in these headers.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Checks an email and password behind the login throttle (per account
/// and client address, in-flight attempts included) on the bounded hashing
/// pool. Logs failures (never the password).
pub(crate) async fn login_with_password(
    shared: &Shared,
    email: &str,
    password: &str,
    address: Option<IpAddr>,
) -> ApiResult<User> {
    let shown = address.map(tracing::field::display);
    let attempt = match shared.logins.begin(email, address, shared.now()) {
        Ok(attempt) => attempt,
        Err(Refusal::Throttled { retry_after_secs }) => {
            // Debug: a flood of refused guesses must not flood the log (each
            // failure that is let through is still an info line).
            tracing::debug!(
                email,
                address = shown,
                retry_after_secs,
                "login refused: too many failures"
            );
            return Err(ApiError::TooManyRequests {
                message: "too many failed logins, retry later".into(),
                retry_after_secs,
            });
        }
        Err(Refusal::Concurrent) => {
            tracing::debug!(email, address = shown, "login refused: too many at once");
            return Err(ApiError::TooManyRequests {
                message: "too many logins at once from this address, retry later".into(),
                retry_after_secs: 1,
            });
        }
    };
    let user = shared.store.user_by_email(email).await?;
    let hash = match &user {
        Some(user) => shared.store.user_password_hash(user.id).await?,
        None => None,
    };
    // Verify even for unknown users so timing does not reveal accounts.
    let hash_for_check = hash.as_deref().unwrap_or(DUMMY_HASH);
    // An address that failed, or has not yet succeeded, waits behind others.
    let matches = match shared
        .hashing
        .verify(password, hash_for_check, attempt.priority())
        .await
    {
        Ok(matches) => matches,
        Err(HashError::Busy) => {
            tracing::debug!(email, address = shown, "login refused: hashing queue full");
            return Err(ApiError::Busy {
                retry_after_secs: 1,
            });
        }
        Err(HashError::Failed) => return Err(ApiError::Internal),
    };
    match user {
        Some(user) if matches && hash.is_some() => {
            if !user.may_log_in(shared.now()) {
                tracing::info!(
                    email,
                    address = shown,
                    "login refused: account disabled or expired"
                );
                return Err(ApiError::Unauthorized("account disabled or expired".into()));
            }
            shared.logins.succeeded(email, address);
            Ok(user)
        }
        _ => {
            shared.logins.failed(email, address, shared.now());
            tracing::info!(email, address = shown, "login failed");
            Err(ApiError::Unauthorized("wrong email or password".into()))
        }
    }
}

/// An Argon2id hash of a random string, checked against when the account
/// does not exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Kq9o7rN1Y3b3nGmZ0xQyF7vJm2m8gk3Lq7m0x8w3fA";

async fn authenticate(parts: &Parts, shared: &Shared) -> ApiResult<(User, Credential)> {
    let now = shared.now();
    if let Some(session) = cookie(parts, SESSION_COOKIE) {
        let hash = secret_hash(session);
        if let Some(user) = shared.store.user_by_session(&hash, now).await? {
            return Ok((check_active(user, now)?, Credential::Session(hash)));
        }
    }
    let Some(header) = parts.headers.get(AUTHORIZATION) else {
        return Err(ApiError::Unauthorized("authentication required".into()));
    };
    let header = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed authorization header".into()))?;
    if let Some(token) = strip_scheme(header, "Bearer") {
        let hash = secret_hash(token);
        return match shared.store.user_by_token(&hash, now).await? {
            Some(user) => Ok((check_active(user, now)?, Credential::Token(hash))),
            None => Err(ApiError::Unauthorized("invalid or expired token".into())),
        };
    }
    if let Some(encoded) = strip_scheme(header, "Basic") {
        let (email, password) = decode_basic(encoded)
            .ok_or_else(|| ApiError::Unauthorized("malformed basic credentials".into()))?;
        crate::api::reject_nul("basic credentials", &email)?;
        crate::api::reject_nul("basic credentials", &password)?;
        let cache_key = secret_hash(&format!("{email}\u{0}{password}"));
        if let Some(user_id) = shared.basic.get(&cache_key, BASIC_CACHE_TTL) {
            if let Some(user) = shared.store.user(user_id).await? {
                return Ok((check_active(user, now)?, Credential::Basic));
            }
        }
        let user =
            login_with_password(shared, &email, &password, client_address(parts, shared)).await?;
        shared.basic.put(cache_key, user.id);
        return Ok((user, Credential::Basic));
    }
    Err(ApiError::Unauthorized(
        "unsupported authorization scheme".into(),
    ))
}

fn check_active(user: User, now: Timestamp) -> ApiResult<User> {
    if user.may_log_in(now) {
        Ok(user)
    } else {
        Err(ApiError::Unauthorized("account disabled or expired".into()))
    }
}

fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = header.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn decode_basic(encoded: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (email, password) = text.split_once(':')?;
    Some((email.to_owned(), password.to_owned()))
}

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> ApiResult<Caller> {
        let (user, credential) = authenticate(parts, shared).await?;
        let scope = Scope::resolve(&shared.store, &user).await?;
        Ok(Caller {
            user,
            scope,
            credential,
        })
    }
}

impl OptionalFromRequestParts<Arc<Shared>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> ApiResult<Option<Caller>> {
        match <Caller as FromRequestParts<Arc<Shared>>>::from_request_parts(parts, shared).await {
            Ok(caller) => Ok(Some(caller)),
            Err(ApiError::Unauthorized(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// Remembers verified Basic credentials for a short time.
#[derive(Default)]
pub(crate) struct BasicCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (UserId, Instant)>>,
}

impl BasicCache {
    pub(crate) fn get(&self, key: &str, ttl: Duration) -> Option<UserId> {
        let entries = self.entries.lock().ok()?;
        let (user_id, at) = entries.get(key)?;
        (at.elapsed() < ttl).then_some(*user_id)
    }

    pub(crate) fn put(&self, key: String, user_id: UserId) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(key, (user_id, Instant::now()));
        }
    }

    /// Forgets everything (after a password change).
    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::verify_password;

    #[test]
    fn basic_credentials_decode() {
        // "a@b.c:pa:ss" — the password may contain colons.
        let (email, password) = decode_basic("YUBiLmM6cGE6c3M=").unwrap();
        assert_eq!(email, "a@b.c");
        assert_eq!(password, "pa:ss");
        assert!(decode_basic("!!!").is_none());
        assert_eq!(strip_scheme("bearer abc", "Bearer"), Some("abc"));
        assert_eq!(strip_scheme("Basic abc", "Bearer"), None);
    }

    #[test]
    fn dummy_hash_is_a_real_argon2_hash() {
        // Otherwise unknown accounts would answer faster than known ones.
        assert!(argon2::PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("anything", DUMMY_HASH));
    }
}
