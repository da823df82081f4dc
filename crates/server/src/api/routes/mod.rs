//! One module per Traccar API resource.

pub(crate) mod devices;
pub(crate) mod events;
pub(crate) mod geofences;
pub(crate) mod groups;
mod linked;
pub(crate) mod permissions;
pub(crate) mod positions;
pub(crate) mod server;
pub(crate) mod session;
pub(crate) mod socket;
pub(crate) mod users;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The answer to a successful DELETE (Traccar's 204).
pub(crate) fn deleted() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
