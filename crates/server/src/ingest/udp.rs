//! The one UDP loop: one session per datagram, answered to its sender
//! after its records are committed.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use trackd_protocols::{ProtocolInfo, Transport};

use super::conversation::{Conversation, Outbox};
use crate::server::Shared;

/// Datagrams being committed at once; past this the socket is not read
/// (the kernel buffer absorbs bursts, then drops: devices resend).
const MAX_IN_FLIGHT: usize = 4096;
/// A UDP datagram cannot be larger.
const MAX_DATAGRAM: usize = 65_536;

/// Receives datagrams until shutdown.
pub(crate) async fn serve_udp(
    socket: UdpSocket,
    protocol: &'static ProtocolInfo,
    shared: Arc<Shared>,
) {
    let socket = Arc::new(socket);
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let received = tokio::select! {
            biased;
            () = shared.shutdown.requested() => return,
            received = socket.recv_from(&mut buf) => received,
        };
        let (n, peer) = match received {
            Ok(received) => received,
            Err(err) => {
                tracing::debug!(protocol = protocol.name, %err, "udp receive failed");
                continue;
            }
        };
        let datagram = buf.get(..n).unwrap_or_default().to_vec();
        let socket = socket.clone();
        let shared = shared.clone();
        let active = shared.shutdown.track();
        tokio::spawn(async move {
            datagram_conversation(&socket, peer, &datagram, protocol, &shared).await;
            drop(permit);
            drop(active);
        });
    }
}

struct DatagramOutbox<'a> {
    socket: &'a UdpSocket,
    peer: SocketAddr,
}

impl Outbox for DatagramOutbox<'_> {
    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.socket.send_to(bytes, self.peer).await.map(|_| ())
    }
}

async fn datagram_conversation(
    socket: &UdpSocket,
    peer: SocketAddr,
    datagram: &[u8],
    protocol: &'static ProtocolInfo,
    shared: &Shared,
) {
    let mut session = (protocol.new_session)(Transport::Udp, &shared.session_config());
    let mut conversation = Conversation::new(shared, protocol, Transport::Udp, peer);
    session.handle_bytes(shared.clock.now(), datagram);
    let mut outbox = DatagramOutbox { socket, peer };
    if let Some(end) = conversation.drain(session.as_mut(), &mut outbox).await {
        conversation.finish(session.as_ref(), &end);
    }
}
