//! Large position answers as a JSON array streamed in slices: the size is
//! checked against `max_read_positions` by counting before anything is
//! loaded, then each device's range is read a slice at a time and written
//! out, so memory stays at one slice whatever the answer's size (a
//! 450k-position answer used to be built whole: +790 MiB).

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use trackd_model::{DeviceId, Timestamp};

use crate::access::Viewer;
use crate::api::dto::PositionDto;
use crate::api::error::{ApiError, ApiResult};
use crate::server::Shared;

/// Most positions read from the store at a time (unless more share one
/// millisecond); slices are halved by time until they hold no more.
const SLICE: u64 = 20_000;

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
            return Err(ApiError::bad(format!(
                "more than {max} positions in that range: ask for a shorter one"
            )));
        }
        if count > 0 {
            slices.push_back(Slice {
                device_id,
                from,
                to,
            });
        }
    }
    let state = Writer {
        shared,
        viewer,
        slices,
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

/// The state of one streamed answer.
struct Writer {
    shared: Arc<Shared>,
    viewer: Viewer,
    slices: VecDeque<Slice>,
    started: bool,
    first: bool,
    done: bool,
}

impl Writer {
    /// The next piece of the array; a store error ends the body early (the
    /// client sees a truncated answer, never a wrong one).
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Writer)> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some((Ok(Bytes::from_static(b"[")), self));
        }
        let slice = loop {
            let Some(slice) = self.slices.pop_front() else {
                self.done = true;
                return Some((Ok(Bytes::from_static(b"]")), self));
            };
            // Halve a slice until it holds about SLICE positions: the
            // asked range may be far wider than where the data lies, so
            // equal cuts of it would not bound a read.
            if slice.to.as_millis().saturating_sub(slice.from.as_millis()) > 1 {
                let counted = self
                    .shared
                    .access
                    .count_positions(&self.viewer, slice.device_id, slice.from, slice.to)
                    .await;
                match counted {
                    Ok(Some(count)) if count > SLICE => {
                        for half in split(slice.device_id, slice.from, slice.to, 2)
                            .into_iter()
                            .rev()
                        {
                            self.slices.push_front(half);
                        }
                        continue;
                    }
                    Ok(Some(0)) => continue,
                    Ok(_) => {}
                    Err(err) => {
                        tracing::error!(%err, "store error while streaming positions; answer cut short");
                        self.done = true;
                        return Some((Err(std::io::Error::other(err)), self));
                    }
                }
            }
            break slice;
        };
        let read = self
            .shared
            .access
            .positions(&self.viewer, slice.device_id, slice.from, slice.to)
            .await;
        let positions = match read {
            Ok(positions) => positions.unwrap_or_default(),
            Err(err) => {
                tracing::error!(%err, "store error while streaming positions; answer cut short");
                self.done = true;
                return Some((Err(std::io::Error::other(err)), self));
            }
        };
        let mut out = Vec::with_capacity(positions.len() * 400);
        for position in &positions {
            if !std::mem::take(&mut self.first) {
                out.push(b',');
            }
            if let Err(err) = serde_json::to_writer(&mut out, &PositionDto::stored(position)) {
                self.done = true;
                return Some((Err(std::io::Error::other(err)), self));
            }
        }
        Some((Ok(Bytes::from(out)), self))
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
