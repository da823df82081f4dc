//! The one TCP loop: accept, then per connection read → session → act.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use trackd_protocols::{ProtocolInfo, Session, Transport};

use super::conversation::{Conversation, End, Outbox};
use crate::server::Shared;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;

/// Accepts connections until the task is dropped; one task per connection,
/// which does the TLS handshake first when `tls` is given.
pub(crate) async fn serve_tcp(
    listener: TcpListener,
    protocol: &'static ProtocolInfo,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
) {
    let permits = Arc::new(Semaphore::new(shared.config.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(protocol = protocol.name, %err, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(protocol = protocol.name, %peer, "tcp connection refused: connection limit reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let active = shared.shutdown.track();
        let tls = tls.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            match tls {
                None => {
                    let (mut reader, mut writer) = stream.into_split();
                    connection(&mut reader, &mut writer, started, peer, protocol, &shared).await;
                }
                Some(tls) => {
                    if let Some(stream) =
                        handshake(&tls, stream, started, peer, protocol, &shared).await
                    {
                        let (mut reader, mut writer) = tokio::io::split(stream);
                        connection(&mut reader, &mut writer, started, peer, protocol, &shared)
                            .await;
                    }
                }
            }
            drop(permit);
            drop(active);
        });
    }
}

/// The TLS handshake of a device connection, within the device handshake
/// timeout (which then also covers the device's identification).
async fn handshake(
    tls: &TlsAcceptor,
    stream: TcpStream,
    started: Instant,
    peer: SocketAddr,
    protocol: &'static ProtocolInfo,
    shared: &Shared,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let deadline = started + shared.config.handshake_timeout;
    let accepted = tokio::select! {
        biased;
        () = shared.shutdown.requested() => return None,
        accepted = tokio::time::timeout_at(deadline, tls.accept(stream)) => accepted,
    };
    match accepted {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(err)) => {
            tracing::debug!(protocol = protocol.name, %peer, %err, "device tls handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(protocol = protocol.name, %peer, "device tls handshake timed out");
            None
        }
    }
}

struct StreamOutbox<'a, W>(&'a mut W);

impl<W: AsyncWrite + Unpin> Outbox for StreamOutbox<'_, W> {
    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes).await
    }
}

async fn connection<R, W>(
    reader: &mut R,
    writer: &mut W,
    started: Instant,
    peer: SocketAddr,
    protocol: &'static ProtocolInfo,
    shared: &Shared,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut session = (protocol.new_session)(Transport::Tcp, &shared.session_config());
    let mut conversation = Conversation::new(shared, protocol, Transport::Tcp, peer);
    let end = frame_loop(
        reader,
        &mut StreamOutbox(writer),
        started,
        session.as_mut(),
        &mut conversation,
        shared,
    )
    .await;
    conversation.finish(session.as_ref(), &end);
}

async fn frame_loop<R, W>(
    reader: &mut R,
    outbox: &mut StreamOutbox<'_, W>,
    started: Instant,
    session: &mut dyn Session,
    conversation: &mut Conversation<'_>,
    shared: &Shared,
) -> End
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = [0u8; READ_CHUNK];
    let idle = shared.config.idle_timeout;
    let handshake = shared.config.handshake_timeout;
    let pre_identification = session.pre_identification_limit();
    let mut unidentified_bytes = 0usize;
    loop {
        // Before identification, read no more than the handshake can need;
        // more from an unidentified peer closes the connection.
        let room = if conversation.device_id.is_none() {
            let room = pre_identification.saturating_sub(unidentified_bytes);
            if room == 0 {
                return End::TooMuchBeforeIdentification(pre_identification);
            }
            room.min(READ_CHUNK)
        } else {
            READ_CHUNK
        };
        // Unidentified connections get the handshake timeout, so idle
        // sockets cannot hold connection slots for the idle timeout.
        let deadline = if conversation.device_id.is_none() {
            started + handshake
        } else {
            Instant::now() + idle
        };
        let wake = session.poll_timeout().map(|at| {
            let wait = at
                .as_millis()
                .saturating_sub(shared.clock.now().as_millis());
            Instant::now() + Duration::from_millis(wait.max(0).unsigned_abs())
        });
        let until = wake.map_or(deadline, |wake| wake.min(deadline));
        // Shutdown is noticed only here, between reads: a commit in flight
        // finishes and is acknowledged first.
        let read = tokio::select! {
            biased;
            () = shared.shutdown.requested() => return End::Shutdown,
            () = conversation.evicted() => return End::Evicted,
            read = tokio::time::timeout_at(until, reader.read(buf.get_mut(..room).unwrap_or_default())) => read,
        };
        let n = match read {
            Err(_) if wake.is_some_and(|wake| wake <= deadline) => {
                session.handle_timeout(shared.clock.now());
                if let Some(end) = conversation.drain(session, outbox).await {
                    return end;
                }
                continue;
            }
            Err(_) if conversation.device_id.is_none() => return End::HandshakeTimeout,
            Err(_) => return End::Idle,
            Ok(Err(err)) => return End::Io(err),
            Ok(Ok(0)) => return End::PeerClosed,
            Ok(Ok(n)) => n,
        };
        if conversation.device_id.is_none() {
            unidentified_bytes += n;
        }
        session.handle_bytes(shared.clock.now(), buf.get(..n).unwrap_or_default());
        if let Some(end) = conversation.drain(session, outbox).await {
            return end;
        }
    }
}
