//! Settings the server runs with (already merged from file, env and flags
//! by the binary).

use std::net::SocketAddr;
use std::time::Duration;

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Teltonika TCP listen address (Traccar's default port is 5027).
    pub teltonika_tcp: Option<SocketAddr>,
    /// Teltonika UDP listen address.
    pub teltonika_udp: Option<SocketAddr>,
    /// HTTP API listen address (Traccar's default port is 8082).
    pub http: Option<SocketAddr>,
    /// Register devices with unknown ids at the handshake instead of refusing them.
    pub register_unknown: bool,
    /// Close a device connection that sends nothing for this long.
    pub idle_timeout: Duration,
    /// Largest device frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Most simultaneous device connections per listener.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            teltonika_tcp: Some(SocketAddr::from(([0, 0, 0, 0], 5027))),
            teltonika_udp: Some(SocketAddr::from(([0, 0, 0, 0], 5027))),
            http: Some(SocketAddr::from(([0, 0, 0, 0], 8082))),
            register_unknown: false,
            idle_timeout: Duration::from_secs(600),
            max_frame_bytes: 64 * 1024,
            max_connections: 100_000,
        }
    }
}
