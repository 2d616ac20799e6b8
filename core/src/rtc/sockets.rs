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
//!
//! The wrapped sockets also promise `webrtc`'s driver room for one whole
//! [`MAX_DATAGRAM`]-byte datagram per receive ([`RoomyUdpSocket`]): a connection that never
//! leaves the machine sends datagrams far above the 1500 bytes the driver otherwise sizes its
//! buffers for (see [`super::LOOPBACK_SCTP_MTU`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    Transmit,
};

/// Largest datagram a PeerDrop connection sends: the loopback SCTP packet plus the DTLS
/// record around it (13-byte header, 8-byte explicit nonce, 16-byte AES-GCM tag).
pub const MAX_DATAGRAM: usize = super::LOOPBACK_SCTP_MTU as usize + 37;

/// The per-datagram size `webrtc`'s driver assumes when it sizes a receive buffer from
/// [`AsyncUdpSocket::max_gro_segments`] (`GRO_RECV_SEGMENT_LEN` in the crate).
const DRIVER_SEGMENT_BYTES: usize = 1500;

/// The segment count to report so that the driver's buffer holds one [`MAX_DATAGRAM`].
const SEGMENTS_FOR_MAX_DATAGRAM: usize = MAX_DATAGRAM.div_ceil(DRIVER_SEGMENT_BYTES);

/// A UDP socket that is the runtime's own in every respect but one: it reports at least
/// [`SEGMENTS_FOR_MAX_DATAGRAM`] receive segments. `webrtc` sizes each receive buffer as
/// that count × 1500 bytes, and without UDP GRO (macOS, Linux before 5.0) it would otherwise
/// use 2000-byte buffers and silently truncate a loopback connection's larger datagrams.
/// With GRO the kernel already reports 64, and nothing changes.
#[derive(Debug)]
struct RoomyUdpSocket {
    inner: Arc<dyn AsyncUdpSocket>,
}

impl AsyncUdpSocket for RoomyUdpSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        self.inner.poll_send(cx, transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_recv(cx, bufs, meta)
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.inner.max_gro_segments().max(SEGMENTS_FOR_MAX_DATAGRAM)
    }
}

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
        let inner = self.inner.wrap_udp_socket(socket)?;
        Ok(Arc::new(RoomyUdpSocket { inner }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_receive_buffer_sized_as_the_driver_does_holds_the_largest_datagram() {
        let runtime = BufferedUdpRuntime::new(0).expect("tokio runtime");
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver.set_nonblocking(true).unwrap();
        let to = receiver.local_addr().unwrap();
        let receiver = runtime.wrap_udp_socket(receiver).unwrap();
        // What webrtc's driver allocates per receive (`gro_recv_buf_len`).
        let driver_buffer = receiver.max_gro_segments() * DRIVER_SEGMENT_BYTES;
        assert!(
            driver_buffer >= MAX_DATAGRAM,
            "{driver_buffer} < {MAX_DATAGRAM}"
        );

        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let datagram: Vec<u8> = (0..MAX_DATAGRAM).map(|i| (i % 251) as u8).collect();
        assert_eq!(sender.send_to(&datagram, to).unwrap(), MAX_DATAGRAM);

        let mut buf = vec![0u8; driver_buffer];
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), receiver.recv_from(&mut buf))
            .await
            .expect("datagram arrives")
            .unwrap();
        assert_eq!(from, sender.local_addr().unwrap());
        assert_eq!(&buf[..n], &datagram[..], "whole datagram, not truncated");
    }
}
