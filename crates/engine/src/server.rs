//! The accept loop, with the limits a server facing the internet without a proxy needs.
//! `axum::serve` sets none: a client that sends half a header, or a body one byte at a
//! time, holds its socket for ever, and 300 of them exhausted the file descriptors.
//!
//! - **Header read timeout** ([`ConnectionLimits::header_read_timeout`]): a request header
//!   not complete within it closes the connection. hyper starts this timer as soon as a
//!   connection is idle, so it also ends kept-alive connections that send no new request.
//! - **Body rate floor** ([`ConnectionLimits::body_min_bytes_per_sec`]): past a grace
//!   period, a body that arrives slower than the floor fails its request.
//! - **Connection cap** ([`ConnectionLimits::max_connections`]): beyond it a new connection
//!   gets `503` with `Retry-After` and is closed, so those already served keep working.
//!
//! Each connection's peer address reaches handlers as axum's `ConnectInfo<SocketAddr>`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::Request;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The limits every connection is served under.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// A request header must be complete within this (and an idle connection sends one).
    pub header_read_timeout: Duration,
    /// Bytes per second a request body must keep up after `body_rate_grace`; 0 = no floor.
    pub body_min_bytes_per_sec: u64,
    /// How long a body may take before the rate floor applies to it.
    pub body_rate_grace: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// The immediate answer past the connection cap.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 62\r\n\r\n\
{\"message\":\"the server has too many connections; retry later\"}";

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then waits for the
/// connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut last_busy_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if last_busy_log.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                last_busy_log = Some(Instant::now());
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection cap reached; new connections get 503"
                );
            }
            let _ = stream.try_write(BUSY);
            crate::metrics::engine().refused_connections.inc();
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (floor, grace) = (limits.body_min_bytes_per_sec, limits.body_rate_grace);
        let service = app
            .clone()
            .map_request(move |req: Request<hyper::body::Incoming>| {
                let (mut parts, body) = req.into_parts();
                parts.extensions.insert(ConnectInfo(peer));
                let body = if floor > 0 {
                    Body::new(MinRate::new(body, floor, grace))
                } else {
                    Body::new(body)
                };
                Request::from_parts(parts, body)
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        let open = crate::metrics::engine().open_connections.clone();
        open.inc();
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
            open.dec();
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A request body that fails once it falls behind `floor` bytes per second (after `grace`),
/// so a client trickling bytes cannot hold a request for ever.
struct MinRate<B> {
    inner: B,
    floor: u64,
    grace: Duration,
    started: tokio::time::Instant,
    received: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<B> MinRate<B> {
    fn new(inner: B, floor: u64, grace: Duration) -> Self {
        let started = tokio::time::Instant::now();
        Self {
            inner,
            floor,
            grace,
            started,
            received: 0,
            deadline: Box::pin(tokio::time::sleep_until(started + grace)),
        }
    }

    /// When the bytes received so far stop covering the time taken.
    fn next_deadline(&self) -> tokio::time::Instant {
        let earned = Duration::from_secs_f64(self.received as f64 / self.floor as f64);
        self.started + self.grace + earned
    }
}

impl<B> http_body::Body for MinRate<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                    let next = self.next_deadline();
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                    "the request body arrived slower than {} bytes per second",
                    self.floor
                )
                .into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The peer address type handlers extract.
pub type Peer = ConnectInfo<SocketAddr>;
