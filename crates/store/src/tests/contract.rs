//! The contract every backend keeps; each function is one test.

use std::collections::{HashMap, HashSet};

use trackd_model::{
    AttrKey, AttrValue, Attributes, DeviceId, KnownKey, NewDevice, Position, PositionId,
    StoredPosition, Timestamp,
};

use super::{typical_position, Harness};
use crate::encoding::quantize;
use crate::{Store, StoreError};

async fn new_device(store: &Store, unique_id: &str) -> DeviceId {
    store
        .add_device(NewDevice {
            unique_id: unique_id.into(),
            name: format!("vehicle {unique_id}"),
        })
        .await
        .expect("add device")
        .id
}

async fn all(store: &Store, device_id: DeviceId) -> Vec<StoredPosition> {
    store
        .positions(device_id, Timestamp::MIN, Timestamp::MAX)
        .await
        .expect("positions")
}

fn times(positions: &[StoredPosition]) -> Vec<i64> {
    positions
        .iter()
        .map(|p| p.position.fix_time.as_millis())
        .collect()
}

fn at(t: i64) -> Position {
    typical_position(1_700_000_000_000 + t * 1000, t)
}

fn ms(t: i64) -> i64 {
    1_700_000_000_000 + t * 1000
}

/// Same fix time as `at(t)`, different content.
fn other_at(t: i64) -> Position {
    let mut position = at(t);
    position.latitude += 0.001;
    position
}

pub(crate) async fn devices_add_conflict_lookup(harness: &Harness) {
    let store = harness.open().await;
    let a = store
        .add_device(NewDevice {
            unique_id: "356307042441013".into(),
            name: "van".into(),
        })
        .await
        .unwrap();
    let b = store
        .add_device(NewDevice {
            unique_id: "356307042441014".into(),
            name: "truck".into(),
        })
        .await
        .unwrap();
    assert!(a.id.get() > 0 && b.id > a.id && b.id.get() < 1 << 21);
    assert!(!a.disabled);
    let conflict = store
        .add_device(NewDevice {
            unique_id: "356307042441013".into(),
            name: "again".into(),
        })
        .await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict(_))),
        "{conflict:?}"
    );
    assert_eq!(
        store.device_by_unique_id("356307042441013").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.device_by_unique_id("nope").await.unwrap(), None);
    assert_eq!(store.device(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.device(DeviceId(999_999)).await.unwrap(), None);
    assert_eq!(store.devices().await.unwrap(), vec![a, b]);
    store.close().await.unwrap();
}

pub(crate) async fn append_and_range_out_of_order(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "d1").await;
    let other = new_device(&store, "d2").await;
    store
        .append_positions(device, vec![at(5), at(6), at(7)])
        .await
        .unwrap();
    store.append_positions(other, vec![at(6)]).await.unwrap();
    store
        .append_positions(device, vec![at(1), at(2)])
        .await
        .unwrap();
    store
        .append_positions(device, vec![at(10), at(3), other_at(6)])
        .await
        .unwrap();
    let expected = vec![ms(1), ms(2), ms(3), ms(5), ms(6), ms(6), ms(7), ms(10)];
    let before = all(&store, device).await;
    assert_eq!(times(&before), expected);
    // Ties come in arrival order.
    assert_eq!(before[4].position, quantize(&at(6)));
    assert_eq!(before[5].position, quantize(&other_at(6)));
    let window = store
        .positions(device, Timestamp(ms(2)), Timestamp(ms(7)))
        .await
        .unwrap();
    assert_eq!(times(&window), vec![ms(2), ms(3), ms(5), ms(6), ms(6)]);
    assert_eq!(times(&all(&store, other).await), vec![ms(6)]);

    store.flush().await.unwrap();
    assert_eq!(all(&store, device).await, before);
    // Late history lands between compacted records.
    store
        .append_positions(device, vec![at(4), at(0), at(11)])
        .await
        .unwrap();
    let expected = vec![
        ms(0),
        ms(1),
        ms(2),
        ms(3),
        ms(4),
        ms(5),
        ms(6),
        ms(6),
        ms(7),
        ms(10),
        ms(11),
    ];
    assert_eq!(times(&all(&store, device).await), expected);
    store.flush().await.unwrap();
    let after = all(&store, device).await;
    assert_eq!(times(&after), expected);
    for position in &before {
        assert!(
            after.contains(position),
            "{position:?} lost its id or content"
        );
    }
    let window = store
        .positions(device, Timestamp(ms(4)), Timestamp(ms(6)))
        .await
        .unwrap();
    assert_eq!(times(&window), vec![ms(4), ms(5)]);
    assert!(store
        .positions(device, Timestamp(ms(6)), Timestamp(ms(6)))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.count_positions(device).await.unwrap(), 11);

    // Many records: chunks split, ranges still exact.
    let many: Vec<Position> = (100..2100).rev().map(at).collect();
    for batch in many.chunks(300) {
        store
            .append_positions(device, batch.to_vec())
            .await
            .unwrap();
    }
    store.flush().await.unwrap();
    let window = store
        .positions(device, Timestamp(ms(500)), Timestamp(ms(1700)))
        .await
        .unwrap();
    assert_eq!(times(&window), (500..1700).map(ms).collect::<Vec<_>>());
    assert_eq!(store.count_positions(device).await.unwrap(), 2011);
    store.close().await.unwrap();
}

pub(crate) async fn duplicates_stored_once(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "dup").await;
    store
        .append_positions(device, vec![at(1), at(2), at(3)])
        .await
        .unwrap();
    let first = all(&store, device).await;
    // The device resends: same records, received later.
    let mut resent = vec![at(2), at(3)];
    for position in &mut resent {
        position.server_time = Timestamp(position.server_time.as_millis() + 60_000);
    }
    store
        .append_positions(device, resent.clone())
        .await
        .unwrap();
    assert_eq!(all(&store, device).await, first);
    assert_eq!(store.count_positions(device).await.unwrap(), 3);
    store.flush().await.unwrap();
    assert_eq!(all(&store, device).await, first);
    store.append_positions(device, vec![at(1)]).await.unwrap();
    assert_eq!(all(&store, device).await, first);
    assert_eq!(store.count_positions(device).await.unwrap(), 3);
    store.close().await.unwrap();

    let store = harness.open().await;
    assert_eq!(all(&store, device).await, first);
    store.append_positions(device, resent).await.unwrap();
    store.flush().await.unwrap();
    assert_eq!(all(&store, device).await, first);
    assert_eq!(store.count_positions(device).await.unwrap(), 3);
    store.close().await.unwrap();
}

pub(crate) async fn duplicates_within_one_append(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "dup1").await;
    store
        .append_positions(device, vec![at(1), at(1), at(2), at(1)])
        .await
        .unwrap();
    let positions = all(&store, device).await;
    assert_eq!(times(&positions), vec![ms(1), ms(2)]);
    store.flush().await.unwrap();
    assert_eq!(all(&store, device).await, positions);
    store.close().await.unwrap();
}

pub(crate) async fn ids_stable_and_position_by_id(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "ids").await;
    let other = new_device(&store, "ids2").await;
    for t in [9, 3, 7, 1, 5] {
        store
            .append_positions(device, vec![at(t), at(t + 100)])
            .await
            .unwrap();
    }
    store.append_positions(other, vec![at(1)]).await.unwrap();
    let before = all(&store, device).await;
    let ids: HashSet<PositionId> = before.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), before.len());
    for position in &before {
        assert_eq!(StoredPosition::device_of_id(position.id), device);
        assert_eq!(position.device_id, device);
        assert_eq!(
            store.position_by_id(position.id).await.unwrap().as_ref(),
            Some(position)
        );
    }
    store.flush().await.unwrap();
    assert_eq!(all(&store, device).await, before);
    for position in &before {
        assert_eq!(
            store.position_by_id(position.id).await.unwrap().as_ref(),
            Some(position)
        );
    }
    let other_positions = all(&store, other).await;
    assert!(!ids.contains(&other_positions[0].id));
    assert_eq!(
        store
            .position_by_id(StoredPosition::make_id(device, 1_000_000))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .position_by_id(StoredPosition::make_id(DeviceId(77_777), 0))
            .await
            .unwrap(),
        None
    );
    // A resent duplicate never becomes visible under its own id.
    store.append_positions(device, vec![at(9)]).await.unwrap();
    let dup_id = StoredPosition::make_id(device, 10);
    assert_eq!(store.position_by_id(dup_id).await.unwrap(), None);
    store.close().await.unwrap();
    let store = harness.open().await;
    assert_eq!(all(&store, device).await, before);
    store.append_positions(device, vec![at(50)]).await.unwrap();
    let new = store
        .positions(device, Timestamp(ms(50)), Timestamp(ms(51)))
        .await
        .unwrap();
    assert!(!ids.contains(&new[0].id), "an id was reused after reopen");
    store.close().await.unwrap();
}

/// The ids `append_positions` returns: one per input record, in input
/// order, increasing, and each non-duplicate one finds its record.
pub(crate) async fn append_returns_ids(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "appended-ids").await;
    let other = new_device(&store, "appended-ids2").await;
    assert_eq!(
        store.append_positions(device, Vec::new()).await.unwrap(),
        Vec::<PositionId>::new()
    );

    let check = |input: &[Position], ids: &[PositionId]| {
        assert_eq!(ids.len(), input.len());
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        for id in ids {
            assert_eq!(StoredPosition::device_of_id(*id), device);
        }
    };
    // at(1) again within the call: a duplicate, with its own id.
    let first_input = vec![at(5), at(1), at(7), at(1)];
    let first = store
        .append_positions(device, first_input.clone())
        .await
        .unwrap();
    check(&first_input, &first);
    store.append_positions(other, vec![at(5)]).await.unwrap();
    // at(7) resent: a duplicate of a stored record, with its own id.
    let second_input = vec![at(2), at(7), at(9)];
    let second = store
        .append_positions(device, second_input.clone())
        .await
        .unwrap();
    check(&second_input, &second);
    assert!(second[0] > *first.last().unwrap(), "{first:?} {second:?}");
    let unique: HashSet<PositionId> = first.iter().chain(&second).copied().collect();
    assert_eq!(unique.len(), first.len() + second.len());

    let kept = [
        (first[0], &first_input[0]),
        (first[1], &first_input[1]),
        (first[2], &first_input[2]),
        (second[0], &second_input[0]),
        (second[2], &second_input[2]),
    ];
    for flushed in [false, true] {
        if flushed {
            store.flush().await.unwrap();
        }
        for (id, position) in kept {
            let found = store.position_by_id(id).await.unwrap();
            let found = found.unwrap_or_else(|| panic!("id {id} not found"));
            assert_eq!(found.id, id);
            assert_eq!(found.device_id, device);
            assert_eq!(found.position, quantize(position));
        }
        let listed: HashSet<PositionId> = all(&store, device).await.iter().map(|p| p.id).collect();
        assert_eq!(listed, kept.iter().map(|(id, _)| *id).collect());
    }
    store.close().await.unwrap();

    let store = harness.open().await;
    let third = store.append_positions(device, vec![at(20)]).await.unwrap();
    assert_eq!(third.len(), 1);
    assert!(
        third[0] > *second.last().unwrap(),
        "an id was reused after reopen"
    );
    let found = store.position_by_id(third[0]).await.unwrap().unwrap();
    assert_eq!(found.position, quantize(&at(20)));
    store.close().await.unwrap();
}

pub(crate) async fn latest_position(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "latest").await;
    assert_eq!(store.latest_position(device).await.unwrap(), None);
    store
        .append_positions(device, vec![at(5), at(9), at(2)])
        .await
        .unwrap();
    let latest = store
        .latest_position(device)
        .await
        .unwrap()
        .expect("latest");
    assert_eq!(latest.position, quantize(&at(9)));
    assert_eq!(
        store.position_by_id(latest.id).await.unwrap(),
        Some(latest.clone())
    );
    store.append_positions(device, vec![at(3)]).await.unwrap();
    assert_eq!(
        store.latest_position(device).await.unwrap(),
        Some(latest.clone())
    );
    store.flush().await.unwrap();
    assert_eq!(
        store.latest_position(device).await.unwrap(),
        Some(latest.clone())
    );
    store.close().await.unwrap();
    let store = harness.open().await;
    assert_eq!(
        store.latest_position(device).await.unwrap(),
        Some(latest.clone())
    );
    store.append_positions(device, vec![at(12)]).await.unwrap();
    let newer = store
        .latest_position(device)
        .await
        .unwrap()
        .expect("latest");
    assert_eq!(newer.position, quantize(&at(12)));
    assert_ne!(newer.id, latest.id);
    store.close().await.unwrap();
}

pub(crate) async fn reopen_keeps_everything(harness: &Harness) {
    let store = harness.open().await;
    let a = new_device(&store, "ra").await;
    let b = new_device(&store, "rb").await;
    store
        .append_positions(a, (0..40).map(at).collect())
        .await
        .unwrap();
    store.flush().await.unwrap();
    store
        .append_positions(a, (40..60).map(at).collect())
        .await
        .unwrap();
    store
        .append_positions(b, (0..5).map(at).collect())
        .await
        .unwrap();
    let devices = store.devices().await.unwrap();
    let (before_a, before_b) = (all(&store, a).await, all(&store, b).await);
    // Dropped without close: the log must carry the unflushed records.
    drop(store);
    let store = harness.open().await;
    assert_eq!(store.devices().await.unwrap(), devices);
    assert_eq!(all(&store, a).await, before_a);
    assert_eq!(all(&store, b).await, before_b);
    assert_eq!(store.count_positions(a).await.unwrap(), 60);
    store.close().await.unwrap();
    let store = harness.open().await;
    assert_eq!(all(&store, a).await, before_a);
    let usage = store.disk_usage_bytes().await.unwrap();
    assert!(usage > 0);
    store.close().await.unwrap();
}

pub(crate) async fn concurrent_appenders(harness: &Harness) {
    let store = harness.open().await;
    let mut devices = Vec::new();
    for i in 0..20 {
        devices.push(new_device(&store, &format!("c{i}")).await);
    }
    let mut tasks = Vec::new();
    for task in 0..200i64 {
        let store = store.clone();
        let device = devices[(task % 20) as usize];
        tasks.push(tokio::spawn(async move {
            let positions = (0..5).map(|k| at(task * 10 + k)).collect();
            store.append_positions(device, positions).await
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("append");
    }
    let mut ids = HashSet::new();
    for device in &devices {
        let positions = all(&store, *device).await;
        assert_eq!(positions.len(), 50);
        ids.extend(positions.iter().map(|p| p.id));
    }
    assert_eq!(ids.len(), 1000);
    store.flush().await.unwrap();
    let mut total = 0;
    for device in &devices {
        total += store.count_positions(*device).await.unwrap();
    }
    assert_eq!(total, 1000);
    store.close().await.unwrap();
}

fn every_value() -> Vec<Position> {
    let values: Vec<(AttrKey, AttrValue)> = vec![
        (AttrKey::Known(KnownKey::Ignition), AttrValue::Bool(true)),
        (AttrKey::Known(KnownKey::Motion), AttrValue::Bool(false)),
        (AttrKey::Known(KnownKey::Odometer), AttrValue::Int(i64::MAX)),
        (AttrKey::Io(0), AttrValue::Int(i64::MIN)),
        (
            AttrKey::Io(65_535),
            AttrValue::Decimal {
                raw: -12_345,
                scale: 3,
            },
        ),
        (
            AttrKey::Known(KnownKey::Power),
            AttrValue::Decimal {
                raw: i64::MAX,
                scale: 9,
            },
        ),
        (AttrKey::Known(KnownKey::Hdop), AttrValue::Float(0.1)),
        (AttrKey::Known(KnownKey::Pdop), AttrValue::Float(-1.5e300)),
        (
            AttrKey::Known(KnownKey::DriverUniqueId),
            AttrValue::Str("héllo wörld".into()),
        ),
        (
            AttrKey::Known(KnownKey::Operator),
            AttrValue::Str("".into()),
        ),
        (
            AttrKey::Other("custom key".into()),
            AttrValue::Bytes(vec![0, 255, 1, 128].into()),
        ),
        (
            AttrKey::Other("".into()),
            AttrValue::Bytes(Vec::new().into()),
        ),
    ];
    let mut positions = Vec::new();
    let mut first = at(1);
    first.attributes = values.iter().cloned().collect();
    positions.push(first);
    // Same keys, changed values (delta paths).
    let mut second = at(2);
    second.attributes = values
        .iter()
        .map(|(key, value)| {
            let value = match value {
                AttrValue::Bool(b) => AttrValue::Bool(!b),
                AttrValue::Int(i) => AttrValue::Int(i.wrapping_add(12_345)),
                AttrValue::Decimal { raw, scale } => AttrValue::Decimal {
                    raw: raw.wrapping_sub(7),
                    scale: *scale,
                },
                AttrValue::Float(f) => AttrValue::Float(f * 3.0),
                AttrValue::Str(s) => AttrValue::Str(format!("{s}!").into()),
                AttrValue::Bytes(b) => AttrValue::Bytes([&b[..], &[9]].concat().into()),
            };
            (key.clone(), value)
        })
        .collect();
    positions.push(second);
    // Same keys, other types; then a different key set.
    let mut third = at(3);
    third.attributes = values
        .iter()
        .rev()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let mut swapped = Attributes::new();
    for (index, (key, _)) in values.iter().enumerate() {
        swapped.push(key.clone(), values[(index + 1) % values.len()].1.clone());
    }
    let mut fourth = at(4);
    fourth.attributes = swapped;
    positions.push(third);
    positions.push(fourth);
    let mut fifth = at(5);
    fifth.attributes = Attributes::new();
    fifth.valid = false;
    fifth.device_time = Timestamp(ms(5) - 3_600_000);
    fifth.protocol = trackd_model::Protocol::Unknown;
    fifth.latitude = -89.999_999_9;
    fifth.longitude = 179.999_999_9;
    fifth.altitude = -420.5;
    positions.push(fifth);
    positions
}

pub(crate) async fn attribute_values_round_trip(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "attrs").await;
    let positions = every_value();
    store
        .append_positions(device, positions.clone())
        .await
        .unwrap();
    let expected: Vec<Position> = positions.iter().map(quantize).collect();
    let got: Vec<Position> = all(&store, device)
        .await
        .into_iter()
        .map(|p| p.position)
        .collect();
    assert_eq!(got, expected);
    store.flush().await.unwrap();
    let got: Vec<Position> = all(&store, device)
        .await
        .into_iter()
        .map(|p| p.position)
        .collect();
    assert_eq!(got, expected);
    store.close().await.unwrap();
}

pub(crate) async fn read_only_sees_data(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "ro").await;
    store
        .append_positions(device, (0..30).map(at).collect())
        .await
        .unwrap();
    store.flush().await.unwrap();
    store
        .append_positions(device, (30..45).rev().map(at).collect())
        .await
        .unwrap();
    store.append_positions(device, vec![at(3)]).await.unwrap(); // a duplicate in the log
    let reader = harness.open_read_only().await;
    let expected = all(&store, device).await;
    assert_eq!(expected.len(), 45);
    assert_eq!(all(&reader, device).await, expected);
    assert_eq!(reader.count_positions(device).await.unwrap(), 45);
    assert_eq!(
        reader.latest_position(device).await.unwrap(),
        store.latest_position(device).await.unwrap()
    );
    assert_eq!(
        reader
            .position_by_id(expected[40].id)
            .await
            .unwrap()
            .as_ref(),
        Some(&expected[40])
    );
    assert_eq!(
        reader.device(device).await.unwrap().map(|d| d.unique_id),
        Some("ro".to_string())
    );
    let refused = reader.append_positions(device, vec![at(100)]).await;
    assert!(matches!(refused, Err(StoreError::ReadOnly)), "{refused:?}");
    reader.close().await.unwrap();
    store.close().await.unwrap();
}

pub(crate) async fn append_to_unknown_device_fails(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "known").await;
    let result = store
        .append_positions(DeviceId(device.get() + 1000), vec![at(1)])
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    // Other appends are unaffected.
    store.append_positions(device, vec![at(1)]).await.unwrap();
    assert_eq!(store.count_positions(device).await.unwrap(), 1);
    store.append_positions(device, Vec::new()).await.unwrap();
    store.close().await.unwrap();
}

pub(crate) async fn closed_store_refuses_writes(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "closed").await;
    store.append_positions(device, vec![at(1)]).await.unwrap();
    store.close().await.unwrap();
    let result = store.append_positions(device, vec![at(2)]).await;
    assert!(matches!(result, Err(StoreError::Closed)), "{result:?}");
    store.close().await.unwrap();
    let store = harness.open().await;
    let counts: HashMap<DeviceId, u64> =
        HashMap::from([(device, store.count_positions(device).await.unwrap())]);
    assert_eq!(counts[&device], 1);
    store.close().await.unwrap();
}

pub(crate) async fn random_history_matches_model(harness: &Harness) {
    // A small deterministic generator (no extra dependency): times in a
    // narrow window so late, out-of-order and duplicate records are common.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let mut store = harness.open().await;
    let device = new_device(&store, "random").await;
    // Model: (fix time, variant) in first-arrival order, duplicates dropped.
    let mut arrived: Vec<(i64, i64)> = Vec::new();
    for round in 0..60 {
        let n = 1 + next(40) as usize;
        let batch: Vec<(i64, i64)> = (0..n)
            .map(|_| (next(2_000) as i64, next(2) as i64))
            .collect();
        let positions = batch
            .iter()
            .map(|&(t, variant)| if variant == 0 { at(t) } else { other_at(t) })
            .collect();
        store.append_positions(device, positions).await.unwrap();
        for item in batch {
            if !arrived.contains(&item) {
                arrived.push(item);
            }
        }
        if round % 7 == 3 {
            store.flush().await.unwrap();
        }
        if round % 20 == 10 {
            store.close().await.unwrap();
            store = harness.open().await;
        }
    }
    store.close().await.unwrap();
    let store = harness.open().await;
    let mut expected: Vec<(usize, (i64, i64))> = arrived.iter().copied().enumerate().collect();
    expected.sort_by_key(|&(arrival, (t, _))| (t, arrival));
    let expected: Vec<Position> = expected
        .iter()
        .map(|&(_, (t, variant))| quantize(&if variant == 0 { at(t) } else { other_at(t) }))
        .collect();
    let check = |got: Vec<StoredPosition>| {
        let got: Vec<Position> = got.into_iter().map(|p| p.position).collect();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "stored history differs from the model");
    };
    check(all(&store, device).await);
    assert_eq!(
        store.count_positions(device).await.unwrap(),
        expected.len() as u64
    );
    store.flush().await.unwrap();
    check(all(&store, device).await);
    let window = store
        .positions(device, Timestamp(ms(500)), Timestamp(ms(900)))
        .await
        .unwrap();
    assert!(window
        .iter()
        .all(|p| (ms(500)..ms(900)).contains(&p.position.fix_time.as_millis())));
    assert_eq!(
        window.len(),
        expected
            .iter()
            .filter(|p| (ms(500)..ms(900)).contains(&p.fix_time.as_millis()))
            .count()
    );
    store.close().await.unwrap();
}

pub(crate) async fn reads_during_compaction_see_everything_once(harness: &Harness) {
    let store = harness.open().await;
    let mut devices = Vec::new();
    for i in 0..30 {
        let device = new_device(&store, &format!("rc{i}")).await;
        for chunk in 0..4 {
            store
                .append_positions(device, (chunk * 50..chunk * 50 + 50).map(at).collect())
                .await
                .unwrap();
        }
        devices.push(device);
    }
    let flusher = {
        let store = store.clone();
        tokio::spawn(async move { store.flush().await })
    };
    for round in 0..40 {
        let device = devices[round % devices.len()];
        assert_eq!(all(&store, device).await.len(), 200);
        assert_eq!(store.count_positions(device).await.unwrap(), 200);
    }
    flusher.await.expect("join").expect("flush");
    for device in devices {
        assert_eq!(all(&store, device).await.len(), 200);
    }
    store.close().await.unwrap();
}
