//! Each device's latest position: the contract of `latest_position` under
//! resends, equal fix times, implausible records, purges and upgrades.

use trackd_model::{
    AttrKey, AttrValue, DeviceId, KnownKey, NewDevice, Position, StoredPosition, Timestamp,
};

use super::{typical_position, Harness};
use crate::encoding::quantize;
use crate::Store;

async fn new_device(store: &Store, unique_id: &str) -> DeviceId {
    store
        .add_device(NewDevice {
            unique_id: unique_id.into(),
            name: unique_id.into(),
        })
        .await
        .expect("add device")
        .id
}

/// Fix times from midnight ten days ago (the same on every call, unless
/// the test straddles midnight), so purges by time reach them.
fn at(t: i64) -> Position {
    let day = 86_400_000;
    let base = (crate::now_millis() / day - 10) * day;
    typical_position(base + t * 1000, t)
}

fn implausible(t: i64) -> Position {
    let mut position = at(t);
    position.attributes.push(
        AttrKey::Known(KnownKey::InvalidReason),
        AttrValue::Str("futureFixTime".into()),
    );
    position
}

async fn latest(store: &Store, device: DeviceId) -> Option<StoredPosition> {
    store.latest_position(device).await.expect("latest")
}

pub(crate) async fn latest_ignores_resends_and_later_arrivals_at_the_same_time(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "resend").await;
    let first = store
        .append_positions(device, vec![at(4), at(9)])
        .await
        .unwrap();
    // The same record again is a duplicate; a different record with the
    // same fix time arrives later: the first arrival stays the latest.
    store.append_positions(device, vec![at(9)]).await.unwrap();
    let mut twin = at(9);
    twin.latitude += 0.01;
    store
        .append_positions(device, vec![twin, at(1)])
        .await
        .unwrap();
    let found = latest(&store, device).await.expect("a latest position");
    assert_eq!(found.id, first[1]);
    assert_eq!(found.position, quantize(&at(9)));
    store.close().await.unwrap();
    let store = harness.open().await;
    assert_eq!(latest(&store, device).await.map(|p| p.id), Some(first[1]));
    let batch = store
        .append_positions(device, vec![at(10), at(12), at(11)])
        .await
        .unwrap();
    assert_eq!(latest(&store, device).await.map(|p| p.id), Some(batch[1]));
    store.close().await.unwrap();
}

pub(crate) async fn latest_skips_implausible_records(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "implausible").await;
    let only = new_device(&store, "only-implausible").await;
    let ids = store
        .append_positions(device, vec![at(5), implausible(100)])
        .await
        .unwrap();
    store
        .append_positions(only, vec![implausible(7)])
        .await
        .unwrap();
    assert_eq!(latest(&store, device).await.map(|p| p.id), Some(ids[0]));
    assert_eq!(latest(&store, only).await, None);
    let next = store.append_positions(device, vec![at(6)]).await.unwrap();
    assert_eq!(latest(&store, device).await.map(|p| p.id), Some(next[0]));
    let both = store.latest_positions(&[only, device]).await.unwrap();
    assert_eq!(both[0], None);
    assert_eq!(both[1].as_ref().map(|p| p.id), Some(next[0]));
    let reference = both[1].as_ref().map(|p| (p.position.server_time, p.id));
    let refs = store.latest_references(&[only, device]).await.unwrap();
    assert_eq!(refs, vec![None, reference]);
    // A long list (read by a scan on PostgreSQL) answers the same, in order.
    let mut many: Vec<DeviceId> = (0..1_500).map(|i| DeviceId(1_000_000 + i)).collect();
    many.insert(700, device);
    many.push(only);
    let refs = store.latest_references(&many).await.unwrap();
    assert_eq!(refs.len(), many.len());
    assert_eq!(refs[700], reference);
    assert_eq!(refs.iter().filter(|r| r.is_some()).count(), 1);
    store.close().await.unwrap();
}

pub(crate) async fn latest_follows_purges(harness: &Harness) {
    let store = harness.open().await;
    let old = new_device(&store, "old").await;
    let recent = new_device(&store, "recent").await;
    store
        .append_positions(old, vec![at(1), at(2)])
        .await
        .unwrap();
    let kept = store
        .append_positions(recent, vec![at(1), at(86_400)])
        .await
        .unwrap();
    let cut = Timestamp::from_millis(at(3_600).fix_time.as_millis());
    store.purge_positions(None, cut).await.unwrap();
    assert_eq!(latest(&store, old).await, None);
    assert_eq!(latest(&store, recent).await.map(|p| p.id), Some(kept[1]));
    // A late record of a purged time becomes the latest again.
    let late = store.append_positions(old, vec![at(0)]).await.unwrap();
    assert_eq!(latest(&store, old).await.map(|p| p.id), Some(late[0]));
    let all_of_it = Timestamp::from_millis(crate::now_millis() + 86_400_000);
    store
        .purge_positions(Some(recent), all_of_it)
        .await
        .unwrap();
    assert_eq!(latest(&store, recent).await, None);
    assert_eq!(latest(&store, old).await.map(|p| p.id), Some(late[0]));
    store.close().await.unwrap();
}

/// A PostgreSQL database from before `latest_positions` (schema 3) gets
/// the table filled at open; on SQLite reopening is all there is.
pub(crate) async fn latest_filled_when_upgrading(harness: &Harness) {
    let store = harness.open().await;
    let device = new_device(&store, "upgrade").await;
    let hidden = new_device(&store, "upgrade-implausible-newest").await;
    let none = new_device(&store, "upgrade-nothing").await;
    let ids = store
        .append_positions(device, vec![at(3), at(8), at(5)])
        .await
        .unwrap();
    let plausible = store
        .append_positions(hidden, vec![at(2), implausible(50), implausible(60)])
        .await
        .unwrap();
    store.close().await.unwrap();
    let url = harness.config.url.clone();
    if !url.starts_with("sqlite:") {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
        sqlx::raw_sql(
            "DROP TABLE latest_positions; DELETE FROM schema_version WHERE version >= 4;",
        )
        .execute(&mut conn)
        .await
        .expect("back to schema 3");
    }
    let store = harness.open().await;
    assert_eq!(latest(&store, device).await.map(|p| p.id), Some(ids[1]));
    assert_eq!(
        latest(&store, hidden).await.map(|p| p.id),
        Some(plausible[0])
    );
    assert_eq!(latest(&store, none).await, None);
    store.close().await.unwrap();
}
