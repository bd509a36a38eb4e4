//! Allocator policy for the agent and the console, which encode and decode
//! screen frames: megabytes allocated and freed dozens of times a second.
//! glibc's defaults hand such blocks back to the kernel when they are freed
//! (`munmap`, heap trim) and the next frame faults them back in, zeroed,
//! page by page: about a sixth of the encoder's time on full-screen video.
//! Keeping freed memory for reuse costs at most the peak the process
//! already reached.

// The one call is FFI into the C library's allocator.
#![allow(unsafe_code)]

/// Blocks below this come from the heap, not their own mapping (glibc's
/// largest threshold on 64-bit).
pub const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the top of a heap is returned above this.
pub const TRIM_THRESHOLD: i32 = 256 << 20;

/// Keeps freed blocks of up to [`MMAP_THRESHOLD`] for reuse instead of
/// returning them to the kernel. glibc's `mallopt` is only safe while the
/// process has one thread, so this does nothing (and returns `false`) once
/// a second thread exists: call it first thing in `main`, before a runtime
/// starts. Also `false` where the C library is not glibc. `true` when both
/// settings took.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    {
        if !single_threaded() {
            return false;
        }
        // SAFETY: mallopt changes two allocator tunables; glibc documents it
        // as safe only during initialisation ("MT-Unsafe init"), which
        // `single_threaded` just established: no other thread exists, and
        // only this one could start one.
        let set = |param, value| unsafe { libc::mallopt(param, value) } == 1;
        set(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) & set(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
    {
        false
    }
}

/// Whether this process has exactly one thread (Linux: one entry in
/// `/proc/self/task`).
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    fn refuses_once_a_second_thread_exists() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv().is_err());
        assert!(!super::single_threaded());
        assert!(!super::keep_freed_memory());
        drop(tx);
        assert!(other.join().unwrap_or(false));
    }
}
