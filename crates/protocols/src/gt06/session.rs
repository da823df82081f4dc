//! One GT06 TCP connection as a push/pull state machine: login, then
//! positions, heartbeats and answers.

use std::collections::VecDeque;

use trackd_model::Timestamp;

use super::decode::{Decoder, Packet};
use super::frame::{check_crc, next_frame, type_offset, FrameKind, FrameStatus};
use super::Error;
use crate::session::{Output, Session, SessionConfig};

/// Consumed bytes are dropped from the buffer once there are this many.
const COMPACT_AT: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitLogin,
    AwaitAccept,
    Accepted,
    Refused,
    Closed,
}

/// One GT06 connection without the connection; see
/// [`Session`](crate::Session) for the call order.
///
/// A login yields [`Output::Identified`]; after `accept(true)` the login
/// ack is the next [`Output::Reply`]. Positions come as
/// [`Output::Records`] whose `ack` is the packet's answer (send after
/// commit); heartbeat and status answers are sent at once
/// ([`Output::Reply`], then the records with an empty ack).
#[derive(Debug)]
pub struct Gt06Session {
    decoder: Decoder,
    max_frame: usize,
    buffer: Vec<u8>,
    /// Bytes of `buffer` already consumed.
    start: usize,
    state: State,
    imei: Option<String>,
    /// The login ack and time zone, owed after `accept(true)`.
    login: Option<(Vec<u8>, Option<i32>)>,
    queue: VecDeque<Output>,
    now: Timestamp,
    /// The input ended (see [`Session::handle_eof`]).
    eof: bool,
}

impl Gt06Session {
    /// A session with the settings of `config`.
    pub fn new(config: &SessionConfig) -> Self {
        Gt06Session {
            decoder: Decoder::default(),
            max_frame: config.max_frame,
            buffer: Vec::new(),
            start: 0,
            state: State::AwaitLogin,
            imei: None,
            login: None,
            queue: VecDeque::new(),
            now: Timestamp::from_millis(0),
            eof: false,
        }
    }

    /// Sets the device model (from the registry or configuration; some
    /// packet layouts depend on it, as Traccar's model override).
    pub fn set_model(&mut self, model: Option<&str>) {
        self.decoder.set_model(model);
    }

    /// Decodes one frame as if it had been framed and its CRC checked, for
    /// replaying upstream vectors whose length or CRC is irregular; the
    /// outputs are polled as usual.
    pub fn decode_unchecked(&mut self, now: Timestamp, frame: &[u8]) {
        self.now = now;
        let out = handle(
            &mut self.decoder,
            &mut Conn {
                state: &mut self.state,
                imei: &mut self.imei,
                login: &mut self.login,
                queue: &mut self.queue,
            },
            frame,
            now,
        );
        if let Some(error) = out {
            self.queue.push_back(Output::Rejected(Box::new(error)));
        }
    }

    fn close(&mut self, error: Error) -> Output {
        self.state = State::Closed;
        self.buffer = Vec::new();
        self.start = 0;
        self.queue.clear();
        Output::Close(Box::new(error))
    }
}

/// The connection state a frame may change.
struct Conn<'a> {
    state: &'a mut State,
    imei: &'a mut Option<String>,
    login: &'a mut Option<(Vec<u8>, Option<i32>)>,
    queue: &'a mut VecDeque<Output>,
}

/// Decodes one framed packet into outputs; returns the error that rejects it.
fn handle(
    decoder: &mut Decoder,
    conn: &mut Conn<'_>,
    frame: &[u8],
    now: Timestamp,
) -> Option<Error> {
    let ty = frame.get(type_offset(frame)).copied().unwrap_or_default();
    if ty != 0x01 && *conn.state != State::Accepted {
        return Some(Error::RecordsBeforeLogin(ty));
    }
    match decoder.decode(frame, now) {
        Err(error) => Some(error),
        Ok(Packet::Login {
            imei,
            timezone,
            ack,
        }) => match (&*conn.imei, *conn.state) {
            (None, _) => {
                *conn.state = State::AwaitAccept;
                *conn.imei = Some(imei.clone());
                *conn.login = Some((ack, timezone));
                conn.queue.push_back(Output::Identified(imei));
                None
            }
            (Some(first), State::Accepted) if *first == imei => {
                if let Some(offset) = timezone {
                    decoder.set_timezone(offset);
                }
                conn.queue.push_back(Output::Reply(ack));
                None
            }
            (Some(first), _) => Some(Error::SecondLogin {
                first: first.clone(),
                second: imei,
            }),
        },
        Ok(Packet::Position {
            position,
            ack,
            ack_now,
        }) => {
            let records = vec![*position];
            if ack_now {
                if !ack.is_empty() {
                    conn.queue.push_back(Output::Reply(ack));
                }
                conn.queue.push_back(Output::Records {
                    records,
                    ack: Vec::new(),
                });
            } else {
                conn.queue.push_back(Output::Records { records, ack });
            }
            None
        }
        Ok(Packet::Answer { reply, notice }) => {
            if !reply.is_empty() {
                conn.queue.push_back(Output::Reply(reply));
            }
            if let Some(text) = notice {
                conn.queue.push_back(Output::Notice(text));
            }
            None
        }
    }
}

impl Session for Gt06Session {
    fn handle_bytes(&mut self, now: Timestamp, bytes: &[u8]) {
        if matches!(self.state, State::Closed | State::Refused) {
            return;
        }
        self.now = now;
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        } else if self.start >= COMPACT_AT {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    fn accept(&mut self, accepted: bool) {
        if self.state != State::AwaitAccept {
            return;
        }
        let login = self.login.take();
        if accepted {
            self.state = State::Accepted;
            if let Some((ack, timezone)) = login {
                if let Some(offset) = timezone {
                    self.decoder.set_timezone(offset);
                }
                self.queue.push_front(Output::Reply(ack));
            }
        } else {
            self.state = State::Refused;
        }
    }

    fn poll(&mut self) -> Option<Output> {
        loop {
            if let Some(output) = self.queue.pop_front() {
                return Some(output);
            }
            match self.state {
                State::Closed | State::AwaitAccept => return None,
                State::Refused => return Some(self.close(Error::ImeiRefused)),
                State::AwaitLogin | State::Accepted => {}
            }
            let pending = self.buffer.get(self.start..).unwrap_or_default();
            let (kind, len) = match next_frame(pending, self.max_frame) {
                // After the end of input, what is left is a cut frame.
                FrameStatus::Incomplete if self.eof && !pending.is_empty() => {
                    let at = pending.len();
                    return Some(self.close(Error::Truncated { at }));
                }
                FrameStatus::Incomplete => return None,
                FrameStatus::Invalid(error) => return Some(self.close(error)),
                FrameStatus::Complete { kind, len } => (kind, len),
            };
            let frame = pending.get(..len).unwrap_or_default();
            let rejected = match kind {
                FrameKind::Standard => check_crc(frame).err(),
                FrameKind::LengthMismatch { declared } => Some(Error::LengthMismatch {
                    declared,
                    actual: len,
                }),
                FrameKind::WifiCount => None,
            };
            let rejected = rejected.or_else(|| {
                handle(
                    &mut self.decoder,
                    &mut Conn {
                        state: &mut self.state,
                        imei: &mut self.imei,
                        login: &mut self.login,
                        queue: &mut self.queue,
                    },
                    frame,
                    self.now,
                )
            });
            if let Some(error) = rejected {
                self.queue.push_back(Output::Rejected(Box::new(error)));
            }
            self.start += len;
        }
    }

    fn assume_identified(&mut self) {
        if self.state == State::AwaitLogin {
            self.state = State::Accepted;
        }
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn unique_id(&self) -> Option<&str> {
        self.imei.as_deref()
    }
}
