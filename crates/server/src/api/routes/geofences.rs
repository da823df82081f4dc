//! `/api/geofences`: stored areas the caller may see (the events they raise come later).

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use trackd_model::{GeofenceId, Link};

use super::linked::{direct_links, filter_id, LinkedTo};
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{matches_keyword, ApiJson, Params, PathId};
use crate::api::objects::GeofenceDto;
use crate::auth::Caller;
use crate::server::Shared;

#[utoipa::path(get, path = "/api/geofences", tag = "geofences", params(("all" = Option<bool>, Query), ("userId" = Option<i64>, Query, description = "geofences linked directly to this user"), ("groupId" = Option<i64>, Query, description = "geofences linked directly to this group"), ("deviceId" = Option<i64>, Query, description = "geofences linked directly to this device"), ("keyword" = Option<String>, Query, description = "in the name"), ("excludeAttributes" = Option<bool>, Query), ("limit" = Option<i32>, Query, description = "page size; 0 or less is everything"), ("offset" = Option<i32>, Query, description = "rows to skip, with a limit")), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [GeofenceDto]), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    params: Params,
) -> ApiResult<Json<Vec<GeofenceDto>>> {
    let _all = params.flag("all")?;
    let exclude_attributes = params.flag("excludeAttributes")?;
    let page = params.page()?;
    let keyword = params.keyword();
    // Each filter given narrows the list further, as Traccar's conditions do.
    let mut filters: Vec<HashSet<GeofenceId>> = Vec::new();
    type Owner = fn(i64) -> LinkedTo;
    let owners: [(&str, Owner); 3] = [
        ("userId", |id| LinkedTo::User(id.into())),
        ("groupId", |id| LinkedTo::Group(id.into())),
        ("deviceId", |id| LinkedTo::Device(id.into())),
    ];
    for (key, owner) in owners {
        if let Some(id) = filter_id(&params, key)? {
            let links = direct_links(&shared, &caller, owner(id)).await?;
            filters.push(
                links
                    .into_iter()
                    .filter_map(|link| match link {
                        Link::UserGeofence(_, f)
                        | Link::GroupGeofence(_, f)
                        | Link::DeviceGeofence(_, f) => Some(f),
                        _ => None,
                    })
                    .collect(),
            );
        }
    }
    let mut geofences = shared.store.geofences().await?;
    geofences.sort_by_key(|geofence| geofence.id);
    let matching = geofences
        .iter()
        .filter(|geofence| caller.scope.geofence(geofence.id))
        .filter(|geofence| filters.iter().all(|ids| ids.contains(&geofence.id)))
        .filter(|geofence| matches_keyword(keyword.as_deref(), [Some(geofence.name.as_str())]));
    Ok(Json(
        page.window(matching)
            .map(|geofence| {
                let mut dto = GeofenceDto::from(geofence);
                if exclude_attributes {
                    dto.attributes.clear();
                }
                dto
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/geofences/{id}", tag = "geofences", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = GeofenceDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId<GeofenceId>,
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
    PathId(id): PathId<GeofenceId>,
    ApiJson(body): ApiJson<GeofenceDto>,
) -> ApiResult<Json<GeofenceDto>> {
    if !caller.scope.geofence(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_writable()?;
    if body.id != 0 && body.id != id.get() {
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
    PathId(id): PathId<GeofenceId>,
) -> ApiResult<Response> {
    if !caller.scope.geofence(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_writable()?;
    shared.store.delete_geofence(id).await?;
    Ok(super::deleted())
}
