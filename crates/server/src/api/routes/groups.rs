//! `/api/groups`: device groups the caller may see.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use trackd_model::{GroupFields, GroupId, Link};

use super::linked::{direct_links, filter_id, LinkedTo};
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{matches_keyword, ApiJson, Params, PathId};
use crate::api::objects::GroupDto;
use crate::auth::Caller;
use crate::server::Shared;

#[utoipa::path(get, path = "/api/groups", tag = "groups", params(("all" = Option<bool>, Query), ("userId" = Option<i64>, Query, description = "groups linked directly to this user"), ("keyword" = Option<String>, Query, description = "in the name"), ("excludeAttributes" = Option<bool>, Query), ("limit" = Option<i32>, Query, description = "page size; 0 or less is everything"), ("offset" = Option<i32>, Query, description = "rows to skip, with a limit")), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [GroupDto]), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    params: Params,
) -> ApiResult<Json<Vec<GroupDto>>> {
    let _all = params.flag("all")?;
    let exclude_attributes = params.flag("excludeAttributes")?;
    let page = params.page()?;
    let keyword = params.keyword();
    let linked: Option<HashSet<GroupId>> = match filter_id(&params, "userId")? {
        Some(user_id) => Some(
            direct_links(&shared, &caller, LinkedTo::User(user_id))
                .await?
                .into_iter()
                .filter_map(|link| match link {
                    Link::UserGroup(_, group_id) => Some(group_id),
                    _ => None,
                })
                .collect(),
        ),
        None => None,
    };
    let mut groups = shared.store.groups().await?;
    groups.sort_by_key(|group| group.id);
    let matching = groups
        .iter()
        .filter(|group| caller.scope.group(group.id))
        .filter(|group| linked.as_ref().is_none_or(|ids| ids.contains(&group.id)))
        .filter(|group| matches_keyword(keyword.as_deref(), [Some(group.name.as_str())]));
    Ok(Json(
        page.window(matching)
            .map(|group| {
                let mut dto = GroupDto::from(group);
                if exclude_attributes {
                    dto.attributes.clear();
                }
                dto
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/groups/{id}", tag = "groups", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = GroupDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId<GroupId>,
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
    PathId(id): PathId<GroupId>,
    ApiJson(body): ApiJson<GroupDto>,
) -> ApiResult<Json<GroupDto>> {
    if !caller.scope.group(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_writable()?;
    if body.id != 0 && body.id != id.get() {
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
    PathId(id): PathId<GroupId>,
) -> ApiResult<Response> {
    if !caller.scope.group(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_writable()?;
    shared.store.delete_group(id).await?;
    Ok(super::deleted())
}
