//! Per-tile zstd work spread over a few threads, for large changes (a
//! video, a full-screen redraw) where hundreds of 16 KiB tiles are
//! compressed or decompressed independently. Small changes never come
//! here: they go through the session's stream on the calling thread.

/// Threads used unless configured: the machine's cores, at most four.
#[must_use]
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Splits `items` into at most `threads` runs and maps each run on a
/// scoped thread of its own (on this thread when one suffices); results
/// come back in order. `None` if a worker panicked.
fn map_runs<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Option<Vec<R>> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return Some(work(items));
    }
    let run = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(run)
            .map(|c| s.spawn(move || work(c)))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            out.extend(h.join().ok()?);
        }
        Some(out)
    })
}

/// zstd level 1 of every blob; `None` where compressing did not make it
/// smaller (or zstd failed), so the caller sends it as it is.
pub(crate) fn compress_all(blobs: &[Vec<u8>], threads: usize) -> Vec<Option<Vec<u8>>> {
    let work = |run: &[Vec<u8>]| {
        let mut z = zstd::bulk::Compressor::new(1).ok();
        run.iter()
            .map(|b| {
                z.as_mut()
                    .and_then(|z| z.compress(b).ok())
                    .filter(|c| c.len() < b.len())
            })
            .collect()
    };
    map_runs(blobs, threads, work).unwrap_or_else(|| vec![None; blobs.len()])
}

/// Decompresses every `(blob, capacity)`; a blob that is corrupt or would
/// exceed its capacity is an `Err`.
pub(crate) fn decompress_all(items: &[(&[u8], usize)], threads: usize) -> Vec<Result<Vec<u8>, ()>> {
    let work = |run: &[(&[u8], usize)]| {
        let mut z = zstd::bulk::Decompressor::new().ok();
        run.iter()
            .map(|&(blob, cap)| {
                z.as_mut()
                    .ok_or(())
                    .and_then(|z| z.decompress(blob, cap).map_err(|_| ()))
            })
            .collect()
    };
    map_runs(items, threads, work).unwrap_or_else(|| vec![Err(()); items.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_their_order_whatever_the_thread_count() {
        let blobs: Vec<Vec<u8>> = (0..37u8)
            .map(|i| {
                if i % 5 == 0 {
                    // Incompressible: left as it is.
                    (0..64u32)
                        .map(|j| (j.wrapping_mul(2_654_435_761) >> (i % 7)) as u8)
                        .collect()
                } else {
                    vec![i; 4096]
                }
            })
            .collect();
        let one = compress_all(&blobs, 1);
        for threads in [2, 3, 4, 64] {
            assert_eq!(compress_all(&blobs, threads), one, "{threads} threads");
        }
        let items: Vec<(&[u8], usize)> = one
            .iter()
            .zip(&blobs)
            .filter_map(|(c, b)| c.as_deref().map(|c| (c, b.len())))
            .collect();
        let back = decompress_all(&items, 3);
        let expect: Vec<Result<Vec<u8>, ()>> = one
            .iter()
            .zip(&blobs)
            .filter(|(c, _)| c.is_some())
            .map(|(_, b)| Ok(b.clone()))
            .collect();
        assert_eq!(back, expect);
        // A blob that inflates past its capacity fails alone.
        let big = zstd::bulk::compress(&[0u8; 5000], 1).unwrap();
        let r = decompress_all(&[(&big, 4096), (&big, 5000)], 2);
        assert!(r[0].is_err());
        assert_eq!(r[1].as_ref().map(Vec::len), Ok(5000));
    }
}
