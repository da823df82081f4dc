//! `/api/devices`: the devices the caller may see; create, change, delete.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use trackd_model::{Device, DeviceId, Link};

use super::linked::{direct_links, filter_id, LinkedTo};
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{matches_keyword, ApiJson, Params, PathId};
use crate::api::objects::DeviceDto;
use crate::auth::{check_device_room, Caller};
use crate::server::Shared;

#[utoipa::path(get, path = "/api/devices", tag = "devices", params(("id" = Option<Vec<i64>>, Query, description = "these devices only (then no other filter or paging applies)"), ("uniqueId" = Option<Vec<String>>, Query), ("all" = Option<bool>, Query), ("userId" = Option<i64>, Query, description = "devices linked directly to this user"), ("deviceId" = Option<i64>, Query, description = "devices linked to this device (trackd has no such links: always empty)"), ("keyword" = Option<String>, Query, description = "in name, uniqueId, phone, model or contact"), ("excludeAttributes" = Option<bool>, Query), ("limit" = Option<i32>, Query, description = "page size; 0 or less is everything"), ("offset" = Option<i32>, Query, description = "rows to skip, with a limit")), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [DeviceDto]), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    params: Params,
) -> ApiResult<Json<Vec<DeviceDto>>> {
    let ids = params.ids::<DeviceId>("id")?;
    let unique_ids: Vec<&str> = params
        .0
        .iter()
        .filter(|(k, _)| k == "uniqueId")
        .map(|(_, v)| v.as_str())
        .collect();
    // `all=true` lets an administrator list every device; for anyone else
    // the scope already is everything they may see.
    let _all = params.flag("all")?;
    let exclude_attributes = params.flag("excludeAttributes")?;
    let page = params.page()?;
    let keyword = params.keyword();
    let of_user = filter_id(&params, "userId")?;
    let of_device = filter_id(&params, "deviceId")?;
    let mut devices: Vec<Device> = shared
        .store
        .devices()
        .await?
        .into_iter()
        .filter(|device| caller.scope.device(device.id))
        .collect();
    devices.sort_by_key(|device| device.id);
    let devices: Vec<Device> = if !ids.is_empty() || !unique_ids.is_empty() {
        // As Traccar: a lookup by id or uniqueId ignores the other filters.
        devices
            .into_iter()
            .filter(|device| ids.is_empty() || ids.contains(&device.id))
            .filter(|device| {
                unique_ids.is_empty() || unique_ids.contains(&device.unique_id.as_str())
            })
            .collect()
    } else {
        if let Some(user_id) = of_user {
            let theirs: HashSet<DeviceId> = direct_links(&shared, &caller, LinkedTo::User(user_id))
                .await?
                .into_iter()
                .filter_map(|link| match link {
                    Link::UserDevice(_, device_id) => Some(device_id),
                    _ => None,
                })
                .collect();
            devices.retain(|device| theirs.contains(&device.id));
        }
        if let Some(device_id) = of_device {
            if !caller.scope.device(device_id) {
                return Err(ApiError::NotFound);
            }
            // Traccar's device-to-device links do not exist here.
            devices.clear();
        }
        let matching = devices.into_iter().filter(|device| {
            matches_keyword(
                keyword.as_deref(),
                [
                    Some(device.name.as_str()),
                    Some(device.unique_id.as_str()),
                    device.phone.as_deref(),
                    device.model.as_deref(),
                    device.contact.as_deref(),
                ],
            )
        });
        page.window(matching).collect()
    };
    let ids: Vec<DeviceId> = devices.iter().map(|device| device.id).collect();
    let states = shared.device_states(&ids).await?;
    let mut out = Vec::with_capacity(devices.len());
    for (device, state) in devices.iter().zip(states) {
        let mut dto = DeviceDto::new(device, state);
        if exclude_attributes {
            dto.attributes.clear();
        }
        out.push(dto);
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/devices/{id}", tag = "devices", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = DeviceDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId<DeviceId>,
) -> ApiResult<Json<DeviceDto>> {
    if !caller.scope.device(id) {
        return Err(ApiError::NotFound);
    }
    let device = shared.store.device(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(DeviceDto::new(
        &device,
        shared.device_state(id).await?,
    )))
}

#[utoipa::path(post, path = "/api/devices", tag = "devices", request_body = DeviceDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = DeviceDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 409, description = "conflicts with an existing object", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    ApiJson(body): ApiJson<DeviceDto>,
) -> ApiResult<Json<DeviceDto>> {
    caller.require_device_writable()?;
    let fields = body.fields()?;
    if let Some(group_id) = fields.group_id {
        if !caller.scope.group(group_id) {
            return Err(ApiError::bad("groupId: no such group"));
        }
    }
    if !caller.is_admin() {
        // The caller's device limit and those of every manager above it.
        check_device_room(&shared, &caller.user, None).await?;
    }
    let device = shared.store.create_device(fields).await?;
    if !caller.is_admin() {
        shared
            .store
            .link(Link::UserDevice(caller.user.id, device.id))
            .await?;
    }
    shared.registry.forget(&device.unique_id);
    tracing::info!(by = %caller.user.id, device_id = %device.id, "device created");
    Ok(Json(DeviceDto::new(
        &device,
        shared.device_state(device.id).await?,
    )))
}

#[utoipa::path(put, path = "/api/devices/{id}", tag = "devices", params(("id" = i64, Path)), request_body = DeviceDto, security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = DeviceDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 409, description = "conflicts with an existing object", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId<DeviceId>,
    ApiJson(body): ApiJson<DeviceDto>,
) -> ApiResult<Json<DeviceDto>> {
    if !caller.scope.device(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_device_writable()?;
    if body.id != 0 && body.id != id.get() {
        return Err(ApiError::bad("id in the body differs from the path"));
    }
    let fields = body.fields()?;
    if let Some(group_id) = fields.group_id {
        if !caller.scope.group(group_id) {
            return Err(ApiError::bad("groupId: no such group"));
        }
    }
    let before = shared.store.device(id).await?.ok_or(ApiError::NotFound)?;
    let device = shared.store.update_device(id, fields).await?;
    shared.registry.forget(&before.unique_id);
    if device.disabled || device.unique_id != before.unique_id {
        // A new unique id is a different tracker: the old one's connections end too.
        shared.registry.revoke(id, &before.unique_id);
    }
    shared.registry.forget(&device.unique_id);
    Ok(Json(DeviceDto::new(
        &device,
        shared.device_state(id).await?,
    )))
}

#[utoipa::path(delete, path = "/api/devices/{id}", tag = "devices", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 204, description = "deleted"), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId<DeviceId>,
) -> ApiResult<Response> {
    if !caller.scope.device(id) {
        return Err(ApiError::NotFound);
    }
    caller.require_device_writable()?;
    let device = shared.store.device(id).await?.ok_or(ApiError::NotFound)?;
    shared.store.delete_device(id).await?;
    shared.registry.revoke(id, &device.unique_id);
    Ok(super::deleted())
}
