//! `/api/permissions`: link and unlink users to devices, groups, geofences
//! and managed users. The caller must see both sides and may only link
//! users it manages (or itself).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use trackd_model::{Link, User, UserId};

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::ApiJson;
use crate::api::objects::PermissionDto;
use crate::auth::{check_device_room, check_user_room, Caller};
use crate::server::Shared;

fn authorize(caller: &Caller, link: Link) -> ApiResult<()> {
    caller.require_writable()?;
    let scope = &caller.scope;
    let user_ok = |user_id| scope.user(user_id);
    let visible = match link {
        Link::UserDevice(u, d) => user_ok(u) && scope.device(d),
        Link::UserGroup(u, g) => user_ok(u) && scope.group(g),
        Link::UserGeofence(u, f) => user_ok(u) && scope.geofence(f),
        Link::UserManagedUser(u, m) => {
            if !caller.is_admin() && !caller.user.is_manager() {
                return Err(ApiError::forbidden("only managers link managed users"));
            }
            user_ok(u) && scope.manages(m) && u != m
        }
        Link::DeviceGeofence(d, f) => scope.device(d) && scope.geofence(f),
        Link::GroupGeofence(g, f) => scope.group(g) && scope.geofence(f),
    };
    if !visible {
        return Err(ApiError::NotFound);
    }
    // Handing a device to another user changes what that user may do with it.
    if matches!(link, Link::UserDevice(..) | Link::DeviceGeofence(..)) {
        caller.require_device_writable()?;
    }
    Ok(())
}

/// A link that gives a user one more managed user or device must keep that
/// user, and every manager above it, within its limits.
async fn check_limits(shared: &Shared, link: Link) -> ApiResult<()> {
    let owner_of = async |id: UserId| -> ApiResult<User> {
        shared.store.user(id).await?.ok_or(ApiError::NotFound)
    };
    match link {
        Link::UserManagedUser(owner, managed) => {
            check_user_room(shared, &owner_of(owner).await?, Some(managed)).await
        }
        Link::UserDevice(owner, device) => {
            check_device_room(shared, &owner_of(owner).await?, Some(device)).await
        }
        _ => Ok(()),
    }
}

#[utoipa::path(post, path = "/api/permissions", tag = "permissions", request_body = PermissionDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 204, description = "linked"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ApiJson(body): ApiJson<PermissionDto>,
) -> ApiResult<Response> {
    let link = body.link()?;
    authorize(&caller, link)?;
    if !caller.is_admin() {
        check_limits(&shared, link).await?;
    }
    shared.store.link(link).await?;
    Ok(super::deleted())
}

#[utoipa::path(delete, path = "/api/permissions", tag = "permissions", request_body = PermissionDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 204, description = "unlinked"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ApiJson(body): ApiJson<PermissionDto>,
) -> ApiResult<Response> {
    let link = body.link()?;
    authorize(&caller, link)?;
    shared.store.unlink(link).await?;
    Ok(super::deleted())
}
