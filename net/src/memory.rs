//! Allocator policy for the binaries. Screen frames are megabytes that are
//! allocated and freed dozens of times a second; glibc's defaults hand such
//! blocks back to the kernel when they are freed (`munmap`, heap trim) and
//! the next frame faults them back in, zeroed, page by page: about a sixth
//! of the encoder's time on full-screen video. Keeping freed memory for
//! reuse costs at most the peak the process already reached.

// The one call is FFI into the C library's allocator.
#![allow(unsafe_code)]

/// Blocks below this come from the heap, not their own mapping (glibc's
/// largest threshold on 64-bit).
pub const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the top of a heap is returned above this.
pub const TRIM_THRESHOLD: i32 = 256 << 20;

/// Keeps freed blocks of up to [`MMAP_THRESHOLD`] for reuse instead of
/// returning them to the kernel. Call first thing in `main`. A no-op where
/// the C library is not glibc; returns whether both settings took.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes two allocator tunables; glibc takes
        // the arena lock itself, so any thread may call it at any time.
        let set = |param, value| unsafe { libc::mallopt(param, value) } == 1;
        set(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) & set(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_both_settings() {
        assert!(super::keep_freed_memory());
    }
}
