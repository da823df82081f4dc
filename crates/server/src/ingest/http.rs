//! The one HTTP ingest route: every request to an HTTP protocol's port is
//! one session; `200` only after its records are committed.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::Semaphore;
use trackd_protocols::{HttpRequest, ProtocolInfo, Transport};

use super::conversation::{Conversation, End, Outbox};
use crate::http_conn::HttpLimits;
use crate::server::Shared;

struct Listener {
    shared: Arc<Shared>,
    protocol: &'static ProtocolInfo,
    /// Requests being handled at once; beyond it, 503.
    permits: Semaphore,
}

/// Serves `protocol` over HTTP on `listener` until shutdown.
pub(crate) async fn serve_http(
    listener: tokio::net::TcpListener,
    protocol: &'static ProtocolInfo,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let max_body = shared.config.max_frame_bytes;
    let state = Arc::new(Listener {
        permits: Semaphore::new(shared.config.max_connections),
        shared: shared.clone(),
        protocol,
    });
    let app = Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state);
    // Devices hold these connections: the device cap, the API's timeouts.
    let limits = HttpLimits {
        max_connections: shared.config.max_connections,
        header_timeout: shared.config.http_header_timeout,
        idle_timeout: shared.config.http_idle_timeout,
    };
    let counters = shared.http_counters.clone();
    crate::http_conn::serve(listener, app, limits, counters, shared, protocol.name, tls).await;
}

/// The ack bytes become the body of the `200`.
#[derive(Default)]
struct BodyOutbox(Vec<u8>);

impl Outbox for BodyOutbox {
    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    let body = serde_json::json!({ "error": message.to_string() });
    (status, axum::Json(body)).into_response()
}

async fn handle(
    State(listener): State<Arc<Listener>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // axum's own rejection is plain text; devices and their tooling get
    // the same `{"error": ...}` as for every other refusal.
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(rejection.status(), "request body too large");
        }
        Err(rejection) => return error(rejection.status(), "cannot read request body"),
    };
    let Ok(_permit) = listener.permits.try_acquire() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight",
        );
    };
    let shared = listener.shared.as_ref();
    let _active = shared.shutdown.track();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let request = HttpRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or_default(),
        content_type,
        body: &body,
    };
    let mut session = (listener.protocol.new_session)(Transport::Http, &shared.session_config());
    let mut conversation = Conversation::new(shared, listener.protocol, Transport::Http, peer);
    session.handle_request(shared.clock.now(), &request);
    let mut outbox = BodyOutbox::default();
    let end = conversation.drain(session.as_mut(), &mut outbox).await;
    let response = match &end {
        None if conversation.device_id.is_some() => (StatusCode::OK, outbox.0).into_response(),
        None => error(StatusCode::BAD_REQUEST, "no device identified"),
        Some(End::Refused(unique_id)) => error(
            StatusCode::BAD_REQUEST,
            format!("unknown device {unique_id}"),
        ),
        Some(End::Protocol(reason)) => error(StatusCode::BAD_REQUEST, reason),
        Some(End::Store(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "not stored, try again"),
        Some(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "request not handled"),
    };
    if let Some(end) = &end {
        conversation.finish(session.as_ref(), end);
    }
    response
}
