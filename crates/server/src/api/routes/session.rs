//! `/api/session`: log in (form email + password, or `?token=`), who am I,
//! log out; `/api/session/token`: issue an API token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use trackd_model::{Timestamp, User};

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{ApiForm, Params};
use crate::api::objects::{parse_time, UserDto};
use crate::auth::{client_ip, new_secret, secret_hash, Caller, SESSION_COOKIE};
use crate::server::Shared;

/// Sessions last this long.
const SESSION_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginForm {
    email: String,
    password: String,
}

/// Over HTTPS the browser must never send the session cookie in clear.
fn secure(shared: &Shared) -> &'static str {
    if shared.config.tls.is_some() {
        "; Secure"
    } else {
        ""
    }
}

async fn start_session(shared: &Shared, user: &User) -> ApiResult<Response> {
    let secret = new_secret();
    let expires = Timestamp::from_millis(shared.now().as_millis() + SESSION_LIFETIME_MS);
    shared
        .store
        .create_session(user.id, &secret_hash(&secret), expires)
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax{}",
        secure(shared)
    );
    let mut response = Json(UserDto::from(user)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response)
}

#[utoipa::path(post, path = "/api/session", tag = "session", request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"), responses((status = 200, description = "logged in; sets the JSESSIONID cookie", body = UserDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 429, description = "too many failed logins for this account from this address, or too many logins at once from this address; see Retry-After", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody), (status = 503, description = "too many logins being checked; see Retry-After", body = ErrorBody)))]
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<LoginForm>,
) -> ApiResult<Response> {
    let address = Some(client_ip(
        peer.ip(),
        &headers,
        &shared.config.trusted_proxies,
    ));
    let user = crate::auth::login(&shared, form.email.trim(), &form.password, address).await?;
    start_session(&shared, &user).await
}

#[utoipa::path(get, path = "/api/session", tag = "session", params(("token" = Option<String>, Query, description = "API token: log in with it")), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, description = "the logged-in user", body = UserDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    params: Params,
    caller: Option<Caller>,
) -> ApiResult<Response> {
    if let Some(token) = params.get("token") {
        let user = shared
            .store
            .user_by_token(&secret_hash(token), shared.now())
            .await?
            .filter(|user| user.may_log_in(shared.now()))
            .ok_or_else(|| ApiError::Unauthorized("invalid or expired token".into()))?;
        return start_session(&shared, &user).await;
    }
    match caller {
        Some(caller) => Ok(Json(UserDto::from(&caller.user)).into_response()),
        None => Err(ApiError::NotFound),
    }
}

#[utoipa::path(delete, path = "/api/session", tag = "session", responses((status = 204, description = "logged out")))]
pub(crate) async fn delete(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(secret) = crate::auth::cookie_value(&headers, SESSION_COOKIE) {
        if let Err(err) = shared.store.delete_session(&secret_hash(secret)).await {
            tracing::error!(%err, "deleting session");
        }
    }
    let mut response = super::deleted();
    let expired = format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        secure(&shared)
    );
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(crate) struct TokenForm {
    /// ISO-8601; without it the token gets the server's default lifetime
    /// (`token_default_lifetime_days`).
    expiration: Option<String>,
}

#[utoipa::path(post, path = "/api/session/token", tag = "session", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, description = "a new API token", body = String), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn create_token(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenForm>,
) -> ApiResult<Response> {
    caller.require_writable()?;
    let expires = match form.expiration.as_deref().map(str::trim) {
        // Traccar's tokens without an expiration never expire; here they
        // get the configured default lifetime (if any).
        None | Some("") => shared.config.token_default_lifetime.map(|lifetime| {
            let millis = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
            Timestamp::from_millis(shared.now().as_millis().saturating_add(millis))
        }),
        Some(text) => {
            let expires = parse_time("expiration", text)?;
            if expires <= shared.now() {
                return Err(ApiError::bad("expiration is in the past"));
            }
            Some(expires)
        }
    };
    let token = new_secret();
    shared
        .store
        .create_token(caller.user.id, &secret_hash(&token), expires)
        .await?;
    tracing::info!(user_id = %caller.user.id, "api token created");
    let wants_json = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    if wants_json {
        Ok(Json(token).into_response())
    } else {
        // Traccar answers the bare token as text.
        let mut response = token.into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Ok(response)
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RevokeForm {
    token: String,
}

#[utoipa::path(post, path = "/api/session/token/revoke", tag = "session", description = "Revokes one of the caller's API tokens; live connections made with it are closed", request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 204, description = "revoked"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such token", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn revoke_token(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ApiForm(form): ApiForm<RevokeForm>,
) -> ApiResult<axum::http::StatusCode> {
    let token = form.token.trim();
    if token.is_empty() {
        return Err(ApiError::bad("token is required"));
    }
    if !shared
        .store
        .delete_token(caller.user.id, &secret_hash(token))
        .await?
    {
        return Err(ApiError::NotFound);
    }
    tracing::info!(user_id = %caller.user.id, "api token revoked");
    Ok(axum::http::StatusCode::NO_CONTENT)
}
