//! Binding TCP listeners with a deep accept queue.
//!
//! A fleet reconnecting after an outage (or a server restart) arrives all at
//! once: 6,000 simultaneous connects overflowed the 1,024-entry queue that
//! `TcpListener::bind` asks for, and the kernel dropped the rest's SYNs
//! (they retried after a second or more). The kernel caps the asked depth
//! at `net.core.somaxconn` (4,096 by default since Linux 5.4).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// The accept queue depth asked of the kernel.
const BACKLOG: u32 = 8_192;

/// A listener on `addr` (port 0: any free port) with [`BACKLOG`].
pub(crate) fn tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind`: a restart must not wait out TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    /// The accept queue holds what arrives while nothing accepts: after
    /// a burst of 2,000 connects to a listener that accepted none, all
    /// 2,000 are ready to accept at once (with a 1,024 queue only 1,025
    /// are; the kernel drops the rest's handshakes and they retry later).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_connects_fits_the_accept_queue() {
        const BURST: usize = 2_000;
        let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        if somaxconn < BURST + 1 {
            eprintln!("skipped: net.core.somaxconn is {somaxconn}, below {BURST}");
            return;
        }
        let soft = crate::fd_limit::raise_fd_limit().unwrap_or(0);
        if soft < (2 * BURST + 200) as u64 {
            eprintln!("skipped: open files limit {soft}");
            return;
        }
        let listener = super::tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // The client side completes as soon as the SYN-ACK arrives, queued
        // or not (a SYN beyond a full queue is dropped and its connect
        // waits): what counts is the server's queue below.
        let connects: Vec<_> = (0..BURST)
            .map(|_| {
                tokio::spawn(tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::net::TcpStream::connect(addr),
                ))
            })
            .collect();
        let mut clients = Vec::with_capacity(BURST);
        for connect in connects {
            if let Ok(Ok(Ok(stream))) = connect.await {
                clients.push(stream);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut ready = 0;
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(100), listener.accept()).await
        {
            ready += 1;
            if ready == BURST {
                break;
            }
        }
        assert_eq!(
            ready, BURST,
            "only {ready} of {BURST} connections were queued for accept"
        );
    }
}
