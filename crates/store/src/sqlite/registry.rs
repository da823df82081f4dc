//! The registry half of [`SqliteStore`]: users, devices, groups,
//! geofences, links, events, tokens, sessions, settings. Writes run in one
//! IMMEDIATE transaction each ([`SqliteStore::write`]); reads use the
//! reader pool.

use trackd_model::{
    Device, DeviceFields, DeviceId, Event, EventId, Geofence, GeofenceFields, GeofenceId, Group,
    GroupFields, GroupId, JsonObject, Link, NewDevice, NewEvent, Permitted, Timestamp, User,
    UserFields, UserId,
};

use super::{devices, events, geofences, groups, links, tokens, users, SqliteStore};
use crate::links::Table;
use crate::StoreError;

impl SqliteStore {
    pub(crate) async fn add_device(&self, device: NewDevice) -> Result<Device, StoreError> {
        self.create_device(device.into()).await
    }

    pub(crate) async fn create_device(&self, fields: DeviceFields) -> Result<Device, StoreError> {
        self.write(move |conn| devices::insert(conn, &fields)).await
    }

    pub(crate) async fn update_device(
        &self,
        id: DeviceId,
        fields: DeviceFields,
    ) -> Result<Device, StoreError> {
        self.write(move |conn| devices::update(conn, id, &fields))
            .await
    }

    pub(crate) async fn delete_device(&self, id: DeviceId) -> Result<(), StoreError> {
        self.write(move |conn| devices::delete(conn, id)).await?;
        if self.inner.writer.is_some() {
            self.on_writer(move |writer| {
                writer.forget_device(id);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn device_by_unique_id(
        &self,
        unique_id: &str,
    ) -> Result<Option<Device>, StoreError> {
        let unique_id = unique_id.to_owned();
        self.read(move |_, conn| devices::by_unique_id(conn, &unique_id))
            .await
    }

    pub(crate) async fn device(&self, id: DeviceId) -> Result<Option<Device>, StoreError> {
        self.read(move |_, conn| devices::by_id(conn, id)).await
    }

    pub(crate) async fn devices(&self) -> Result<Vec<Device>, StoreError> {
        self.read(|_, conn| devices::all(conn)).await
    }

    pub(crate) async fn create_user(
        &self,
        fields: UserFields,
        password_hash: Option<String>,
    ) -> Result<User, StoreError> {
        self.write(move |conn| users::insert(conn, &fields, password_hash.as_deref()))
            .await
    }

    pub(crate) async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read(move |_, conn| users::by_id(conn, id)).await
    }

    pub(crate) async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let email = email.to_owned();
        self.read(move |_, conn| users::by_email(conn, &email))
            .await
    }

    pub(crate) async fn user_password_hash(
        &self,
        id: UserId,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |_, conn| users::password_hash(conn, id))
            .await
    }

    pub(crate) async fn set_user_password_hash(
        &self,
        id: UserId,
        hash: &str,
    ) -> Result<(), StoreError> {
        let hash = hash.to_owned();
        self.write(move |conn| users::set_password_hash(conn, id, &hash))
            .await
    }

    pub(crate) async fn update_user(
        &self,
        id: UserId,
        fields: UserFields,
    ) -> Result<User, StoreError> {
        self.write(move |conn| users::update(conn, id, &fields))
            .await
    }

    pub(crate) async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        self.write(move |conn| users::delete(conn, id)).await
    }

    pub(crate) async fn users(&self) -> Result<Vec<User>, StoreError> {
        self.read(|_, conn| users::all(conn)).await
    }

    pub(crate) async fn count_users(&self) -> Result<u64, StoreError> {
        self.read(|_, conn| users::count(conn)).await
    }

    pub(crate) async fn create_group(&self, fields: GroupFields) -> Result<Group, StoreError> {
        self.write(move |conn| groups::insert(conn, &fields)).await
    }

    pub(crate) async fn group(&self, id: GroupId) -> Result<Option<Group>, StoreError> {
        self.read(move |_, conn| groups::by_id(conn, id)).await
    }

    pub(crate) async fn update_group(
        &self,
        id: GroupId,
        fields: GroupFields,
    ) -> Result<Group, StoreError> {
        self.write(move |conn| groups::update(conn, id, &fields))
            .await
    }

    pub(crate) async fn delete_group(&self, id: GroupId) -> Result<(), StoreError> {
        self.write(move |conn| groups::delete(conn, id)).await
    }

    pub(crate) async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        self.read(|_, conn| groups::all(conn)).await
    }

    pub(crate) async fn create_geofence(
        &self,
        fields: GeofenceFields,
    ) -> Result<Geofence, StoreError> {
        self.write(move |conn| geofences::insert(conn, &fields))
            .await
    }

    pub(crate) async fn geofence(&self, id: GeofenceId) -> Result<Option<Geofence>, StoreError> {
        self.read(move |_, conn| geofences::by_id(conn, id)).await
    }

    pub(crate) async fn update_geofence(
        &self,
        id: GeofenceId,
        fields: GeofenceFields,
    ) -> Result<Geofence, StoreError> {
        self.write(move |conn| geofences::update(conn, id, &fields))
            .await
    }

    pub(crate) async fn delete_geofence(&self, id: GeofenceId) -> Result<(), StoreError> {
        self.write(move |conn| geofences::delete(conn, id)).await
    }

    pub(crate) async fn geofences(&self) -> Result<Vec<Geofence>, StoreError> {
        self.read(|_, conn| geofences::all(conn)).await
    }

    pub(crate) async fn link(&self, link: Link) -> Result<(), StoreError> {
        self.write(move |conn| links::link(conn, link)).await
    }

    pub(crate) async fn unlink(&self, link: Link) -> Result<(), StoreError> {
        self.write(move |conn| links::unlink(conn, link)).await
    }

    pub(crate) async fn links_of_user(&self, user_id: UserId) -> Result<Vec<Link>, StoreError> {
        self.read(move |_, conn| links::of_user(conn, user_id))
            .await
    }

    pub(crate) async fn links_touching(
        &self,
        table: Table,
        id: i64,
    ) -> Result<Vec<Link>, StoreError> {
        self.read(move |_, conn| links::touching(conn, table, id))
            .await
    }

    pub(crate) async fn permitted(&self, user_id: UserId) -> Result<Permitted, StoreError> {
        self.read_tx(move |conn| links::permitted(conn, user_id))
            .await
    }

    pub(crate) async fn insert_event(&self, event: NewEvent) -> Result<Event, StoreError> {
        self.write(move |conn| events::insert(conn, &event)).await
    }

    pub(crate) async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.read(move |_, conn| events::by_id(conn, id)).await
    }

    pub(crate) async fn events(
        &self,
        device_ids: &[DeviceId],
        types: Option<&[String]>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Event>, StoreError> {
        let device_ids = device_ids.to_vec();
        let types = types.map(<[String]>::to_vec);
        self.read(move |_, conn| events::range(conn, &device_ids, types.as_deref(), from, to))
            .await
    }

    pub(crate) async fn create_token(
        &self,
        user_id: UserId,
        token_hash: &str,
        expires: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| tokens::create_token(conn, user_id, &token_hash, expires))
            .await
    }

    pub(crate) async fn user_by_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.read_tx(move |conn| tokens::user_by_token(conn, &token_hash, now))
            .await
    }

    pub(crate) async fn create_session(
        &self,
        user_id: UserId,
        session_hash: &str,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        let session_hash = session_hash.to_owned();
        self.write(move |conn| tokens::create_session(conn, user_id, &session_hash, expires))
            .await
    }

    pub(crate) async fn user_by_session(
        &self,
        session_hash: &str,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let session_hash = session_hash.to_owned();
        self.read_tx(move |conn| tokens::user_by_session(conn, &session_hash, now))
            .await
    }

    pub(crate) async fn delete_session(&self, session_hash: &str) -> Result<(), StoreError> {
        let session_hash = session_hash.to_owned();
        self.write(move |conn| tokens::delete_session(conn, &session_hash))
            .await
    }

    pub(crate) async fn purge_expired_credentials(
        &self,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.write(move |conn| tokens::purge_expired(conn, now))
            .await
    }

    pub(crate) async fn server_settings(&self) -> Result<JsonObject, StoreError> {
        self.read(|_, conn| tokens::server_settings(conn)).await
    }

    pub(crate) async fn set_server_settings(&self, settings: JsonObject) -> Result<(), StoreError> {
        self.write(move |conn| tokens::set_server_settings(conn, &settings))
            .await
    }
}
