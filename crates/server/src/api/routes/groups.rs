//! `/api/groups`: device groups the caller may see.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use trackd_model::{GroupFields, Link};

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{ApiJson, PathId};
use crate::api::objects::GroupDto;
use crate::auth::Caller;
use crate::server::Shared;

#[utoipa::path(get, path = "/api/groups", tag = "groups", security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [GroupDto]), (status = 401, description = "not authenticated", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
) -> ApiResult<Json<Vec<GroupDto>>> {
    let groups = shared.store.groups().await?;
    Ok(Json(
        groups
            .iter()
            .filter(|group| caller.scope.group(group.id))
            .map(GroupDto::from)
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/groups/{id}", tag = "groups", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = GroupDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<GroupDto>> {
    if !caller.scope.group(id) {
        return Err(ApiError::NotFound);
    }
    let group = shared.store.group(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(GroupDto::from(&group)))
}

fn check_parent(caller: &Caller, fields: &GroupFields) -> ApiResult<()> {
    match fields.group_id {
        Some(parent) if !caller.scope.group(parent) => Err(ApiError::bad("groupId: no such group")),
        _ => Ok(()),
    }
}

#[utoipa::path(post, path = "/api/groups", tag = "groups", request_body = GroupDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = GroupDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 409, description = "conflicts with an existing object", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ApiJson(body): ApiJson<GroupDto>,
) -> ApiResult<Json<GroupDto>> {
    caller.require_writable()?;
    let fields = body.fields()?;
    check_parent(&caller, &fields)?;
    let group = shared.store.create_group(fields).await?;
    if !caller.is_admin() {
        shared
            .store
            .link(Link::UserGroup(caller.user.id, group.id))
            .await?;
    }
    Ok(Json(GroupDto::from(&group)))
}

#[utoipa::path(put, path = "/api/groups/{id}", tag = "groups", params(("id" = i64, Path)), request_body = GroupDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = GroupDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 409, description = "conflicts with an existing object", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<GroupDto>,
) -> ApiResult<Json<GroupDto>> {
    if !caller.scope.group(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_writable()?;
    if body.id != 0 && body.id != id {
        return Err(ApiError::bad("id in the body differs from the path"));
    }
    let fields = body.fields()?;
    check_parent(&caller, &fields)?;
    let group = shared.store.update_group(id, fields).await?;
    Ok(Json(GroupDto::from(&group)))
}

#[utoipa::path(delete, path = "/api/groups/{id}", tag = "groups", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 204, description = "deleted"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Response> {
    if !caller.scope.group(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_writable()?;
    shared.store.delete_group(id).await?;
    Ok(super::deleted())
}
