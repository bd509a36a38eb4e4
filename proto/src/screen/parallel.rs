//! Per-tile zstd work spread over a few threads, for large changes (a
//! video, a full-screen redraw) where hundreds of 16 KiB tiles are
//! compressed or decompressed independently. Small changes never come
//! here: they go through the session's stream on the calling thread.

/// Threads used unless configured: the machine's cores, at most four.
#[must_use]
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Splits `items` into at most `threads` runs, one per entry of `state`,
/// and maps each run with its own state: the first on this thread, the
/// others on scoped threads. Results come back in order; `None` if a
/// worker panicked.
fn map_runs<T: Sync, S: Send, R: Send>(
    items: &[T],
    state: &mut [S],
    work: impl Fn(&mut S, &[T]) -> Vec<R> + Sync,
) -> Option<Vec<R>> {
    let runs = state.len().clamp(1, items.len().max(1));
    let run = items.len().div_ceil(runs).max(1);
    let mut pairs = items.chunks(run).zip(state.iter_mut());
    let Some((first, first_state)) = pairs.next() else {
        return Some(Vec::new());
    };
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = pairs.map(|(c, st)| s.spawn(move || work(st, c))).collect();
        let mut out = work(first_state, first);
        for h in handles {
            out.extend(h.join().ok()?);
        }
        Some(out)
    })
}

/// zstd level 1 of every blob on up to `threads` threads, with the
/// compressors kept in `pool` from one frame to the next; `None` where
/// compressing did not make a blob smaller (or zstd failed), so the caller
/// sends it as it is.
pub(crate) fn compress_all(
    blobs: &[Vec<u8>],
    pool: &mut Vec<zstd::bulk::Compressor<'static>>,
    threads: usize,
) -> Vec<Option<Vec<u8>>> {
    let threads = threads.clamp(1, blobs.len().max(1));
    while pool.len() < threads {
        match zstd::bulk::Compressor::new(1) {
            Ok(c) => pool.push(c),
            Err(_) => break,
        }
    }
    let used = pool.len().min(threads);
    let work = |z: &mut zstd::bulk::Compressor<'static>, run: &[Vec<u8>]| {
        run.iter()
            .map(|b| z.compress(b).ok().filter(|c| c.len() < b.len()))
            .collect()
    };
    if used == 0 {
        return vec![None; blobs.len()];
    }
    map_runs(blobs, &mut pool[..used], work).unwrap_or_else(|| vec![None; blobs.len()])
}

/// Decompresses every `(blob, capacity)`; a blob that is corrupt or would
/// exceed its capacity is an `Err`.
pub(crate) fn decompress_all(items: &[(&[u8], usize)], threads: usize) -> Vec<Result<Vec<u8>, ()>> {
    let mut runs = vec![(); threads.clamp(1, items.len().max(1))];
    let work = |(): &mut (), run: &[(&[u8], usize)]| {
        let mut z = zstd::bulk::Decompressor::new().ok();
        run.iter()
            .map(|&(blob, cap)| {
                z.as_mut()
                    .ok_or(())
                    .and_then(|z| z.decompress(blob, cap).map_err(|_| ()))
            })
            .collect()
    };
    map_runs(items, &mut runs, work).unwrap_or_else(|| vec![Err(()); items.len()])
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
        let mut pool = Vec::new();
        let one = compress_all(&blobs, &mut pool, 1);
        for threads in [2, 3, 4, 64] {
            assert_eq!(
                compress_all(&blobs, &mut pool, threads),
                one,
                "{threads} threads"
            );
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
