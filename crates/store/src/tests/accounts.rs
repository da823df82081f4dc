//! Contract tests: users, devices, groups, geofences, tokens, sessions,
//! server settings, and registry writes from a read-only (CLI) store.

use trackd_model::{
    CalendarId, DeviceFields, DeviceId, GeofenceFields, GroupFields, GroupId, JsonObject, Link,
    NewDevice, Timestamp, UserFields,
};

use super::Harness;
use crate::StoreError;

pub(crate) fn user_fields(email: &str) -> UserFields {
    UserFields {
        name: format!("user {email}"),
        email: email.into(),
        device_limit: -1,
        ..UserFields::default()
    }
}

pub(crate) fn device_fields(unique_id: &str) -> DeviceFields {
    DeviceFields {
        name: format!("vehicle {unique_id}"),
        unique_id: unique_id.into(),
        ..DeviceFields::default()
    }
}

pub(crate) fn group_fields(name: &str, parent: Option<GroupId>) -> GroupFields {
    GroupFields {
        name: name.into(),
        group_id: parent,
        ..GroupFields::default()
    }
}

pub(crate) async fn users_crud_and_email_conflict(harness: &Harness) {
    let store = harness.open().await;
    assert_eq!(store.count_users().await.unwrap(), 0);
    let mut fields = user_fields("Anna@Example.com");
    fields.phone = Some("+370 600 00000".into());
    fields.administrator = true;
    fields.expiration_time = Some(Timestamp::from_millis(1_900_000_000_000));
    fields.user_limit = 5;
    fields.attributes = JsonObject(r#"{"speedUnit":"kmh"}"#.into());
    let anna = store
        .create_user(fields.clone(), Some("hash-1".into()))
        .await
        .unwrap();
    assert_eq!(anna.email, "Anna@Example.com");
    assert_eq!(anna.phone, fields.phone);
    assert!(anna.administrator && anna.is_manager());
    assert_eq!(anna.expiration_time, fields.expiration_time);
    assert_eq!(anna.attributes, fields.attributes);
    assert_eq!(store.user(anna.id).await.unwrap(), Some(anna.clone()));
    assert_eq!(
        store.user_by_email("anna@EXAMPLE.com").await.unwrap(),
        Some(anna.clone())
    );
    assert_eq!(
        store.user_by_email("nobody@example.com").await.unwrap(),
        None
    );

    let duplicate = store
        .create_user(user_fields("ANNA@example.COM"), None)
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );

    let bob = store
        .create_user(user_fields("bob@example.com"), None)
        .await
        .unwrap();
    assert_ne!(bob.id, anna.id);
    assert!(!bob.administrator && !bob.is_manager());
    assert_eq!(bob.attributes, JsonObject::default());
    assert_eq!(store.count_users().await.unwrap(), 2);
    assert_eq!(
        store.users().await.unwrap(),
        vec![anna.clone(), bob.clone()]
    );

    assert_eq!(
        store.user_password_hash(anna.id).await.unwrap().as_deref(),
        Some("hash-1")
    );
    assert_eq!(store.user_password_hash(bob.id).await.unwrap(), None);
    store
        .set_user_password_hash(bob.id, "hash-2")
        .await
        .unwrap();
    assert_eq!(
        store.user_password_hash(bob.id).await.unwrap().as_deref(),
        Some("hash-2")
    );
    let missing = store.set_user_password_hash(9_999.into(), "x").await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    let mut renamed = user_fields("robert@example.com");
    renamed.readonly = true;
    renamed.disabled = true;
    let updated = store.update_user(bob.id, renamed).await.unwrap();
    assert_eq!(updated.email, "robert@example.com");
    assert!(updated.readonly && updated.disabled);
    assert!(!updated.may_log_in(Timestamp::from_millis(0)));
    // The password survives an update.
    assert_eq!(
        store.user_password_hash(bob.id).await.unwrap().as_deref(),
        Some("hash-2")
    );
    let taken = store
        .update_user(bob.id, user_fields("anna@example.com"))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    let absent = store
        .update_user(9_999.into(), user_fields("x@example.com"))
        .await;
    assert!(matches!(absent, Err(StoreError::NotFound)), "{absent:?}");

    store.delete_user(bob.id).await.unwrap();
    assert_eq!(store.user(bob.id).await.unwrap(), None);
    assert_eq!(store.count_users().await.unwrap(), 1);
    let again = store.delete_user(bob.id).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    // The email is free again.
    store
        .create_user(user_fields("robert@example.com"), None)
        .await
        .unwrap();
    store.close().await.unwrap();
}

pub(crate) async fn devices_crud_with_fields(harness: &Harness) {
    let store = harness.open().await;
    let group = store
        .create_group(group_fields("fleet", None))
        .await
        .unwrap();
    let mut fields = device_fields("356307042441013");
    fields.group_id = Some(group.id);
    fields.phone = Some("+37060000000".into());
    fields.model = Some("FMB920".into());
    fields.contact = Some("garage".into());
    fields.category = Some("truck".into());
    fields.expiration_time = Some(Timestamp::from_millis(1_800_000_000_000));
    fields.attributes = JsonObject(r#"{"fuel":"diesel"}"#.into());
    let device = store.create_device(fields.clone()).await.unwrap();
    assert_eq!(device.unique_id, fields.unique_id);
    assert_eq!(device.group_id, Some(group.id));
    assert_eq!(device.phone, fields.phone);
    assert_eq!(device.model, fields.model);
    assert_eq!(device.contact, fields.contact);
    assert_eq!(device.category, fields.category);
    assert_eq!(device.expiration_time, fields.expiration_time);
    assert_eq!(device.attributes, fields.attributes);
    assert!(!device.disabled);
    assert_eq!(store.device(device.id).await.unwrap(), Some(device.clone()));
    assert_eq!(
        store.device_by_unique_id("356307042441013").await.unwrap(),
        Some(device.clone())
    );

    // add_device still works and fills the defaults.
    let plain = store
        .add_device(NewDevice {
            unique_id: "plain".into(),
            name: "plain".into(),
        })
        .await
        .unwrap();
    assert_eq!(plain.group_id, None);
    assert_eq!(plain.attributes, JsonObject::default());

    let duplicate = store.create_device(device_fields("plain")).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    let mut orphan = device_fields("orphan");
    orphan.group_id = Some(9_999.into());
    let orphan = store.create_device(orphan).await;
    assert!(
        matches!(orphan, Err(StoreError::InvalidInput(_))),
        "{orphan:?}"
    );

    let mut changed = fields.clone();
    changed.name = "renamed".into();
    changed.group_id = None;
    changed.disabled = true;
    changed.phone = None;
    let updated = store.update_device(device.id, changed).await.unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(updated.group_id, None);
    assert_eq!(updated.phone, None);
    assert!(updated.disabled);
    assert_eq!(
        store.devices().await.unwrap(),
        vec![updated.clone(), plain.clone()]
    );
    let taken = store.update_device(device.id, device_fields("plain")).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    let absent = store
        .update_device(9_999.into(), device_fields("new"))
        .await;
    assert!(matches!(absent, Err(StoreError::NotFound)), "{absent:?}");

    // Deleting removes links; the id of the deleted (last) device is not reused.
    let user = store
        .create_user(user_fields("a@example.com"), None)
        .await
        .unwrap();
    store
        .link(Link::UserDevice(user.id, plain.id))
        .await
        .unwrap();
    store.delete_device(plain.id).await.unwrap();
    assert_eq!(store.device(plain.id).await.unwrap(), None);
    assert_eq!(store.device_by_unique_id("plain").await.unwrap(), None);
    assert!(store.links_of_user(user.id).await.unwrap().is_empty());
    assert!(store.permitted(user.id).await.unwrap().devices.is_empty());
    let again = store.delete_device(plain.id).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    let next = store.create_device(device_fields("plain")).await.unwrap();
    assert!(next.id > plain.id, "{} reused", next.id);
    // Appends to a deleted device fail; to the new one they work.
    let refused = store
        .append_positions(
            plain.id,
            vec![super::typical_position(1_700_000_000_000, 1)],
        )
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    store
        .append_positions(next.id, vec![super::typical_position(1_700_000_000_000, 1)])
        .await
        .unwrap();
    store.close().await.unwrap();
}

pub(crate) async fn groups_tree_and_cycles(harness: &Harness) {
    let store = harness.open().await;
    let missing = store
        .create_group(group_fields("x", Some(9_999.into())))
        .await;
    assert!(
        matches!(missing, Err(StoreError::InvalidInput(_))),
        "{missing:?}"
    );
    let root = store
        .create_group(group_fields("root", None))
        .await
        .unwrap();
    let child = store
        .create_group(group_fields("child", Some(root.id)))
        .await
        .unwrap();
    let grandchild = store
        .create_group(group_fields("grandchild", Some(child.id)))
        .await
        .unwrap();
    assert_eq!(child.group_id, Some(root.id));
    assert_eq!(
        store.group(grandchild.id).await.unwrap(),
        Some(grandchild.clone())
    );
    assert_eq!(
        store.groups().await.unwrap(),
        vec![root.clone(), child.clone(), grandchild.clone()]
    );

    for parent in [root.id, child.id, grandchild.id] {
        let cycle = store
            .update_group(root.id, group_fields("root", Some(parent)))
            .await;
        assert!(
            matches!(cycle, Err(StoreError::InvalidInput(_))),
            "{parent}: {cycle:?}"
        );
    }
    let absent = store
        .update_group(9_999.into(), group_fields("x", None))
        .await;
    assert!(matches!(absent, Err(StoreError::NotFound)), "{absent:?}");
    let mut renamed = group_fields("top", None);
    renamed.attributes = JsonObject(r#"{"a":1}"#.into());
    let root = store.update_group(root.id, renamed).await.unwrap();
    assert_eq!(root.name, "top");
    assert_eq!(root.attributes.as_str(), r#"{"a":1}"#);
    // Moving a subtree elsewhere is fine.
    let other = store
        .create_group(group_fields("other", None))
        .await
        .unwrap();
    let moved = store
        .update_group(grandchild.id, group_fields("grandchild", Some(other.id)))
        .await
        .unwrap();
    assert_eq!(moved.group_id, Some(other.id));

    let mut in_child = device_fields("in-child");
    in_child.group_id = Some(child.id);
    let device = store.create_device(in_child).await.unwrap();
    let sub = store
        .create_group(group_fields("sub", Some(child.id)))
        .await
        .unwrap();
    store.delete_group(child.id).await.unwrap();
    assert_eq!(store.group(child.id).await.unwrap(), None);
    assert_eq!(
        store.device(device.id).await.unwrap().unwrap().group_id,
        None
    );
    assert_eq!(store.group(sub.id).await.unwrap().unwrap().group_id, None);
    let again = store.delete_group(child.id).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    store.close().await.unwrap();
}

pub(crate) async fn geofences_crud(harness: &Harness) {
    let store = harness.open().await;
    let fields = GeofenceFields {
        name: "depot".into(),
        description: Some("main depot".into()),
        area: "CIRCLE (54.68 25.28, 150)".into(),
        calendar_id: Some(CalendarId(3)),
        attributes: JsonObject(r#"{"color":"red"}"#.into()),
    };
    let depot = store.create_geofence(fields.clone()).await.unwrap();
    assert_eq!(depot.name, fields.name);
    assert_eq!(depot.description, fields.description);
    assert_eq!(depot.area, fields.area);
    assert_eq!(
        depot.geometry,
        Some(trackd_model::Geometry::Circle {
            center: trackd_model::LatLon::new(54.68, 25.28),
            radius_m: 150.0
        })
    );
    assert_eq!(depot.calendar_id, Some(CalendarId(3)));
    assert_eq!(depot.attributes, fields.attributes);
    assert_eq!(store.geofence(depot.id).await.unwrap(), Some(depot.clone()));
    let zone = store
        .create_geofence(GeofenceFields {
            name: "zone".into(),
            area: "POLYGON ((54.0 25.0, 54.1 25.0, 54.1 25.1, 54.0 25.0))".into(),
            ..GeofenceFields::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store.geofences().await.unwrap(),
        vec![depot.clone(), zone.clone()]
    );
    let updated = store
        .update_geofence(
            depot.id,
            GeofenceFields {
                name: "depot 2".into(),
                area: "CIRCLE (54.69 25.29, 200)".into(),
                ..GeofenceFields::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.description, None);
    assert_eq!(updated.calendar_id, None);
    assert_eq!(updated.area, "CIRCLE (54.69 25.29, 200)");
    assert!(updated.geometry.is_some());
    let absent = store
        .update_geofence(9_999.into(), GeofenceFields::default())
        .await;
    assert!(matches!(absent, Err(StoreError::NotFound)), "{absent:?}");

    let user = store
        .create_user(user_fields("g@example.com"), None)
        .await
        .unwrap();
    let device = store.create_device(device_fields("g1")).await.unwrap();
    let group = store.create_group(group_fields("g", None)).await.unwrap();
    store
        .link(Link::UserGeofence(user.id, depot.id))
        .await
        .unwrap();
    store
        .link(Link::DeviceGeofence(device.id, depot.id))
        .await
        .unwrap();
    store
        .link(Link::GroupGeofence(group.id, depot.id))
        .await
        .unwrap();
    store.delete_geofence(depot.id).await.unwrap();
    assert_eq!(store.geofence(depot.id).await.unwrap(), None);
    assert!(store.links_of_user(user.id).await.unwrap().is_empty());
    for gone in [
        Link::DeviceGeofence(device.id, depot.id),
        Link::GroupGeofence(group.id, depot.id),
    ] {
        let result = store.unlink(gone).await;
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    }
    let again = store.delete_geofence(depot.id).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    store.close().await.unwrap();
}

pub(crate) async fn tokens_and_sessions(harness: &Harness) {
    let store = harness.open().await;
    let user = store
        .create_user(user_fields("t@example.com"), None)
        .await
        .unwrap();
    let t = Timestamp::from_millis;
    store.create_token(user.id, "aa11", None).await.unwrap();
    store
        .create_token(user.id, "bb22", Some(t(1_000)))
        .await
        .unwrap();
    let duplicate = store.create_token(user.id, "aa11", None).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    let nobody = store.create_token(9_999.into(), "cc33", None).await;
    assert!(matches!(nobody, Err(StoreError::NotFound)), "{nobody:?}");
    assert_eq!(
        store.user_by_token("aa11", t(i64::MAX)).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        store.user_by_token("bb22", t(999)).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(store.user_by_token("bb22", t(1_000)).await.unwrap(), None);
    assert_eq!(store.user_by_token("zz", t(0)).await.unwrap(), None);

    store.create_session(user.id, "s1", t(5_000)).await.unwrap();
    store.create_session(user.id, "s2", t(2_000)).await.unwrap();
    let nobody = store.create_session(9_999.into(), "s3", t(5_000)).await;
    assert!(matches!(nobody, Err(StoreError::NotFound)), "{nobody:?}");
    assert_eq!(
        store.user_by_session("s1", t(4_999)).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(store.user_by_session("s1", t(5_000)).await.unwrap(), None);
    store.delete_session("s1").await.unwrap();
    store.delete_session("s1").await.unwrap(); // idempotent
    assert_eq!(store.user_by_session("s1", t(0)).await.unwrap(), None);

    // Purge removes the expired token and session only.
    assert_eq!(store.purge_expired_credentials(t(3_000)).await.unwrap(), 2);
    assert_eq!(
        store.user_by_token("aa11", t(3_000)).await.unwrap(),
        Some(user.clone())
    );

    // Lookups return the current user row.
    let mut fields = user_fields("t@example.com");
    fields.disabled = true;
    store.update_user(user.id, fields).await.unwrap();
    store
        .create_session(user.id, "s4", t(10_000))
        .await
        .unwrap();
    let current = store.user_by_session("s4", t(0)).await.unwrap().unwrap();
    assert!(current.disabled);

    store.delete_user(user.id).await.unwrap();
    assert_eq!(store.user_by_token("aa11", t(0)).await.unwrap(), None);
    assert_eq!(store.user_by_session("s4", t(0)).await.unwrap(), None);
    // A new user cannot inherit the old credentials.
    let next = store
        .create_user(user_fields("t@example.com"), None)
        .await
        .unwrap();
    assert_eq!(store.user_by_token("aa11", t(0)).await.unwrap(), None);
    store.create_token(next.id, "aa11", None).await.unwrap();
    store.close().await.unwrap();
}

pub(crate) async fn server_settings_round_trip(harness: &Harness) {
    let store = harness.open().await;
    assert_eq!(
        store.server_settings().await.unwrap(),
        JsonObject::default()
    );
    let settings = JsonObject(r#"{"registration":false,"map":"osm"}"#.into());
    store.set_server_settings(settings.clone()).await.unwrap();
    assert_eq!(store.server_settings().await.unwrap(), settings);
    let changed = JsonObject(r#"{"registration":true}"#.into());
    store.set_server_settings(changed.clone()).await.unwrap();
    store.close().await.unwrap();
    let reopened = harness.open().await;
    assert_eq!(reopened.server_settings().await.unwrap(), changed);
    reopened.close().await.unwrap();
}

/// The CLI (`trackd user add`, `device add`) opens read-only while a server
/// runs: registry writes work there and the server sees them at once, and
/// the server accepts positions for a device the CLI registered.
pub(crate) async fn read_only_store_writes_registry(harness: &Harness) {
    let server = harness.open().await;
    let cli = harness.open_read_only().await;
    let device = cli
        .add_device(NewDevice {
            unique_id: "cli-device".into(),
            name: "from the cli".into(),
        })
        .await
        .unwrap();
    let user = cli
        .create_user(user_fields("admin@example.com"), Some("hash".into()))
        .await
        .unwrap();
    cli.link(Link::UserDevice(user.id, device.id))
        .await
        .unwrap();
    cli.create_token(user.id, "feed", None).await.unwrap();

    assert_eq!(
        server.device_by_unique_id("cli-device").await.unwrap(),
        Some(device.clone())
    );
    assert_eq!(
        server.user_by_email("ADMIN@example.com").await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        server.permitted(user.id).await.unwrap().devices,
        vec![device.id]
    );
    assert_eq!(
        server
            .user_by_token("feed", Timestamp::from_millis(0))
            .await
            .unwrap(),
        Some(user.clone())
    );
    let positions: Vec<_> = (0..5)
        .map(|k| super::typical_position(1_700_000_000_000 + k * 1000, k))
        .collect();
    server.append_positions(device.id, positions).await.unwrap();
    assert_eq!(server.count_positions(device.id).await.unwrap(), 5);
    // The CLI store still never writes positions, but reads them.
    let refused = cli
        .append_positions(device.id, vec![super::typical_position(1, 1)])
        .await;
    assert!(matches!(refused, Err(StoreError::ReadOnly)), "{refused:?}");
    assert_eq!(cli.count_positions(device.id).await.unwrap(), 5);
    cli.close().await.unwrap();

    // A second CLI store opens (migrations already applied) and sees everything.
    let second = harness.open_read_only().await;
    assert_eq!(second.users().await.unwrap(), vec![user]);
    second.close().await.unwrap();
    server.close().await.unwrap();
    let reopened = harness.open().await;
    assert_eq!(reopened.count_positions(device.id).await.unwrap(), 5);
    reopened.close().await.unwrap();
}

/// A store of the previous release (schema version 1) upgrades in place:
/// devices keep their ids and gain the new columns' defaults; deleted ids
/// are not reused afterwards.
pub(crate) async fn upgrade_from_v1(harness: &Harness) {
    super::create_v1_store(harness, &[(1, "old-1"), (100, "old-100")]).await;
    let store = harness.open().await;
    let old_id = DeviceId(100);
    let old = store.device(old_id).await.unwrap().unwrap();
    assert_eq!(old.unique_id, "old-100");
    assert_eq!(old.group_id, None);
    assert_eq!(old.attributes, JsonObject::default());
    let positions: Vec<_> = (0..3)
        .map(|k| super::typical_position(1_700_000_000_000 + k * 1000, k))
        .collect();
    store.append_positions(old_id, positions).await.unwrap();
    assert_eq!(store.count_positions(old_id).await.unwrap(), 3);
    store.delete_device(old_id).await.unwrap();
    let next = store.create_device(device_fields("new")).await.unwrap();
    assert!(next.id > old_id, "id {} reused", next.id);
    let user = store
        .create_user(user_fields("x@example.com"), None)
        .await
        .unwrap();
    store
        .link(Link::UserDevice(user.id, DeviceId(1)))
        .await
        .unwrap();
    store.close().await.unwrap();
    // Opening again applies nothing twice.
    let reopened = harness.open_read_only().await;
    assert_eq!(reopened.devices().await.unwrap().len(), 2);
    reopened.close().await.unwrap();
}

pub(crate) async fn password_change_ends_other_credentials(harness: &Harness) {
    let store = harness.open().await;
    let t = Timestamp::from_millis;
    let user = store
        .create_user(user_fields("pw@example.com"), Some("old".into()))
        .await
        .unwrap();
    let other = store
        .create_user(user_fields("other@example.com"), None)
        .await
        .unwrap();
    for hash in ["s-keep", "s-other"] {
        store
            .create_session(user.id, hash, t(10_000))
            .await
            .unwrap();
    }
    for hash in ["k-one", "k-two"] {
        store.create_token(user.id, hash, None).await.unwrap();
    }
    store
        .create_session(other.id, "s-stranger", t(10_000))
        .await
        .unwrap();
    store
        .create_token(other.id, "k-stranger", None)
        .await
        .unwrap();

    // The session that changes the password stays; the user's others end.
    let ended = store
        .change_password(user.id, "new", Some("s-keep"))
        .await
        .unwrap();
    assert_eq!(ended, 3);
    assert_eq!(
        store.user_password_hash(user.id).await.unwrap().as_deref(),
        Some("new")
    );
    assert_eq!(
        store.user_by_session("s-keep", t(0)).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(store.user_by_session("s-other", t(0)).await.unwrap(), None);
    assert_eq!(store.user_by_token("k-one", t(0)).await.unwrap(), None);
    assert_eq!(store.user_by_token("k-two", t(0)).await.unwrap(), None);
    // Nobody else's credentials are touched.
    assert!(store
        .user_by_session("s-stranger", t(0))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .user_by_token("k-stranger", t(0))
        .await
        .unwrap()
        .is_some());

    // A token may be the one kept; with nothing kept, everything ends.
    store.create_token(user.id, "k-three", None).await.unwrap();
    store
        .change_password(user.id, "newer", Some("k-three"))
        .await
        .unwrap();
    assert!(store
        .user_by_token("k-three", t(0))
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.user_by_session("s-keep", t(0)).await.unwrap(), None);
    assert_eq!(
        store
            .change_password(user.id, "newest", None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.user_by_token("k-three", t(0)).await.unwrap(), None);
    let missing = store.change_password(9_999.into(), "x", None).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    store.close().await.unwrap();
}

pub(crate) async fn expired_credentials_are_purged(harness: &Harness) {
    let store = harness.open().await;
    let t = Timestamp::from_millis;
    let user = store
        .create_user(user_fields("purge@example.com"), None)
        .await
        .unwrap();
    store
        .create_session(user.id, "s-old", t(1_000))
        .await
        .unwrap();
    store
        .create_session(user.id, "s-edge", t(2_000))
        .await
        .unwrap();
    store
        .create_session(user.id, "s-live", t(2_001))
        .await
        .unwrap();
    store
        .create_token(user.id, "k-old", Some(t(500)))
        .await
        .unwrap();
    store
        .create_token(user.id, "k-live", Some(t(9_000)))
        .await
        .unwrap();
    store
        .create_token(user.id, "k-forever", None)
        .await
        .unwrap();

    // Nothing has expired before the first expiry.
    assert_eq!(store.purge_expired_credentials(t(499)).await.unwrap(), 0);
    // At 2,000 ms: what expires at or before it goes (expired means
    // `expires <= now`, as the lookups read it).
    assert_eq!(store.purge_expired_credentials(t(2_000)).await.unwrap(), 3);
    assert_eq!(store.purge_expired_credentials(t(2_000)).await.unwrap(), 0);
    // Lookups at an earlier `now` prove the rows are gone, not just expired.
    for gone in ["s-old", "s-edge"] {
        assert_eq!(store.user_by_session(gone, t(0)).await.unwrap(), None);
    }
    assert_eq!(store.user_by_token("k-old", t(0)).await.unwrap(), None);
    assert!(store
        .user_by_session("s-live", t(0))
        .await
        .unwrap()
        .is_some());
    assert!(store.user_by_token("k-live", t(0)).await.unwrap().is_some());
    // Far in the future only the token without expiry is left.
    assert_eq!(
        store.purge_expired_credentials(t(i64::MAX)).await.unwrap(),
        2
    );
    assert!(store
        .user_by_token("k-forever", t(i64::MAX - 1))
        .await
        .unwrap()
        .is_some());
    store.close().await.unwrap();
}
