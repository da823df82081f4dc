//! The registry half of [`Store`]: accounts, devices, groups, geofences,
//! permission links, events, API tokens, sessions and server settings.
//!
//! These writes are allowed in `read_only` mode too (the CLI registers users
//! and devices while a server owns the positions). Referential cleanup is
//! part of each delete, in the same transaction: deleting a user, device,
//! group or geofence removes every link to or from it.
//!
//! Written once for both backends: each table's SQL, decoding, validation
//! and cascades live in one module here (`users`, `devices`, `groups`,
//! `geofences`, `permissions`, `tokens`; `integrity` holds the reference
//! checks and the delete cascade, `schema` the registry DDL), generic over
//! the dialect seam [`db::Db`]. A backend only implements `Db` (binding,
//! row decoding, unique-violation mapping, lock clauses, DDL words) and
//! says where a call runs (`registry_write`, `registry_read`,
//! `registry_snapshot`), in `src/sqlite/registry.rs` and
//! `src/postgres/registry.rs`. Events keep per-backend code (they join the
//! position commit) and are only routed through here.
//!
//! How to add a registry table (three files, no backend file):
//! 1. `src/registry/schema.rs`: append its `CREATE TABLE` to `MIGRATIONS`,
//!    written once with the dialect words (`{id}`, `{int}`, `{bool}`, ...);
//! 2. `src/registry/<table>.rs` (new): its columns, `from_row`, and each
//!    operation as `async fn op<D: Db>(db: &mut D, ...)` with `$n`
//!    placeholders in order, `integrity::exists` for the rows it refers
//!    to, and what its delete clears;
//! 3. this file: `mod <table>;` and one `Store` method per operation:
//!    `registry!(self, registry_write, |db| <table>::op(db, ...))`
//!    (`registry_read` for one read, `registry_snapshot` for reads that
//!    must agree).
//!
//! Only a table that permission links may point at touches a fourth,
//! `src/links.rs` (its `Table` variant and link kinds, a change of the
//! permission rules); its delete is then `integrity::delete`.

pub(crate) mod db;
pub(crate) mod devices;
mod geofences;
mod groups;
mod integrity;
mod permissions;
pub(crate) mod schema;
mod tokens;
mod users;

use trackd_model::{
    Device, DeviceFields, DeviceId, Event, EventId, EventKind, Geofence, GeofenceFields,
    GeofenceId, Group, GroupFields, GroupId, JsonObject, Link, NewEvent, Permitted, Timestamp,
    User, UserFields, UserId,
};

use crate::links::Table;
use crate::{Backend, EventQuery, Store, StoreError};

/// Runs `$body` (a future over `$db: &mut impl Db`) on the store's backend,
/// in the place `$mode` names: `registry_write` (one transaction),
/// `registry_read` (a pooled connection) or `registry_snapshot` (one
/// consistent read transaction). Captured values must be owned: on SQLite
/// the body runs on another thread.
macro_rules! registry {
    ($self:ident, $mode:ident, |$db:ident| $body:expr) => {
        match &*$self.backend {
            $crate::Backend::Sqlite(store) => {
                store
                    .$mode(move |$db| $crate::registry::db::ready($body))
                    .await
            }
            $crate::Backend::Postgres(store) => {
                let mut session = store.$mode().await?;
                let result = {
                    let $db = &mut session;
                    $body.await
                };
                session.finish(result).await
            }
        }
    };
}

impl Store {
    /// Creates a user; `Conflict` if the email is taken (compared case-insensitively).
    pub async fn create_user(
        &self,
        fields: UserFields,
        password_hash: Option<String>,
    ) -> Result<User, StoreError> {
        registry!(self, registry_write, |db| users::insert(
            db,
            &fields,
            password_hash.as_deref()
        ))
    }

    /// The user with this id.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        registry!(self, registry_read, |db| users::by_id(db, id))
    }

    /// The user with this email, compared case-insensitively (ASCII on SQLite).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let email = email.to_owned();
        registry!(self, registry_read, |db| users::by_email(db, &email))
    }

    /// The stored password hash; `None` if the user has none or does not exist.
    pub async fn user_password_hash(&self, id: UserId) -> Result<Option<String>, StoreError> {
        registry!(self, registry_read, |db| users::password_hash(db, id))
    }

    /// Replaces the password hash; `NotFound` if the user does not exist.
    pub async fn set_user_password_hash(&self, id: UserId, hash: &str) -> Result<(), StoreError> {
        let hash = hash.to_owned();
        registry!(self, registry_write, |db| users::set_password_hash(
            db, id, &hash
        ))
    }

    /// Replaces the password hash and, in the same transaction, ends every
    /// session and API token of the user but `keep` (the hash of the
    /// session or token that made the change, if it stays valid);
    /// `NotFound` if the user does not exist. Returns how many credentials
    /// ended.
    pub async fn change_password(
        &self,
        id: UserId,
        hash: &str,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        let hash = hash.to_owned();
        let keep = keep.map(str::to_owned);
        registry!(self, registry_write, |db| async move {
            users::set_password_hash(db, id, &hash).await?;
            tokens::revoke_all_but(db, id, keep.as_deref()).await
        })
    }

    /// Replaces every field (not the password); `NotFound`, or `Conflict` on a taken email.
    pub async fn update_user(&self, id: UserId, fields: UserFields) -> Result<User, StoreError> {
        registry!(self, registry_write, |db| users::update(db, id, &fields))
    }

    /// Deletes a user with its links, API tokens and sessions; `NotFound` if absent.
    pub async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        registry!(self, registry_write, |db| users::delete(db, id))
    }

    /// All users, by id.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        registry!(self, registry_read, |db| users::all(db))
    }

    /// How many users exist (zero: the first user becomes administrator).
    pub async fn count_users(&self) -> Result<u64, StoreError> {
        registry!(self, registry_read, |db| users::count(db))
    }

    /// Registers a device; `Conflict` if its unique id is taken,
    /// `InvalidInput` if its group does not exist.
    pub async fn create_device(&self, fields: DeviceFields) -> Result<Device, StoreError> {
        registry!(self, registry_write, |db| devices::insert(db, &fields))
    }

    /// Replaces every field of a device; `NotFound`, `Conflict` or `InvalidInput` (group).
    pub async fn update_device(
        &self,
        id: DeviceId,
        fields: DeviceFields,
    ) -> Result<Device, StoreError> {
        registry!(self, registry_write, |db| devices::update(db, id, &fields))
    }

    /// Deletes a device, its links and its events; `NotFound` if absent.
    /// Its positions stay (retention removes them); its id is never reused.
    pub async fn delete_device(&self, id: DeviceId) -> Result<(), StoreError> {
        registry!(self, registry_write, |db| devices::delete(db, id))?;
        dispatch!(self.device_deleted(id))
    }

    /// Creates a group; `InvalidInput` if the parent does not exist.
    pub async fn create_group(&self, fields: GroupFields) -> Result<Group, StoreError> {
        registry!(self, registry_write, |db| groups::insert(db, &fields))
    }

    /// The group with this id.
    pub async fn group(&self, id: GroupId) -> Result<Option<Group>, StoreError> {
        registry!(self, registry_read, |db| groups::by_id(db, id))
    }

    /// Replaces every field; `NotFound`, or `InvalidInput` if the parent is
    /// missing or is the group itself or one of its subgroups.
    pub async fn update_group(
        &self,
        id: GroupId,
        fields: GroupFields,
    ) -> Result<Group, StoreError> {
        registry!(self, registry_write, |db| groups::update(db, id, &fields))
    }

    /// Deletes a group and its links; its devices and child groups get no
    /// group (`group_id` NULL). `NotFound` if absent.
    pub async fn delete_group(&self, id: GroupId) -> Result<(), StoreError> {
        registry!(self, registry_write, |db| groups::delete(db, id))
    }

    /// All groups, by id.
    pub async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        registry!(self, registry_read, |db| groups::all(db))
    }

    /// Creates a geofence (the area is stored as given; validated by the caller).
    pub async fn create_geofence(&self, fields: GeofenceFields) -> Result<Geofence, StoreError> {
        registry!(self, registry_write, |db| geofences::insert(db, &fields))
    }

    /// The geofence with this id.
    pub async fn geofence(&self, id: GeofenceId) -> Result<Option<Geofence>, StoreError> {
        registry!(self, registry_read, |db| geofences::by_id(db, id))
    }

    /// Replaces every field; `NotFound` if absent.
    pub async fn update_geofence(
        &self,
        id: GeofenceId,
        fields: GeofenceFields,
    ) -> Result<Geofence, StoreError> {
        registry!(self, registry_write, |db| geofences::update(
            db, id, &fields
        ))
    }

    /// Deletes a geofence and its links; `NotFound` if absent.
    pub async fn delete_geofence(&self, id: GeofenceId) -> Result<(), StoreError> {
        registry!(self, registry_write, |db| geofences::delete(db, id))
    }

    /// All geofences, by id.
    pub async fn geofences(&self) -> Result<Vec<Geofence>, StoreError> {
        registry!(self, registry_read, |db| geofences::all(db))
    }

    /// Adds a permission link; nothing if it exists; `NotFound` if either end does not exist.
    pub async fn link(&self, link: Link) -> Result<(), StoreError> {
        registry!(self, registry_write, |db| permissions::link(db, link))
    }

    /// Removes a permission link; `NotFound` if absent.
    pub async fn unlink(&self, link: Link) -> Result<(), StoreError> {
        registry!(self, registry_write, |db| permissions::unlink(db, link))
    }

    /// The links the user owns (`User*` kinds with the user first), sorted.
    pub async fn links_of_user(&self, user_id: UserId) -> Result<Vec<Link>, StoreError> {
        registry!(self, registry_read, |db| permissions::of_user(db, user_id))
    }

    /// The links the device is an end of (`UserDevice` with it second,
    /// `DeviceGeofence` with it first), sorted.
    pub async fn links_of_device(&self, device_id: DeviceId) -> Result<Vec<Link>, StoreError> {
        registry!(self, registry_read, |db| permissions::touching(
            db,
            Table::Devices,
            device_id
        ))
    }

    /// The links the group is an end of (`UserGroup` with it second,
    /// `GroupGeofence` with it first), sorted.
    pub async fn links_of_group(&self, group_id: GroupId) -> Result<Vec<Link>, StoreError> {
        registry!(self, registry_read, |db| permissions::touching(
            db,
            Table::Groups,
            group_id
        ))
    }

    /// Every user that manages this one, directly or through other
    /// managers (itself excluded), sorted: whose limits it counts against.
    pub async fn managers_of(&self, user_id: UserId) -> Result<Vec<UserId>, StoreError> {
        registry!(self, registry_read, |db| permissions::managers_of(
            db, user_id
        ))
    }

    /// What a (non-administrator) user may see, Traccar's rules: the users it
    /// manages, transitively (cycles allowed, itself excluded); with them
    /// E = {user} ∪ managed: the groups linked to a member of E and all their
    /// subgroups; the devices linked to a member of E or in one of those
    /// groups; the geofences linked to a member of E. Every list sorted.
    pub async fn permitted(&self, user_id: UserId) -> Result<Permitted, StoreError> {
        registry!(self, registry_snapshot, |db| permissions::permitted(
            db, user_id
        ))
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
        types: Option<&[EventKind]>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Event>, StoreError> {
        self.events_in(&EventQuery::new(device_ids, types, from, to))
            .await
    }

    /// The events `query` selects (one page of them when it has a limit).
    pub async fn events_in(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        if query.matches_nothing() {
            return Ok(Vec::new());
        }
        dispatch!(self.events(query))
    }

    /// How many events `query` selects, its `after` and `limit` aside:
    /// cheap, for refusing reads that are too big before loading them.
    pub async fn count_events(&self, query: &EventQuery) -> Result<u64, StoreError> {
        let whole = EventQuery {
            after: None,
            limit: None,
            ..query.clone()
        };
        if whole.matches_nothing() {
            return Ok(0);
        }
        dispatch!(self.count_events(&whole))
    }

    /// Stores an API token by its hex SHA-256 hash; `NotFound` if the user
    /// does not exist, `Conflict` if the hash is already stored.
    pub async fn create_token(
        &self,
        user_id: UserId,
        token_hash: &str,
        expires: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let token_hash = token_hash.to_owned();
        registry!(self, registry_write, |db| tokens::create_token(
            db,
            user_id,
            &token_hash,
            expires
        ))
    }

    /// The owner of a token, unless it expired (`expires <= now`). The
    /// caller still checks [`User::may_log_in`].
    pub async fn user_by_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let token_hash = token_hash.to_owned();
        registry!(self, registry_read, |db| tokens::user_by_token(
            db,
            &token_hash,
            now
        ))
    }

    /// Stores a session by its hex SHA-256 hash; `NotFound` if the user does not exist.
    pub async fn create_session(
        &self,
        user_id: UserId,
        session_hash: &str,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        let session_hash = session_hash.to_owned();
        registry!(self, registry_write, |db| tokens::create_session(
            db,
            user_id,
            &session_hash,
            expires
        ))
    }

    /// The owner of a session, unless it expired (`expires <= now`).
    pub async fn user_by_session(
        &self,
        session_hash: &str,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let session_hash = session_hash.to_owned();
        registry!(self, registry_read, |db| tokens::user_by_session(
            db,
            &session_hash,
            now
        ))
    }

    /// Revokes one of the user's API tokens (by its SHA-256); `false` if
    /// the user has no such token.
    pub async fn delete_token(
        &self,
        user_id: UserId,
        token_hash: &str,
    ) -> Result<bool, StoreError> {
        let token_hash = token_hash.to_owned();
        registry!(self, registry_write, |db| tokens::delete_token(
            db,
            user_id,
            &token_hash
        ))
    }

    /// Ends a session (logout); nothing if it is already gone.
    pub async fn delete_session(&self, session_hash: &str) -> Result<(), StoreError> {
        let session_hash = session_hash.to_owned();
        registry!(self, registry_write, |db| tokens::delete_session(
            db,
            &session_hash
        ))
    }

    /// Deletes sessions and API tokens expired at `now`; returns how many.
    pub async fn purge_expired_credentials(&self, now: Timestamp) -> Result<u64, StoreError> {
        registry!(self, registry_write, |db| tokens::purge_expired(db, now))
    }

    /// The server settings object (`{}` until set).
    pub async fn server_settings(&self) -> Result<JsonObject, StoreError> {
        registry!(self, registry_read, |db| tokens::server_settings(db))
    }

    /// Replaces the server settings object.
    pub async fn set_server_settings(&self, settings: JsonObject) -> Result<(), StoreError> {
        registry!(self, registry_write, |db| tokens::set_server_settings(
            db, &settings
        ))
    }
}

/// Direct access to the seam for the store's own tests.
#[cfg(test)]
impl Store {
    /// Applies `migrations` as the registry schema.
    pub(crate) async fn apply_registry_schema(
        &self,
        migrations: &'static [(i64, &'static str)],
    ) -> Result<(), StoreError> {
        registry!(self, registry_write, |db| schema::apply(db, migrations))
    }

    /// Runs one statement with integer parameters in a write transaction.
    pub(crate) async fn registry_query(
        &self,
        sql: &'static str,
        ints: Vec<i64>,
    ) -> Result<Vec<db::Row>, StoreError> {
        registry!(self, registry_write, |db| async move {
            let params: Vec<db::Param<'_>> = ints.iter().map(|&n| n.into()).collect();
            db::Db::fetch_all(db, sql, &params).await
        })
    }
}
