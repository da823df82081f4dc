//! The HTTP API: Traccar's REST paths and JSON shapes. The JSON types live
//! in [`dto`] (positions) and [`objects`] (registry objects); units are
//! converted there and nowhere else. Every handler that reads or changes
//! data takes an [`crate::auth::Caller`], whose scope decides what it sees.

pub mod dto;
pub mod error;
mod extract;
pub mod objects;
mod routes;
pub(crate) mod socket_slots;
mod stream;

pub(crate) use extract::reject_nul;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::Shared;
use routes::{
    devices, events, geofences, groups, permissions, positions, server, session, socket, users,
};

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 256 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    // Routes and the OpenAPI document come from the same registrations, so
    // the document cannot drift from what is served.
    let (router, openapi) = OpenApiRouter::with_openapi(base_document())
        .routes(routes!(server::get, server::put))
        .routes(routes!(server::timezones))
        .routes(routes!(session::get, session::create, session::delete))
        .routes(routes!(session::create_token))
        .routes(routes!(session::revoke_token))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get_one, users::update, users::delete))
        .routes(routes!(devices::list, devices::create))
        .routes(routes!(devices::get_one, devices::update, devices::delete))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::get_one, groups::update, groups::delete))
        .routes(routes!(geofences::list, geofences::create))
        .routes(routes!(
            geofences::get_one,
            geofences::update,
            geofences::delete
        ))
        .routes(routes!(permissions::create, permissions::delete))
        .routes(routes!(positions::list))
        .routes(routes!(events::get_one))
        .routes(routes!(events::report))
        .routes(routes!(positions::route_report))
        .routes(routes!(socket::upgrade))
        .split_for_parts();
    let openapi = Arc::new(openapi);
    let hsts = shared.config.tls.is_some();
    let router = router
        .route("/", get(front_page))
        .route("/api/health", get(health))
        .route(
            "/api/openapi.json",
            get(move || {
                let openapi = openapi.clone();
                async move { Json(openapi.as_ref().clone()) }
            }),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            announce_changes,
        ))
        .layer(axum::middleware::from_fn(refuse_nul_in_uri))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn(log_request))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared);
    if hsts {
        router.layer(axum::middleware::map_response(strict_transport_security))
    } else {
        router
    }
}

/// Over HTTPS: browsers are to use HTTPS for this host for a year.
async fn strict_transport_security(
    mut response: axum::response::Response,
) -> axum::response::Response {
    response.headers_mut().insert(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        axum::http::HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// Title, version and the three ways to authenticate.
fn base_document() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
    };
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder};
    let components = ComponentsBuilder::new()
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("JSESSIONID"))),
        )
        .security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("trackd")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Traccar-compatible REST API: speeds in knots, distances in metres, times ISO-8601.",
                ))
                .build(),
        )
        .components(Some(components))
        .build()
}

/// `GET /`: no web UI is served yet, so whoever opens the address the
/// log shows learns what this is and where to go next instead of a bare
/// JSON 404.
async fn front_page(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
) -> axum::response::Html<String> {
    let first_user = match shared.store.count_users().await {
        Ok(0) => FIRST_USER_HINT,
        _ => "",
    };
    axum::response::Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>trackd</title></head>\n\
         <body>\n<h1>trackd</h1>\n\
         <p>This is trackd {version}, a vehicle tracking server with a Traccar-compatible API. \
         No web interface is served here yet.</p>\n\
         <ul>\n<li>The HTTP API is under <a href=\"/api/server\"><code>/api</code></a> \
         (log in with <code>POST /api/session</code>).</li>\n\
         <li>Its OpenAPI document is at <a href=\"/api/openapi.json\"><code>/api/openapi.json</code></a>.</li>\n\
         </ul>\n{first_user}</body></html>\n",
        version = env!("CARGO_PKG_VERSION"),
    ))
}

/// Shown on the front page while the store has no users.
const FIRST_USER_HINT: &str = "<p><strong>There are no users yet.</strong> Create the first \
    administrator on the server's machine, from a clone of trackd:</p>\n\
    <pre>TRACKD_PASSWORD='...' cargo run --release -p trackd -- user add --admin --email you@example.com</pre>\n\
    <p>(or <code>trackd user add --admin --email you@example.com</code> once installed with \
    <code>cargo install --path crates/trackd</code>; pass the same <code>--data-dir</code> or \
    <code>--database</code> as the server), or start the server once with \
    <code>--admin-email you@example.com</code> and <code>TRACKD_ADMIN_PASSWORD</code> set.</p>\n";

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// One debug line per request: method, path, status, time. Never the query
/// string or headers, which can carry tokens and passwords.
async fn log_request(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "http request"
    );
    response
}

/// Any successful change through the API (a link, a user, a device, a
/// group, a session, a token) may change what someone may see: live
/// connections are told to check their caller again. Announcing every
/// change, not a list of "permission" routes, means a new route cannot
/// forget to.
async fn announce_changes(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let response = next.run(request).await;
    if changes && response.status().is_success() {
        shared.access_changed();
    }
    response
}

/// Errors that axum answers itself before a handler runs (a GET of
/// `/api/socket` without the WebSocket upgrade, a body over the size limit,
/// a method the path does not have) come as plain text or with no body;
/// clients and the OpenAPI document expect `{"error": "..."}` like every
/// other error, so they are rewritten, keeping status and headers.
async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    use axum::response::IntoResponse;
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_lowercase(),
        text => text.to_owned(),
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(CONTENT_TYPE);
    let json = Json(error::ErrorBody { error: message }).into_response();
    let (json_parts, json_body) = json.into_parts();
    parts.headers.extend(json_parts.headers);
    axum::response::Response::from_parts(parts, json_body)
}

/// A NUL character in the query string or the path is a 400 before any
/// handler runs (bodies are checked by `ApiJson` and `ApiForm`): no client
/// needs one, and PostgreSQL cannot store one.
async fn refuse_nul_in_uri(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = request.uri();
    if uri.query().is_some_and(extract::query_has_nul) {
        return error::ApiError::bad("query: NUL characters are not allowed").into_response();
    }
    if uri.path().contains("%00") {
        return error::ApiError::bad("path: NUL characters are not allowed").into_response();
    }
    next.run(request).await
}

async fn not_found() -> error::ApiError {
    error::ApiError::NotFound
}
