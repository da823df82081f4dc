//! `/api/socket`: Traccar's WebSocket. On connect the client gets the
//! latest positions of its devices; then `{"devices":[...]}`,
//! `{"positions":[...]}` and `{"events":[...]}` as they change, through
//! the caller's viewer. When permissions may have changed the caller is
//! checked again at once: a revoked credential, a disabled or deleted
//! account or a changed password close the socket; a narrower scope
//! applies from the next update on.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::api::dto::PositionDto;
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::{password_stamp, Caller};
use crate::live::merge;
use crate::server::Shared;

/// A client that cannot take a message within this time is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Most updates merged into one message.
const MAX_BATCH: usize = 512;
/// Largest message accepted from a client.
const MAX_CLIENT_MESSAGE: usize = 4096;
/// The caller is checked again at least this often (expiry times pass
/// without any change to announce them).
const RECHECK_EVERY: Duration = Duration::from_secs(30);
/// WebSocket close code for "policy violation": the access was revoked.
const CLOSE_REVOKED: u16 = 1008;

#[utoipa::path(get, path = "/api/socket", tag = "socket", description = "WebSocket: pushes {\"devices\"}, {\"positions\"} and {\"events\"} objects for visible devices", security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 101, description = "switching to WebSocket"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(slot) = shared.sockets.take(caller.user.id) else {
        return ApiError::TooManyRequests {
            message: format!(
                "at most {} live sockets per user: close one first",
                shared.config.websocket_max_per_user
            ),
            retry_after_secs: 5,
        }
        .into_response();
    };
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            serve(socket, shared, caller).await;
            drop(slot);
        })
}

async fn send_text(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

async fn serve(mut socket: WebSocket, shared: Arc<Shared>, mut caller: Caller) {
    // Subscribe first so nothing committed after the snapshot is missed.
    let mut updates = shared.live.subscribe();
    let mut epoch = shared.access_epoch.subscribe();
    epoch.mark_unchanged();
    let Ok(stamp) = password_stamp(&shared, caller.user.id).await else {
        return;
    };
    let mut viewer = caller.viewer();
    let initial = shared
        .access
        .latest_of_all(&viewer)
        .await
        .unwrap_or_default();
    if !initial.is_empty() {
        let dtos: Vec<PositionDto> = initial.iter().map(PositionDto::stored).collect();
        if !send_text(&mut socket, json!({ "positions": dtos }).to_string()).await {
            return;
        }
    }
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.tick().await;
    loop {
        tokio::select! {
            biased;
            () = shared.shutdown.requested() => {
                close(&mut socket, 1001, "server shutting down").await;
                return;
            }
            changed = epoch.changed() => {
                if changed.is_err() {
                    return;
                }
                epoch.mark_unchanged();
                if !refresh(&mut socket, &shared, &mut caller, &stamp).await {
                    return;
                }
                viewer = caller.viewer();
            }
            _ = recheck.tick() => {
                if !refresh(&mut socket, &shared, &mut caller, &stamp).await {
                    return;
                }
                viewer = caller.viewer();
            }
            update = updates.recv() => {
                let first = match update {
                    Ok(update) => update,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::info!(user_id = %caller.user.id, missed, "websocket client too slow, dropped");
                        close(&mut socket, 1013, "too slow").await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                };
                // Whatever else is already waiting goes into the same message:
                // one frame per burst, not one per device.
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match updates.try_recv() {
                        Ok(update) => batch.push(update),
                        Err(_) => break,
                    }
                }
                let items: Vec<_> = batch
                    .iter()
                    .filter_map(|entry| shared.access.live_items(&viewer, entry))
                    .collect();
                if let Some(message) = merge(items.iter().map(|(kind, text)| (*kind, &**text))) {
                    if !send_text(&mut socket, message).await {
                        return;
                    }
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Ping(payload))) => {
                        if socket.send(Message::Pong(payload)).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    // Clients send keep-alive text; nothing to answer.
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

/// Checks the caller again; closes the socket and returns false when its
/// access is gone.
async fn refresh(
    socket: &mut WebSocket,
    shared: &Shared,
    caller: &mut Caller,
    stamp: &str,
) -> bool {
    match caller.recheck(shared, stamp).await {
        Ok(Some(fresh)) => {
            *caller = fresh;
            true
        }
        Ok(None) => {
            tracing::info!(user_id = %caller.user.id, "websocket closed: access revoked");
            close(socket, CLOSE_REVOKED, "access revoked").await;
            false
        }
        // A failing store cannot vouch for the caller.
        Err(_) => {
            close(socket, 1011, "cannot check access").await;
            false
        }
    }
}
