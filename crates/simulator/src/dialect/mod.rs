//! Dialects: how a protocol-free device (an id and its [`Fix`]es) speaks
//! one protocol — what it sends to open a session, what one message of fixes
//! looks like on the wire, and which reply acknowledges it.
//!
//! The driver in [`crate::client`] is the same for every protocol; it only
//! talks to a [`Wire`] over a [`Conn`].

use std::fmt;
use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::DeviceError;
use crate::vehicle::Fix;

pub mod gt06;
mod http;
pub mod osmand;
pub mod teltonika;

/// The protocol a simulated device speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// Teltonika Codec 8 Extended over TCP.
    #[default]
    Teltonika,
    /// GT06 over TCP.
    Gt06,
    /// OsmAnd (Traccar Client) over HTTP.
    Osmand,
}

impl Protocol {
    /// Every protocol, in the order a mixed fleet deals devices.
    pub const ALL: [Protocol; 3] = [Protocol::Teltonika, Protocol::Gt06, Protocol::Osmand];

    /// Traccar's protocol name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Teltonika => "teltonika",
            Protocol::Gt06 => "gt06",
            Protocol::Osmand => "osmand",
        }
    }

    /// Parses Traccar's protocol name.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Most fixes one message carries: a Teltonika frame up to 255, a GT06
    /// packet or an OsmAnd request one.
    pub fn max_records_per_message(self) -> usize {
        match self {
            Protocol::Teltonika => 255,
            Protocol::Gt06 | Protocol::Osmand => 1,
        }
    }

    /// The finest time step the wire carries, milliseconds (GT06: seconds).
    pub fn time_step_ms(self) -> u64 {
        match self {
            Protocol::Gt06 => 1_000,
            Protocol::Teltonika | Protocol::Osmand => 1,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A byte stream to the server: plain TCP or TLS over it.
pub(crate) trait Stream:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send
{
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for S {}

/// One connection with a read buffer, for replies that must be framed.
pub(crate) struct Conn {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
    start: usize,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream) -> io::Result<Conn> {
        stream.set_nodelay(true)?;
        Ok(Conn::over(Box::new(stream)))
    }

    /// A connection over an established stream (TLS).
    pub(crate) fn over(stream: Box<dyn Stream>) -> Conn {
        Conn {
            stream,
            buf: Vec::with_capacity(512),
            start: 0,
        }
    }

    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Received bytes not yet consumed.
    pub(crate) fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Reads more bytes; the peer closing is an `UnexpectedEof` error.
    pub(crate) async fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let before = self.buf.len();
        self.buf.resize(before + 4096, 0);
        let read = self.stream.read(&mut self.buf[before..]).await;
        let n = *read.as_ref().unwrap_or(&0);
        self.buf.truncate(before + n);
        read?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        Ok(())
    }

    pub(crate) async fn read_exact<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        while self.pending().len() < N {
            self.fill().await?;
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.pending()[..N]);
        self.consume(N);
        Ok(out)
    }
}

/// What became of one message.
#[derive(Debug)]
pub(crate) enum Acked {
    /// Stored and acknowledged.
    Yes,
    /// The server could not store it now; send it again after a pause.
    Retry,
    /// The server does not know the device; it stops.
    Refused,
    /// The server refused this message; it is dropped, not resent.
    Rejected(DeviceError),
}

/// A device's protocol state, one per device for its whole life.
pub(crate) enum Wire {
    Teltonika(teltonika::Teltonika),
    Gt06(gt06::Gt06),
    Osmand(osmand::Osmand),
}

impl Wire {
    /// `host` is what an HTTP client puts in its `Host` header.
    pub(crate) fn new(protocol: Protocol, host: &str) -> Wire {
        match protocol {
            Protocol::Teltonika => Wire::Teltonika(teltonika::Teltonika::default()),
            Protocol::Gt06 => Wire::Gt06(gt06::Gt06::default()),
            Protocol::Osmand => Wire::Osmand(osmand::Osmand::new(host.to_owned())),
        }
    }

    /// Opens a session on a fresh connection; `Ok(false)` if the server
    /// refused the device. HTTP has nothing to open.
    pub(crate) async fn open(
        &mut self,
        conn: &mut Conn,
        unique_id: &str,
    ) -> Result<bool, DeviceError> {
        match self {
            Wire::Teltonika(wire) => wire.open(conn, unique_id).await,
            Wire::Gt06(wire) => wire.open(conn, unique_id).await,
            Wire::Osmand(wire) => {
                wire.closing = false;
                Ok(true)
            }
        }
    }

    /// The message carrying `fixes` (at most [`Protocol::max_records_per_message`]).
    pub(crate) fn encode(&mut self, unique_id: &str, fixes: &[Fix], out: &mut Vec<u8>) {
        match self {
            Wire::Teltonika(wire) => wire.encode(fixes, out),
            Wire::Gt06(wire) => wire.encode(fixes, out),
            Wire::Osmand(wire) => wire.encode(unique_id, fixes, out),
        }
    }

    /// Waits for the reply to the message in flight, which held `n_records`.
    pub(crate) async fn await_ack(
        &mut self,
        conn: &mut Conn,
        n_records: usize,
    ) -> Result<Acked, DeviceError> {
        match self {
            Wire::Teltonika(_) => teltonika::Teltonika::await_ack(conn, n_records)
                .await
                .map(|()| Acked::Yes),
            Wire::Gt06(wire) => wire.await_ack(conn).await.map(|()| Acked::Yes),
            Wire::Osmand(wire) => Ok(match wire.await_answer(conn).await? {
                osmand::Answer::Stored => Acked::Yes,
                osmand::Answer::Busy => Acked::Retry,
                osmand::Answer::UnknownDevice => Acked::Refused,
                osmand::Answer::Rejected(status, body) => {
                    Acked::Rejected(DeviceError::Rejected { status, body })
                }
            }),
        }
    }

    /// Whether the protocol sends heartbeats while idle.
    pub(crate) fn has_heartbeat(&self) -> bool {
        matches!(self, Wire::Gt06(_))
    }

    /// Sends a heartbeat carrying `fix`'s status and waits for its answer.
    pub(crate) async fn heartbeat(
        &mut self,
        conn: &mut Conn,
        fix: &Fix,
    ) -> Result<(), DeviceError> {
        match self {
            Wire::Gt06(wire) => wire.heartbeat(conn, fix).await,
            Wire::Teltonika(_) | Wire::Osmand(_) => Ok(()),
        }
    }

    /// The server announced it closes the connection: open a new one.
    pub(crate) fn must_reconnect(&self) -> bool {
        matches!(self, Wire::Osmand(wire) if wire.closing)
    }
}
