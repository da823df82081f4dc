//! Starting and stopping the listeners and the HTTP API; the state they share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trackd_model::{Clock, DeviceId, SystemClock, Timestamp};
use trackd_protocols::{SessionConfig, Transport};
use trackd_store::{Store, StoreError};

use crate::access::Access;
use crate::api::objects::DeviceState;
use crate::auth::{BasicCache, HashPool, HashingStats, LoginLimiter};
use crate::http_conn::{HttpCounters, HttpLimits};
use crate::ingest::{
    serve_http, serve_tcp, serve_udp, Identity, Ingest, Plausibility, Presence, Registry,
};
use crate::live::{LiveBus, LiveUpdate};
use crate::shutdown::Shutdown;
use crate::tls::{Tls, TlsError};
use crate::ServerConfig;

/// State shared by every listener and API handler.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) store: Store,
    pub(crate) access: Access,
    pub(crate) registry: Registry,
    pub(crate) ingest: Ingest<Identity>,
    pub(crate) presence: Presence,
    pub(crate) logins: LoginLimiter,
    /// The only place passwords are hashed or verified.
    pub(crate) hashing: HashPool,
    pub(crate) basic: BasicCache,
    pub(crate) live: LiveBus,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) shutdown: Shutdown,
    /// Bumped after every change that may change what someone may see
    /// (links, users, devices, groups, sessions, tokens); live connections
    /// re-check their caller when it moves.
    pub(crate) access_epoch: watch::Sender<u64>,
    /// Live sockets held per user.
    pub(crate) sockets: crate::api::socket_slots::SocketSlots,
    /// Connections the HTTP listeners refused at their cap.
    pub(crate) http_counters: Arc<HttpCounters>,
    /// For tasks spawned from `&self` methods.
    myself: std::sync::Weak<Shared>,
}

impl Shared {
    /// The settings every device session starts with.
    pub(crate) fn session_config(&self) -> SessionConfig {
        SessionConfig {
            max_frame: self.config.max_frame_bytes,
            raw_io: false,
        }
    }

    /// The current time.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Tells live connections that permissions may have changed.
    pub(crate) fn access_changed(&self) {
        self.access_epoch.send_modify(|epoch| *epoch += 1);
    }

    /// A device identified itself on a connection or in a datagram/request.
    pub(crate) fn device_arrived(&self, device_id: DeviceId, transport: Transport) {
        let changed = match transport {
            Transport::Tcp => self.presence.connected(device_id, self.now()),
            Transport::Udp | Transport::Http => self.presence.heard(device_id, self.now()),
        };
        self.status_changed(changed, device_id);
    }

    /// A device's connection closed.
    pub(crate) fn device_left(&self, device_id: DeviceId, transport: Transport) {
        if transport == Transport::Tcp {
            let changed = self.presence.disconnected(device_id, self.now());
            self.status_changed(changed, device_id);
        }
    }

    /// A connectionless device reported.
    pub(crate) fn device_heard(&self, device_id: DeviceId) {
        let changed = self.presence.heard(device_id, self.now());
        self.status_changed(changed, device_id);
    }

    fn status_changed(&self, changed: bool, device_id: DeviceId) {
        if changed && self.live.has_subscribers() {
            if let Some(shared) = self.myself.upgrade() {
                tokio::spawn(async move { shared.publish_device(device_id).await });
            }
        }
    }

    /// Publishes a device's current state as `{"devices":[...]}`.
    pub(crate) async fn publish_device(&self, device_id: DeviceId) {
        let Ok(Some(device)) = self.store.device(device_id).await else {
            return;
        };
        let Ok(state) = self.device_state(device_id).await else {
            return;
        };
        self.live.publish(LiveUpdate::Device {
            device: Box::new(device),
            state,
        });
    }

    /// Status, last update and latest position of a device.
    pub(crate) async fn device_state(
        &self,
        device_id: DeviceId,
    ) -> Result<DeviceState, StoreError> {
        let latest = self.access.latest_reference(device_id).await?;
        Ok(DeviceState {
            status: self.presence.status(device_id, self.now()).as_str(),
            last_update: latest.map(|(time, _)| time),
            position_id: latest.map(|(_, id)| id),
        })
    }

    /// [`Self::device_state`] of many devices with one store read.
    pub(crate) async fn device_states(
        &self,
        device_ids: &[DeviceId],
    ) -> Result<Vec<DeviceState>, StoreError> {
        let now = self.now();
        let latest = self.access.latest_references(device_ids).await?;
        Ok(device_ids
            .iter()
            .zip(latest)
            .map(|(device_id, latest)| DeviceState {
                status: self.presence.status(*device_id, now).as_str(),
                last_update: latest.map(|(time, _)| time),
                position_id: latest.map(|(_, id)| id),
            })
            .collect())
    }

    /// Deletes expired sessions and API tokens now and then every
    /// `credential_purge_interval` (they are refused once expired; this
    /// only keeps the tables from growing).
    async fn purge_credentials(self: Arc<Self>) {
        let period = self
            .config
            .credential_purge_interval
            .max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.store.purge_expired_credentials(self.now()).await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "expired sessions and tokens deleted"),
                Err(err) => tracing::warn!(%err, "deleting expired sessions and tokens"),
            }
        }
    }

    /// Turns connectionless devices whose status timeout passed `unknown`.
    async fn sweep_presence(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            for device_id in self.presence.sweep(self.now()) {
                if self.live.has_subscribers() {
                    self.publish_device(device_id).await;
                }
            }
        }
    }
}

/// A configured server, not yet listening.
pub struct Server {
    shared: Arc<Shared>,
}

/// A device listener as bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundListener {
    /// Protocol name.
    pub protocol: &'static str,
    /// Transport.
    pub transport: Transport,
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Speaks TLS.
    pub tls: bool,
}

/// A listening server; dropping it does not stop it, [`RunningServer::shutdown`] does.
pub struct RunningServer {
    /// Bound device listeners.
    pub listeners: Vec<BoundListener>,
    /// Bound HTTP API address, if enabled.
    pub http: Option<SocketAddr>,
    /// Bound plain-HTTP redirect address, if enabled.
    pub http_redirect: Option<SocketAddr>,
    accept_tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    tls: Option<Arc<Tls>>,
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener names a protocol that is not registered.
    #[error("unknown protocol {0:?}")]
    UnknownProtocol(String),
    /// A listener asks for a transport its protocol does not speak.
    #[error("{protocol} does not speak {transport}")]
    WrongTransport {
        /// The protocol.
        protocol: String,
        /// The transport asked for.
        transport: Transport,
    },
    /// A socket could not be bound.
    #[error("cannot listen for {what} on {addr}: {}", bind_reason(source))]
    Bind {
        /// The listener, e.g. `teltonika tcp` or `the HTTP API`.
        what: String,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A listener asks for TLS but no certificate is configured.
    #[error("listener {0} has tls on but no certificate is configured (tls_cert, tls_key)")]
    TlsWithoutCertificate(String),
    /// A datagram listener asks for TLS.
    #[error("listener {0}: TLS over UDP is not supported")]
    TlsOverUdp(String),
    /// A redirect port without HTTPS to redirect to.
    #[error("http_redirect needs HTTPS (tls_cert and tls_key)")]
    RedirectWithoutTls,
}

/// The bind error in the words a user looks for ("address in use"),
/// without the OS's error number.
fn bind_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            "address in use (another program, or another trackd, listens there)".to_owned()
        }
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_owned()
        }
        std::io::ErrorKind::AddrNotAvailable => "address not available on this host".to_owned(),
        _ => error.to_string(),
    }
}

impl Server {
    /// A server over `store` with `config`, on the system clock.
    pub fn new(config: ServerConfig, store: Store) -> Self {
        Server::with_clock(config, store, Arc::new(SystemClock))
    }

    /// A server whose notion of "now" comes from `clock` (tests).
    pub fn with_clock(config: ServerConfig, store: Store, clock: Arc<dyn Clock>) -> Self {
        let registry = Registry::new(store.clone(), config.register_unknown);
        let live = LiveBus::default();
        let status_ms = i64::try_from(config.status_timeout.as_millis()).unwrap_or(i64::MAX);
        let logins = LoginLimiter::new(config.login_concurrency_per_address);
        let hashing = HashPool::new(
            config.login_workers,
            config.login_queue,
            config.login_queue_timeout,
        );
        let sockets = crate::api::socket_slots::SocketSlots::new(config.websocket_max_per_user);
        Server {
            shared: Arc::new_cyclic(|myself| Shared {
                myself: myself.clone(),
                access: Access::new(store.clone()),
                ingest: Ingest::new(
                    store.clone(),
                    live.clone(),
                    Identity,
                    Plausibility::new(config.future_fix_limit, config.max_speed_knots),
                ),
                presence: Presence::new(status_ms),
                config,
                store,
                registry,
                logins,
                hashing,
                basic: BasicCache::default(),
                live,
                clock,
                shutdown: Shutdown::default(),
                access_epoch: watch::Sender::new(0),
                http_counters: Arc::default(),
                sockets,
            }),
        }
    }

    /// Binds every configured socket and starts serving.
    pub async fn start(self) -> Result<RunningServer, StartError> {
        let shared = self.shared;
        // Every TLS mistake is found before anything is bound.
        for listener in shared.config.listeners.iter().filter(|l| l.tls) {
            if listener.transport == Transport::Udp {
                return Err(StartError::TlsOverUdp(listener.to_string()));
            }
            if shared.config.tls.is_none() {
                return Err(StartError::TlsWithoutCertificate(listener.to_string()));
            }
        }
        if shared.config.http_redirect.is_some() && shared.config.tls.is_none() {
            return Err(StartError::RedirectWithoutTls);
        }
        let tls = match &shared.config.tls {
            Some(files) => Some(Arc::new(Tls::load(files)?)),
            None => None,
        };
        let mut running = RunningServer {
            listeners: Vec::new(),
            http: None,
            http_redirect: None,
            accept_tasks: Vec::new(),
            shared: shared.clone(),
            tls: tls.clone(),
        };
        let device_tls = |listener: &crate::ListenerConfig| {
            tls.as_ref()
                .filter(|_| listener.tls)
                .map(|tls| match listener.transport {
                    Transport::Http => tls.http_acceptor(),
                    Transport::Tcp | Transport::Udp => tls.device_acceptor(),
                })
        };
        // TCP first, so a UDP listener on port 0 can take its TCP port.
        let mut listeners = shared.config.listeners.clone();
        listeners.sort_by_key(|l| l.transport != Transport::Tcp);
        for listener in listeners {
            let protocol = trackd_protocols::protocol(&listener.protocol)
                .ok_or_else(|| StartError::UnknownProtocol(listener.protocol.clone()))?;
            if !protocol.speaks(listener.transport) {
                return Err(StartError::WrongTransport {
                    protocol: listener.protocol,
                    transport: listener.transport,
                });
            }
            let mut addr = listener.addr;
            if listener.transport == Transport::Udp && addr.port() == 0 {
                if let Some(tcp) = running.listener(protocol.name, Transport::Tcp) {
                    addr.set_port(tcp.port());
                }
            }
            let acceptor = device_tls(&listener);
            let asked = addr;
            let what = format!("{} {}", protocol.name, listener.transport);
            let bind = |source| StartError::Bind {
                what: what.clone(),
                addr: asked,
                source,
            };
            let task = match listener.transport {
                Transport::Tcp | Transport::Http => {
                    let socket = crate::listen::tcp(addr).map_err(&bind)?;
                    addr = socket.local_addr().map_err(&bind)?;
                    if listener.transport == Transport::Tcp {
                        tokio::spawn(serve_tcp(socket, protocol, shared.clone(), acceptor))
                    } else {
                        tokio::spawn(serve_http(socket, protocol, shared.clone(), acceptor))
                    }
                }
                Transport::Udp => {
                    let socket = UdpSocket::bind(addr).await.map_err(&bind)?;
                    addr = socket.local_addr().map_err(&bind)?;
                    tokio::spawn(serve_udp(socket, protocol, shared.clone()))
                }
            };
            running.accept_tasks.push(task);
            running.listeners.push(BoundListener {
                protocol: protocol.name,
                transport: listener.transport,
                addr,
                tls: listener.tls,
            });
        }
        if let Some(addr) = shared.config.http {
            let bind = |source| StartError::Bind {
                what: "the HTTP API".to_owned(),
                addr,
                source,
            };
            let listener = crate::listen::tcp(addr).map_err(bind)?;
            let bound = listener.local_addr().map_err(bind)?;
            running.http = Some(bound);
            let router = crate::api::router(shared.clone());
            let limits = HttpLimits {
                max_connections: shared.config.http_max_connections,
                header_timeout: shared.config.http_header_timeout,
                idle_timeout: shared.config.http_idle_timeout,
            };
            running
                .accept_tasks
                .push(tokio::spawn(crate::http_conn::serve(
                    listener,
                    router,
                    limits.clone(),
                    shared.http_counters.clone(),
                    shared.clone(),
                    "api",
                    tls.as_ref().map(|tls| tls.http_acceptor()),
                )));
            if let Some(addr) = shared.config.http_redirect {
                let bind = |source| StartError::Bind {
                    what: "the HTTPS redirect port".to_owned(),
                    addr,
                    source,
                };
                let listener = crate::listen::tcp(addr).map_err(bind)?;
                running.http_redirect = Some(listener.local_addr().map_err(bind)?);
                running
                    .accept_tasks
                    .push(tokio::spawn(crate::http_conn::serve(
                        listener,
                        crate::tls::redirect_router(bound.port()),
                        limits,
                        shared.http_counters.clone(),
                        shared.clone(),
                        "redirect",
                        None,
                    )));
            }
        }
        running
            .accept_tasks
            .push(tokio::spawn(shared.clone().sweep_presence()));
        running
            .accept_tasks
            .push(tokio::spawn(shared.clone().purge_credentials()));
        Ok(running)
    }
}

impl RunningServer {
    /// The bound address of `protocol`'s plain listener on `transport`.
    pub fn listener(&self, protocol: &str, transport: Transport) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.protocol == protocol && l.transport == transport && !l.tls)
            .map(|l| l.addr)
    }

    /// The bound address of `protocol`'s TLS listener on `transport`.
    pub fn tls_listener(&self, protocol: &str, transport: Transport) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.protocol == protocol && l.transport == transport && l.tls)
            .map(|l| l.addr)
    }

    /// Reads the certificate and key files again; new TLS handshakes get
    /// the new certificate, open connections are untouched. On error the
    /// old certificate stays in force. Without TLS there is nothing to do.
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        match &self.tls {
            Some(tls) => tls.reload(),
            None => Ok(()),
        }
    }

    /// Whether the server speaks TLS (HTTPS API, TLS listeners).
    pub fn has_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Stops accepting, lets every connection finish the commit and ack it
    /// is in (up to the configured grace), closes the connections, and
    /// closes the store so every committed record is flushed into its
    /// final layout.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        let grace = self.shared.config.shutdown_grace;
        let left = self.shared.shutdown.request_and_wait(grace).await;
        if left > 0 {
            tracing::warn!(connections = left, "shutdown grace over; closing the rest");
        }
        for task in &self.accept_tasks {
            task.abort();
        }
        for task in self.accept_tasks {
            let _ = task.await;
        }
        self.shared.store.close().await
    }

    /// The store the server writes to.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// HTTP connections refused because a listener's cap was reached.
    pub fn http_refused(&self) -> u64 {
        self.shared
            .http_counters
            .refused
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counters of the password hashing pool (tests, diagnostics).
    pub fn hashing_stats(&self) -> HashingStats {
        self.shared.hashing.stats()
    }
}
