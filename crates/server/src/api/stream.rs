//! Large answers as JSON arrays streamed a page at a time: the size is
//! checked against a limit (`max_read_positions`, `max_read_events`) by
//! counting before anything is loaded, then the answer is read and written
//! out page by page, so memory stays at one page whatever the answer's size
//! (a 450k-position answer used to be built whole: +790 MiB).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use trackd_model::{DeviceId, Event, StoredPosition, Timestamp};
use trackd_store::{EventQuery, StoreError};

use crate::access::Viewer;
use crate::api::dto::PositionDto;
use crate::api::error::{ApiError, ApiResult};
use crate::api::objects::EventDto;
use crate::server::Shared;

/// Most positions read from the store at a time (unless more share one
/// millisecond); slices are halved by time until they hold no more.
const SLICE: u64 = 20_000;

/// Events read from the store at a time.
const EVENT_PAGE: u32 = 10_000;

/// The source of a streamed answer: its items a page at a time.
trait Pages: Send + 'static {
    /// What one page holds.
    type Item: Send;

    /// The next page; `None` when there is no more. An empty page is
    /// allowed (nothing is written for it).
    fn next_page(
        &mut self,
    ) -> impl Future<Output = Result<Option<Vec<Self::Item>>, StoreError>> + Send;

    /// Writes one item as a JSON value.
    fn render(item: &Self::Item, out: &mut Vec<u8>) -> serde_json::Result<()>;
}

/// The state of one streamed answer.
struct Writer<P> {
    pages: P,
    started: bool,
    first: bool,
    done: bool,
}

impl<P: Pages> Writer<P> {
    /// The next piece of the array; a store error ends the body early (the
    /// client sees a truncated answer, never a wrong one).
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some((Ok(Bytes::from_static(b"[")), self));
        }
        let items = match self.pages.next_page().await {
            Ok(Some(items)) => items,
            Ok(None) => {
                self.done = true;
                return Some((Ok(Bytes::from_static(b"]")), self));
            }
            Err(err) => {
                tracing::error!(%err, "store error while streaming an answer; answer cut short");
                self.done = true;
                return Some((Err(std::io::Error::other(err)), self));
            }
        };
        let mut out = Vec::with_capacity(items.len() * 400);
        for item in &items {
            if !std::mem::take(&mut self.first) {
                out.push(b',');
            }
            if let Err(err) = P::render(item, &mut out) {
                self.done = true;
                return Some((Err(std::io::Error::other(err)), self));
            }
        }
        Some((Ok(Bytes::from(out)), self))
    }
}

/// A `200` whose body is the JSON array of everything `pages` yields.
fn respond(pages: impl Pages) -> ApiResult<Response> {
    let state = Writer {
        pages,
        started: false,
        first: true,
        done: false,
    };
    let body = futures_util::stream::unfold(state, Writer::next);
    Response::builder()
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .map_err(|err| {
            tracing::error!(%err, "building a streamed answer");
            ApiError::Internal
        })
}

/// The 400 of an answer that would hold more than `max` items.
fn too_many(max: u64, what: &str) -> ApiError {
    ApiError::bad(format!(
        "more than {max} {what} in that range: ask for a shorter one"
    ))
}

/// One store read: a device over part of the asked range.
#[derive(Clone, Copy, Debug)]
struct Slice {
    device_id: DeviceId,
    from: Timestamp,
    to: Timestamp,
}

/// Splits `[from, to)` into `parts` time slices of equal length.
fn split(device_id: DeviceId, from: Timestamp, to: Timestamp, parts: u64) -> Vec<Slice> {
    let (start, end) = (i128::from(from.as_millis()), i128::from(to.as_millis()));
    let parts = i128::from(parts.max(1));
    let span = end - start;
    (0..parts)
        .map(|i| {
            let cut = |k: i128| {
                let at = start + span * k / parts;
                Timestamp::from_millis(i64::try_from(at).unwrap_or(i64::MAX))
            };
            Slice {
                device_id,
                from: cut(i),
                to: if i + 1 == parts { to } else { cut(i + 1) },
            }
        })
        .collect()
}

/// The positions of `devices` in `[from, to)`, device after device, as a
/// streamed JSON array; a 400 before anything is read when they number
/// more than `max_read_positions`, a 404 if one is not visible.
pub(crate) async fn positions(
    shared: Arc<Shared>,
    viewer: Viewer,
    devices: Vec<DeviceId>,
    from: Timestamp,
    to: Timestamp,
) -> ApiResult<Response> {
    let max = shared.config.max_read_positions as u64;
    let mut slices = VecDeque::new();
    let mut total = 0u64;
    for device_id in devices {
        let count = shared
            .access
            .count_positions(&viewer, device_id, from, to)
            .await?
            .ok_or(ApiError::NotFound)?;
        total = total.saturating_add(count);
        if total > max {
            return Err(too_many(max, "positions"));
        }
        if count > 0 {
            slices.push_back(Slice {
                device_id,
                from,
                to,
            });
        }
    }
    respond(PositionPages {
        shared,
        viewer,
        slices,
    })
}

/// Positions, a time slice of one device at a time.
struct PositionPages {
    shared: Arc<Shared>,
    viewer: Viewer,
    slices: VecDeque<Slice>,
}

impl Pages for PositionPages {
    type Item = StoredPosition;

    async fn next_page(&mut self) -> Result<Option<Vec<StoredPosition>>, StoreError> {
        let slice = loop {
            let Some(slice) = self.slices.pop_front() else {
                return Ok(None);
            };
            // Halve a slice until it holds about SLICE positions: the
            // asked range may be far wider than where the data lies, so
            // equal cuts of it would not bound a read.
            if slice.to.as_millis().saturating_sub(slice.from.as_millis()) > 1 {
                let counted = self
                    .shared
                    .access
                    .count_positions(&self.viewer, slice.device_id, slice.from, slice.to)
                    .await?;
                match counted {
                    Some(count) if count > SLICE => {
                        for half in split(slice.device_id, slice.from, slice.to, 2)
                            .into_iter()
                            .rev()
                        {
                            self.slices.push_front(half);
                        }
                        continue;
                    }
                    Some(0) => continue,
                    _ => {}
                }
            }
            break slice;
        };
        let positions = self
            .shared
            .access
            .positions(&self.viewer, slice.device_id, slice.from, slice.to)
            .await?;
        Ok(Some(positions.unwrap_or_default()))
    }

    fn render(position: &StoredPosition, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, &PositionDto::stored(position))
    }
}

/// The events `query` selects as a streamed JSON array in time order; a
/// 400 before anything is read when they number more than
/// `max_read_events`, a 404 if one of its devices is not visible.
pub(crate) async fn events(
    shared: Arc<Shared>,
    viewer: Viewer,
    query: EventQuery,
) -> ApiResult<Response> {
    let max = shared.config.max_read_events as u64;
    let count = shared
        .access
        .count_events(&viewer, &query)
        .await?
        .ok_or(ApiError::NotFound)?;
    if count > max {
        return Err(too_many(max, "events"));
    }
    respond(EventPages {
        shared,
        viewer,
        query: EventQuery {
            after: None,
            limit: Some(EVENT_PAGE),
            ..query
        },
        done: count == 0,
    })
}

/// Events, a page at a time, each after the last of the one before.
struct EventPages {
    shared: Arc<Shared>,
    viewer: Viewer,
    query: EventQuery,
    done: bool,
}

impl Pages for EventPages {
    type Item = Event;

    async fn next_page(&mut self) -> Result<Option<Vec<Event>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .shared
            .access
            .events_page(&self.viewer, &self.query)
            .await?
            .unwrap_or_default();
        match page.last() {
            Some(last) if page.len() >= EVENT_PAGE as usize => {
                self.query.after = Some((last.event_time, last.id));
            }
            _ => self.done = true,
        }
        Ok(Some(page))
    }

    fn render(event: &Event, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, &EventDto::from(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_the_range_without_gaps() {
        let (from, to) = (
            Timestamp::from_millis(1000),
            Timestamp::from_millis(1_000_003),
        );
        for parts in [1, 2, 3, 7, 1000] {
            let slices = split(DeviceId(1), from, to, parts);
            assert_eq!(slices.len() as u64, parts);
            assert_eq!(slices[0].from, from);
            assert_eq!(slices[slices.len() - 1].to, to);
            for pair in slices.windows(2) {
                assert_eq!(pair[0].to, pair[1].from);
                assert!(pair[0].from <= pair[0].to);
            }
        }
        let whole = split(
            DeviceId(1),
            Timestamp::from_millis(i64::MIN),
            Timestamp::from_millis(i64::MAX),
            3,
        );
        assert_eq!(whole[2].to, Timestamp::from_millis(i64::MAX));
    }
}
