//! A minimal RFB 3.8 viewer that counts bytes, for comparing with VNC.
//!
//! It negotiates security type None, keeps the server's pixel format, asks
//! for one encoding (Tight or ZRLE, plus CopyRect and Raw as every viewer
//! does) and then behaves like a viewer refreshing at 60 Hz: an incremental
//! `FramebufferUpdateRequest` for the whole screen every 16 ms, whether or
//! not the last update has finished. Updates are not parsed: a reader thread
//! logs every chunk of bytes with its arrival time. Parsing Tight exactly
//! would only tell us where updates end, which the byte rate does not need.

use super::peers::ByteLog;
use anyhow::{Context, bail};
use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// Interval between update requests: a viewer at 60 Hz.
pub const REQUEST_INTERVAL: Duration = Duration::from_millis(16);

/// The encodings we compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Tight (7), lossless: no JPEG quality pseudo-encoding is sent.
    Tight,
    /// ZRLE (16).
    Zrle,
}

impl Encoding {
    fn code(self) -> i32 {
        match self {
            Self::Tight => 7,
            Self::Zrle => 16,
        }
    }
}

/// A connected viewer; its reader thread stops when this is dropped.
pub struct Viewer {
    stream: TcpStream,
    width: u16,
    height: u16,
    /// Every chunk received after the handshake.
    pub log: ByteLog,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

fn read_exact(s: &mut TcpStream, n: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf)?;
    Ok(buf)
}

fn read_u32(s: &mut TcpStream) -> anyhow::Result<u32> {
    let b = read_exact(s, 4)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads an RFB failure reason (u32 length + text), bounded.
fn read_reason(s: &mut TcpStream) -> anyhow::Result<String> {
    let len = read_u32(s)? as usize;
    if len > 4096 {
        bail!("RFB: reason of {len} bytes");
    }
    Ok(String::from_utf8_lossy(&read_exact(s, len)?).into_owned())
}

impl Viewer {
    /// Connects to 127.0.0.1:`port`, retrying while the server starts (up
    /// to `wait`), and completes the handshake.
    ///
    /// # Errors
    /// Connection failures, a server without security type None, protocol
    /// violations.
    pub fn connect(port: u16, encoding: Encoding, wait: Duration) -> anyhow::Result<Self> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let start = Instant::now();
        let mut stream = loop {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Ok(s) => break s,
                Err(e) if start.elapsed() > wait => {
                    return Err(e).context(format!("RFB: connect to {addr}"));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_nodelay(true)?;
        let (width, height) = handshake(&mut stream, encoding).context("RFB handshake")?;
        let log = ByteLog::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut reader = stream.try_clone()?;
        // A short timeout lets the reader notice `stop` promptly.
        reader.set_read_timeout(Some(Duration::from_millis(100)))?;
        let (rlog, rstop) = (log.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("rfb-reader".into())
            .spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                while !rstop.load(Ordering::Relaxed) {
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => rlog.record(n),
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => break,
                    }
                }
            })?;
        Ok(Self {
            stream,
            width,
            height,
            log,
            stop,
            reader: Some(handle),
        })
    }

    /// Sends one `FramebufferUpdateRequest` for the whole screen.
    ///
    /// # Errors
    /// Socket failures.
    pub fn request(&mut self, incremental: bool) -> anyhow::Result<()> {
        let mut msg = vec![3, u8::from(incremental), 0, 0, 0, 0];
        msg.extend(self.width.to_be_bytes());
        msg.extend(self.height.to_be_bytes());
        self.stream.write_all(&msg)?;
        Ok(())
    }

    /// Requests incremental updates every [`REQUEST_INTERVAL`] until `until`.
    ///
    /// # Errors
    /// Socket failures.
    pub fn pump(&mut self, until: Instant) -> anyhow::Result<()> {
        let mut next = Instant::now();
        while next < until {
            self.request(true)?;
            next += REQUEST_INTERVAL;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next.min(until) - now);
            }
        }
        Ok(())
    }

    /// Fetches the whole screen, then keeps requesting until nothing has
    /// arrived for `quiet` (bounded by `limit`), so that the initial full
    /// update is over before measuring.
    ///
    /// # Errors
    /// Socket failures or no data at all within `limit`.
    pub fn settle(&mut self, quiet: Duration, limit: Duration) -> anyhow::Result<()> {
        self.request(false)?;
        let start = Instant::now();
        while start.elapsed() < limit {
            self.pump(Instant::now() + REQUEST_INTERVAL * 4)?;
            if let Some(last) = self.log.last()
                && last.elapsed() >= quiet
            {
                return Ok(());
            }
        }
        if self.log.last().is_none() {
            bail!("RFB: no framebuffer update within {limit:?}");
        }
        Ok(())
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

/// Version, security None, ClientInit (shared), ServerInit, SetEncodings.
/// Returns the framebuffer size.
fn handshake(s: &mut TcpStream, encoding: Encoding) -> anyhow::Result<(u16, u16)> {
    let version = read_exact(s, 12)?;
    if !version.starts_with(b"RFB 003.") {
        bail!("not an RFB server: {:?}", String::from_utf8_lossy(&version));
    }
    s.write_all(b"RFB 003.008\n")?;
    let n = read_exact(s, 1)?[0];
    if n == 0 {
        bail!("server refused: {}", read_reason(s)?);
    }
    let types = read_exact(s, usize::from(n))?;
    if !types.contains(&1) {
        bail!("server does not offer security type None (offers {types:?})");
    }
    s.write_all(&[1])?;
    if read_u32(s)? != 0 {
        bail!("security failed: {}", read_reason(s)?);
    }
    s.write_all(&[1])?; // ClientInit: shared, like a second viewer would be
    let init = read_exact(s, 24)?;
    let width = u16::from_be_bytes([init[0], init[1]]);
    let height = u16::from_be_bytes([init[2], init[3]]);
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    if name_len > 4096 {
        bail!("desktop name of {name_len} bytes");
    }
    read_exact(s, name_len)?;
    // The server's own pixel format (32 bpp true colour on Xvfb) is kept.
    let encodings = [encoding.code(), 1, 0]; // chosen, CopyRect, Raw
    let mut msg = vec![2, 0];
    msg.extend((encodings.len() as u16).to_be_bytes());
    for e in encodings {
        msg.extend(e.to_be_bytes());
    }
    s.write_all(&msg)?;
    Ok((width, height))
}
