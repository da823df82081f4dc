//! Teltonika Codec 8 / 8 Extended / 16 (AVL data), Codec 12 / 13 (command
//! responses) and Codec 7 (GH3000), over TCP and UDP.
//!
//! Layers, bottom up:
//! - `frame`: TCP framing (IMEI handshake, 0xFF ping, preamble + length +
//!   CRC-16/IBM); tells "incomplete" from "complete" from "invalid".
//! - `codec8`, `codec7`, `codec12`: payload decoding (codec byte .. N2).
//! - `io_names`: IO element id -> Traccar attribute name and unit.
//! - `session`: the push/pull TCP state machine ([`TcpSession`]).
//! - `udp`: one datagram in, records and the ack out.
//! - `encode`: the inverse, for the simulator, tests and commands.

mod codec12;
mod codec7;
mod codec8;
mod contract;
mod encode;
mod frame;
mod io_names;
mod payload;
mod session;
mod udp;

pub use codec12::{decode_codec12_response, Codec12Response};
pub use codec8::{decode_avl_records, AvlRecord, Codec, IoElement, IoValue};
pub use contract::PROTOCOL;
pub use encode::{
    encode_codec12_command, encode_codec12_response, encode_imei, encode_tcp_frame,
    encode_udp_packet,
};
pub use frame::{crc16_ibm, next_frame, FrameKind, FrameStatus, DEFAULT_MAX_FRAME};
pub use payload::{decode_records_unframed, decode_tcp_frame, Decoded};
pub use session::{TcpAck, TcpEvent, TcpSession};
pub use udp::{decode_udp, UdpAck, UdpPacket};

/// How decoded IO elements become attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Keep every IO element as `io<ID>` with its unsigned value, no renaming.
    pub raw_io: bool,
}

/// What Traccar learns from configuration or the device record rather than
/// from the wire: the device model (some IO ids mean different things per
/// model) and the "extended" flag (Codec 8 records with a 16-byte section).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceProfile {
    /// Device model, e.g. `FMB130`; enables Traccar's FMB-family IO names.
    pub model: Option<String>,
    /// Records carry a 16-byte IO section after the 8-byte one (Traccar's
    /// `teltonika.extended`).
    pub extended: bool,
}

impl DeviceProfile {
    /// Whether the model is one of the FMB family Traccar names extra IO ids for.
    pub(crate) fn is_fmb_family(&self) -> bool {
        self.model.as_deref().is_some_and(io_names::is_fmb_family)
    }
}

/// Why a frame or datagram could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The CRC-16/IBM of the data does not match the frame's CRC field.
    #[error("bad crc: frame says 0x{frame:04x}, computed 0x{computed:04x}")]
    BadCrc {
        /// The CRC field as sent.
        frame: u32,
        /// The CRC of the data.
        computed: u16,
    },
    /// The data ended inside a field.
    #[error("truncated at byte {at}")]
    Truncated {
        /// Offset, from the frame start, of the field that did not fit.
        at: usize,
    },
    /// A codec id this decoder does not know.
    #[error("unknown codec 0x{0:02x}")]
    UnknownCodec(u8),
    /// The declared frame is larger than the session allows.
    #[error("frame too large: {size} bytes (limit {limit})")]
    FrameTooLarge {
        /// Declared size, preamble to CRC.
        size: u64,
        /// The session's limit.
        limit: usize,
    },
    /// The IMEI handshake is empty, too long or not printable ASCII.
    #[error("invalid imei")]
    InvalidImei,
    /// A data frame did not start with four zero bytes.
    #[error("bad preamble")]
    BadPreamble,
    /// The record counts before and after the records differ, or do not
    /// match what the payload holds.
    #[error("record count mismatch")]
    RecordCountMismatch,
    /// A data length field too small to hold a codec byte and two counts.
    #[error("impossible length: {0}")]
    ImpossibleLength(u32),
    /// A data frame arrived before the IMEI handshake.
    #[error("records before imei")]
    RecordsBeforeImei,
    /// The caller refused the IMEI; nothing more is decoded.
    #[error("imei refused")]
    ImeiRefused,
    /// Bytes left over after the last field.
    #[error("trailing bytes: {0}")]
    TrailingBytes(usize),
    /// A UDP length field that does not match the datagram.
    #[error("length mismatch: header says {declared}, datagram has {actual}")]
    LengthMismatch {
        /// Length the header declares.
        declared: usize,
        /// Length actually present.
        actual: usize,
    },
    /// A well-formed frame of a kind trackd does not handle.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

#[cfg(test)]
mod tests;
