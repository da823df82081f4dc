//! The registry half of [`PgStore`]: every call is one statement or one
//! transaction on the pool; allowed in read-only mode too.

use trackd_model::{
    Device, DeviceFields, DeviceId, Event, EventId, Geofence, GeofenceFields, GeofenceId, Group,
    GroupFields, GroupId, JsonObject, Link, NewDevice, NewEvent, Permitted, Timestamp, User,
    UserFields, UserId,
};

use super::{devices, events, geofences, groups, links, tokens, users, PgStore};
use crate::links::Table;
use crate::StoreError;

impl PgStore {
    pub(crate) async fn add_device(&self, device: NewDevice) -> Result<Device, StoreError> {
        self.create_device(device.into()).await
    }

    pub(crate) async fn create_device(&self, fields: DeviceFields) -> Result<Device, StoreError> {
        devices::insert(&self.pool, &fields).await
    }

    pub(crate) async fn update_device(
        &self,
        id: DeviceId,
        fields: DeviceFields,
    ) -> Result<Device, StoreError> {
        devices::update(&self.pool, id, &fields).await
    }

    pub(crate) async fn delete_device(&self, id: DeviceId) -> Result<(), StoreError> {
        devices::delete(&self.pool, id).await
    }

    pub(crate) async fn device_by_unique_id(
        &self,
        unique_id: &str,
    ) -> Result<Option<Device>, StoreError> {
        devices::by_unique_id(&self.pool, unique_id).await
    }

    pub(crate) async fn device(&self, id: DeviceId) -> Result<Option<Device>, StoreError> {
        devices::by_id(&self.pool, id).await
    }

    pub(crate) async fn devices(&self) -> Result<Vec<Device>, StoreError> {
        devices::all(&self.pool).await
    }

    pub(crate) async fn create_user(
        &self,
        fields: UserFields,
        password_hash: Option<String>,
    ) -> Result<User, StoreError> {
        users::insert(&self.pool, &fields, password_hash.as_deref()).await
    }

    pub(crate) async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        users::by_id(&self.pool, id).await
    }

    pub(crate) async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        users::by_email(&self.pool, email).await
    }

    pub(crate) async fn user_password_hash(
        &self,
        id: UserId,
    ) -> Result<Option<String>, StoreError> {
        users::password_hash(&self.pool, id).await
    }

    pub(crate) async fn set_user_password_hash(
        &self,
        id: UserId,
        hash: &str,
    ) -> Result<(), StoreError> {
        users::set_password_hash(&self.pool, id, hash).await
    }

    pub(crate) async fn update_user(
        &self,
        id: UserId,
        fields: UserFields,
    ) -> Result<User, StoreError> {
        users::update(&self.pool, id, &fields).await
    }

    pub(crate) async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        users::delete(&self.pool, id).await
    }

    pub(crate) async fn users(&self) -> Result<Vec<User>, StoreError> {
        users::all(&self.pool).await
    }

    pub(crate) async fn count_users(&self) -> Result<u64, StoreError> {
        users::count(&self.pool).await
    }

    pub(crate) async fn create_group(&self, fields: GroupFields) -> Result<Group, StoreError> {
        groups::insert(&self.pool, &fields).await
    }

    pub(crate) async fn group(&self, id: GroupId) -> Result<Option<Group>, StoreError> {
        groups::by_id(&self.pool, id).await
    }

    pub(crate) async fn update_group(
        &self,
        id: GroupId,
        fields: GroupFields,
    ) -> Result<Group, StoreError> {
        groups::update(&self.pool, id, &fields).await
    }

    pub(crate) async fn delete_group(&self, id: GroupId) -> Result<(), StoreError> {
        groups::delete(&self.pool, id).await
    }

    pub(crate) async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        groups::all(&self.pool).await
    }

    pub(crate) async fn create_geofence(
        &self,
        fields: GeofenceFields,
    ) -> Result<Geofence, StoreError> {
        geofences::insert(&self.pool, &fields).await
    }

    pub(crate) async fn geofence(&self, id: GeofenceId) -> Result<Option<Geofence>, StoreError> {
        geofences::by_id(&self.pool, id).await
    }

    pub(crate) async fn update_geofence(
        &self,
        id: GeofenceId,
        fields: GeofenceFields,
    ) -> Result<Geofence, StoreError> {
        geofences::update(&self.pool, id, &fields).await
    }

    pub(crate) async fn delete_geofence(&self, id: GeofenceId) -> Result<(), StoreError> {
        geofences::delete(&self.pool, id).await
    }

    pub(crate) async fn geofences(&self) -> Result<Vec<Geofence>, StoreError> {
        geofences::all(&self.pool).await
    }

    pub(crate) async fn link(&self, link: Link) -> Result<(), StoreError> {
        links::link(&self.pool, link).await
    }

    pub(crate) async fn unlink(&self, link: Link) -> Result<(), StoreError> {
        links::unlink(&self.pool, link).await
    }

    pub(crate) async fn links_of_user(&self, user_id: UserId) -> Result<Vec<Link>, StoreError> {
        links::of_user(&self.pool, user_id).await
    }

    pub(crate) async fn links_touching(
        &self,
        table: Table,
        id: i64,
    ) -> Result<Vec<Link>, StoreError> {
        links::touching(&self.pool, table, id).await
    }

    pub(crate) async fn permitted(&self, user_id: UserId) -> Result<Permitted, StoreError> {
        links::permitted(&self.pool, user_id).await
    }

    pub(crate) async fn insert_event(&self, event: NewEvent) -> Result<Event, StoreError> {
        events::insert(&self.pool, &event).await
    }

    pub(crate) async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        events::by_id(&self.pool, id).await
    }

    pub(crate) async fn events(
        &self,
        device_ids: &[DeviceId],
        types: Option<&[String]>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Event>, StoreError> {
        events::range(&self.pool, device_ids, types, from, to).await
    }

    pub(crate) async fn create_token(
        &self,
        user_id: UserId,
        token_hash: &str,
        expires: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        tokens::create_token(&self.pool, user_id, token_hash, expires).await
    }

    pub(crate) async fn user_by_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        tokens::user_by_token(&self.pool, token_hash, now).await
    }

    pub(crate) async fn create_session(
        &self,
        user_id: UserId,
        session_hash: &str,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        tokens::create_session(&self.pool, user_id, session_hash, expires).await
    }

    pub(crate) async fn user_by_session(
        &self,
        session_hash: &str,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        tokens::user_by_session(&self.pool, session_hash, now).await
    }

    pub(crate) async fn delete_session(&self, session_hash: &str) -> Result<(), StoreError> {
        tokens::delete_session(&self.pool, session_hash).await
    }

    pub(crate) async fn purge_expired_credentials(
        &self,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        tokens::purge_expired(&self.pool, now).await
    }

    pub(crate) async fn server_settings(&self) -> Result<JsonObject, StoreError> {
        tokens::server_settings(&self.pool).await
    }

    pub(crate) async fn set_server_settings(&self, settings: JsonObject) -> Result<(), StoreError> {
        tokens::set_server_settings(&self.pool, &settings).await
    }
}
