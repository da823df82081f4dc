//! `/api/geofences`: stored areas the caller may see (the events they raise come later).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use trackd_model::Link;

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{ApiJson, PathId};
use crate::api::objects::GeofenceDto;
use crate::auth::Caller;
use crate::server::Shared;

#[utoipa::path(get, path = "/api/geofences", tag = "geofences", security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [GeofenceDto]), (status = 401, description = "not authenticated", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
) -> ApiResult<Json<Vec<GeofenceDto>>> {
    let geofences = shared.store.geofences().await?;
    Ok(Json(
        geofences
            .iter()
            .filter(|geofence| caller.scope.geofence(geofence.id))
            .map(GeofenceDto::from)
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/geofences/{id}", tag = "geofences", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = GeofenceDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<GeofenceDto>> {
    if !caller.scope.geofence(id) {
        return Err(ApiError::NotFound);
    }
    let geofence = shared.store.geofence(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(GeofenceDto::from(&geofence)))
}

#[utoipa::path(post, path = "/api/geofences", tag = "geofences", request_body = GeofenceDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = GeofenceDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 409, description = "conflicts with an existing object", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ApiJson(body): ApiJson<GeofenceDto>,
) -> ApiResult<Json<GeofenceDto>> {
    caller.require_writable()?;
    let fields = body.fields()?;
    let geofence = shared.store.create_geofence(fields).await?;
    if !caller.is_admin() {
        shared
            .store
            .link(Link::UserGeofence(caller.user.id, geofence.id))
            .await?;
    }
    Ok(Json(GeofenceDto::from(&geofence)))
}

#[utoipa::path(put, path = "/api/geofences/{id}", tag = "geofences", params(("id" = i64, Path)), request_body = GeofenceDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = GeofenceDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 409, description = "conflicts with an existing object", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<GeofenceDto>,
) -> ApiResult<Json<GeofenceDto>> {
    if !caller.scope.geofence(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_writable()?;
    if body.id != 0 && body.id != id {
        return Err(ApiError::bad("id in the body differs from the path"));
    }
    let fields = body.fields()?;
    let geofence = shared.store.update_geofence(id, fields).await?;
    Ok(Json(GeofenceDto::from(&geofence)))
}

#[utoipa::path(delete, path = "/api/geofences/{id}", tag = "geofences", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 204, description = "deleted"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Response> {
    if !caller.scope.geofence(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_writable()?;
    shared.store.delete_geofence(id).await?;
    Ok(super::deleted())
}
