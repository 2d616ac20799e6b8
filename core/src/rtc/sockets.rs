//! A `webrtc` runtime that is tokio's in every respect but one: the UDP sockets it wraps get
//! large kernel buffers.
//!
//! Why: SCTP in `rtc-sctp` has no pacing, so a sender sends whatever its congestion and
//! receive windows allow in one burst (megabytes). The kernel's default UDP receive buffer
//! (≈ 208 KiB on Linux) overflows under such a burst even on loopback; every datagram dropped
//! there is an SCTP loss — fast retransmit halves the congestion window, and a lost
//! retransmission waits for the T3-rtx timer (1 s minimum in `rtc-sctp`). Big socket buffers
//! absorb the bursts instead. The kernel caps the request at `net.core.rmem_max` /
//! `wmem_max`; asking for more is harmless.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
};

/// Tokio's runtime with larger UDP socket buffers (see the module docs).
#[derive(Debug)]
pub struct BufferedUdpRuntime {
    inner: Arc<dyn Runtime>,
    /// Requested `SO_RCVBUF` / `SO_SNDBUF`, bytes (0 leaves the system default).
    socket_buffer: usize,
}

impl BufferedUdpRuntime {
    /// Wraps the crate's default (tokio) runtime; `None` if the crate was built without one.
    pub fn new(socket_buffer: usize) -> Option<Self> {
        Some(Self {
            inner: webrtc::runtime::default_runtime()?,
            socket_buffer,
        })
    }
}

impl Runtime for BufferedUdpRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        if self.socket_buffer > 0 {
            let sock = socket2::SockRef::from(&socket);
            // Best effort: a smaller buffer is slower, not wrong.
            if let Err(e) = sock.set_recv_buffer_size(self.socket_buffer) {
                tracing::debug!("cannot enlarge UDP receive buffer: {e}");
            }
            if let Err(e) = sock.set_send_buffer_size(self.socket_buffer) {
                tracing::debug!("cannot enlarge UDP send buffer: {e}");
            }
            tracing::debug!(
                recv = sock.recv_buffer_size().unwrap_or(0),
                send = sock.send_buffer_size().unwrap_or(0),
                "UDP socket buffers"
            );
        }
        self.inner.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio (large UDP buffers)"
    }
}
