//! Contract tests: duplicate detection before commit, events committed with
//! their positions.

use trackd_model::{DeviceId, EventKind, JsonObject, NewDevice, NewEvent, Timestamp};

use super::{typical_position, Harness};
use crate::{BatchEvent, StoreError};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn event(device_id: DeviceId, kind: EventKind, position: Option<usize>) -> BatchEvent {
    BatchEvent {
        event: NewEvent {
            event_type: kind,
            event_time: Timestamp::from_millis(T0),
            device_id,
            position_id: None,
            geofence_id: None,
            maintenance_id: None,
            attributes: JsonObject::default(),
        },
        position,
    }
}

pub(crate) async fn duplicates_flagged_before_commit(harness: &Harness) {
    let store = harness.open().await;
    let device = store
        .add_device(NewDevice {
            unique_id: "dup".into(),
            name: "dup".into(),
        })
        .await
        .unwrap()
        .id;
    let batch: Vec<_> = (0..5)
        .map(|k| typical_position(T0 + k * 1_000, k))
        .collect();
    assert_eq!(
        store.duplicates(device, &batch).await.unwrap(),
        vec![false; 5]
    );
    store.append_positions(device, batch.clone()).await.unwrap();

    // A resend of the whole frame, with another server time: all stored.
    let mut resent = batch.clone();
    for record in &mut resent {
        record.server_time = Timestamp::from_millis(record.server_time.as_millis() + 60_000);
    }
    assert_eq!(
        store.duplicates(device, &resent).await.unwrap(),
        vec![true; 5]
    );

    // Newer records, a changed record at a stored time, an older unseen one,
    // and the same new record twice in one batch.
    let mut changed = batch[2].clone();
    changed.speed += 1.0;
    let mixed = vec![
        typical_position(T0 + 10_000, 10),
        changed,
        typical_position(T0 - 5_000, 99),
        batch[4].clone(),
        typical_position(T0 + 10_000, 10),
    ];
    assert_eq!(
        store.duplicates(device, &mixed).await.unwrap(),
        vec![false, false, false, true, true]
    );

    // The same answers after compaction and from a reopened store, where
    // nothing is cached.
    store.flush().await.unwrap();
    assert_eq!(
        store.duplicates(device, &resent).await.unwrap(),
        vec![true; 5]
    );
    store.close().await.unwrap();
    let store = harness.open().await;
    assert_eq!(
        store.duplicates(device, &resent).await.unwrap(),
        vec![true; 5]
    );
    assert_eq!(
        store.duplicates(device, &mixed).await.unwrap(),
        vec![false, false, false, true, true]
    );
    store.close().await.unwrap();
}

pub(crate) async fn events_commit_with_positions(harness: &Harness) {
    let store = harness.open().await;
    let device = store
        .add_device(NewDevice {
            unique_id: "ev".into(),
            name: "ev".into(),
        })
        .await
        .unwrap()
        .id;
    let batch: Vec<_> = (0..3)
        .map(|k| typical_position(T0 + k * 1_000, k))
        .collect();
    let appended = store
        .append_with(
            device,
            batch,
            vec![
                event(device, EventKind::IgnitionOn, Some(0)),
                event(device, EventKind::Alarm, Some(2)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(appended.ids.len(), 3);
    assert_eq!(appended.events.len(), 2);
    assert_eq!(appended.events[0].position_id, Some(appended.ids[0]));
    assert_eq!(appended.events[1].position_id, Some(appended.ids[2]));
    assert_eq!(appended.events[1].event_type, EventKind::Alarm);
    for stored in &appended.events {
        assert_eq!(store.event(stored.id).await.unwrap().as_ref(), Some(stored));
    }

    // An events-only batch, then refusals that store nothing.
    let only = store
        .append_with(
            device,
            Vec::new(),
            vec![event(device, EventKind::DeviceOnline, None)],
        )
        .await
        .unwrap();
    assert!(only.ids.is_empty());
    assert_eq!(only.events.len(), 1);
    let out_of_range = store
        .append_with(
            device,
            vec![typical_position(T0 + 9_000, 9)],
            vec![event(device, EventKind::Alarm, Some(1))],
        )
        .await;
    assert!(
        matches!(out_of_range, Err(StoreError::InvalidInput(_))),
        "{out_of_range:?}"
    );
    let other_device = store
        .append_with(
            device,
            vec![typical_position(T0 + 9_000, 9)],
            vec![event(DeviceId(device.get() + 1), EventKind::Alarm, None)],
        )
        .await;
    assert!(
        matches!(other_device, Err(StoreError::InvalidInput(_))),
        "{other_device:?}"
    );
    // An unknown device stores neither its records nor its events.
    let unknown = store
        .append_with(
            DeviceId(9_999),
            vec![typical_position(T0, 0)],
            vec![event(DeviceId(9_999), EventKind::Alarm, Some(0))],
        )
        .await;
    assert!(unknown.is_err(), "{unknown:?}");
    let events = store
        .events(
            &[device, DeviceId(9_999)],
            None,
            Timestamp::MIN,
            Timestamp::MAX,
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(store.count_positions(device).await.unwrap(), 3);
    store.close().await.unwrap();
}
