//! `/api/users`: administrators manage everyone; managers create and manage
//! their own users up to their `userLimit`; a user sees and edits itself.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use trackd_model::{Link, User, UserFields};

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{ApiJson, Params, PathId};
use crate::api::objects::UserDto;
use crate::auth::{hash_password, Caller};
use crate::server::Shared;

async fn hash(password: &str) -> ApiResult<String> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(ApiError::bad("password must be 8 to 1024 characters"));
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(|err| {
            tracing::error!(%err, "password hashing failed");
            ApiError::Internal
        })
}

#[utoipa::path(get, path = "/api/users", tag = "users", params(("userId" = Option<i64>, Query, description = "users managed by this user")), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [UserDto]), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    params: Params,
) -> ApiResult<Json<Vec<UserDto>>> {
    let users = shared.store.users().await?;
    let of_user = params.id("userId")?;
    let mut visible: Vec<UserDto> = users
        .iter()
        .filter(|user| caller.scope.user(user.id))
        .map(UserDto::from)
        .collect();
    if let Some(owner) = of_user {
        if !caller.scope.user(owner) {
            return Err(ApiError::NotFound);
        }
        let managed = shared.store.permitted(owner).await?.managed_users;
        visible.retain(|user| managed.contains(&user.id));
    }
    Ok(Json(visible))
}

#[utoipa::path(get, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = UserDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId,
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
        let managed = caller.scope.managed_count().unwrap_or(0);
        if caller.user.user_limit >= 0 && managed >= caller.user.user_limit as usize {
            return Err(ApiError::forbidden("user limit reached"));
        }
        restrict_for_manager(&caller.user, &mut fields);
    }
    let password = body
        .password
        .as_deref()
        .ok_or_else(|| ApiError::bad("password is required"))?;
    let hash = hash(password).await?;
    let user = shared.store.create_user(fields, Some(hash)).await?;
    if !caller.is_admin() {
        shared
            .store
            .link(Link::UserManagedUser(caller.user.id, user.id))
            .await?;
    }
    tracing::info!(by = caller.user.id, user_id = user.id, "user created");
    Ok(Json(UserDto::from(&user)))
}

/// A manager cannot hand out more than it has.
fn restrict_for_manager(manager: &User, fields: &mut UserFields) {
    fields.administrator = false;
    if manager.user_limit >= 0 && (fields.user_limit < 0 || fields.user_limit > manager.user_limit)
    {
        fields.user_limit = manager.user_limit;
    }
    if manager.device_limit >= 0
        && (fields.device_limit < 0 || fields.device_limit > manager.device_limit)
    {
        fields.device_limit = manager.device_limit;
    }
}

#[utoipa::path(put, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = UserDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 409, description = "conflicts with an existing object", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<UserDto>,
) -> ApiResult<Json<UserDto>> {
    if !caller.scope.user(id) {
        return Err(ApiError::NotFound);
    }
    if body.id != 0 && body.id != id {
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
            restrict_for_manager(&caller.user, &mut fields);
        }
    }
    let user = shared.store.update_user(id, fields).await?;
    if let Some(password) = body.password.as_deref().filter(|p| !p.is_empty()) {
        let hash = hash(password).await?;
        shared.store.set_user_password_hash(id, &hash).await?;
        shared.basic.clear();
    }
    Ok(Json(UserDto::from(&user)))
}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 204, description = "deleted"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId,
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
