//! Users and their roles.

use crate::{JsonObject, Timestamp, UserId};

/// A person or integration that logs in. Roles follow Traccar: an
/// administrator sees everything; a manager (`user_limit != 0`) creates and
/// manages its own users and their devices; a plain user sees what is linked
/// to it.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// Store-assigned id.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Login, unique (compared case-insensitively).
    pub email: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Sees and manages everything.
    pub administrator: bool,
    /// May not change anything, not even its own settings.
    pub readonly: bool,
    /// May not change devices.
    pub device_readonly: bool,
    /// May not send commands.
    pub limit_commands: bool,
    /// Refused at login.
    pub disabled: bool,
    /// Refused at login from this instant on.
    pub expiration_time: Option<Timestamp>,
    /// Most devices the user may own; -1 = unlimited, Traccar's convention.
    pub device_limit: i32,
    /// Most users a manager may create; 0 = not a manager, -1 = unlimited.
    pub user_limit: i32,
    /// Map and display preferences and anything else clients store.
    pub attributes: JsonObject,
}

/// Everything about a user that a create or update sets (not the id, not the password).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserFields {
    /// Display name.
    pub name: String,
    /// Login, unique.
    pub email: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Administrator role.
    pub administrator: bool,
    /// Read-only user.
    pub readonly: bool,
    /// May not change devices.
    pub device_readonly: bool,
    /// May not send commands.
    pub limit_commands: bool,
    /// Refused at login.
    pub disabled: bool,
    /// Refused at login from this instant on.
    pub expiration_time: Option<Timestamp>,
    /// Most devices; -1 unlimited.
    pub device_limit: i32,
    /// Most managed users; 0 not a manager, -1 unlimited.
    pub user_limit: i32,
    /// Free-form attributes.
    pub attributes: JsonObject,
}

impl User {
    /// Whether the user manages other users (Traccar's reseller model).
    pub fn is_manager(&self) -> bool {
        self.user_limit != 0
    }

    /// Whether the account may log in at `now`.
    pub fn may_log_in(&self, now: Timestamp) -> bool {
        !self.disabled && self.expiration_time.is_none_or(|expires| now < expires)
    }
}
