//! `/api/users`: administrators manage everyone; managers create and manage
//! their own users up to their `userLimit`; a user sees and edits itself.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use trackd_model::{Link, UserId};

use super::linked::{direct_links, filter_id, LinkedTo};
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{matches_keyword, ApiJson, Params, PathId};
use crate::api::objects::UserDto;
use crate::auth::{check_grants, check_user_room, Caller, Credential, HashError};
use crate::server::Shared;

/// Hashes a new password on the server's bounded hashing pool.
async fn hash(shared: &Shared, password: &str) -> ApiResult<String> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(ApiError::bad("password must be 8 to 1024 characters"));
    }
    shared
        .hashing
        .hash(password)
        .await
        .map_err(|err| match err {
            HashError::Busy => ApiError::Busy {
                retry_after_secs: 1,
            },
            HashError::Failed => ApiError::Internal,
        })
}

#[utoipa::path(get, path = "/api/users", tag = "users", params(("userId" = Option<i64>, Query, description = "users managed directly by this user"), ("deviceId" = Option<i64>, Query, description = "users linked directly to this device (managers and administrators)"), ("keyword" = Option<String>, Query, description = "in name or email"), ("excludeAttributes" = Option<bool>, Query), ("limit" = Option<i32>, Query, description = "page size; 0 or less is everything"), ("offset" = Option<i32>, Query, description = "rows to skip, with a limit")), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [UserDto]), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    params: Params,
) -> ApiResult<Json<Vec<UserDto>>> {
    let exclude_attributes = params.flag("excludeAttributes")?;
    let page = params.page()?;
    let keyword = params.keyword();
    let mut filters: Vec<HashSet<UserId>> = Vec::new();
    if let Some(owner) = filter_id(&params, "userId")? {
        let links = direct_links(&shared, &caller, LinkedTo::User(owner)).await?;
        filters.push(
            links
                .into_iter()
                .filter_map(|link| match link {
                    Link::UserManagedUser(_, managed) => Some(managed),
                    _ => None,
                })
                .collect(),
        );
    }
    if let Some(device_id) = filter_id(&params, "deviceId")? {
        if !caller.is_admin() && !caller.user.is_manager() {
            return Err(ApiError::forbidden(
                "only administrators and managers list the users of a device",
            ));
        }
        let links = direct_links(&shared, &caller, LinkedTo::Device(device_id)).await?;
        filters.push(
            links
                .into_iter()
                .filter_map(|link| match link {
                    Link::UserDevice(user_id, _) => Some(user_id),
                    _ => None,
                })
                .collect(),
        );
    }
    let mut users = shared.store.users().await?;
    users.sort_by_key(|user| user.id);
    let matching = users
        .iter()
        .filter(|user| caller.scope.user(user.id))
        .filter(|user| filters.iter().all(|ids| ids.contains(&user.id)))
        .filter(|user| {
            matches_keyword(
                keyword.as_deref(),
                [Some(user.name.as_str()), Some(user.email.as_str())],
            )
        });
    Ok(Json(
        page.window(matching)
            .map(|user| {
                let mut dto = UserDto::from(user);
                if exclude_attributes {
                    dto.attributes.clear();
                }
                dto
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = UserDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId<UserId>,
) -> ApiResult<Json<UserDto>> {
    if !caller.scope.user(id) {
        return Err(ApiError::NotFound);
    }
    let user = shared.store.user(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(UserDto::from(&user)))
}

#[utoipa::path(post, path = "/api/users", tag = "users", request_body = UserDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = UserDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 409, description = "conflicts with an existing object", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ApiJson(body): ApiJson<UserDto>,
) -> ApiResult<Json<UserDto>> {
    caller.require_writable()?;
    let mut fields = body.fields()?;
    if !caller.is_admin() {
        if !caller.user.is_manager() {
            return Err(ApiError::forbidden(
                "only administrators and managers create users",
            ));
        }
        check_grants(&caller.user, None, &mut fields)?;
        // The caller's limit and those of every manager above it.
        check_user_room(&shared, &caller.user, None).await?;
    }
    let password = body
        .password
        .as_deref()
        .ok_or_else(|| ApiError::bad("password is required"))?;
    let hash = hash(&shared, password).await?;
    let user = shared.store.create_user(fields, Some(hash)).await?;
    if !caller.is_admin() {
        shared
            .store
            .link(Link::UserManagedUser(caller.user.id, user.id))
            .await?;
    }
    tracing::info!(by = %caller.user.id, user_id = %user.id, "user created");
    Ok(Json(UserDto::from(&user)))
}

#[utoipa::path(put, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = UserDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 409, description = "conflicts with an existing object", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId<UserId>,
    ApiJson(body): ApiJson<UserDto>,
) -> ApiResult<Json<UserDto>> {
    if !caller.scope.user(id) {
        return Err(ApiError::NotFound);
    }
    if body.id != 0 && body.id != id.get() {
        return Err(ApiError::bad("id in the body differs from the path"));
    }
    caller.require_writable()?;
    let existing = shared.store.user(id).await?.ok_or(ApiError::NotFound)?;
    let mut fields = body.fields()?;
    if !caller.is_admin() {
        if id == caller.user.id {
            // Nobody raises their own privileges or lifts their own limits.
            fields.administrator = existing.administrator;
            fields.readonly = existing.readonly;
            fields.device_readonly = existing.device_readonly;
            fields.limit_commands = existing.limit_commands;
            fields.disabled = existing.disabled;
            fields.expiration_time = existing.expiration_time;
            fields.device_limit = existing.device_limit;
            fields.user_limit = existing.user_limit;
        } else {
            check_grants(&caller.user, Some(&existing), &mut fields)?;
        }
    }
    // Hash first: a busy pool refuses the whole change, not half of it.
    let new_hash = match body.password.as_deref().filter(|p| !p.is_empty()) {
        Some(password) => Some(hash(&shared, password).await?),
        None => None,
    };
    let user = shared.store.update_user(id, fields).await?;
    if let Some(new_hash) = new_hash {
        // Every other session and token of the user ends; the credential
        // making the change stays if it is the user's own session or token
        // (a Basic caller's old password is void anyway).
        let keep = match &caller.credential {
            Credential::Session(hash) | Credential::Token(hash) if id == caller.user.id => {
                Some(hash.as_str())
            }
            _ => None,
        };
        let ended = shared.store.change_password(id, &new_hash, keep).await?;
        shared.basic.clear();
        tracing::info!(
            by = %caller.user.id,
            user_id = %id,
            ended,
            "password changed; other sessions and tokens ended"
        );
    }
    Ok(Json(UserDto::from(&user)))
}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 204, description = "deleted"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId<UserId>,
) -> ApiResult<Response> {
    if !caller.scope.user(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_writable()?;
    if id == caller.user.id {
        return Err(ApiError::forbidden("users cannot delete themselves"));
    }
    if !caller.scope.manages(id) {
        return Err(ApiError::NotFound);
    }
    shared.store.delete_user(id).await?;
    shared.basic.clear();
    Ok(super::deleted())
}
