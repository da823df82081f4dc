//! The HTTP API. Traccar-shaped JSON types live in [`dto`]; units are
//! converted there and nowhere else.

pub mod dto;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};

use crate::server::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .with_state(shared)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}
