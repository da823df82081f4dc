//! Acting on what a session outputs: the part of every loop that is the
//! same for every transport and protocol.

use std::net::SocketAddr;

use trackd_model::DeviceId;
use trackd_protocols::{Output, ProtocolError, ProtocolInfo, Session, Transport};
use trackd_store::StoreError;

use super::eviction::Eviction;
use super::Admission;
use crate::server::Shared;

/// Where a conversation's bytes go: a TCP stream, a UDP peer, an HTTP body.
pub(crate) trait Outbox {
    /// Sends `bytes` to the device.
    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

/// Why a conversation ended; logged once, by the loop.
#[derive(Debug)]
pub(crate) enum End {
    /// The device closed the connection.
    PeerClosed,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// The device did not identify itself within the handshake timeout.
    HandshakeTimeout,
    /// The peer sent more than a handshake needs without identifying.
    TooMuchBeforeIdentification(usize),
    /// Unknown or disabled device.
    Refused(String),
    /// The session gave up on the input.
    Protocol(ProtocolError),
    /// The socket failed.
    Io(std::io::Error),
    /// Records could not be committed (and were not acknowledged).
    Store(StoreError),
    /// The server is shutting down.
    Shutdown,
    /// The device was disabled or deleted while connected.
    Evicted,
}

/// One device conversation as the loops see it.
pub(crate) struct Conversation<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) protocol: &'static ProtocolInfo,
    pub(crate) transport: Transport,
    pub(crate) peer: SocketAddr,
    /// Set once the registry accepted the device.
    pub(crate) device_id: Option<DeviceId>,
    /// Records committed and acknowledged so far.
    pub(crate) committed: usize,
    /// Fires when the accepted device is disabled or deleted.
    eviction: Eviction,
}

impl<'a> Conversation<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        protocol: &'static ProtocolInfo,
        transport: Transport,
        peer: SocketAddr,
    ) -> Self {
        Conversation {
            shared,
            protocol,
            transport,
            peer,
            device_id: None,
            committed: 0,
            eviction: Eviction::default(),
        }
    }

    /// Resolves once the accepted device was disabled or deleted (never
    /// before a device is accepted).
    pub(crate) async fn evicted(&mut self) {
        self.eviction.evicted().await;
    }

    /// Polls `session` until it needs more input, acting on each output in
    /// order. Returns why the conversation must end, if it must.
    pub(crate) async fn drain(
        &mut self,
        session: &mut dyn Session,
        outbox: &mut impl Outbox,
    ) -> Option<End> {
        while let Some(output) = session.poll() {
            if let Some(end) = self.act(session, output, outbox).await {
                return Some(end);
            }
        }
        None
    }

    async fn act(
        &mut self,
        session: &mut dyn Session,
        output: Output,
        outbox: &mut impl Outbox,
    ) -> Option<End> {
        let protocol = self.protocol.name;
        let peer = self.peer;
        match output {
            Output::Identified(unique_id) => {
                let registry = &self.shared.registry;
                let looked_up = if self.transport == Transport::Tcp {
                    registry.admit_watched(&unique_id).await
                } else {
                    registry
                        .admit(&unique_id)
                        .await
                        .map(|a| (a, Eviction::default()))
                };
                let (admission, eviction) = match looked_up {
                    Ok(found) => found,
                    Err(err) => return Some(End::Store(err)),
                };
                match admission {
                    Admission::Accepted(device_id) => {
                        session.accept(true);
                        if self.device_id != Some(device_id) {
                            if let Some(previous) = self.device_id.replace(device_id) {
                                self.shared.device_left(previous, self.transport);
                                let old = std::mem::take(&mut self.eviction);
                                self.shared.registry.evictions.release(previous, old);
                            }
                            self.eviction = eviction;
                            self.shared.device_arrived(device_id, self.transport);
                        }
                        None
                    }
                    Admission::Refused => {
                        session.accept(false);
                        // The session may owe the device a refusal reply.
                        while let Some(output) = session.poll() {
                            if let Output::Reply(bytes) = output {
                                let _ = outbox.send(&bytes).await;
                            }
                        }
                        tracing::warn!(
                            protocol,
                            transport = %self.transport,
                            unique_id,
                            %peer,
                            "unknown or disabled device refused"
                        );
                        Some(End::Refused(unique_id))
                    }
                }
            }
            Output::Records { mut records, ack } => {
                let Some(device_id) = self.device_id else {
                    tracing::warn!(protocol, %peer, "records before identification dropped, not acknowledged");
                    return None;
                };
                let now = self.shared.clock.now();
                for record in &mut records {
                    record.server_time = now;
                    record.protocol = self.protocol.protocol;
                }
                let committed = match self.shared.ingest.commit(device_id, records).await {
                    Ok(committed) => committed,
                    Err(err) => return Some(End::Store(err)),
                };
                self.committed += committed.len();
                if self.transport != Transport::Tcp {
                    self.shared.device_heard(device_id);
                }
                if !ack.is_empty() {
                    if let Err(err) = outbox.send(&ack).await {
                        // Committed but not acknowledged: the device resends
                        // and the store de-duplicates.
                        self.shared.ingest.publish(committed);
                        return Some(End::Io(err));
                    }
                }
                self.shared.ingest.publish(committed);
                None
            }
            Output::Reply(bytes) => outbox.send(&bytes).await.err().map(End::Io),
            Output::Notice(text) => {
                tracing::info!(protocol, unique_id = session.unique_id().unwrap_or("-"), %peer, text, "device notice");
                None
            }
            Output::Rejected(reason) => {
                tracing::warn!(protocol, unique_id = session.unique_id().unwrap_or("-"), %peer, %reason, "frame rejected, not acknowledged");
                None
            }
            Output::Close(reason) => Some(End::Protocol(reason)),
        }
    }

    /// Logs how the conversation ended and releases the device.
    pub(crate) fn finish(self, session: &dyn Session, end: &End) {
        if let Some(device_id) = self.device_id {
            if self.transport == Transport::Tcp {
                self.shared.device_left(device_id, self.transport);
            }
            self.shared
                .registry
                .evictions
                .release(device_id, self.eviction);
        }
        let protocol = self.protocol.name;
        let transport = self.transport.as_str();
        let unique_id = session.unique_id().unwrap_or("-");
        let peer = self.peer;
        match end {
            End::PeerClosed | End::Refused(_) | End::Shutdown => {
                tracing::debug!(protocol, transport, unique_id, %peer, "device connection closed")
            }
            End::Idle => {
                tracing::debug!(protocol, transport, unique_id, %peer, "device idle timeout")
            }
            End::Evicted => {
                tracing::info!(protocol, transport, unique_id, %peer, "device disabled or deleted, connection closed")
            }
            End::HandshakeTimeout => {
                tracing::info!(protocol, transport, %peer, "device did not identify in time, closed")
            }
            End::TooMuchBeforeIdentification(limit) => {
                tracing::info!(protocol, transport, %peer, limit, "device sent more than a handshake without identifying, closed")
            }
            End::Protocol(reason) => {
                tracing::warn!(protocol, transport, unique_id, %peer, %reason, "device connection closed: bad input")
            }
            End::Io(err) => {
                tracing::debug!(protocol, transport, unique_id, %peer, %err, "device i/o error")
            }
            End::Store(err) => {
                tracing::error!(protocol, transport, unique_id, %peer, %err, "records not committed, not acknowledged")
            }
        }
    }
}
