//! Teltonika over TCP: handshake, frame loop and acker for one connection.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use trackd_model::{DeviceId, Timestamp};
use trackd_protocols::teltonika::{DecodeOptions, TcpEvent, TcpSession};

use super::registry::Admission;
use crate::server::Shared;

/// Accepts connections until the task is dropped; one task per connection.
pub(crate) async fn serve_teltonika_tcp(listener: TcpListener, shared: Arc<Shared>) {
    let permits = Arc::new(Semaphore::new(shared.config.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(%err, "teltonika tcp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "teltonika tcp connection refused: connection limit reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut connection = Connection {
                stream,
                peer,
                shared,
                device_id: None,
            };
            connection.run().await;
            drop(permit);
        });
    }
}

struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    device_id: Option<DeviceId>,
}

/// Why a connection ended; logged once at the end.
enum End {
    PeerClosed,
    Idle,
    Refused,
    Protocol(String),
    Io(std::io::Error),
    Store(String),
}

impl Connection {
    async fn run(&mut self) {
        let mut session = TcpSession::with_max_frame(
            DecodeOptions::default(),
            self.shared.config.max_frame_bytes,
        );
        let end = self.frame_loop(&mut session).await;
        if let Some(device_id) = self.device_id {
            self.shared.set_connected(device_id, false);
        }
        let imei = session.imei().unwrap_or("-");
        let peer = self.peer;
        match end {
            End::PeerClosed | End::Refused => tracing::debug!(imei, %peer, "teltonika tcp closed"),
            End::Idle => tracing::debug!(imei, %peer, "teltonika tcp idle timeout"),
            End::Protocol(reason) => {
                tracing::warn!(imei, %peer, %reason, "teltonika tcp connection closed: bad input")
            }
            End::Io(err) => tracing::debug!(imei, %peer, %err, "teltonika tcp i/o error"),
            End::Store(reason) => {
                tracing::error!(imei, %peer, %reason, "teltonika tcp closed: records not committed, not acknowledged")
            }
        }
    }

    async fn frame_loop(&mut self, session: &mut TcpSession) -> End {
        let mut buf = [0u8; 4096];
        let idle = self.shared.config.idle_timeout;
        loop {
            let n = match tokio::time::timeout(idle, self.stream.read(&mut buf)).await {
                Err(_) => return End::Idle,
                Ok(Err(err)) => return End::Io(err),
                Ok(Ok(0)) => return End::PeerClosed,
                Ok(Ok(n)) => n,
            };
            session.handle_bytes(&buf[..n]);
            while let Some(event) = session.poll_event() {
                if let Some(end) = self.handle_event(session, event).await {
                    return end;
                }
            }
        }
    }

    async fn handle_event(&mut self, session: &mut TcpSession, event: TcpEvent) -> Option<End> {
        match event {
            TcpEvent::Imei(imei) => {
                let admission = match self.shared.registry.admit(&imei).await {
                    Ok(admission) => admission,
                    Err(err) => return Some(End::Store(err.to_string())),
                };
                let accepted = matches!(admission, Admission::Accepted(_));
                let reply = session.accept_imei(accepted);
                if let Err(err) = self.stream.write_all(&reply).await {
                    return Some(End::Io(err));
                }
                match admission {
                    Admission::Accepted(id) => {
                        if self.device_id.is_none() {
                            self.shared.set_connected(id, true);
                        }
                        self.device_id = Some(id);
                        None
                    }
                    Admission::Refused => {
                        tracing::warn!(imei, peer = %self.peer, "teltonika: unknown or disabled device refused");
                        Some(End::Refused)
                    }
                }
            }
            TcpEvent::Records { mut records, ack } => {
                let Some(device_id) = self.device_id else {
                    return Some(End::Protocol("records before an accepted handshake".into()));
                };
                let now = Timestamp::from_millis(super::now_millis());
                for record in &mut records {
                    record.server_time = now;
                }
                if let Err(err) = self.shared.ingest(device_id, records).await {
                    return Some(End::Store(err.to_string()));
                }
                match self.stream.write_all(&ack.reply()).await {
                    Ok(()) => None,
                    Err(err) => Some(End::Io(err)),
                }
            }
            TcpEvent::Ping => None,
            TcpEvent::CommandResponse(response) => {
                tracing::info!(imei = session.imei().unwrap_or("-"), response = %response.text, "teltonika command response");
                None
            }
            TcpEvent::Rejected(reason) => {
                tracing::warn!(imei = session.imei().unwrap_or("-"), peer = %self.peer, %reason, "teltonika frame rejected, not acknowledged");
                None
            }
            TcpEvent::Close(reason) => Some(End::Protocol(reason.to_string())),
        }
    }
}
