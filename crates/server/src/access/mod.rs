//! The one read path for personal data: positions, events (and later
//! trips and drivers). A [`Viewer`] is who is asking (user, role, scope),
//! the privacy mask that applies to them and the audit hook that records
//! the read; every route, the WebSocket, the reports and `trackd export`
//! read through [`Access`].
//!
//! **Architecture Invariant:** nothing outside this module calls the
//! store's position or event reads (a tidy test checks), so no read can
//! skip the scope, the mask or the audit.

mod audit;
mod mask;
mod viewer;

use std::sync::Arc;

use trackd_model::{DeviceId, Event, EventId, PositionId, StoredPosition, Timestamp};
use trackd_store::{EventQuery, Store, StoreError};

pub use audit::{AuditHook, Read};
pub use mask::PrivacyMask;
pub use viewer::Viewer;

use crate::api::dto::PositionDto;
use crate::api::objects::EventDto;
use crate::live::{LiveEntry, LiveKind, LiveUpdate};

/// Reads of personal data, each checked, masked and audited.
#[derive(Clone)]
pub struct Access {
    store: Store,
}

impl Access {
    /// Reads over `store`.
    pub fn new(store: Store) -> Self {
        Access { store }
    }

    /// A device's positions with `from <= fix time < to`; `None` when the
    /// viewer may not see the device.
    pub async fn positions(
        &self,
        viewer: &Viewer,
        device_id: DeviceId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<Vec<StoredPosition>>, StoreError> {
        if !viewer.scope.device(device_id) {
            return Ok(None);
        }
        let mut positions = self.store.positions(device_id, from, to).await?;
        viewer.mask.apply_all(&mut positions);
        viewer.audit.record(
            viewer,
            Read::Positions {
                device_id,
                from,
                to,
            },
        );
        Ok(Some(positions))
    }

    /// How many positions [`Self::positions`] would return at most;
    /// `None` when the viewer may not see the device. Reads no position.
    pub async fn count_positions(
        &self,
        viewer: &Viewer,
        device_id: DeviceId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        if !viewer.scope.device(device_id) {
            return Ok(None);
        }
        Ok(Some(
            self.store.count_positions_in(device_id, from, to).await?,
        ))
    }

    /// A device's latest position; `None` when it has none or the viewer
    /// may not see the device.
    pub async fn latest(
        &self,
        viewer: &Viewer,
        device_id: DeviceId,
    ) -> Result<Option<StoredPosition>, StoreError> {
        if !viewer.scope.device(device_id) {
            return Ok(None);
        }
        let mut latest = self.store.latest_position(device_id).await?;
        if let Some(position) = &mut latest {
            viewer.mask.apply(position);
            viewer.audit.record(viewer, Read::Latest { device_id });
        }
        Ok(latest)
    }

    /// The latest position of every device the viewer sees.
    pub async fn latest_of_all(&self, viewer: &Viewer) -> Result<Vec<StoredPosition>, StoreError> {
        let visible: Vec<DeviceId> = self
            .store
            .devices()
            .await?
            .into_iter()
            .map(|device| device.id)
            .filter(|id| viewer.scope.device(*id))
            .collect();
        let mut out = Vec::new();
        for mut position in self
            .store
            .latest_positions(&visible)
            .await?
            .into_iter()
            .flatten()
        {
            viewer.mask.apply(&mut position);
            viewer.audit.record(
                viewer,
                Read::Latest {
                    device_id: position.device_id,
                },
            );
            out.push(position);
        }
        Ok(out)
    }

    /// The position with this id; `None` when missing or not visible.
    pub async fn position(
        &self,
        viewer: &Viewer,
        id: PositionId,
    ) -> Result<Option<StoredPosition>, StoreError> {
        let device_id = StoredPosition::device_of_id(id);
        if !viewer.scope.device(device_id) {
            return Ok(None);
        }
        let mut position = self.store.position_by_id(id).await?;
        if let Some(position) = &mut position {
            viewer.mask.apply(position);
            viewer
                .audit
                .record(viewer, Read::Position { device_id, id });
        }
        Ok(position)
    }

    /// The event with this id; `None` when missing or not visible.
    pub async fn event(&self, viewer: &Viewer, id: EventId) -> Result<Option<Event>, StoreError> {
        let Some(event) = self.store.event(id).await? else {
            return Ok(None);
        };
        if !viewer.scope.device(event.device_id) {
            return Ok(None);
        }
        viewer.audit.record(
            viewer,
            Read::Event {
                device_id: event.device_id,
                id,
            },
        );
        Ok(Some(event))
    }

    /// How many events `query` selects (paging aside); `None` when one of
    /// its devices is not visible. Reads no event.
    pub async fn count_events(
        &self,
        viewer: &Viewer,
        query: &EventQuery,
    ) -> Result<Option<u64>, StoreError> {
        if query.device_ids.iter().any(|id| !viewer.scope.device(*id)) {
            return Ok(None);
        }
        Ok(Some(self.store.count_events(query).await?))
    }

    /// One page of the events `query` selects; `None` when one of its
    /// devices is not visible. The read is audited at its first page.
    pub async fn events_page(
        &self,
        viewer: &Viewer,
        query: &EventQuery,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        if query.device_ids.iter().any(|id| !viewer.scope.device(*id)) {
            return Ok(None);
        }
        let events = self.store.events_in(query).await?;
        if query.after.is_none() {
            for &device_id in &query.device_ids {
                viewer.audit.record(
                    viewer,
                    Read::Events {
                        device_id,
                        from: query.from,
                        to: query.to,
                    },
                );
            }
        }
        Ok(Some(events))
    }

    /// Receive time and id of a device's latest position, for its status
    /// (what every viewer of the device sees in `lastUpdate`/`positionId`).
    pub(crate) async fn latest_reference(
        &self,
        device_id: DeviceId,
    ) -> Result<Option<(Timestamp, PositionId)>, StoreError> {
        let mut latest = self.store.latest_references(&[device_id]).await?;
        Ok(latest.pop().flatten())
    }

    /// [`Self::latest_reference`] of many devices in one store round trip.
    pub(crate) async fn latest_references(
        &self,
        device_ids: &[DeviceId],
    ) -> Result<Vec<Option<(Timestamp, PositionId)>>, StoreError> {
        self.store.latest_references(device_ids).await
    }

    /// What a live update shows this viewer: the list it goes in and its
    /// items, rendered once per distinct view; `None` if nothing.
    pub fn live_items(&self, viewer: &Viewer, entry: &LiveEntry) -> Option<(LiveKind, Arc<str>)> {
        let update = &entry.update;
        if !viewer.scope.device(update.device_id()) {
            return None;
        }
        if let LiveUpdate::Positions { device_id, .. } = update {
            viewer.audit.record(
                viewer,
                Read::Live {
                    device_id: *device_id,
                },
            );
        }
        let mask = &viewer.mask;
        let text = entry.rendered(mask.view_key(), |update| render(update, mask));
        Some((update.kind(), text))
    }
}

/// The comma-separated JSON items of an update as `mask` shows them.
fn render(update: &LiveUpdate, mask: &PrivacyMask) -> String {
    let mut items = String::new();
    let mut push = |json: Result<String, serde_json::Error>| {
        if let Ok(json) = json {
            if !items.is_empty() {
                items.push(',');
            }
            items.push_str(&json);
        }
    };
    match update {
        LiveUpdate::Positions { positions, .. } => {
            for position in positions.iter() {
                let shown = mask.masked(position);
                push(serde_json::to_string(&PositionDto::stored(&shown)));
            }
        }
        LiveUpdate::Device { device, state } => {
            push(serde_json::to_string(&crate::api::objects::DeviceDto::new(
                device, *state,
            )));
        }
        LiveUpdate::Events { events, .. } => {
            for event in events.iter() {
                push(serde_json::to_string(&EventDto::from(event)));
            }
        }
    }
    items
}
