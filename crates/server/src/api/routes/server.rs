//! `/api/server`: server-wide settings; anyone may read them (clients need
//! them before logging in), only administrators change them.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{Map, Value};
use trackd_model::JsonObject;

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::ApiJson;
use crate::auth::Caller;
use crate::server::Shared;

/// Keys trackd always answers with, whatever is stored.
fn with_defaults(stored: Map<String, Value>) -> Map<String, Value> {
    let mut server = serde_json::json!({
        "id": 1,
        "registration": false,
        "readonly": false,
        "deviceReadonly": false,
        "limitCommands": false,
        "disableReports": false,
        "map": null,
        "bingKey": null,
        "mapUrl": null,
        "overlayUrl": null,
        "latitude": 0.0,
        "longitude": 0.0,
        "zoom": 0,
        "twelveHourFormat": false,
        "forceSettings": false,
        "coordinateFormat": null,
        "poiLayer": null,
        "announcement": null,
        "emailEnabled": false,
        "geocoderEnabled": false,
        "textEnabled": false,
        "storageSpace": null,
        "newServer": false,
        "openIdEnabled": false,
        "openIdForce": false,
        "attributes": {},
    });
    if let Some(object) = server.as_object_mut() {
        for (key, value) in stored {
            // `newServer` is computed (no users yet), never stored.
            if key != "id" && key != "version" && key != "newServer" {
                object.insert(key, value);
            }
        }
        object.insert(
            "version".into(),
            Value::String(env!("CARGO_PKG_VERSION").into()),
        );
        if !object.get("attributes").is_some_and(Value::is_object) {
            object.insert("attributes".into(), Value::Object(Map::new()));
        }
        return object.clone();
    }
    Map::new()
}

#[utoipa::path(get, path = "/api/server", tag = "server", responses((status = 200, description = "server settings", body = Object), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get(State(shared): State<Arc<Shared>>) -> ApiResult<Json<Map<String, Value>>> {
    let stored = shared.store.server_settings().await?;
    let stored: Map<String, Value> = serde_json::from_str(stored.as_str()).unwrap_or_default();
    let mut server = with_defaults(stored);
    // As in Traccar: clients offer to register the first user while true.
    let new_server = shared.store.count_users().await? == 0;
    server.insert("newServer".into(), Value::Bool(new_server));
    Ok(Json(server))
}

#[utoipa::path(put, path = "/api/server", tag = "server", request_body = Object, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, description = "server settings", body = Object), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn put(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<Json<Map<String, Value>>> {
    caller.require_admin()?;
    if body.get("attributes").is_some_and(|a| !a.is_object()) {
        return Err(ApiError::bad("attributes must be an object"));
    }
    let merged = with_defaults(body);
    shared
        .store
        .set_server_settings(JsonObject(Value::Object(merged.clone()).to_string()))
        .await?;
    Ok(Json(merged))
}

/// The IANA zone names, sorted, from the database bundled into the binary
/// (the same list whatever the host has installed).
fn zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.to_string())
        .collect();
    names.sort();
    names
}

#[utoipa::path(get, path = "/api/server/timezones", tag = "server", security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, description = "IANA time zone names", body = [String]), (status = 401, description = "not authenticated", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn timezones(_caller: Caller) -> Json<Vec<String>> {
    Json(zone_names())
}

#[cfg(test)]
mod tests {
    #[test]
    fn zone_names_are_iana_names() {
        let names = super::zone_names();
        for name in ["Europe/Vilnius", "America/New_York", "Asia/Kolkata", "UTC"] {
            assert!(names.iter().any(|n| n == name), "{name} missing");
        }
        assert!(names.len() > 300, "{}", names.len());
        assert!(names.windows(2).all(|w| w[0] < w[1]));
    }
}
