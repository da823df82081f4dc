//! The HTTP API: Traccar's REST paths and JSON shapes. The JSON types live
//! in [`dto`] (positions) and [`objects`] (registry objects); units are
//! converted there and nowhere else. Every handler that reads or changes
//! data takes an [`crate::auth::Caller`], whose scope decides what it sees.

pub mod dto;
pub mod error;
mod extract;
pub mod objects;
mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::server::Shared;
use routes::{
    devices, events, geofences, groups, permissions, positions, server, session, socket, users,
};

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 256 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/server", get(server::get).put(server::put))
        .route(
            "/api/session",
            get(session::get)
                .post(session::create)
                .delete(session::delete),
        )
        .route("/api/session/token", post(session::create_token))
        .route("/api/users", get(users::list).post(users::create))
        .route(
            "/api/users/{id}",
            get(users::get_one).put(users::update).delete(users::delete),
        )
        .route("/api/devices", get(devices::list).post(devices::create))
        .route(
            "/api/devices/{id}",
            get(devices::get_one)
                .put(devices::update)
                .delete(devices::delete),
        )
        .route("/api/groups", get(groups::list).post(groups::create))
        .route(
            "/api/groups/{id}",
            get(groups::get_one)
                .put(groups::update)
                .delete(groups::delete),
        )
        .route(
            "/api/geofences",
            get(geofences::list).post(geofences::create),
        )
        .route(
            "/api/geofences/{id}",
            get(geofences::get_one)
                .put(geofences::update)
                .delete(geofences::delete),
        )
        .route(
            "/api/permissions",
            post(permissions::create).delete(permissions::delete),
        )
        .route("/api/positions", get(positions::list))
        .route("/api/events/{id}", get(events::get_one))
        .route("/api/reports/events", get(events::report))
        .route("/api/reports/route", get(positions::route_report))
        .route("/api/socket", get(socket::upgrade))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> error::ApiError {
    error::ApiError::NotFound
}
