//! Graceful shutdown: stop accepting, let every connection finish the
//! commit and ack in flight, then close.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

/// Shared by the server and every connection task.
pub(crate) struct Shutdown {
    requested: watch::Sender<bool>,
    active: Arc<Gauge>,
}

#[derive(Default)]
struct Gauge {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by a connection task while it runs.
pub(crate) struct Active(Arc<Gauge>);

impl Drop for Active {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            requested: watch::Sender::new(false),
            active: Arc::default(),
        }
    }
}

impl Shutdown {
    /// Counts a running connection until the returned guard drops.
    pub(crate) fn track(&self) -> Active {
        self.active.count.fetch_add(1, Ordering::AcqRel);
        Active(self.active.clone())
    }

    /// Resolves once shutdown was requested.
    pub(crate) async fn requested(&self) {
        let mut receiver = self.requested.subscribe();
        let _ = receiver.wait_for(|requested| *requested).await;
    }

    /// Asks every connection to stop and waits up to `grace` for them.
    /// Returns how many were still running when the grace ran out.
    pub(crate) async fn request_and_wait(&self, grace: Duration) -> usize {
        self.requested.send_replace(true);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let idle = self.active.idle.notified();
            let running = self.active.count.load(Ordering::Acquire);
            if running == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.active.count.load(Ordering::Acquire);
            }
        }
    }
}
