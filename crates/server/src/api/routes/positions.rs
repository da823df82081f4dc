//! `/api/positions` and `/api/reports/route`: positions of visible devices.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use trackd_model::{DeviceId, GroupId, PositionId};

use crate::api::dto::PositionDto;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::Params;
use crate::auth::Caller;
use crate::server::Shared;

#[utoipa::path(get, path = "/api/positions", tag = "positions", params(("deviceId" = Option<i64>, Query), ("from" = Option<String>, Query, description = "ISO-8601"), ("to" = Option<String>, Query, description = "ISO-8601"), ("id" = Option<Vec<i64>>, Query)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [PositionDto]), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    let viewer = caller.viewer();
    let ids = params.ids::<PositionId>("id")?;
    if !ids.is_empty() {
        let mut out = Vec::new();
        for id in ids {
            if let Some(position) = shared.access.position(&viewer, id).await? {
                out.push(PositionDto::stored(&position));
            }
        }
        return Ok(Json(out).into_response());
    }
    let device_id = params.id::<DeviceId>("deviceId")?;
    let from = params.time("from")?;
    let to = params.time("to")?;
    match (device_id, from, to) {
        (Some(device_id), Some(_), Some(_)) => {
            let (from, to) = params.range()?;
            crate::api::stream::positions(shared, viewer, vec![device_id], from, to).await
        }
        (_, Some(_), None) | (_, None, Some(_)) => Err(ApiError::bad("give both from and to")),
        (None, Some(_), Some(_)) => Err(ApiError::bad("deviceId is required with from and to")),
        (Some(device_id), None, None) => {
            if !viewer.scope.device(device_id) {
                return Err(ApiError::NotFound);
            }
            let latest = shared.access.latest(&viewer, device_id).await?;
            Ok(Json(latest.iter().map(PositionDto::stored).collect::<Vec<_>>()).into_response())
        }
        (None, None, None) => {
            let latest = shared.access.latest_of_all(&viewer).await?;
            Ok(Json(latest.iter().map(PositionDto::stored).collect::<Vec<_>>()).into_response())
        }
    }
}

/// Devices named by repeated `deviceId` and `groupId` (with subgroups),
/// every one of them visible to the caller; empty when none are named.
pub(crate) async fn requested_devices(
    shared: &Shared,
    caller: &Caller,
    params: &Params,
) -> ApiResult<Vec<DeviceId>> {
    let mut devices = params.ids::<DeviceId>("deviceId")?;
    let group_ids = params.ids::<GroupId>("groupId")?;
    if !group_ids.is_empty() {
        for group_id in &group_ids {
            if !caller.scope.group(*group_id) {
                return Err(ApiError::NotFound);
            }
        }
        let groups = shared.store.groups().await?;
        let mut wanted: Vec<GroupId> = group_ids.clone();
        // Walk down the group tree; bounded by the number of groups.
        let mut changed = true;
        while changed {
            changed = false;
            for group in &groups {
                if let Some(parent) = group.group_id {
                    if wanted.contains(&parent) && !wanted.contains(&group.id) {
                        wanted.push(group.id);
                        changed = true;
                    }
                }
            }
        }
        for device in shared.store.devices().await? {
            if device.group_id.is_some_and(|g| wanted.contains(&g))
                && caller.scope.device(device.id)
            {
                devices.push(device.id);
            }
        }
    }
    devices.sort_unstable();
    devices.dedup();
    if devices.iter().any(|id| !caller.scope.device(*id)) {
        return Err(ApiError::NotFound);
    }
    // None named is an empty report, as in Traccar (Home Assistant asks for
    // the events of all its devices, which may be none).
    Ok(devices)
}

#[utoipa::path(get, path = "/api/reports/route", tag = "reports", params(("from" = String, Query, description = "ISO-8601"), ("to" = String, Query, description = "ISO-8601"), ("deviceId" = Option<Vec<i64>>, Query), ("groupId" = Option<Vec<i64>>, Query)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [PositionDto]), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn route_report(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    let (from, to) = params.range()?;
    let devices = requested_devices(&shared, &caller, &params).await?;
    crate::api::stream::positions(shared, caller.viewer(), devices, from, to).await
}
