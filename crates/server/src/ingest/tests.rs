//! The seam's order and its duplicate handling, against a real store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use trackd_model::{DeviceId, EventKind, JsonObject, NewDevice, NewEvent, Position, Timestamp};
use trackd_store::{BatchEvent, Store, StoreConfig};

use super::{Ingest, Processor};
use crate::live::{LiveBus, LiveUpdate};

/// Counts the records it is given and raises one event per record.
#[derive(Clone, Default)]
struct Counting {
    seen: Arc<AtomicUsize>,
}

impl Processor for Counting {
    type State = u64;

    fn process(
        &self,
        state: &mut u64,
        device_id: DeviceId,
        records: &mut [Position],
    ) -> Vec<BatchEvent> {
        self.seen.fetch_add(records.len(), Ordering::SeqCst);
        *state += records.len() as u64;
        (0..records.len())
            .map(|index| BatchEvent {
                event: NewEvent {
                    event_type: EventKind::DeviceMoving,
                    event_time: records[index].fix_time,
                    device_id,
                    position_id: None,
                    geofence_id: None,
                    maintenance_id: None,
                    attributes: JsonObject::default(),
                },
                position: Some(index),
            })
            .collect()
    }
}

fn record(fix_ms: i64) -> Position {
    Position {
        fix_time: Timestamp::from_millis(fix_ms),
        device_time: Timestamp::from_millis(fix_ms),
        server_time: Timestamp::from_millis(fix_ms + 500),
        valid: true,
        latitude: 54.68,
        longitude: 25.28,
        ..Position::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_records_are_processed_once_and_events_commit_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::new(format!(
        "sqlite:{}",
        dir.path().join("t.db").display()
    )))
    .await
    .unwrap();
    let device = store
        .add_device(NewDevice {
            unique_id: "seam".into(),
            name: "seam".into(),
        })
        .await
        .unwrap()
        .id;
    let live = LiveBus::default();
    let mut updates = live.subscribe();
    let processor = Counting::default();
    let ingest = Ingest::new(
        store.clone(),
        live,
        processor.clone(),
        super::Plausibility::new(std::time::Duration::from_secs(86_400), 1000.0),
    );

    let frame: Vec<_> = (0..4)
        .map(|k| record(1_767_225_600_000 + k * 1_000))
        .collect();
    let committed = ingest.commit(device, frame.clone()).await.unwrap();
    assert_eq!(committed.len(), 4);
    ingest.publish(committed);

    // The device did not get its ack and sends the frame again, received
    // later, plus one new record: only the new one is processed.
    let mut resent = frame.clone();
    for position in &mut resent {
        position.server_time = Timestamp::from_millis(position.server_time.as_millis() + 30_000);
    }
    resent.push(record(1_767_225_600_000 + 9_000));
    let committed = ingest.commit(device, resent.clone()).await.unwrap();
    assert_eq!(committed.len(), 5, "every record of the batch is durable");
    ingest.publish(committed);
    assert_eq!(processor.seen.load(Ordering::SeqCst), 5);

    // A pure resend needs no commit at all and publishes nothing.
    let committed = ingest.commit(device, resent).await.unwrap();
    ingest.publish(committed);
    assert_eq!(processor.seen.load(Ordering::SeqCst), 5);

    assert_eq!(store.count_positions(device).await.unwrap(), 5);
    let events = store
        .events(&[device], None, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    assert_eq!(events.len(), 5);
    let positions = store
        .positions(device, Timestamp::MIN, Timestamp::MAX)
        .await
        .unwrap();
    for (event, position) in events.iter().zip(&positions) {
        assert_eq!(event.position_id, Some(position.id));
    }

    // Published: positions then events, per commit; nothing for the resend.
    let mut kinds = Vec::new();
    while let Ok(entry) = updates.try_recv() {
        kinds.push(match &entry.update {
            LiveUpdate::Positions { positions, .. } => format!("p{}", positions.len()),
            LiveUpdate::Events { events, .. } => format!("e{}", events.len()),
            LiveUpdate::Device { .. } => "d".into(),
        });
    }
    assert_eq!(kinds, ["p4", "e4", "p1", "e1"]);
    store.close().await.unwrap();
}
