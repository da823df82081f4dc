//! OsmAnd behind the one [`Session`] contract: one session per HTTP
//! request. Outputs: `Identified(id)`, then after `accept(true)` one
//! `Records` with an empty ack (the route answers `200` with an empty body
//! once the records are committed); a refused device or a bad request
//! yields one `Close(reason)` (the route answers 404 / 400).

use trackd_model::{Position, Timestamp};

use super::{decode_request, Error};
use crate::session::{
    HttpRequest, Output, ProtocolInfo, Session, SessionConfig, Transport, Unsupported,
};

/// The registration of OsmAnd (Traccar's port 5055, HTTP).
pub const PROTOCOL: ProtocolInfo = ProtocolInfo {
    name: "osmand",
    protocol: trackd_model::Protocol::OsmAnd,
    transports: &[Transport::Http],
    default_port: 5055,
    new_session,
};

fn new_session(transport: Transport, config: &SessionConfig) -> Box<dyn Session> {
    match transport {
        Transport::Http => Box::new(OsmAndRequest {
            max_size: config.max_frame,
            state: State::Empty,
            unique_id: None,
        }),
        Transport::Tcp | Transport::Udp => Box::new(Unsupported::new("osmand speaks only http")),
    }
}

/// One HTTP request.
struct OsmAndRequest {
    max_size: usize,
    state: State,
    unique_id: Option<String>,
}

enum State {
    /// No request yet.
    Empty,
    /// Decoded; the unique id is to be reported.
    Decoded(Vec<Position>),
    /// The id was reported; waits for `accept`.
    AwaitAccept(Vec<Position>),
    /// Accepted; the records are next.
    Ready(Vec<Position>),
    /// The request is refused with this reason.
    Failed(Error),
    /// Everything was said.
    Done,
}

impl Session for OsmAndRequest {
    fn handle_bytes(&mut self, _now: Timestamp, _bytes: &[u8]) {}

    fn handle_request(&mut self, now: Timestamp, request: &HttpRequest<'_>) {
        // One request per session; a second one is not this session's.
        if !matches!(self.state, State::Empty) {
            return;
        }
        self.state = match decode_request(now, request, self.max_size) {
            Ok(decoded) => {
                self.unique_id = Some(decoded.unique_id);
                State::Decoded(decoded.positions)
            }
            Err(error) => State::Failed(error),
        };
    }

    fn accept(&mut self, accepted: bool) {
        let state = std::mem::replace(&mut self.state, State::Done);
        self.state = match state {
            State::AwaitAccept(records) if accepted => State::Ready(records),
            State::AwaitAccept(_) => State::Failed(Error::UnknownDevice),
            other => other,
        };
    }

    fn poll(&mut self) -> Option<Output> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Decoded(records) => {
                self.state = State::AwaitAccept(records);
                Some(Output::Identified(
                    self.unique_id.clone().unwrap_or_default(),
                ))
            }
            State::Ready(records) => Some(Output::Records {
                records,
                ack: Vec::new(),
            }),
            State::Failed(error) => Some(Output::Close(Box::new(error))),
            other => {
                self.state = other;
                None
            }
        }
    }

    fn unique_id(&self) -> Option<&str> {
        self.unique_id.as_deref()
    }
}
