//! The shared-memory segment X11 capture reads through (and the screen
//! benchmark's painter draws through): created by this process with mode
//! 0600 and marked for removal as soon as the X server has attached it, so
//! no other local user can read the screen through it and it cannot leak
//! past our exit.
#![allow(unsafe_code)]

use super::CaptureError;
use super::x11::x11_err;
use x11rb::{
    connection::Connection,
    protocol::shm::{self, ConnectionExt as _},
    rust_connection::RustConnection,
};

/// A System V shared-memory segment attached here and in the X server,
/// mode 0600 and already marked for removal: it lives only as long as both
/// attachments. Capture maps it read-only; a client drawing through
/// `ShmPutImage` (the screen benchmark's painter) maps it writable.
pub struct ShmSegment {
    seg: shm::Seg,
    addr: *mut libc::c_void,
    size: usize,
    writable: bool,
}

// SAFETY: the raw pointer refers to a mapping owned exclusively by this
// value; moving it to another thread is sound.
unsafe impl Send for ShmSegment {}

impl ShmSegment {
    /// Creates a segment of `size` bytes and attaches it here (writable
    /// only if `writable`) and, read-write, in the X server behind `conn`.
    ///
    /// # Errors
    /// [`CaptureError::Shm`] if the kernel refuses the segment, or an X11
    /// error if the server cannot attach it.
    pub fn create(
        conn: &RustConnection,
        size: usize,
        writable: bool,
    ) -> Result<Self, CaptureError> {
        // SAFETY: plain FFI call; IPC_PRIVATE makes a new segment, mode 0600
        // keeps it private to our user.
        let id = unsafe { libc::shmget(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return Err(CaptureError::Shm(
                std::io::Error::last_os_error().to_string(),
            ));
        }
        let flags = if writable { 0 } else { libc::SHM_RDONLY };
        // SAFETY: `id` is a segment we just created; a null address lets the
        // kernel choose where to map it.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        let failed = addr as isize == -1;
        let attach = if failed {
            Err(CaptureError::Shm(
                std::io::Error::last_os_error().to_string(),
            ))
        } else {
            conn.generate_id().map_err(x11_err).and_then(|seg| {
                conn.shm_attach(seg, id as u32, false)
                    .map_err(x11_err)?
                    .check()
                    .map_err(x11_err)?;
                Ok(seg)
            })
        };
        // SAFETY: marks the segment for removal once every attachment is
        // gone; both attachments (ours and the server's) exist or failed.
        unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        match attach {
            Ok(seg) => Ok(Self {
                seg,
                addr,
                size,
                writable,
            }),
            Err(e) => {
                if !failed {
                    // SAFETY: `addr` came from a successful shmat above.
                    unsafe { libc::shmdt(addr) };
                }
                Err(e)
            }
        }
    }

    /// The server's name for the segment, for `ShmGetImage`/`ShmPutImage`.
    #[must_use]
    pub fn seg(&self) -> shm::Seg {
        self.seg
    }

    /// Its size in bytes.
    #[must_use]
    pub fn size(&self) -> usize {
        self.size
    }

    /// The first `len` bytes (at most the segment). The caller reads them
    /// only after the request that wrote them was answered.
    #[must_use]
    pub fn bytes(&self, len: usize) -> &[u8] {
        // SAFETY: the mapping is `size` bytes long and lives as long as
        // `self`; the X server wrote it before answering our request, and
        // no other request is in flight while we read it.
        unsafe { std::slice::from_raw_parts(self.addr as *const u8, len.min(self.size)) }
    }

    /// The first `len` bytes to write, or `None` for a read-only segment.
    /// The caller writes only while no request reading them is pending
    /// (round-trip after each `ShmPutImage`).
    pub fn bytes_mut(&mut self, len: usize) -> Option<&mut [u8]> {
        // SAFETY: as in `bytes`; the mapping is writable, and `&mut self`
        // makes this the only view of it in this process.
        self.writable.then(|| unsafe {
            std::slice::from_raw_parts_mut(self.addr.cast::<u8>(), len.min(self.size))
        })
    }

    /// Detaches the segment from the server and from this process (taking
    /// it, so it cannot be read after).
    pub fn release(self, conn: &RustConnection) {
        let _ = conn.shm_detach(self.seg);
        let _ = conn.flush();
        // SAFETY: `addr` came from a successful shmat and is detached once.
        unsafe { libc::shmdt(self.addr) };
    }
}
