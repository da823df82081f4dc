//! Sans-IO device protocol decoders and encoders.
//!
//! Bytes go in; records, events and reply bytes come out. Nothing here
//! touches a socket, a clock or a database: the listener in `server` owns
//! the I/O and decides when to send the replies these types compute.
//!
//! **Architecture Invariant:** no tokio, no sockets, no clock (a tidy test
//! checks `Cargo.toml`); "need more bytes" is a state, never an error; no
//! input can make a decoder panic or allocate more than its input can hold.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod gt06;
pub mod osmand;
mod reader;
mod session;
pub mod teltonika;

pub use session::{
    HttpRequest, Output, ProtocolError, ProtocolInfo, Session, SessionConfig, Transport,
    Unsupported, UnsupportedError,
};

/// Every protocol trackd speaks; adding one is a folder and a line here.
pub static PROTOCOLS: &[ProtocolInfo] = &[teltonika::PROTOCOL, gt06::PROTOCOL, osmand::PROTOCOL];

/// The protocol registered under Traccar's name `name`.
pub fn protocol(name: &str) -> Option<&'static ProtocolInfo> {
    PROTOCOLS.iter().find(|info| info.name == name)
}
