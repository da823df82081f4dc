//! OsmAnd / Traccar Client over HTTP: one request is one report (or, in the
//! JSON form, a batch of buffered reports).
//!
//! Two request forms, chosen by `Content-Type` as Traccar chooses:
//! - `query`: `?id=..&lat=..&lon=..&timestamp=..` in the query string, or
//!   the same parameters as an `application/x-www-form-urlencoded` body;
//!   speed in knots;
//! - `json`: Traccar Client 8+ (transistor background-geolocation)
//!   `{"device_id": .., "location": {..} | [{..}, ..]}`; speed in m/s.
//!
//! `network` turns `cell` / `wifi` parameters into Traccar's network JSON;
//! `time` reads the time forms; `contract` puts it behind the [`Session`]
//! contract; `encode` is the inverse, for the simulator and tests.
//!
//! trackd is stricter than Traccar where Traccar would store nonsense:
//! coordinates out of range, non-finite numbers and unparseable times are
//! refused, and a batch with any bad location is refused whole.
//!
//! [`Session`]: crate::Session

mod contract;
mod encode;
mod json;
mod network;
mod query;
mod time;

pub use contract::PROTOCOL;
pub use encode::{encode_json, encode_query};

use trackd_model::{Position, Timestamp};

use crate::HttpRequest;

/// What one request decoded to.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The device's unique id (`id`, `deviceid` or `device_id`).
    pub unique_id: String,
    /// The reports, in request order (empty for an empty JSON batch).
    pub positions: Vec<Position>,
}

/// Why a request was refused; the route answers 400 with this message
/// (404 for [`Error::UnknownDevice`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// No `id` / `deviceid` parameter or `device_id` member, or it is empty.
    #[error("missing id")]
    MissingId,
    /// A required field is absent (`lon` given without `lat`, a JSON
    /// location without `timestamp`).
    #[error("missing {0}")]
    Missing(&'static str),
    /// A field that must be a number is not one (or is not finite).
    #[error("{field} is not a number: {value:?}")]
    NotANumber {
        /// The parameter or JSON path.
        field: &'static str,
        /// The text sent, clipped.
        value: String,
    },
    /// A coordinate outside [-90, 90] / [-180, 180].
    #[error("{field} out of range: {value}")]
    OutOfRange {
        /// `lat`, `lon`, or the JSON path.
        field: &'static str,
        /// The value sent.
        value: f64,
    },
    /// A time none of the accepted forms reads.
    #[error("{field} is not a time: {value:?}")]
    BadTimestamp {
        /// `timestamp` or the JSON path.
        field: &'static str,
        /// The text sent, clipped.
        value: String,
    },
    /// A compound parameter (`location`, `cell`, `wifi`) of the wrong shape.
    #[error("{field} is malformed: {value:?}")]
    Malformed {
        /// The parameter.
        field: &'static str,
        /// The text sent, clipped.
        value: String,
    },
    /// A JSON member of the wrong type.
    #[error("{field}: expected {expected}")]
    WrongType {
        /// The JSON path.
        field: &'static str,
        /// What it should have been (`a number`, `a string`, ...).
        expected: &'static str,
    },
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding in {0}")]
    PercentEncoding(&'static str),
    /// Percent-decoded bytes that are not UTF-8.
    #[error("{0} is not utf-8")]
    NotUtf8(&'static str),
    /// The body (or query) exceeds [`crate::SessionConfig::max_frame`].
    #[error("{what} too large: {size} bytes (limit {limit})")]
    TooLarge {
        /// `body` or `query`.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The JSON body does not parse.
    #[error("malformed json: {0}")]
    Json(String),
    /// One location of a JSON batch is bad; the whole batch is refused.
    #[error("location {index}: {source}")]
    BatchItem {
        /// Its index in the batch, from 0.
        index: usize,
        /// What is wrong with it.
        source: Box<Error>,
    },
    /// The registry refused the device.
    #[error("unknown device")]
    UnknownDevice,
}

/// Decodes one request; `now` stands in for a missing query `timestamp`,
/// and a body or query longer than `max_size` bytes is refused unread.
pub fn decode_request(
    now: Timestamp,
    request: &HttpRequest<'_>,
    max_size: usize,
) -> Result<Request, Error> {
    for (what, size) in [("body", request.body.len()), ("query", request.query.len())] {
        if size > max_size {
            return Err(Error::TooLarge {
                what,
                size,
                limit: max_size,
            });
        }
    }
    if is_json(request) {
        json::decode(request.body)
    } else {
        query::decode(now, request)
    }
}

/// Traccar picks the JSON form by `Content-Type`; a body that starts like
/// an object and comes without one is JSON too (a form body never does).
fn is_json(request: &HttpRequest<'_>) -> bool {
    match request.content_type {
        Some(content_type) => content_type
            .trim_start()
            .get(..16)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("application/json")),
        None => request.query.is_empty() && request.body.trim_ascii_start().starts_with(b"{"),
    }
}

/// A value for an error message: at most 40 characters of what was sent.
fn clip(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
