//! `/api/socket`: Traccar's WebSocket. On connect the client gets the
//! latest positions of its devices; then `{"devices":[...]}`,
//! `{"positions":[...]}` and `{"events":[...]}` as they change, only for
//! devices in the caller's scope.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::api::dto::PositionDto;
use crate::api::error::ErrorBody;
use crate::auth::Caller;
use crate::live::merge;
use crate::server::Shared;

/// A client that cannot take a message within this time is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Most updates merged into one message.
const MAX_BATCH: usize = 512;
/// Largest message accepted from a client.
const MAX_CLIENT_MESSAGE: usize = 4096;

#[utoipa::path(get, path = "/api/socket", tag = "socket", description = "WebSocket: pushes {\"devices\"}, {\"positions\"} and {\"events\"} objects for visible devices", security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 101, description = "switching to WebSocket"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| serve(socket, shared, caller))
}

async fn send(socket: &mut WebSocket, value: serde_json::Value) -> bool {
    send_text(socket, value.to_string()).await
}

async fn send_text(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

async fn initial_positions(shared: &Shared, caller: &Caller) -> Vec<PositionDto> {
    let Ok(devices) = shared.store.devices().await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for device in devices.iter().filter(|d| caller.scope.device(d.id)) {
        if let Ok(Some(latest)) = shared.store.latest_position(device.id).await {
            out.push(PositionDto::stored(&latest));
        }
    }
    out
}

async fn serve(mut socket: WebSocket, shared: Arc<Shared>, caller: Caller) {
    // Subscribe first so nothing committed after the snapshot is missed.
    let mut updates = shared.live.subscribe();
    let initial = initial_positions(&shared, &caller).await;
    if !initial.is_empty() && !send(&mut socket, json!({ "positions": initial })).await {
        return;
    }
    loop {
        tokio::select! {
            update = updates.recv() => {
                let first = match update {
                    Ok(update) => update,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::info!(user_id = caller.user.id, missed, "websocket client too slow, dropped");
                        let _ = socket.send(Message::Close(None)).await;
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
                let visible = batch.iter().filter(|u| caller.scope.device(u.device_id)).map(|u| u.as_ref());
                if let Some(message) = merge(visible) {
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
