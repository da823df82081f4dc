//! Traccar's link filters on list endpoints (`?userId=`, `?deviceId=`,
//! `?groupId=`): the objects linked directly to one object, not those it
//! reaches through a group or a managed user, so that a client's
//! "connections" page shows exactly the links it can add and remove.

use trackd_model::{DeviceId, GroupId, Link, UserId};

use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::Params;
use crate::auth::Caller;
use crate::server::Shared;

/// The object whose direct links a list is filtered by.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LinkedTo {
    User(UserId),
    Device(DeviceId),
    Group(GroupId),
}

/// The id given for `key`; 0 (Traccar's "none") and absence are `None`.
pub(crate) fn filter_id<T: From<i64>>(params: &Params, key: &str) -> ApiResult<Option<T>> {
    Ok(params.id::<i64>(key)?.filter(|id| *id != 0).map(T::from))
}

/// The links `owner` is an end of; 404 when the caller cannot see it, like
/// any other object outside its scope.
pub(crate) async fn direct_links(
    shared: &Shared,
    caller: &Caller,
    owner: LinkedTo,
) -> ApiResult<Vec<Link>> {
    let visible = match owner {
        LinkedTo::User(id) => caller.scope.user(id),
        LinkedTo::Device(id) => caller.scope.device(id),
        LinkedTo::Group(id) => caller.scope.group(id),
    };
    if !visible {
        return Err(ApiError::NotFound);
    }
    Ok(match owner {
        LinkedTo::User(id) => shared.store.links_of_user(id).await?,
        LinkedTo::Device(id) => shared.store.links_of_device(id).await?,
        LinkedTo::Group(id) => shared.store.links_of_group(id).await?,
    })
}
