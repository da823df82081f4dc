//! Starting and stopping the listeners and the HTTP API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use trackd_model::{DeviceId, Position, StoredPosition};
use trackd_store::{Store, StoreError};

use crate::api::dto::PositionDto;
use crate::api::objects::DeviceDto;
use crate::api::objects::DeviceState;
use crate::auth::{BasicCache, LoginLimiter};
use crate::listener::{serve_teltonika_tcp, serve_teltonika_udp, Registry};
use crate::live::{LiveBus, LiveKind};
use crate::ServerConfig;

/// State shared by every listener and API handler.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) store: Store,
    pub(crate) registry: Registry,
    pub(crate) logins: LoginLimiter,
    pub(crate) basic: BasicCache,
    pub(crate) live: LiveBus,
    /// For tasks spawned from `&self` methods.
    myself: std::sync::Weak<Shared>,
    /// Open device connections per device.
    online: Mutex<HashMap<DeviceId, u32>>,
}

/// A device counts as online this long after its last UDP report.
const UDP_ONLINE_MS: i64 = 5 * 60 * 1000;

impl Shared {
    /// Commits a device's records; when this returns Ok the device may be
    /// acknowledged. Returns the ids assigned to the records, in order (see
    /// [`Store::append_positions`]), and publishes the committed positions
    /// to the live bus when anyone listens.
    pub(crate) async fn ingest(
        &self,
        device_id: DeviceId,
        records: Vec<Position>,
    ) -> Result<Vec<i64>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // Copy the records only for a listener; the store consumes them.
        let live = self.live.has_subscribers().then(|| records.clone());
        let ids = self.store.append_positions(device_id, records).await?;
        if let Some(records) = live {
            let mut items = String::new();
            for (&id, position) in ids.iter().zip(records) {
                let stored = StoredPosition {
                    id,
                    device_id,
                    position,
                };
                if !items.is_empty() {
                    items.push(',');
                }
                if let Ok(json) = serde_json::to_string(&PositionDto::stored(&stored)) {
                    items.push_str(&json);
                }
            }
            self.live.publish(device_id, LiveKind::Positions, items);
        }
        Ok(ids)
    }

    /// Notes a device connection opening or closing.
    pub(crate) fn set_connected(&self, device_id: DeviceId, connected: bool) {
        let Ok(mut online) = self.online.lock() else {
            return;
        };
        let count = online.entry(device_id).or_insert(0);
        let changed = if connected {
            *count += 1;
            *count == 1
        } else {
            *count = count.saturating_sub(1);
            let last = *count == 0;
            if last {
                online.remove(&device_id);
            }
            last
        };
        drop(online);
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
        if let Ok(items) = serde_json::to_string(&DeviceDto::new(&device, state)) {
            self.live.publish(device_id, LiveKind::Devices, items);
        }
    }

    /// Status, last update and latest position of a device.
    pub(crate) async fn device_state(
        &self,
        device_id: DeviceId,
    ) -> Result<DeviceState, StoreError> {
        let latest = self.store.latest_position(device_id).await?;
        let connected = self
            .online
            .lock()
            .map(|online| online.contains_key(&device_id))
            .unwrap_or(false);
        let last_update = latest.as_ref().map(|p| p.position.server_time);
        let recent = last_update
            .is_some_and(|t| crate::listener::now_millis() - t.as_millis() < UDP_ONLINE_MS);
        Ok(DeviceState {
            online: connected || recent,
            last_update,
            position_id: latest.map(|p| p.id),
        })
    }
}

/// A configured server, not yet listening.
pub struct Server {
    shared: Arc<Shared>,
}

/// A listening server; dropping it does not stop it, [`RunningServer::shutdown`] does.
pub struct RunningServer {
    /// Bound Teltonika TCP address, if enabled.
    pub teltonika_tcp: Option<SocketAddr>,
    /// Bound Teltonika UDP address, if enabled.
    pub teltonika_udp: Option<SocketAddr>,
    /// Bound HTTP address, if enabled.
    pub http: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Server {
    /// A server over `store` with `config`.
    pub fn new(config: ServerConfig, store: Store) -> Self {
        let registry = Registry::new(store.clone(), config.register_unknown);
        Server {
            shared: Arc::new_cyclic(|myself| Shared {
                myself: myself.clone(),
                config,
                store,
                registry,
                logins: LoginLimiter::default(),
                basic: BasicCache::default(),
                live: LiveBus::default(),
                online: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Binds every configured socket and starts serving.
    pub async fn start(self) -> std::io::Result<RunningServer> {
        let shared = self.shared;
        let mut tasks = Vec::new();
        let mut running = RunningServer {
            teltonika_tcp: None,
            teltonika_udp: None,
            http: None,
            tasks: Vec::new(),
            shared: shared.clone(),
        };
        if let Some(addr) = shared.config.teltonika_tcp {
            let listener = TcpListener::bind(addr).await?;
            running.teltonika_tcp = Some(listener.local_addr()?);
            tasks.push(tokio::spawn(serve_teltonika_tcp(listener, shared.clone())));
        }
        if let Some(mut addr) = shared.config.teltonika_udp {
            // Port 0 for UDP follows the TCP port, so tests get one port for both.
            if addr.port() == 0 {
                if let Some(tcp) = running.teltonika_tcp {
                    addr.set_port(tcp.port());
                }
            }
            let socket = UdpSocket::bind(addr).await?;
            running.teltonika_udp = Some(socket.local_addr()?);
            tasks.push(tokio::spawn(serve_teltonika_udp(socket, shared.clone())));
        }
        if let Some(addr) = shared.config.http {
            let listener = TcpListener::bind(addr).await?;
            running.http = Some(listener.local_addr()?);
            let router = crate::api::router(shared.clone());
            tasks.push(tokio::spawn(async move {
                let service = router.into_make_service_with_connect_info::<SocketAddr>();
                if let Err(err) = axum::serve(listener, service).await {
                    tracing::error!(%err, "http server stopped");
                }
            }));
        }
        running.tasks = tasks;
        Ok(running)
    }
}

impl RunningServer {
    /// Stops accepting, drops open connections, and closes the store so
    /// every committed record is flushed into its final layout.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
        self.shared.store.close().await
    }

    /// The store the server writes to.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }
}
