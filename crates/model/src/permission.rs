//! Permission links between users and what they may see.

use crate::{DeviceId, GeofenceId, GroupId, UserId};

/// One link of Traccar's permission model (`/api/permissions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Link {
    /// The user sees the device.
    UserDevice(UserId, DeviceId),
    /// The user sees the group, its subgroups and their devices.
    UserGroup(UserId, GroupId),
    /// The user sees the geofence.
    UserGeofence(UserId, GeofenceId),
    /// The first user manages the second.
    UserManagedUser(UserId, UserId),
    /// The geofence applies to the device.
    DeviceGeofence(DeviceId, GeofenceId),
    /// The geofence applies to every device of the group.
    GroupGeofence(GroupId, GeofenceId),
}

/// Everything one user may see, resolved through groups and managed users.
/// Administrators are not resolved (they see everything).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Permitted {
    /// Users the user manages, transitively (not itself).
    pub managed_users: Vec<UserId>,
    /// Devices linked to it or a managed user, directly or via a group or subgroup.
    pub devices: Vec<DeviceId>,
    /// Groups linked to it or a managed user, and their subgroups.
    pub groups: Vec<GroupId>,
    /// Geofences linked to it or a managed user.
    pub geofences: Vec<GeofenceId>,
}
