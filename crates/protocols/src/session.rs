//! The one device-session contract every protocol implements.
//!
//! A [`Session`] is one device conversation without its socket: one TCP
//! connection, one UDP datagram, or one HTTP request. The listener in
//! `server::ingest` owns the I/O and is the same for every protocol; it only
//! ever talks to a `Box<dyn Session>` made by a [`ProtocolInfo`].
//!
//! Call order (push in, pull out, as quinn-proto's `Connection`):
//! 1. [`Session::handle_bytes`] with whatever arrived (TCP chunks may split
//!    or merge frames; a UDP session gets exactly one datagram), or
//!    [`Session::handle_request`] with one HTTP request;
//! 2. [`Session::poll`] until it returns `None` ("need more bytes");
//! 3. after [`Output::Identified`], call [`Session::accept`] with the
//!    registry's verdict before polling again (until then `poll` returns
//!    `None`); a refusal makes the session yield one [`Output::Close`];
//! 4. after [`Output::Records`], commit the records and only then send
//!    [`Output::Records::ack`]; [`Output::Reply`] goes out at once;
//!    [`Output::Rejected`] gets nothing; after [`Output::Close`] close;
//! 5. when [`Session::poll_timeout`] is `Some(t)` and `t` passes, call
//!    [`Session::handle_timeout`] and poll again.

use std::fmt;

use trackd_model::{Position, Timestamp};

/// How device bytes reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A byte stream; one session per connection.
    Tcp,
    /// Datagrams; one session per datagram.
    Udp,
    /// HTTP requests; one session per request.
    Http,
}

impl Transport {
    /// `tcp`, `udp` or `http`, as in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Http => "http",
        }
    }

    /// Parses `tcp`, `udp` or `http`.
    pub fn from_name(name: &str) -> Option<Transport> {
        match name {
            "tcp" => Some(Transport::Tcp),
            "udp" => Some(Transport::Udp),
            "http" => Some(Transport::Http),
            _ => None,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings a session starts with; the same for every protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Largest frame (or request body) accepted, in bytes; larger ones close
    /// the session.
    pub max_frame: usize,
    /// Keep numbered IO elements raw (`io<ID>`) instead of naming them.
    pub raw_io: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_frame: 64 * 1024,
            raw_io: false,
        }
    }
}

/// One HTTP request, as the ingest route hands it to a session.
#[derive(Clone, Copy, Debug)]
pub struct HttpRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The raw (still percent-encoded) query string, without `?`.
    pub query: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The body (already limited to [`SessionConfig::max_frame`]).
    pub body: &'a [u8],
}

/// Why a frame was skipped or a session closed: the protocol's own typed
/// error, boxed so the listener can log any protocol's reason the same way.
pub type ProtocolError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a session made of its input so far.
#[derive(Debug)]
pub enum Output {
    /// The device said who it is; answer with [`Session::accept`].
    Identified(String),
    /// Decoded records: commit them, then send `ack` (possibly empty: over
    /// HTTP the ack is the body of the `200` response).
    Records {
        /// The decoded positions (server time not set).
        records: Vec<Position>,
        /// Bytes that acknowledge these records; send only after commit.
        ack: Vec<u8>,
    },
    /// Bytes to send at once, not tied to a commit (login and heartbeat
    /// answers, the handshake verdict).
    Reply(Vec<u8>),
    /// Something worth a log line that is not a position (a command
    /// response, an unknown packet type that was answered and dropped).
    Notice(String),
    /// This frame is skipped, without an ack; the session goes on.
    Rejected(ProtocolError),
    /// Unrecoverable: close the connection (HTTP: answer 4xx).
    Close(ProtocolError),
}

/// One device conversation without the I/O; see the module docs for the
/// call order.
pub trait Session: Send {
    /// Feeds received bytes (a TCP chunk or one whole datagram).
    fn handle_bytes(&mut self, now: Timestamp, bytes: &[u8]);

    /// Feeds one HTTP request. Only protocols registered for
    /// [`Transport::Http`] get requests; the default ignores them.
    fn handle_request(&mut self, now: Timestamp, request: &HttpRequest<'_>) {
        let _ = (now, request);
    }

    /// The registry's verdict on the last [`Output::Identified`].
    fn accept(&mut self, accepted: bool);

    /// The input ended (the peer closed, or a capture is over). A session
    /// holding part of a frame yields one [`Output::Close`] saying where
    /// the frame was cut.
    fn handle_eof(&mut self) {}

    /// Treats the device as already identified, so frames that come before
    /// any login decode (`trackd decode` of a capture taken mid-session).
    /// The server never calls this.
    fn assume_identified(&mut self) {}

    /// The next output, or `None` if more input is needed (or an `accept`
    /// is owed, or the session is closed).
    fn poll(&mut self) -> Option<Output>;

    /// When the session wants [`Session::handle_timeout`] called.
    fn poll_timeout(&self) -> Option<Timestamp> {
        None
    }

    /// The instant from [`Session::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Timestamp) {
        let _ = now;
    }

    /// The unique id the device identified with, once it has.
    fn unique_id(&self) -> Option<&str>;

    /// Most bytes a connection may send before the device has identified
    /// itself: what the longest handshake needs, so an unidentified peer
    /// cannot make the listener buffer a whole frame.
    fn pre_identification_limit(&self) -> usize {
        DEFAULT_PRE_IDENTIFICATION_LIMIT
    }
}

/// [`Session::pre_identification_limit`] of a protocol that does not say
/// (a GT06 login is 18 to 26 bytes).
pub(crate) const DEFAULT_PRE_IDENTIFICATION_LIMIT: usize = 256;

/// A protocol as the server sees it: a name, where it listens by default,
/// and how to start a session.
#[derive(Clone, Copy)]
pub struct ProtocolInfo {
    /// Traccar's protocol name (`teltonika`, `gt06`, `osmand`).
    pub name: &'static str,
    /// The stored protocol tag of its positions.
    pub protocol: trackd_model::Protocol,
    /// The transports it speaks.
    pub transports: &'static [Transport],
    /// Traccar's default port.
    pub default_port: u16,
    /// A new session for one connection, datagram or request.
    pub new_session: fn(Transport, &SessionConfig) -> Box<dyn Session>,
}

impl fmt::Debug for ProtocolInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtocolInfo")
            .field("name", &self.name)
            .field("transports", &self.transports)
            .field("default_port", &self.default_port)
            .finish()
    }
}

impl ProtocolInfo {
    /// Whether the protocol speaks `transport`.
    pub fn speaks(&self, transport: Transport) -> bool {
        self.transports.contains(&transport)
    }
}

/// A session of a protocol that does not speak the transport it was
/// started on: it closes at once with this reason.
#[derive(Debug)]
pub struct Unsupported {
    closed: bool,
    reason: &'static str,
}

impl Unsupported {
    /// A session that only yields one `Close(reason)`.
    pub fn new(reason: &'static str) -> Self {
        Unsupported {
            closed: false,
            reason,
        }
    }
}

/// The error an [`Unsupported`] session closes with.
#[derive(Debug, thiserror::Error)]
#[error("unsupported: {0}")]
pub struct UnsupportedError(&'static str);

impl Session for Unsupported {
    fn handle_bytes(&mut self, _now: Timestamp, _bytes: &[u8]) {}

    fn accept(&mut self, _accepted: bool) {}

    fn poll(&mut self) -> Option<Output> {
        if self.closed {
            return None;
        }
        self.closed = true;
        Some(Output::Close(Box::new(UnsupportedError(self.reason))))
    }

    fn unique_id(&self) -> Option<&str> {
        None
    }
}
