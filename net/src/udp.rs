//! The UDP sockets QUIC runs on, with room for bursts.
//!
//! A screen frame of megabytes leaves as a burst of datagrams faster than a
//! busy receiver drains them. With Linux's default 208 KiB socket buffer a
//! 4 MB burst on loopback lost about one datagram in twelve; every loss
//! halves the congestion window and, for datagrams grown by MTU discovery,
//! can pass for a black hole and shrink them back to 1200 bytes. So both
//! buffers ask for [`SOCKET_BUFFER`]; the kernel grants at most its
//! `net.core.rmem_max` / `wmem_max`, which is fine: bigger is only better.

use std::net::{SocketAddr, UdpSocket};

/// Bytes asked for each socket's send and receive buffer: two 1080p
/// frames of exact video.
pub const SOCKET_BUFFER: usize = 8 << 20;

/// Binds a UDP socket on `addr` with send and receive buffers as large as
/// the kernel allows up to [`SOCKET_BUFFER`].
///
/// # Errors
/// The address cannot be bound. A buffer the kernel refuses to grow is
/// not an error: the socket keeps what it got (see [`short_buffers`]).
pub fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(addr)?;
    let sock = socket2::SockRef::from(&socket);
    let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
    tracing::debug!(
        recv = ?sock.recv_buffer_size(),
        send = ?sock.send_buffer_size(),
        "UDP socket buffers on {addr}"
    );
    Ok(socket)
}

/// The receive and send buffer sizes of `socket` if the kernel granted
/// less than [`SOCKET_BUFFER`] (its `net.core.rmem_max` / `wmem_max` cap
/// them; Linux reports twice what it granted). For a long-running server
/// to warn about: bursts of screen frames may then lose datagrams.
#[must_use]
pub fn short_buffers(socket: &UdpSocket) -> Option<(usize, usize)> {
    let sock = socket2::SockRef::from(socket);
    let recv = sock.recv_buffer_size().unwrap_or(0);
    let send = sock.send_buffer_size().unwrap_or(0);
    (recv < SOCKET_BUFFER || send < SOCKET_BUFFER).then_some((recv, send))
}
