//! What a caller may see. Every read of registry objects and positions in
//! the API is filtered through a [`Scope`]; there is no other path.

use std::collections::HashSet;

use trackd_model::{DeviceId, GeofenceId, GroupId, User, UserId};
use trackd_store::{Store, StoreError};

/// The objects one user may see.
#[derive(Clone, Debug)]
pub enum Scope {
    /// An administrator sees everything.
    Admin,
    /// Everyone else sees what is linked to them (see `Store::permitted`).
    Limited {
        /// The user itself.
        user_id: UserId,
        /// Users it manages, transitively.
        managed_users: HashSet<UserId>,
        /// Visible devices.
        devices: HashSet<DeviceId>,
        /// Visible groups.
        groups: HashSet<GroupId>,
        /// Visible geofences.
        geofences: HashSet<GeofenceId>,
    },
}

impl Scope {
    /// Resolves the scope of `user` from the permission links.
    pub async fn resolve(store: &Store, user: &User) -> Result<Scope, StoreError> {
        if user.administrator {
            return Ok(Scope::Admin);
        }
        let permitted = store.permitted(user.id).await?;
        Ok(Scope::Limited {
            user_id: user.id,
            managed_users: permitted.managed_users.into_iter().collect(),
            devices: permitted.devices.into_iter().collect(),
            groups: permitted.groups.into_iter().collect(),
            geofences: permitted.geofences.into_iter().collect(),
        })
    }

    /// Whether the device is visible.
    pub fn device(&self, id: DeviceId) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Limited { devices, .. } => devices.contains(&id),
        }
    }

    /// Whether the group is visible.
    pub fn group(&self, id: GroupId) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Limited { groups, .. } => groups.contains(&id),
        }
    }

    /// Whether the geofence is visible.
    pub fn geofence(&self, id: GeofenceId) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Limited { geofences, .. } => geofences.contains(&id),
        }
    }

    /// Whether the user is visible: itself or one it manages.
    pub fn user(&self, id: UserId) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Limited {
                user_id,
                managed_users,
                ..
            } => *user_id == id || managed_users.contains(&id),
        }
    }

    /// Whether the user is one the caller manages (not itself).
    pub fn manages(&self, id: UserId) -> bool {
        match self {
            Scope::Admin => true,
            Scope::Limited { managed_users, .. } => managed_users.contains(&id),
        }
    }

    /// Number of devices visible (for device limits).
    pub fn device_count(&self) -> Option<usize> {
        match self {
            Scope::Admin => None,
            Scope::Limited { devices, .. } => Some(devices.len()),
        }
    }

    /// Number of users managed (for user limits).
    pub fn managed_count(&self) -> Option<usize> {
        match self {
            Scope::Admin => None,
            Scope::Limited { managed_users, .. } => Some(managed_users.len()),
        }
    }
}
