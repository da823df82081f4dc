//! Contract tests: permission links and their resolution.

use trackd_model::{DeviceId, GeofenceFields, GroupId, Link, Permitted, UserId};

use super::accounts::{device_fields, group_fields, user_fields};
use super::Harness;
use crate::StoreError;

pub(crate) async fn links_idempotent_and_checked(harness: &Harness) {
    let store = harness.open().await;
    let user = store
        .create_user(user_fields("u@example.com"), None)
        .await
        .unwrap();
    let other = store
        .create_user(user_fields("o@example.com"), None)
        .await
        .unwrap();
    let device = store.create_device(device_fields("d")).await.unwrap();
    let group = store.create_group(group_fields("g", None)).await.unwrap();
    let geofence = store
        .create_geofence(GeofenceFields {
            name: "f".into(),
            area: "CIRCLE (1 2, 3)".into(),
            ..GeofenceFields::default()
        })
        .await
        .unwrap();
    let links = [
        Link::UserDevice(user.id, device.id),
        Link::UserGroup(user.id, group.id),
        Link::UserGeofence(user.id, geofence.id),
        Link::UserManagedUser(user.id, other.id),
        Link::DeviceGeofence(device.id, geofence.id),
        Link::GroupGeofence(group.id, geofence.id),
    ];
    for link in links {
        store.link(link).await.unwrap();
        store.link(link).await.unwrap(); // idempotent
    }
    let mut owned = links[..4].to_vec();
    owned.sort();
    assert_eq!(store.links_of_user(user.id).await.unwrap(), owned);
    assert!(store.links_of_user(other.id).await.unwrap().is_empty());
    assert_eq!(
        store.links_of_device(device.id).await.unwrap(),
        vec![
            Link::UserDevice(user.id, device.id),
            Link::DeviceGeofence(device.id, geofence.id)
        ]
    );
    assert_eq!(
        store.links_of_group(group.id).await.unwrap(),
        vec![
            Link::UserGroup(user.id, group.id),
            Link::GroupGeofence(group.id, geofence.id)
        ]
    );
    // A device id equal to the group id must not pick up the group's links.
    assert!(store
        .links_of_device(9_999.into())
        .await
        .unwrap()
        .is_empty());

    for dangling in [
        Link::UserDevice(user.id, 9_999.into()),
        Link::UserDevice(9_999.into(), device.id),
        Link::UserGroup(user.id, 9_999.into()),
        Link::UserGeofence(user.id, 9_999.into()),
        Link::UserManagedUser(user.id, 9_999.into()),
        Link::DeviceGeofence(9_999.into(), geofence.id),
        Link::GroupGeofence(group.id, 9_999.into()),
        // Ids of one kind are not ids of another.
        Link::UserDevice(
            user.id,
            DeviceId(group.id.get() + geofence.id.get() + 1_000),
        ),
    ] {
        let result = store.link(dangling).await;
        assert!(
            matches!(result, Err(StoreError::NotFound)),
            "{dangling:?}: {result:?}"
        );
    }

    for link in links {
        store.unlink(link).await.unwrap();
        let again = store.unlink(link).await;
        assert!(
            matches!(again, Err(StoreError::NotFound)),
            "{link:?}: {again:?}"
        );
    }
    assert!(store.links_of_user(user.id).await.unwrap().is_empty());
    assert!(store.links_of_device(device.id).await.unwrap().is_empty());
    assert!(store.links_of_group(group.id).await.unwrap().is_empty());
    store.close().await.unwrap();
}

pub(crate) async fn permitted_resolves_groups_and_managers(harness: &Harness) {
    let store = harness.open().await;
    let mut users = Vec::new();
    for name in ["manager", "sub", "subsub", "stranger", "cycle"] {
        let email = format!("{name}@example.com");
        users.push(
            store
                .create_user(user_fields(&email), None)
                .await
                .unwrap()
                .id,
        );
    }
    let [manager, sub, subsub, stranger, cycle] = users[..] else {
        unreachable!()
    };
    // Group tree: root > mid > leaf; island apart.
    let root = store
        .create_group(group_fields("root", None))
        .await
        .unwrap()
        .id;
    let mid = store
        .create_group(group_fields("mid", Some(root)))
        .await
        .unwrap()
        .id;
    let leaf = store
        .create_group(group_fields("leaf", Some(mid)))
        .await
        .unwrap()
        .id;
    let island = store
        .create_group(group_fields("island", None))
        .await
        .unwrap()
        .id;
    let device_in = |unique_id: &str, group: Option<GroupId>| {
        let mut fields = device_fields(unique_id);
        fields.group_id = group;
        fields
    };
    let d_root = store
        .create_device(device_in("d-root", Some(root)))
        .await
        .unwrap()
        .id;
    let d_leaf = store
        .create_device(device_in("d-leaf", Some(leaf)))
        .await
        .unwrap()
        .id;
    let d_island = store
        .create_device(device_in("d-island", Some(island)))
        .await
        .unwrap()
        .id;
    let d_direct = store
        .create_device(device_in("d-direct", None))
        .await
        .unwrap()
        .id;
    let d_subsub = store
        .create_device(device_in("d-subsub", None))
        .await
        .unwrap()
        .id;
    let d_none = store
        .create_device(device_in("d-none", None))
        .await
        .unwrap()
        .id;
    let mut geofences = Vec::new();
    for name in ["f-sub", "f-stranger", "f-device"] {
        let fields = GeofenceFields {
            name: name.into(),
            area: "CIRCLE (1 2, 3)".into(),
            ..GeofenceFields::default()
        };
        geofences.push(store.create_geofence(fields).await.unwrap().id);
    }
    let [f_sub, f_stranger, f_device] = geofences[..] else {
        unreachable!()
    };

    for link in [
        Link::UserManagedUser(manager, sub),
        Link::UserManagedUser(sub, subsub),
        Link::UserManagedUser(subsub, manager), // a cycle back to the top
        Link::UserManagedUser(subsub, subsub),  // and onto itself
        Link::UserManagedUser(cycle, cycle),
        Link::UserGroup(sub, mid),
        Link::UserDevice(manager, d_direct),
        Link::UserDevice(subsub, d_subsub),
        Link::UserDevice(sub, d_leaf), // also reachable through its group
        Link::UserGeofence(sub, f_sub),
        Link::UserGeofence(stranger, f_stranger),
        Link::UserGroup(stranger, island),
        Link::DeviceGeofence(d_direct, f_device), // not a user link: grants nothing
    ] {
        store.link(link).await.unwrap();
    }

    let mut ids = vec![sub, subsub];
    ids.sort();
    assert_eq!(
        store.permitted(manager).await.unwrap(),
        Permitted {
            managed_users: ids,
            devices: sorted(vec![d_direct, d_subsub, d_leaf]),
            groups: sorted(vec![mid, leaf]),
            geofences: vec![f_sub],
        }
    );
    // The cycle makes sub manage manager too, and so everyone in it.
    let of_sub = store.permitted(sub).await.unwrap();
    assert_eq!(of_sub.managed_users, sorted(vec![manager, subsub]));
    assert_eq!(of_sub.devices, sorted(vec![d_direct, d_subsub, d_leaf]));
    assert_eq!(
        store.permitted(stranger).await.unwrap(),
        Permitted {
            managed_users: vec![],
            devices: vec![d_island],
            groups: vec![island],
            geofences: vec![f_stranger],
        }
    );
    assert_eq!(store.permitted(cycle).await.unwrap(), Permitted::default());
    assert_eq!(
        store.permitted(9_999.into()).await.unwrap(),
        Permitted::default()
    );

    // Linking the root group reaches every subgroup and its devices.
    store.link(Link::UserGroup(cycle, root)).await.unwrap();
    let of_cycle = store.permitted(cycle).await.unwrap();
    assert_eq!(of_cycle.groups, sorted(vec![root, mid, leaf]));
    assert_eq!(of_cycle.devices, sorted(vec![d_root, d_leaf]));

    // Deleting a managed user cuts the chain beneath it.
    store.delete_user(sub).await.unwrap();
    let after = store.permitted(manager).await.unwrap();
    assert!(after.managed_users.is_empty(), "{after:?}");
    assert_eq!(after.devices, vec![d_direct]);
    assert!(after.groups.is_empty() && after.geofences.is_empty());
    // Deleting the middle group detaches the leaf: the root link no longer reaches it.
    store.delete_group(mid).await.unwrap();
    let of_cycle = store.permitted(cycle).await.unwrap();
    assert_eq!(of_cycle.groups, vec![root]);
    assert_eq!(of_cycle.devices, vec![d_root]);
    let _ = d_none;
    store.close().await.unwrap();
}

fn sorted<T: Ord>(mut ids: Vec<T>) -> Vec<T> {
    ids.sort();
    ids
}

pub(crate) async fn managers_of_follows_the_tree_upwards(harness: &Harness) {
    let store = harness.open().await;
    let mut ids = Vec::new();
    for name in ["top", "middle", "bottom", "aside", "loop"] {
        let email = format!("{name}@managers.example");
        ids.push(
            store
                .create_user(super::accounts::user_fields(&email), None)
                .await
                .unwrap()
                .id,
        );
    }
    let [top, middle, bottom, aside, looped] = ids[..] else {
        unreachable!()
    };
    for (manager, managed) in [
        (top, middle),
        (middle, bottom),
        (aside, bottom),
        (bottom, looped),
        (looped, top),
    ] {
        store
            .link(Link::UserManagedUser(manager, managed))
            .await
            .unwrap();
    }
    // A cycle (top > middle > bottom > loop > top) ends; itself excluded.
    assert_eq!(
        store.managers_of(bottom).await.unwrap(),
        sorted(vec![top, middle, aside, looped])
    );
    store
        .unlink(Link::UserManagedUser(looped, top))
        .await
        .unwrap();
    assert_eq!(store.managers_of(top).await.unwrap(), Vec::<UserId>::new());
    assert_eq!(store.managers_of(middle).await.unwrap(), vec![top]);
    assert_eq!(
        store.managers_of(looped).await.unwrap(),
        sorted(vec![top, middle, bottom, aside])
    );
    store.close().await.unwrap();
}
