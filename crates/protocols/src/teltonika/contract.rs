//! Teltonika behind the one [`Session`] contract: TCP connections through
//! [`TcpSession`], UDP datagrams through [`decode_udp`].

use trackd_model::Timestamp;

use super::session::{TcpEvent, TcpSession};
use super::udp::decode_udp;
use super::DecodeOptions;
use crate::session::{Output, ProtocolInfo, Session, SessionConfig, Transport, Unsupported};

/// The registration of Teltonika (Traccar's port 5027, TCP and UDP).
pub const PROTOCOL: ProtocolInfo = ProtocolInfo {
    name: "teltonika",
    protocol: trackd_model::Protocol::Teltonika,
    transports: &[Transport::Tcp, Transport::Udp],
    default_port: 5027,
    new_session,
};

fn new_session(transport: Transport, config: &SessionConfig) -> Box<dyn Session> {
    let options = DecodeOptions {
        raw_io: config.raw_io,
    };
    match transport {
        Transport::Tcp => Box::new(TeltonikaTcp {
            inner: TcpSession::with_max_frame(options, config.max_frame),
            reply: None,
            eof: false,
        }),
        Transport::Udp => Box::new(TeltonikaUdp {
            options,
            state: UdpState::Empty,
            imei: None,
        }),
        Transport::Http => Box::new(Unsupported::new("teltonika does not speak http")),
    }
}

/// One TCP connection.
struct TeltonikaTcp {
    inner: TcpSession,
    /// The handshake verdict byte, owed after `accept`.
    reply: Option<Vec<u8>>,
    /// The input ended (see [`Session::handle_eof`]).
    eof: bool,
}

impl Session for TeltonikaTcp {
    fn handle_bytes(&mut self, _now: Timestamp, bytes: &[u8]) {
        self.inner.handle_bytes(bytes);
    }

    fn accept(&mut self, accepted: bool) {
        self.reply = Some(self.inner.accept_imei(accepted).to_vec());
    }

    fn assume_identified(&mut self) {
        self.inner.assume_identified();
    }

    fn pre_identification_limit(&self) -> usize {
        // The IMEI frame: a length word and the IMEI.
        2 + super::frame::MAX_IMEI_LEN
    }

    fn handle_eof(&mut self) {
        self.eof = true;
    }

    fn poll(&mut self) -> Option<Output> {
        if let Some(reply) = self.reply.take() {
            return Some(Output::Reply(reply));
        }
        loop {
            let Some(event) = self.inner.poll_event() else {
                // After the end of input, what is left is a cut frame.
                if std::mem::take(&mut self.eof) {
                    return self
                        .inner
                        .leftover_error()
                        .map(|error| Output::Close(Box::new(error)));
                }
                return None;
            };
            let output = match event {
                TcpEvent::Imei(imei) => Output::Identified(imei),
                TcpEvent::Records { records, ack } => Output::Records {
                    records,
                    ack: ack.reply().to_vec(),
                },
                // The keepalive needs no answer and says nothing.
                TcpEvent::Ping => continue,
                TcpEvent::CommandResponse(response) => {
                    Output::Notice(format!("command response: {}", response.text))
                }
                TcpEvent::Rejected(error) => Output::Rejected(Box::new(error)),
                TcpEvent::Close(error) => Output::Close(Box::new(error)),
            };
            return Some(output);
        }
    }

    fn unique_id(&self) -> Option<&str> {
        self.inner.imei()
    }
}

/// One UDP datagram: it names its IMEI and carries one AVL payload.
struct TeltonikaUdp {
    options: DecodeOptions,
    state: UdpState,
    imei: Option<String>,
}

enum UdpState {
    Empty,
    /// Decoded; the IMEI is to be reported.
    Decoded(Output),
    /// The IMEI was reported; waits for `accept`.
    AwaitAccept(Output),
    /// Accepted; the records are next.
    Ready(Output),
    Done,
}

impl Session for TeltonikaUdp {
    fn handle_bytes(&mut self, _now: Timestamp, bytes: &[u8]) {
        if !matches!(self.state, UdpState::Empty) {
            return;
        }
        match decode_udp(bytes, &self.options) {
            Ok(packet) => {
                self.imei = Some(packet.imei);
                self.state = UdpState::Decoded(Output::Records {
                    records: packet.records,
                    ack: packet.ack.reply(),
                });
            }
            Err(error) => self.state = UdpState::Ready(Output::Rejected(Box::new(error))),
        }
    }

    fn accept(&mut self, accepted: bool) {
        let state = std::mem::replace(&mut self.state, UdpState::Done);
        self.state = match state {
            UdpState::AwaitAccept(records) if accepted => UdpState::Ready(records),
            // A refused device gets no ack; there is no connection to close.
            UdpState::AwaitAccept(_) => UdpState::Done,
            other => other,
        };
    }

    fn poll(&mut self) -> Option<Output> {
        match std::mem::replace(&mut self.state, UdpState::Done) {
            UdpState::Decoded(records) => {
                let imei = self.imei.clone().unwrap_or_default();
                self.state = UdpState::AwaitAccept(records);
                Some(Output::Identified(imei))
            }
            UdpState::Ready(output) => Some(output),
            other => {
                self.state = other;
                None
            }
        }
    }

    fn unique_id(&self) -> Option<&str> {
        self.imei.as_deref()
    }
}
