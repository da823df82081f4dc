//! The registry half of [`Store`]: accounts, devices, groups, geofences,
//! permission links, events, API tokens, sessions and server settings.
//!
//! These writes are allowed in `read_only` mode too (the CLI registers users
//! and devices while a server owns the positions). Referential cleanup is
//! part of each delete, in the same transaction: deleting a user, device,
//! group or geofence removes every link to or from it.

use trackd_model::{
    Device, DeviceFields, DeviceId, Event, EventId, Geofence, GeofenceFields, GeofenceId, Group,
    GroupFields, GroupId, JsonObject, Link, NewEvent, Permitted, Timestamp, User, UserFields,
    UserId,
};

use crate::links::Table;
use crate::{Backend, Store, StoreError};

impl Store {
    /// Creates a user; `Conflict` if the email is taken (compared case-insensitively).
    pub async fn create_user(
        &self,
        fields: UserFields,
        password_hash: Option<String>,
    ) -> Result<User, StoreError> {
        dispatch!(self.create_user(fields, password_hash))
    }

    /// The user with this id.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        dispatch!(self.user(id))
    }

    /// The user with this email, compared case-insensitively (ASCII on SQLite).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        dispatch!(self.user_by_email(email))
    }

    /// The stored password hash; `None` if the user has none or does not exist.
    pub async fn user_password_hash(&self, id: UserId) -> Result<Option<String>, StoreError> {
        dispatch!(self.user_password_hash(id))
    }

    /// Replaces the password hash; `NotFound` if the user does not exist.
    pub async fn set_user_password_hash(&self, id: UserId, hash: &str) -> Result<(), StoreError> {
        dispatch!(self.set_user_password_hash(id, hash))
    }

    /// Replaces every field (not the password); `NotFound`, or `Conflict` on a taken email.
    pub async fn update_user(&self, id: UserId, fields: UserFields) -> Result<User, StoreError> {
        dispatch!(self.update_user(id, fields))
    }

    /// Deletes a user with its links, API tokens and sessions; `NotFound` if absent.
    pub async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        dispatch!(self.delete_user(id))
    }

    /// All users, by id.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        dispatch!(self.users())
    }

    /// How many users exist (zero: the first user becomes administrator).
    pub async fn count_users(&self) -> Result<u64, StoreError> {
        dispatch!(self.count_users())
    }

    /// Registers a device; `Conflict` if its unique id is taken,
    /// `InvalidInput` if its group does not exist.
    pub async fn create_device(&self, fields: DeviceFields) -> Result<Device, StoreError> {
        dispatch!(self.create_device(fields))
    }

    /// Replaces every field of a device; `NotFound`, `Conflict` or `InvalidInput` (group).
    pub async fn update_device(
        &self,
        id: DeviceId,
        fields: DeviceFields,
    ) -> Result<Device, StoreError> {
        dispatch!(self.update_device(id, fields))
    }

    /// Deletes a device, its links and its events; `NotFound` if absent.
    /// Its positions stay (retention removes them); its id is never reused.
    pub async fn delete_device(&self, id: DeviceId) -> Result<(), StoreError> {
        dispatch!(self.delete_device(id))
    }

    /// Creates a group; `InvalidInput` if the parent does not exist.
    pub async fn create_group(&self, fields: GroupFields) -> Result<Group, StoreError> {
        dispatch!(self.create_group(fields))
    }

    /// The group with this id.
    pub async fn group(&self, id: GroupId) -> Result<Option<Group>, StoreError> {
        dispatch!(self.group(id))
    }

    /// Replaces every field; `NotFound`, or `InvalidInput` if the parent is
    /// missing or is the group itself or one of its subgroups.
    pub async fn update_group(
        &self,
        id: GroupId,
        fields: GroupFields,
    ) -> Result<Group, StoreError> {
        dispatch!(self.update_group(id, fields))
    }

    /// Deletes a group and its links; its devices and child groups get no
    /// group (`group_id` NULL). `NotFound` if absent.
    pub async fn delete_group(&self, id: GroupId) -> Result<(), StoreError> {
        dispatch!(self.delete_group(id))
    }

    /// All groups, by id.
    pub async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        dispatch!(self.groups())
    }

    /// Creates a geofence (the area is stored as given; validated by the caller).
    pub async fn create_geofence(&self, fields: GeofenceFields) -> Result<Geofence, StoreError> {
        dispatch!(self.create_geofence(fields))
    }

    /// The geofence with this id.
    pub async fn geofence(&self, id: GeofenceId) -> Result<Option<Geofence>, StoreError> {
        dispatch!(self.geofence(id))
    }

    /// Replaces every field; `NotFound` if absent.
    pub async fn update_geofence(
        &self,
        id: GeofenceId,
        fields: GeofenceFields,
    ) -> Result<Geofence, StoreError> {
        dispatch!(self.update_geofence(id, fields))
    }

    /// Deletes a geofence and its links; `NotFound` if absent.
    pub async fn delete_geofence(&self, id: GeofenceId) -> Result<(), StoreError> {
        dispatch!(self.delete_geofence(id))
    }

    /// All geofences, by id.
    pub async fn geofences(&self) -> Result<Vec<Geofence>, StoreError> {
        dispatch!(self.geofences())
    }

    /// Adds a permission link; nothing if it exists; `NotFound` if either end does not exist.
    pub async fn link(&self, link: Link) -> Result<(), StoreError> {
        dispatch!(self.link(link))
    }

    /// Removes a permission link; `NotFound` if absent.
    pub async fn unlink(&self, link: Link) -> Result<(), StoreError> {
        dispatch!(self.unlink(link))
    }

    /// The links the user owns (`User*` kinds with the user first), sorted.
    pub async fn links_of_user(&self, user_id: UserId) -> Result<Vec<Link>, StoreError> {
        dispatch!(self.links_of_user(user_id))
    }

    /// The links the device is an end of (`UserDevice` with it second,
    /// `DeviceGeofence` with it first), sorted.
    pub async fn links_of_device(&self, device_id: DeviceId) -> Result<Vec<Link>, StoreError> {
        dispatch!(self.links_touching(Table::Devices, device_id))
    }

    /// The links the group is an end of (`UserGroup` with it second,
    /// `GroupGeofence` with it first), sorted.
    pub async fn links_of_group(&self, group_id: GroupId) -> Result<Vec<Link>, StoreError> {
        dispatch!(self.links_touching(Table::Groups, group_id))
    }

    /// What a (non-administrator) user may see, Traccar's rules: the users it
    /// manages, transitively (cycles allowed, itself excluded); with them
    /// E = {user} ∪ managed: the groups linked to a member of E and all their
    /// subgroups; the devices linked to a member of E or in one of those
    /// groups; the geofences linked to a member of E. Every list sorted.
    pub async fn permitted(&self, user_id: UserId) -> Result<Permitted, StoreError> {
        dispatch!(self.permitted(user_id))
    }

    /// Stores an event; `InvalidInput` if its device does not exist.
    pub async fn insert_event(&self, event: NewEvent) -> Result<Event, StoreError> {
        dispatch!(self.insert_event(event))
    }

    /// The event with this id.
    pub async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        dispatch!(self.event(id))
    }

    /// Events of these devices with `from <= event_time < to`, in event
    /// time order (ties by id). `types: None` means every type; `Some` keeps
    /// only the listed types (an empty list matches nothing).
    pub async fn events(
        &self,
        device_ids: &[DeviceId],
        types: Option<&[String]>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Event>, StoreError> {
        dispatch!(self.events(device_ids, types, from, to))
    }

    /// Stores an API token by its hex SHA-256 hash; `NotFound` if the user
    /// does not exist, `Conflict` if the hash is already stored.
    pub async fn create_token(
        &self,
        user_id: UserId,
        token_hash: &str,
        expires: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        dispatch!(self.create_token(user_id, token_hash, expires))
    }

    /// The owner of a token, unless it expired (`expires <= now`). The
    /// caller still checks [`User::may_log_in`].
    pub async fn user_by_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        dispatch!(self.user_by_token(token_hash, now))
    }

    /// Stores a session by its hex SHA-256 hash; `NotFound` if the user does not exist.
    pub async fn create_session(
        &self,
        user_id: UserId,
        session_hash: &str,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        dispatch!(self.create_session(user_id, session_hash, expires))
    }

    /// The owner of a session, unless it expired (`expires <= now`).
    pub async fn user_by_session(
        &self,
        session_hash: &str,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        dispatch!(self.user_by_session(session_hash, now))
    }

    /// Ends a session (logout); nothing if it is already gone.
    pub async fn delete_session(&self, session_hash: &str) -> Result<(), StoreError> {
        dispatch!(self.delete_session(session_hash))
    }

    /// Deletes sessions and API tokens expired at `now`; returns how many.
    pub async fn purge_expired_credentials(&self, now: Timestamp) -> Result<u64, StoreError> {
        dispatch!(self.purge_expired_credentials(now))
    }

    /// The server settings object (`{}` until set).
    pub async fn server_settings(&self) -> Result<JsonObject, StoreError> {
        dispatch!(self.server_settings())
    }

    /// Replaces the server settings object.
    pub async fn set_server_settings(&self, settings: JsonObject) -> Result<(), StoreError> {
        dispatch!(self.set_server_settings(settings))
    }
}
