//! Teltonika over UDP: every datagram carries the IMEI and is acknowledged
//! on its own, after its records are committed.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use trackd_model::Timestamp;
use trackd_protocols::teltonika::{decode_udp, DecodeOptions, UdpPacket};

use super::registry::Admission;
use crate::server::Shared;

/// Datagrams being committed at once; past this the socket is not read
/// (the kernel buffer absorbs bursts, then drops: devices resend).
const MAX_IN_FLIGHT: usize = 4096;
/// A UDP datagram cannot be larger.
const MAX_DATAGRAM: usize = 65_536;

/// Receives datagrams until the task is dropped.
pub(crate) async fn serve_teltonika_udp(socket: UdpSocket, shared: Arc<Shared>) {
    let socket = Arc::new(socket);
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) => {
                tracing::debug!(%err, "teltonika udp receive failed");
                continue;
            }
        };
        let packet = match decode_udp(&buf[..n], &DecodeOptions::default()) {
            Ok(packet) => packet,
            Err(reason) => {
                tracing::warn!(%peer, %reason, "teltonika udp datagram rejected, not acknowledged");
                continue;
            }
        };
        let socket = socket.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            handle_packet(&socket, peer, packet, &shared).await;
            drop(permit);
        });
    }
}

async fn handle_packet(socket: &UdpSocket, peer: SocketAddr, packet: UdpPacket, shared: &Shared) {
    let UdpPacket {
        imei,
        mut records,
        ack,
    } = packet;
    let device_id = match shared.registry.admit(&imei).await {
        Ok(Admission::Accepted(id)) => id,
        Ok(Admission::Refused) => {
            tracing::warn!(imei, %peer, "teltonika udp: unknown or disabled device refused");
            return;
        }
        Err(err) => {
            tracing::error!(imei, %peer, %err, "teltonika udp: device lookup failed");
            return;
        }
    };
    let now = Timestamp::from_millis(super::now_millis());
    for record in &mut records {
        record.server_time = now;
    }
    if let Err(err) = shared.ingest(device_id, records).await {
        tracing::error!(imei, %peer, %err, "teltonika udp: records not committed, not acknowledged");
        return;
    }
    if let Err(err) = socket.send_to(&ack.reply(), peer).await {
        tracing::debug!(imei, %peer, %err, "teltonika udp: reply not sent");
    }
}
