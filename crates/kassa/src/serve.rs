//! The HTTP listener's accept loop, with the limits an internet-facing server needs: at most
//! `max_connections` open at once, a connection that sends nothing closed after `idle_timeout`
//! (a new one, or a kept-alive one between requests), a request head that started arriving
//! but is not complete after `header_read_timeout` closed too (slow-header attacks), and a
//! graceful stop that lets requests in flight finish.
//!
//! hyper serves each connection (HTTP/1.1 and HTTP/2); a watchdog beside it sees the bytes the
//! socket read and the requests in flight, and drops the connection when a limit passes while
//! no request is being handled.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Connection limits (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// How long a stop waits for requests in flight.
    pub drain_timeout: Duration,
}

/// What the watchdog knows about one connection.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    state: Mutex<IdleState>,
}

#[derive(Debug, Clone, Copy)]
struct IdleState {
    /// When the connection last had no request in flight (accepted, or a response done).
    idle_since: Instant,
    /// The first byte read since then: a request head is on its way.
    first_byte: Option<Instant>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            state: Mutex::new(IdleState {
                idle_since: Instant::now(),
                first_byte: None,
            }),
        }
    }

    fn read_some(&self) {
        if let Ok(mut s) = self.state.lock() {
            if s.first_byte.is_none() {
                s.first_byte = Some(Instant::now());
            }
        }
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Ok(mut s) = self.state.lock() {
                *s = IdleState {
                    idle_since: Instant::now(),
                    first_byte: None,
                };
            }
        }
    }

    /// Whether the connection has outstayed its welcome: idle with nothing read for
    /// `idle_timeout`, or a head started `header_read_timeout` ago and still incomplete.
    fn expired(&self, limits: &ConnLimits, now: Instant) -> bool {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return false;
        }
        let Ok(s) = self.state.lock() else {
            return false;
        };
        match s.first_byte {
            Some(first) => now.duration_since(first) >= limits.header_read_timeout,
            None => now.duration_since(s.idle_since) >= limits.idle_timeout,
        }
    }
}

/// Decrements the in-flight count when a request's handling ends, however it ends.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A socket that tells its [`Activity`] when bytes arrive.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        res
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets requests in flight finish (up to
/// `drain_timeout`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let tracker = TaskTracker::new();
    let tick = (limits.idle_timeout.min(limits.header_read_timeout) / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a
                    // little instead of spinning, and keep serving the others.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            serve_one(stream, peer, router, limits, tick, shutdown).await;
            drop(permit);
        });
    }
    tracker.close();
    if tokio::time::timeout(limits.drain_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("stopping with requests still in flight after the drain timeout");
    }
    Ok(())
}

async fn serve_one(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnLimits,
    tick: Duration,
    shutdown: CancellationToken,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let svc_activity = activity.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            svc_activity.request_started();
            let guard = InFlight(svc_activity.clone());
            req.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let resp = router.oneshot(req.map(axum::body::Body::new)).await;
                drop(guard);
                resp
            }
        });
    let builder = Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopping = false;
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.cancelled(), if !stopping => {
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
            _ = ticker.tick() => {
                if activity.expired(&limits, Instant::now()) {
                    tracing::debug!(%peer, "closing an idle or slow connection");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnLimits {
        ConnLimits {
            header_read_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(5),
            max_connections: 4,
            drain_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn an_idle_connection_expires_after_the_idle_timeout() {
        let a = Activity::new();
        let start = a.state.lock().unwrap().idle_since;
        assert!(!a.expired(&limits(), start + Duration::from_secs(4)));
        assert!(a.expired(&limits(), start + Duration::from_secs(5)));
    }

    #[test]
    fn a_started_head_must_complete_within_the_header_timeout() {
        let a = Activity::new();
        a.read_some();
        let first = a.state.lock().unwrap().first_byte.unwrap();
        assert!(!a.expired(&limits(), first + Duration::from_millis(1900)));
        assert!(a.expired(&limits(), first + Duration::from_secs(2)));
    }

    #[test]
    fn a_request_in_flight_never_expires_and_its_end_restarts_the_idle_clock() {
        let a = Activity::new();
        a.read_some();
        a.request_started();
        let later = Instant::now() + Duration::from_secs(60);
        assert!(!a.expired(&limits(), later));
        a.request_finished();
        let s = *a.state.lock().unwrap();
        assert!(s.first_byte.is_none());
        assert!(!a.expired(&limits(), s.idle_since + Duration::from_secs(4)));
    }
}
