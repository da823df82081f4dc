//! Background WAL checkpoints, off the writer thread.
//!
//! Copying the WAL into the database file (and its fsync) would otherwise
//! run inside a group commit every few thousand pages and delay every ACK
//! waiting on it. A PASSIVE checkpoint from this thread's own connection
//! runs alongside the writer without blocking it.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

const INTERVAL: Duration = Duration::from_millis(500);

/// Stops (and joins) the checkpoint thread when dropped.
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(path: &Path) -> Checkpointer {
        let (stop, stopped) = mpsc::channel::<()>();
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("trackd-sqlite-checkpoint".into())
            .spawn(move || {
                let conn = match Connection::open(&path) {
                    Ok(conn) => conn,
                    Err(error) => {
                        tracing::error!(%error, "checkpointer cannot open the database");
                        return;
                    }
                };
                let _ = conn.busy_timeout(Duration::from_secs(1));
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    if let Err(error) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(%error, "wal checkpoint failed");
                    }
                }
            });
        match thread {
            Ok(thread) => Checkpointer {
                stop: Some(stop),
                thread: Some(thread),
            },
            Err(error) => {
                tracing::error!(%error, "cannot start the checkpointer; the writer's autocheckpoint remains");
                Checkpointer {
                    stop: None,
                    thread: None,
                }
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
