//! Contract tests: purging positions by time, for one device or all.

use trackd_model::{DeviceId, NewDevice, Timestamp};

use super::{typical_position, Harness};

const HOUR: i64 = 3_600_000;
/// Three days ago at midnight UTC, so PostgreSQL makes day partitions.
fn t0() -> i64 {
    let day = 86_400_000;
    (crate::now_millis() / day - 3) * day
}

async fn fleet(harness: &Harness) -> (crate::Store, Vec<DeviceId>) {
    let store = harness.open().await;
    let mut devices = Vec::new();
    for i in 0..3 {
        devices.push(
            store
                .add_device(NewDevice {
                    unique_id: format!("purge-{i}"),
                    name: format!("purge {i}"),
                })
                .await
                .unwrap()
                .id,
        );
    }
    // 72 hours of one record every 10 minutes per device, half of it
    // compacted into chunks and half still in the log on SQLite.
    for (n, &device) in devices.iter().enumerate() {
        let batch: Vec<_> = (0..432)
            .map(|k| typical_position(t0() + k * HOUR / 6, k + n as i64))
            .collect();
        let (early, late) = batch.split_at(216);
        store
            .append_positions(device, early.to_vec())
            .await
            .unwrap();
        store.flush().await.unwrap();
        store.append_positions(device, late.to_vec()).await.unwrap();
    }
    (store, devices)
}

async fn times(store: &crate::Store, device: DeviceId) -> Vec<i64> {
    store
        .positions(device, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|stored| stored.position.fix_time.as_millis())
        .collect()
}

pub(crate) async fn purge_before_time_keeps_the_rest(harness: &Harness) {
    let (store, devices) = fleet(harness).await;
    // Not on a day boundary: some chunks or partitions straddle it.
    let cut = t0() + 30 * HOUR + HOUR / 4;
    let expected: Vec<i64> = (0..432)
        .map(|k| t0() + k * HOUR / 6)
        .filter(|&t| t >= cut)
        .collect();
    let purged = store
        .purge_positions(None, Timestamp::from_millis(cut))
        .await
        .unwrap();
    assert_eq!(
        purged.positions,
        3 * (432 - expected.len() as u64),
        "{purged:?}"
    );
    assert!(purged.whole_chunks > 0, "{purged:?}");
    for &device in &devices {
        assert_eq!(times(&store, device).await, expected);
        assert_eq!(
            store.count_positions(device).await.unwrap(),
            expected.len() as u64
        );
        let latest = store.latest_position(device).await.unwrap().unwrap();
        assert_eq!(
            latest.position.fix_time.as_millis(),
            *expected.last().unwrap()
        );
    }
    // Nothing left to purge; a second run removes nothing.
    let again = store
        .purge_positions(None, Timestamp::from_millis(cut))
        .await
        .unwrap();
    assert_eq!(again.positions, 0, "{again:?}");
    store.close().await.unwrap();
    let store = harness.open().await;
    for &device in &devices {
        assert_eq!(times(&store, device).await, expected);
    }
    store.close().await.unwrap();
}

pub(crate) async fn purge_one_device_and_ids_not_reused(harness: &Harness) {
    let (store, devices) = fleet(harness).await;
    let before_ids = store
        .positions(devices[1], Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    let last_id = before_ids.last().unwrap().id;
    let all_of_it = Timestamp::from_millis(crate::now_millis() + 86_400_000);
    let purged = store
        .purge_positions(Some(devices[1]), all_of_it)
        .await
        .unwrap();
    assert_eq!(purged.positions, 432, "{purged:?}");
    assert!(times(&store, devices[1]).await.is_empty());
    assert_eq!(store.latest_position(devices[1]).await.unwrap(), None);
    for device in [devices[0], devices[2]] {
        assert_eq!(times(&store, device).await.len(), 432);
    }
    // After a restart the device continues its sequence: no id is reused.
    store.close().await.unwrap();
    let store = harness.open().await;
    let ids = store
        .append_positions(devices[1], vec![typical_position(t0(), 0)])
        .await
        .unwrap();
    assert!(
        ids[0] > last_id,
        "{} reused after purge (last {last_id})",
        ids[0]
    );
    store.close().await.unwrap();
}

pub(crate) async fn purge_while_appending(harness: &Harness) {
    let (store, devices) = fleet(harness).await;
    let cut = Timestamp::from_millis(t0() + 48 * HOUR);
    let writer = {
        let store = store.clone();
        let device = devices[0];
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for k in 0..50 {
                let record = typical_position(t0() + 80 * HOUR + k * 1_000, k);
                ids.extend(store.append_positions(device, vec![record]).await.unwrap());
            }
            ids
        })
    };
    let purged = store.purge_positions(None, cut).await.unwrap();
    let ids = writer.await.unwrap();
    assert_eq!(ids.len(), 50);
    assert_eq!(purged.positions, 3 * 48 * 6, "{purged:?}");
    assert_eq!(times(&store, devices[0]).await.len(), 432 - 48 * 6 + 50);
    store.close().await.unwrap();
}
