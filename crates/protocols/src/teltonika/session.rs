//! The TCP session: IMEI handshake, then data frames, pings and command
//! responses, as a push/pull state machine.

use trackd_model::Position;

use super::codec12::Codec12Response;
use super::frame::{self, FrameKind, FrameStatus, DEFAULT_MAX_FRAME};
use super::payload::{decode_data, Decoded};
use super::{DecodeOptions, DeviceProfile, FrameError};

/// Consumed bytes are dropped from the buffer once there are this many.
const COMPACT_AT: usize = 4096;

/// One Teltonika TCP connection, without the connection.
///
/// Call order:
/// 1. [`handle_bytes`](Self::handle_bytes) with whatever arrived (frames may
///    be split across calls, or several may come in one call);
/// 2. [`poll_event`](Self::poll_event) until it returns `None` ("need more
///    bytes");
/// 3. after [`TcpEvent::Imei`], call [`accept_imei`](Self::accept_imei) and
///    send the byte it returns before polling again (until then polling
///    returns `None`);
/// 4. after [`TcpEvent::Records`], store the records and only then send
///    [`TcpAck::reply`]; [`TcpEvent::Rejected`] gets no reply (the device
///    resends); after [`TcpEvent::Close`] close the connection.
#[derive(Debug)]
pub struct TcpSession {
    options: DecodeOptions,
    profile: DeviceProfile,
    max_frame: usize,
    buffer: Vec<u8>,
    /// Bytes of `buffer` already consumed.
    start: usize,
    state: State,
    imei: Option<String>,
    /// Data frames are decoded before a handshake.
    headless: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitImei,
    AwaitAccept,
    Accepted,
    Refused,
    Closed,
}

/// What the session made of the bytes so far.
#[derive(Clone, Debug, PartialEq)]
pub enum TcpEvent {
    /// The device identified itself; answer with [`TcpSession::accept_imei`].
    Imei(String),
    /// An AVL data frame; acknowledge with `ack` once the records are stored.
    Records {
        /// The decoded positions.
        records: Vec<Position>,
        /// The acknowledgement to send after storing them.
        ack: TcpAck,
    },
    /// The 0xFF keepalive byte; no reply.
    Ping,
    /// A Codec 12 / 13 response to a command.
    CommandResponse(Codec12Response),
    /// This frame is skipped (bad CRC, count mismatch, unknown codec): no
    /// ack; the session continues with the next frame.
    Rejected(FrameError),
    /// Unrecoverable (garbage preamble, impossible length, oversize, records
    /// before the IMEI, refused IMEI): close the connection.
    Close(FrameError),
}

/// The acknowledgement of one AVL data frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpAck {
    /// Records in the frame (N1).
    pub n_records: u32,
}

impl TcpAck {
    /// The four bytes to send: the record count, big-endian.
    pub fn reply(&self) -> [u8; 4] {
        self.n_records.to_be_bytes()
    }
}

impl TcpSession {
    /// A session with the default frame size limit (64 KiB).
    pub fn new(options: DecodeOptions) -> Self {
        Self::with_max_frame(options, DEFAULT_MAX_FRAME)
    }

    /// A session that closes on data frames larger than `max_frame` bytes.
    pub fn with_max_frame(options: DecodeOptions, max_frame: usize) -> Self {
        TcpSession {
            options,
            profile: DeviceProfile::default(),
            max_frame,
            buffer: Vec::new(),
            start: 0,
            state: State::AwaitImei,
            imei: None,
            headless: false,
        }
    }

    /// Sets the device model / extended flag (from the device registry or
    /// configuration) used to decode the following frames.
    pub fn set_profile(&mut self, profile: DeviceProfile) {
        self.profile = profile;
    }

    /// Appends received bytes.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        } else if self.start >= COMPACT_AT {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next event, or `None` if more bytes are needed (or the caller
    /// owes an [`accept_imei`](Self::accept_imei), or the session is closed).
    pub fn poll_event(&mut self) -> Option<TcpEvent> {
        match self.state {
            State::AwaitAccept | State::Closed => return None,
            State::Refused => return Some(self.close(FrameError::ImeiRefused)),
            State::AwaitImei | State::Accepted => {}
        }
        let pending = self.buffer.get(self.start..).unwrap_or_default();
        let (kind, len) = match frame::next_frame(pending, self.max_frame) {
            FrameStatus::Incomplete => return None,
            FrameStatus::Invalid(error) => return Some(self.close(error)),
            FrameStatus::Complete { kind, len } => (kind, len),
        };
        let frame_bytes = pending.get(..len).unwrap_or_default();
        let event = match (kind, self.state) {
            (FrameKind::Ping, _) => TcpEvent::Ping,
            (FrameKind::Imei, State::AwaitImei) => match parse_imei(frame_bytes) {
                Some(imei) => {
                    self.state = State::AwaitAccept;
                    self.imei = Some(imei.clone());
                    TcpEvent::Imei(imei)
                }
                None => return Some(self.close(FrameError::InvalidImei)),
            },
            (FrameKind::Imei, _) => return Some(self.close(FrameError::BadPreamble)),
            (FrameKind::Data, State::AwaitImei) if !self.headless => {
                return Some(self.close(FrameError::RecordsBeforeImei))
            }
            (FrameKind::Data, _) => self.data_event(frame_bytes),
        };
        self.start += len;
        Some(event)
    }

    fn data_event(&self, frame_bytes: &[u8]) -> TcpEvent {
        let data = match frame::checked_data(frame_bytes) {
            Ok(data) => data,
            Err(error) => return TcpEvent::Rejected(error),
        };
        match decode_data(data, frame::HEADER_LEN, &self.options, &self.profile, true) {
            Ok(Decoded::Records {
                positions,
                n_records,
            }) => TcpEvent::Records {
                records: positions,
                ack: TcpAck {
                    n_records: n_records.into(),
                },
            },
            Ok(Decoded::Response(response)) => TcpEvent::CommandResponse(response),
            Err(error) => TcpEvent::Rejected(error),
        }
    }

    fn close(&mut self, error: FrameError) -> TcpEvent {
        self.state = State::Closed;
        self.buffer = Vec::new();
        self.start = 0;
        TcpEvent::Close(error)
    }

    /// Answers the IMEI handshake: returns the byte to send (0x01 accept,
    /// 0x00 refuse). A refused session yields one `Close` and nothing else.
    pub fn accept_imei(&mut self, accepted: bool) -> [u8; 1] {
        if self.state == State::AwaitAccept {
            self.state = if accepted {
                State::Accepted
            } else {
                State::Refused
            };
        }
        [u8::from(accepted)]
    }

    /// Why the bytes still buffered do not make a frame, if any are
    /// buffered: the input ended inside a frame.
    pub fn leftover_error(&self) -> Option<FrameError> {
        let pending = self.buffer.get(self.start..).unwrap_or_default();
        if pending.is_empty() || self.state == State::Closed {
            return None;
        }
        let error = match super::payload::decode_tcp_frame(pending, &self.options) {
            Err(error) => error,
            Ok(_) => FrameError::Truncated { at: pending.len() },
        };
        Some(error)
    }

    /// Decodes data frames without a preceding IMEI handshake (a capture
    /// of the middle of a session); a handshake that still comes is
    /// reported as usual.
    pub fn assume_identified(&mut self) {
        self.headless = true;
    }

    /// The IMEI the device sent, once it has.
    pub fn imei(&self) -> Option<&str> {
        self.imei.as_deref()
    }
}

/// The IMEI of a handshake frame: printable ASCII, without spaces.
pub(crate) fn parse_imei(frame_bytes: &[u8]) -> Option<String> {
    let text = frame_bytes.get(2..)?;
    if text.is_empty() || !text.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    String::from_utf8(text.to_vec()).ok()
}
