//! GT06 behind the one [`Session`] contract.

use super::session::Gt06Session;
use crate::session::{ProtocolInfo, Session, SessionConfig, Transport, Unsupported};

/// The registration of GT06 (Traccar's port 5023, TCP only).
pub const PROTOCOL: ProtocolInfo = ProtocolInfo {
    name: "gt06",
    protocol: trackd_model::Protocol::Gt06,
    transports: &[Transport::Tcp],
    default_port: 5023,
    new_session,
};

fn new_session(transport: Transport, config: &SessionConfig) -> Box<dyn Session> {
    match transport {
        Transport::Tcp => Box::new(Gt06Session::new(config)),
        Transport::Udp | Transport::Http => Box::new(Unsupported::new("gt06 speaks tcp only")),
    }
}
