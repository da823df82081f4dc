//! `/api/events/{id}` and `/api/reports/events`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use trackd_model::{EventId, EventKind};
use trackd_store::EventQuery;

use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{Params, PathId};
use crate::api::objects::EventDto;
use crate::auth::Caller;
use crate::server::Shared;

#[utoipa::path(get, path = "/api/events/{id}", tag = "events", params(("id" = i64, Path)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = EventDto), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    PathId(id): PathId<EventId>,
) -> ApiResult<Json<EventDto>> {
    let event = shared
        .access
        .event(&caller.viewer(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(EventDto::from(&event)))
}

#[utoipa::path(get, path = "/api/reports/events", tag = "reports", params(("from" = String, Query, description = "ISO-8601"), ("to" = String, Query, description = "ISO-8601"), ("deviceId" = Option<Vec<i64>>, Query), ("groupId" = Option<Vec<i64>>, Query), ("type" = Option<Vec<String>>, Query)), security(("session" = []), ("bearer" = []), ("basic" = [])), responses((status = 200, body = [EventDto]), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not authenticated", body = ErrorBody), (status = 404, description = "no such object, or not visible", body = ErrorBody), (status = 500, description = "internal error", body = ErrorBody)))]
pub(crate) async fn report(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    let (from, to) = params.range()?;
    let devices = super::positions::requested_devices(&shared, &caller, &params).await?;
    let types = event_types(&params)?;
    let types = (!types.is_empty()).then_some(types.as_slice());
    let query = EventQuery::new(&devices, types, from, to);
    crate::api::stream::events(shared, caller.viewer(), query).await
}

/// The `type` filters of a report, Traccar's names; `allEvents` adds none
/// and an unknown name is a 400 naming it.
fn event_types(params: &Params) -> ApiResult<Vec<EventKind>> {
    params
        .0
        .iter()
        .filter(|(key, name)| key == "type" && name != "allEvents")
        .map(|(_, name)| {
            name.parse::<EventKind>()
                .map_err(|error| ApiError::bad(format!("type: {error}")))
        })
        .collect()
}
