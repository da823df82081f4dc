//! What an events read asks for, and where a page of it starts.

use trackd_model::{DeviceId, EventId, EventKind, Timestamp};

/// Events of some devices in a time range, in read order `(event_time,
/// id)`, optionally one page of them.
#[derive(Clone, Debug)]
pub struct EventQuery {
    /// The devices; none matches nothing.
    pub device_ids: Vec<DeviceId>,
    /// Only these types (an empty list matches nothing); `None` is all.
    pub types: Option<Vec<EventKind>>,
    /// `from <= event_time`.
    pub from: Timestamp,
    /// `event_time < to`.
    pub to: Timestamp,
    /// Only events after this `(event_time, id)`: the last of the page before.
    pub after: Option<(Timestamp, EventId)>,
    /// At most this many events.
    pub limit: Option<u32>,
}

impl EventQuery {
    /// Every event of `device_ids` in `[from, to)` of `types`, unpaged.
    pub fn new(
        device_ids: &[DeviceId],
        types: Option<&[EventKind]>,
        from: Timestamp,
        to: Timestamp,
    ) -> Self {
        EventQuery {
            device_ids: device_ids.to_vec(),
            types: types.map(<[EventKind]>::to_vec),
            from,
            to,
            after: None,
            limit: None,
        }
    }

    /// Whether no event can match (no backend round trip needed).
    pub(crate) fn matches_nothing(&self) -> bool {
        self.device_ids.is_empty()
            || self.types.as_ref().is_some_and(Vec::is_empty)
            || self.from >= self.to
            || self.limit == Some(0)
    }
}
