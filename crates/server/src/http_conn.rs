//! Serving HTTP connections with a connection cap, a header-read timeout
//! and an idle keep-alive timeout (the API and HTTP ingest listeners).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::server::Shared;

/// How one HTTP listener treats its connections.
#[derive(Clone, Debug)]
pub(crate) struct HttpLimits {
    /// Most open connections; more are answered 503 and closed at once.
    pub(crate) max_connections: usize,
    /// A request's header (or a new connection's first one) must arrive
    /// within this long.
    pub(crate) header_timeout: Duration,
    /// A keep-alive connection with no request in flight closes after
    /// this long without traffic.
    pub(crate) idle_timeout: Duration,
}

/// Connections refused because the cap was reached.
#[derive(Debug, Default)]
pub(crate) struct HttpCounters {
    /// Connections refused by the cap since start.
    pub(crate) refused: AtomicU64,
}

/// Accepts on `listener` and serves `router` until shutdown; over TLS
/// when `tls` is given.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    counters: Arc<HttpCounters>,
    shared: Arc<Shared>,
    name: &'static str,
    tls: Option<TlsAcceptor>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            biased;
            () = shared.shutdown.requested() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(listener = name, %err, "http accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // A TLS client could not read a plain answer: it is just closed.
            if tls.is_none() {
                refuse(&stream);
            }
            let refused = counters.refused.fetch_add(1, Ordering::Relaxed) + 1;
            // One line for the first refusal and then one per 1,024.
            if refused % 1024 == 1 {
                tracing::warn!(
                    listener = name,
                    max = limits.max_connections,
                    refused,
                    "http connection refused: connection limit reached"
                );
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let limits = limits.clone();
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(connection(
            stream, peer, permit, router, limits, shared, tls,
        ));
    }
}

/// Best effort, never waits: the peer learns why before the close.
fn refuse(stream: &TcpStream) {
    let _ = stream.try_write(
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
}

/// What the watchdog of one connection reads.
#[derive(Debug)]
struct Activity {
    state: Mutex<ActivityState>,
    /// A request head started or a request finished: the watchdog's
    /// deadline moved.
    changed: Notify,
    in_flight: AtomicUsize,
}

#[derive(Debug)]
struct ActivityState {
    last: Instant,
    /// When the bytes of a request head began (or the connection opened)
    /// with no request yet being served.
    head_since: Option<Instant>,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Activity {
            state: Mutex::new(ActivityState {
                last: now,
                head_since: Some(now),
            }),
            changed: Notify::new(),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read(&self) {
        let now = Instant::now();
        let idle = self.in_flight.load(Ordering::Acquire) == 0;
        let mut state = self.lock();
        state.last = now;
        if idle && state.head_since.is_none() {
            state.head_since = Some(now);
            drop(state);
            self.changed.notify_one();
        }
    }

    fn wrote(&self) {
        self.lock().last = Instant::now();
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.lock().head_since = None;
    }

    fn request_done(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.lock().last = Instant::now();
        self.changed.notify_one();
    }

    /// When the connection is to be closed if nothing changes; `None`
    /// while a request is being served.
    fn deadline(&self, limits: &HttpLimits) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let state = self.lock();
        Some(match state.head_since {
            Some(since) => since + limits.header_timeout,
            None => state.last + limits.idle_timeout,
        })
    }
}

/// A socket that reports its traffic and holds its connection slot until
/// dropped (also after a WebSocket upgrade took it over).
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
    _permit: OwnedSemaphorePermit,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request as in flight until its response is produced.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.request_started();
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    router: Router,
    limits: HttpLimits,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
) {
    // Made before the handshake: the first header's deadline counts from
    // the connection's start, handshake included.
    let activity = Arc::new(Activity::new());
    let Some(tls) = tls else {
        let io = Watched {
            inner: stream,
            activity: activity.clone(),
            _permit: permit,
        };
        return serve_io(io, peer, router, limits, shared, activity).await;
    };
    let deadline = activity.deadline(&limits);
    let handshake = async {
        match deadline {
            Some(at) => tokio::time::timeout_at(at, tls.accept(stream)).await.ok(),
            None => Some(tls.accept(stream).await),
        }
    };
    let stream = tokio::select! {
        () = shared.shutdown.requested() => return,
        handshake = handshake => match handshake {
            Some(Ok(stream)) => stream,
            Some(Err(err)) => {
                tracing::debug!(%peer, %err, "tls handshake failed");
                return;
            }
            None => {
                tracing::debug!(%peer, "tls handshake timed out");
                return;
            }
        },
    };
    let io = Watched {
        inner: stream,
        activity: activity.clone(),
        _permit: permit,
    };
    serve_io(io, peer, router, limits, shared, activity).await;
}

/// Serves HTTP/1.1 (with upgrades) on one connection under its watchdog.
async fn serve_io<S>(
    io: Watched<S>,
    peer: SocketAddr,
    router: Router,
    limits: HttpLimits,
    shared: Arc<Shared>,
    activity: Arc<Activity>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let service_activity = activity.clone();
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let guard = InFlight::new(&service_activity);
            let mut router = router.clone();
            async move {
                let response = router.call(request.map(axum::body::Body::new)).await;
                drop(guard);
                response
            }
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Header timing is the watchdog's (it also covers the gap between
    // keep-alive requests differently from a new connection).
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let deadline = activity.deadline(&limits);
        let wait = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                // A request is being served: look again when it is done.
                None => tokio::time::sleep(limits.idle_timeout.min(limits.header_timeout)).await,
            }
        };
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(err) = served {
                    tracing::debug!(%peer, %err, "http connection ended");
                }
                return;
            }
            () = shared.shutdown.requested(), if !stopping => {
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = activity.changed.notified() => {}
            () = wait => {
                if activity.deadline(&limits).is_some_and(|at| at <= Instant::now()) {
                    tracing::debug!(%peer, "http connection timed out");
                    return;
                }
            }
        }
    }
}
