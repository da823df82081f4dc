//! Device input: the one ingest seam and the one loop per transport.
//!
//! Every protocol's bytes take the same path:
//! **decode → process → commit → ack → publish**, in that order.
//! - decode: the protocol's sans-IO [`trackd_protocols::Session`], made by
//!   its [`trackd_protocols::ProtocolInfo`]; the loops in [`tcp`], [`udp`]
//!   and [`http`] own the sockets and know no protocol by name.
//! - process: [`Processor`] with per-device state, one owner per device
//!   ([`Ingest`]), whatever number of connections or transports it uses.
//! - commit: the store; returns once durable.
//! - ack: the loop sends the session's ack bytes (HTTP: the `200`).
//! - publish: [`Ingest::publish`] puts the committed records on the live bus.
//!
//! **Architecture Invariant:** a device is never acknowledged for records
//! that are not durable. **Architecture Invariant:** no file in this module
//! names a protocol (a tidy test checks).

pub(crate) mod admission;
mod conversation;
mod eviction;
mod http;
mod plausibility;
mod presence;
mod process;
mod tcp;
mod udp;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use trackd_model::{DeviceId, Event, Position, StoredPosition};
use trackd_store::{Store, StoreError};

pub(crate) use admission::{Admission, Registry};
pub(crate) use http::serve_http;
pub(crate) use plausibility::Plausibility;
pub(crate) use presence::Presence;
pub(crate) use process::{Identity, Processor};
pub(crate) use tcp::serve_tcp;
pub(crate) use udp::serve_udp;

use crate::live::{LiveBus, LiveUpdate};

/// Per-device processing state; exactly one per device.
type Slot<P> = Arc<tokio::sync::Mutex<<P as Processor>::State>>;

/// The seam every listener commits through.
pub(crate) struct Ingest<P: Processor> {
    store: Store,
    live: LiveBus,
    processor: P,
    plausibility: Plausibility,
    slots: Mutex<HashMap<DeviceId, Slot<P>>>,
}

/// Records that are durable and may now be acknowledged, then published.
#[must_use = "acknowledge, then publish"]
pub(crate) struct Committed {
    device_id: DeviceId,
    /// The batch's records, duplicates included.
    received: usize,
    /// What to publish (empty when nobody listens).
    positions: Vec<StoredPosition>,
    events: Vec<Event>,
}

impl Committed {
    /// How many records the batch held (all of them are durable now).
    pub(crate) fn len(&self) -> usize {
        self.received
    }
}

impl<P: Processor> Ingest<P> {
    pub(crate) fn new(
        store: Store,
        live: LiveBus,
        processor: P,
        plausibility: Plausibility,
    ) -> Self {
        Ingest {
            store,
            live,
            processor,
            plausibility,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, device_id: DeviceId) -> Slot<P> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(device_id).or_default().clone()
    }

    /// Processes and commits one batch of a device's records. When this
    /// returns Ok the caller may acknowledge them, then [`Self::publish`].
    /// Batches of one device are processed and committed one at a time, in
    /// arrival order, even when they come over several connections.
    /// Records the store already holds (a device resending what it was not
    /// acknowledged for) are neither processed nor stored again. Records
    /// no real fix can produce are marked first (the duplicate check and
    /// the store see the mark), stored, and neither processed nor
    /// published.
    pub(crate) async fn commit(
        &self,
        device_id: DeviceId,
        mut records: Vec<Position>,
    ) -> Result<Committed, StoreError> {
        let received = records.len();
        let mut committed = Committed {
            device_id,
            received,
            positions: Vec::new(),
            events: Vec::new(),
        };
        if records.is_empty() {
            return Ok(committed);
        }
        let mut marked = 0_usize;
        for record in &mut records {
            marked += usize::from(self.plausibility.mark(record));
        }
        if marked > 0 {
            tracing::debug!(%device_id, marked, "implausible records marked invalid");
        }
        let slot = self.slot(device_id);
        let mut state = slot.lock().await;
        let duplicate = self.store.duplicates(device_id, &records).await?;
        let (mut fresh, implausible): (Vec<Position>, Vec<Position>) = records
            .into_iter()
            .zip(duplicate)
            .filter_map(|(record, duplicate)| (!duplicate).then_some(record))
            .partition(|record| !record.is_implausible());
        let plausible = fresh.len();
        if fresh.len() + implausible.len() < received {
            tracing::debug!(
                %device_id,
                duplicates = received - fresh.len() - implausible.len(),
                "resent records already stored"
            );
        }
        // A failed commit must leave the state as if the batch never came:
        // the device resends it.
        let before = state.clone();
        let events = self.processor.process(&mut state, device_id, &mut fresh);
        // After the plausible ones, so the events' record indexes hold.
        fresh.extend(implausible);
        if fresh.is_empty() && events.is_empty() {
            return Ok(committed);
        }
        let kept = self
            .live
            .has_subscribers()
            .then(|| fresh.get(..plausible).unwrap_or_default().to_vec());
        let appended = match self.store.append_with(device_id, fresh, events).await {
            Ok(appended) => appended,
            Err(err) => {
                *state = before;
                return Err(err);
            }
        };
        drop(state);
        if let Some(records) = kept {
            committed.positions = appended
                .ids
                .into_iter()
                .zip(records)
                .map(|(id, position)| StoredPosition {
                    id,
                    device_id,
                    position,
                })
                .collect();
            committed.events = appended.events;
        }
        Ok(committed)
    }

    /// Publishes committed (and acknowledged) records and events to the live bus.
    pub(crate) fn publish(&self, committed: Committed) {
        if !committed.positions.is_empty() {
            self.live.publish(LiveUpdate::Positions {
                device_id: committed.device_id,
                positions: committed.positions.into(),
            });
        }
        if !committed.events.is_empty() {
            self.live.publish(LiveUpdate::Events {
                device_id: committed.device_id,
                events: committed.events.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests;
