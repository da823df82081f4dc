//! Contract tests: events.

use trackd_model::{
    DeviceId, EventId, EventKind, GeofenceId, JsonObject, MaintenanceId, NewEvent, PositionId,
    Timestamp,
};

use super::accounts::device_fields;
use super::Harness;
use crate::StoreError;

use EventKind::{Alarm, DeviceOffline, DeviceOnline, GeofenceEnter};

fn event(device_id: DeviceId, event_type: EventKind, t: i64) -> NewEvent {
    NewEvent {
        event_type,
        event_time: Timestamp::from_millis(t),
        device_id,
        position_id: None,
        geofence_id: None,
        maintenance_id: None,
        attributes: JsonObject::default(),
    }
}

pub(crate) async fn events_insert_and_range(harness: &Harness) {
    let store = harness.open().await;
    let a = store.create_device(device_fields("a")).await.unwrap().id;
    let b = store.create_device(device_fields("b")).await.unwrap().id;
    let mut full = event(a, Alarm, 5_000);
    full.position_id = Some(PositionId::from_parts(a, 7));
    full.geofence_id = Some(GeofenceId(3));
    full.maintenance_id = Some(MaintenanceId(4));
    full.attributes = JsonObject(r#"{"alarm":"sos"}"#.into());
    let stored = store.insert_event(full.clone()).await.unwrap();
    assert_eq!(stored.event_type, Alarm);
    assert_eq!(stored.event_time, full.event_time);
    assert_eq!(stored.device_id, a);
    assert_eq!(stored.position_id, full.position_id);
    assert_eq!(stored.geofence_id, Some(GeofenceId(3)));
    assert_eq!(stored.maintenance_id, Some(MaintenanceId(4)));
    assert_eq!(stored.attributes, full.attributes);
    assert_eq!(store.event(stored.id).await.unwrap(), Some(stored.clone()));
    assert_eq!(
        store.event(EventId(stored.id.get() + 1_000)).await.unwrap(),
        None
    );

    // Out of time order on purpose.
    for (device, kind, t) in [
        (a, DeviceOnline, 9_000),
        (b, GeofenceEnter, 1_000),
        (a, GeofenceEnter, 1_000),
        (b, Alarm, 5_000),
        (a, DeviceOffline, 12_000),
    ] {
        store.insert_event(event(device, kind, t)).await.unwrap();
    }
    let unknown = store.insert_event(event(DeviceId(9_999), Alarm, 0)).await;
    assert!(
        matches!(unknown, Err(StoreError::InvalidInput(_))),
        "{unknown:?}"
    );

    let key = |e: &trackd_model::Event| (e.device_id, e.event_type, e.event_time.0);
    let t = Timestamp::from_millis;
    let all = store
        .events(&[a, b], None, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let times: Vec<i64> = all.iter().map(|e| e.event_time.0).collect();
    assert_eq!(times, vec![1_000, 1_000, 5_000, 5_000, 9_000, 12_000]);
    assert!(all
        .windows(2)
        .all(|w| w[0].event_time < w[1].event_time || w[0].id < w[1].id));

    // from <= t < to
    let window = store.events(&[a], None, t(5_000), t(12_000)).await.unwrap();
    assert_eq!(
        window.iter().map(key).collect::<Vec<_>>(),
        vec![(a, Alarm, 5_000), (a, DeviceOnline, 9_000)]
    );
    let types = vec![Alarm, GeofenceEnter];
    let filtered = store
        .events(&[b], Some(&types), Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    assert_eq!(
        filtered.iter().map(key).collect::<Vec<_>>(),
        vec![(b, GeofenceEnter, 1_000), (b, Alarm, 5_000)]
    );
    let only_alarm = vec![Alarm];
    let alarms = store
        .events(&[a, b], Some(&only_alarm), t(0), t(100_000))
        .await
        .unwrap();
    assert_eq!(alarms.len(), 2);
    assert!(store
        .events(&[], None, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .events(&[a], Some(&[]), Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .events(&[a], None, t(5_000), t(5_000))
        .await
        .unwrap()
        .is_empty());

    // Deleting a device deletes its events.
    store.delete_device(a).await.unwrap();
    assert_eq!(store.event(stored.id).await.unwrap(), None);
    let left = store
        .events(&[a, b], None, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    assert!(
        left.iter().all(|e| e.device_id == b) && left.len() == 2,
        "{left:?}"
    );
    store.close().await.unwrap();
}

/// A type name this build does not know, written by something else, reads
/// as `Corrupt` naming it (not as some other kind, not as a panic).
pub(crate) async fn unknown_stored_event_type_is_corrupt(harness: &Harness) {
    let store = harness.open().await;
    let device = store.create_device(device_fields("a")).await.unwrap().id;
    let rows = store
        .registry_query(
            "INSERT INTO events (event_type, event_time, device_id, attributes) \
             VALUES ('deviceTeleported', $1, $2, '{}') RETURNING id",
            vec![1_000, device.get()],
        )
        .await
        .unwrap();
    let id = EventId(rows[0].int(0).unwrap());
    for result in [
        store.event(id).await.map(|_| ()),
        store
            .events(&[device], None, Timestamp::MIN, Timestamp::MAX)
            .await
            .map(|_| ()),
    ] {
        match result {
            Err(StoreError::Corrupt(message)) => {
                assert!(message.contains("deviceTeleported"), "{message}")
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    store.close().await.unwrap();
}

/// Pages of an events read, each starting after the last of the one
/// before, together hold every event once in read order, also when many
/// share a time; counts ignore the paging.
pub(crate) async fn events_paged_and_counted(harness: &Harness) {
    let store = harness.open().await;
    let a = store.create_device(device_fields("a")).await.unwrap().id;
    let b = store.create_device(device_fields("b")).await.unwrap().id;
    for i in 0..57i64 {
        // Runs of equal times, both devices, out of order.
        let t = ((i * 7) % 19) * 1_000;
        let kind = if i % 3 == 0 { Alarm } else { DeviceOnline };
        store
            .insert_event(event(if i % 2 == 0 { a } else { b }, kind, t))
            .await
            .unwrap();
    }
    let everything = crate::EventQuery::new(&[a, b], None, Timestamp::MIN, Timestamp::MAX);
    let all = store.events_in(&everything).await.unwrap();
    assert_eq!(all.len(), 57);
    assert_eq!(store.count_events(&everything).await.unwrap(), 57);
    let mut paged = Vec::new();
    let mut query = crate::EventQuery {
        limit: Some(8),
        ..everything.clone()
    };
    loop {
        let page = store.events_in(&query).await.unwrap();
        assert!(page.len() <= 8);
        assert_eq!(store.count_events(&query).await.unwrap(), 57);
        let Some(last) = page.last() else { break };
        query.after = Some((last.event_time, last.id));
        paged.extend(page);
    }
    assert_eq!(paged, all);
    let alarms = crate::EventQuery::new(&[a], Some(&[Alarm]), Timestamp::MIN, Timestamp::MAX);
    let expected = all
        .iter()
        .filter(|e| e.device_id == a && e.event_type == Alarm)
        .count() as u64;
    assert_eq!(store.count_events(&alarms).await.unwrap(), expected);
    let window = crate::EventQuery::new(
        &[a, b],
        None,
        Timestamp::from_millis(3_000),
        Timestamp::from_millis(5_000),
    );
    let inside = all
        .iter()
        .filter(|e| (3_000..5_000).contains(&e.event_time.0))
        .count() as u64;
    assert_eq!(store.count_events(&window).await.unwrap(), inside);
    assert_eq!(
        store
            .count_events(&crate::EventQuery::new(
                &[],
                None,
                Timestamp::MIN,
                Timestamp::MAX
            ))
            .await
            .unwrap(),
        0
    );
    store.close().await.unwrap();
}
