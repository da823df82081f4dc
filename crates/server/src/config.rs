//! Settings the server runs with (already merged from file, env and flags
//! by the binary).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use trackd_protocols::{Transport, PROTOCOLS};

/// One device listener: a protocol on a transport and address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Traccar's protocol name (`teltonika`, `gt06`, `osmand`).
    pub protocol: String,
    /// `tcp`, `udp` or `http`.
    pub transport: Transport,
    /// Where to listen. Port 0 picks a free port; a UDP listener on port 0
    /// takes the port its protocol's TCP listener got.
    pub addr: SocketAddr,
    /// Speak TLS on this (stream) listener, with the server's certificate.
    pub tls: bool,
}

impl std::fmt::Display for ListenerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.protocol, self.transport, self.addr)?;
        if self.tls {
            f.write_str(" (tls)")?;
        }
        Ok(())
    }
}

/// The PEM files of the server's certificate chain and private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The private key of the leaf certificate (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl ListenerConfig {
    /// Every registered protocol on every transport it speaks, at its
    /// default port, on `ip`.
    pub fn defaults(ip: std::net::IpAddr) -> Vec<ListenerConfig> {
        PROTOCOLS
            .iter()
            .flat_map(|info| {
                info.transports
                    .iter()
                    .map(move |&transport| ListenerConfig {
                        protocol: info.name.to_owned(),
                        transport,
                        addr: SocketAddr::new(ip, info.default_port),
                        tls: false,
                    })
            })
            .collect()
    }
}

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Device listeners.
    pub listeners: Vec<ListenerConfig>,
    /// HTTP API listen address (Traccar's default port is 8082).
    pub http: Option<SocketAddr>,
    /// Certificate and key: with them the HTTP API is HTTPS and listeners
    /// marked `tls` speak TLS.
    pub tls: Option<TlsFiles>,
    /// A plain HTTP port that only redirects to the HTTPS API (needs `tls`).
    pub http_redirect: Option<SocketAddr>,
    /// Register devices with unknown ids at the handshake instead of refusing them.
    pub register_unknown: bool,
    /// Close a device connection that sends nothing for this long.
    pub idle_timeout: Duration,
    /// Close a connection whose device has not identified itself by then.
    pub handshake_timeout: Duration,
    /// A connectionless (UDP, HTTP) device turns `unknown` this long after
    /// its last report.
    pub status_timeout: Duration,
    /// Largest device frame (or HTTP ingest body) accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Most simultaneous device connections per listener.
    pub max_connections: usize,
    /// Most simultaneous HTTP API connections (WebSockets included);
    /// more are answered 503 and closed at once.
    pub http_max_connections: usize,
    /// An HTTP request's header must arrive within this long (from the
    /// connection's start or the request's first byte).
    pub http_header_timeout: Duration,
    /// An HTTP keep-alive connection with no request closes after this
    /// long without traffic.
    pub http_idle_timeout: Duration,
    /// A fix dated further than this past its arrival is marked invalid
    /// (`invalidReason`) and never becomes the latest position.
    pub future_fix_limit: Duration,
    /// A fix faster than this many knots is marked invalid the same way.
    pub max_speed_knots: f64,
    /// Most `/api/socket` connections one user may hold; more get 429.
    pub websocket_max_per_user: usize,
    /// Most positions one API answer (positions, route) may hold; larger
    /// ranges are refused with 400 before anything is loaded.
    pub max_read_positions: usize,
    /// Most events one API answer (the events report) may hold; larger
    /// ranges are refused with 400 before anything is loaded.
    pub max_read_events: usize,
    /// How long shutdown waits for connections to finish what they are doing.
    pub shutdown_grace: Duration,
    /// Threads that hash and verify passwords (each uses ~19 MiB while it
    /// does); logins beyond them wait in the queue.
    pub login_workers: usize,
    /// Logins that may wait for a hashing thread; beyond them a login is
    /// answered 503 with `Retry-After` at once.
    pub login_queue: usize,
    /// A login that waited this long for a hashing thread is answered 503.
    pub login_queue_timeout: Duration,
    /// Logins from one client address being checked at once; more are
    /// answered 429 with `Retry-After`.
    pub login_concurrency_per_address: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client address
    /// (for login throttling); an empty list trusts no header.
    pub trusted_proxies: Vec<IpNet>,
    /// Lifetime of an API token created without an expiration; `None`:
    /// such tokens never expire.
    pub token_default_lifetime: Option<Duration>,
    /// How often expired sessions and API tokens are deleted.
    pub credential_purge_interval: Duration,
}

/// The number of cores, the default number of password hashing threads.
pub fn default_login_workers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listeners: ListenerConfig::defaults([0, 0, 0, 0].into()),
            http: Some(SocketAddr::from(([0, 0, 0, 0], 8082))),
            tls: None,
            http_redirect: None,
            register_unknown: false,
            idle_timeout: Duration::from_secs(600),
            handshake_timeout: Duration::from_secs(30),
            status_timeout: Duration::from_secs(600),
            max_frame_bytes: 64 * 1024,
            max_connections: 100_000,
            http_max_connections: 4096,
            http_header_timeout: Duration::from_secs(10),
            http_idle_timeout: Duration::from_secs(60),
            future_fix_limit: Duration::from_secs(24 * 3600),
            max_speed_knots: 1000.0,
            websocket_max_per_user: 128,
            max_read_positions: 500_000,
            max_read_events: 500_000,
            shutdown_grace: Duration::from_secs(8),
            login_workers: default_login_workers(),
            login_queue: 32,
            login_queue_timeout: Duration::from_secs(2),
            login_concurrency_per_address: 8,
            trusted_proxies: Vec::new(),
            token_default_lifetime: Some(Duration::from_secs(365 * 24 * 3600)),
            credential_purge_interval: Duration::from_secs(3600),
        }
    }
}

impl ServerConfig {
    /// No listeners at all, HTTP API included (tests add what they need).
    pub fn none() -> Self {
        ServerConfig {
            listeners: Vec::new(),
            http: None,
            ..ServerConfig::default()
        }
    }

    /// Adds a listener for `protocol` over `transport` at `addr`.
    pub fn listen(mut self, protocol: &str, transport: Transport, addr: SocketAddr) -> Self {
        self.listeners.push(ListenerConfig {
            protocol: protocol.to_owned(),
            transport,
            addr,
            tls: false,
        });
        self
    }

    /// Adds a TLS listener for `protocol` over `transport` at `addr`.
    pub fn listen_tls(mut self, protocol: &str, transport: Transport, addr: SocketAddr) -> Self {
        self.listeners.push(ListenerConfig {
            protocol: protocol.to_owned(),
            transport,
            addr,
            tls: true,
        });
        self
    }
}
