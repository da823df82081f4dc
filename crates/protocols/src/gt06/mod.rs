//! GT06 (Concox and its many clones) over TCP.
//!
//! Layers, bottom up:
//! - `frame`: `78 78` / `79 79` framing, CRC-ITU; tells "incomplete" from
//!   "complete" from "cannot be framed", and how a frame was delimited.
//! - `cursor`: bounds-checked reads over one frame.
//! - `decode` (with `fields`, `generic`, `cells`, `info`, `text`): one frame
//!   into a [`Packet`], following Traccar's field layouts and variants.
//! - `session`: the push/pull connection state machine ([`Gt06Session`]).
//! - `encode`: the inverse, for the simulator and round-trip tests.
//!
//! Where trackd is stricter than Traccar (CRC checked, unknown types acked
//! and dropped, status packets never valid) is in `docs/protocols/gt06.md`.

mod cells;
mod contract;
mod cursor;
mod decode;
mod encode;
mod fields;
mod frame;
mod generic;
mod info;
mod session;
mod text;

pub use contract::PROTOCOL;
pub use decode::{response, Decoder, Packet};
pub use encode::{encode_alarm, encode_gps, encode_login, encode_status, Alarm};
pub use frame::{crc16_x25, next_frame, FrameKind, FrameStatus};
pub use session::Gt06Session;

/// Why a frame was skipped or the connection closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The stream does not start with `78 78` or `79 79`.
    #[error("bad header: 0x{:02x}{:02x}", .0[0], .0[1])]
    BadHeader([u8; 2]),
    /// The frame (declared or delimited) is larger than the session allows.
    #[error("frame too large: {size} bytes (limit {limit})")]
    FrameTooLarge {
        /// Size in bytes, header to stop bytes.
        size: usize,
        /// The session's limit.
        limit: usize,
    },
    /// The CRC-ITU of length .. serial does not match the frame's CRC field.
    #[error("bad crc: frame says 0x{frame:04x}, computed 0x{computed:04x}")]
    BadCrc {
        /// The CRC field as sent.
        frame: u16,
        /// The CRC of the frame.
        computed: u16,
    },
    /// The length field does not point at the stop bytes.
    #[error("length mismatch: header says {declared} bytes, frame has {actual}")]
    LengthMismatch {
        /// Frame size the length field declares, header to stop bytes.
        declared: usize,
        /// Size up to the first stop bytes.
        actual: usize,
    },
    /// A length field too small to hold type, serial and CRC.
    #[error("length {0} too short for type, serial and crc")]
    TooShort(usize),
    /// The frame ended inside a field.
    #[error("truncated at byte {at}")]
    Truncated {
        /// Offset, from the frame start, of the field that did not fit.
        at: usize,
    },
    /// A login whose IMEI is not decimal BCD.
    #[error("invalid imei: {0}")]
    InvalidImei(String),
    /// A packet other than a login before the device was accepted.
    #[error("records before login (packet type 0x{0:02x})")]
    RecordsBeforeLogin(u8),
    /// The registry refused the IMEI.
    #[error("imei refused")]
    ImeiRefused,
    /// A second login with another IMEI on the same connection.
    #[error("login as {second} on the connection of {first}")]
    SecondLogin {
        /// The IMEI the connection was accepted for.
        first: String,
        /// The IMEI of the later login.
        second: String,
    },
}

#[cfg(test)]
mod tests;
