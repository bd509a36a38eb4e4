//! Per-tile zstd work spread over a few threads, for large changes (a
//! video, a full-screen redraw) where hundreds of 16 KiB tiles are
//! compressed or decompressed independently. Small changes never come
//! here: they go through the session's stream on the calling thread.

/// Threads used unless configured: the machine's cores, at most four.
#[must_use]
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Runs `work` on every part: the first on this thread, the others on
/// scoped threads. Results come back in order; `None` if a worker panicked.
fn on_threads<P: Send, R: Send>(
    mut parts: impl Iterator<Item = P>,
    work: impl Fn(P) -> R + Sync,
) -> Option<Vec<R>> {
    let Some(first) = parts.next() else {
        return Some(Vec::new());
    };
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = parts.map(|p| s.spawn(move || work(p))).collect();
        let mine = work(first);
        // Every worker is joined, so a panic is reported here rather than
        // by the scope.
        let joined: Vec<_> = handles.into_iter().map(|h| h.join().ok()).collect();
        std::iter::once(Some(mine)).chain(joined).collect()
    })
}

/// Splits `items` into at most `threads` runs, one per entry of `state`,
/// and maps each run with its own state (see [`on_threads`]). Results come
/// back in order; `None` if a worker panicked.
fn map_runs<T: Sync, S: Send, R: Send>(
    items: &[T],
    state: &mut [S],
    work: impl Fn(&mut S, &[T]) -> Vec<R> + Sync,
) -> Option<Vec<R>> {
    let runs = state.len().clamp(1, items.len().max(1));
    let run = items.len().div_ceil(runs).max(1);
    let parts = items.chunks(run).zip(state.iter_mut());
    let out = on_threads(parts, |(c, st)| work(st, c))?;
    Some(out.into_iter().flatten().collect())
}

/// Runs `work` on every item with a zstd level-1 compressor (`None` if
/// zstd could not start one), on up to `threads` threads, the compressors
/// kept in `pool` from one frame to the next. Results come back in order.
/// Large changes build and compress their tiles this way, off the calling
/// thread.
pub(crate) fn with_compressors<T: Sync, R: Send>(
    items: &[T],
    pool: &mut Vec<zstd::bulk::Compressor<'static>>,
    threads: usize,
    work: impl Fn(&T, Option<&mut zstd::bulk::Compressor<'static>>) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    while pool.len() < threads {
        match zstd::bulk::Compressor::new(1) {
            Ok(c) => pool.push(c),
            Err(_) => break,
        }
    }
    let used = pool.len().min(threads);
    if used == 0 {
        return items.iter().map(|i| work(i, None)).collect();
    }
    let run = |z: &mut zstd::bulk::Compressor<'static>, run: &[T]| {
        run.iter().map(|item| work(item, Some(&mut *z))).collect()
    };
    map_runs(items, &mut pool[..used], run)
        .unwrap_or_else(|| items.iter().map(|i| work(i, None)).collect())
}

/// `bytes` as a zstd frame, if that is smaller (and zstd works).
pub(crate) fn compress_smaller(
    z: Option<&mut zstd::bulk::Compressor<'_>>,
    bytes: &[u8],
) -> Option<Vec<u8>> {
    z.and_then(|z| z.compress(bytes).ok())
        .filter(|c| c.len() < bytes.len())
}

/// Runs `f` on every item, the items split into at most `threads` runs
/// (see [`on_threads`]). `false` if a worker panicked (its items may be
/// half done).
pub(crate) fn for_each_mut<T: Send>(
    items: &mut [T],
    threads: usize,
    f: impl Fn(&mut T) + Sync,
) -> bool {
    let run = items.len().div_ceil(threads.max(1)).max(1);
    on_threads(items.chunks_mut(run), |c| c.iter_mut().for_each(&f)).is_some()
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
    fn every_item_is_visited_once_whatever_the_thread_count() {
        for threads in [0, 1, 2, 3, 4, 200] {
            let mut items: Vec<(u32, u32)> = (0..57).map(|i| (i, 0)).collect();
            assert!(for_each_mut(&mut items, threads, |(i, seen)| *seen += *i + 1));
            assert!(items.iter().all(|&(i, seen)| seen == i + 1), "{threads}");
        }
        assert!(for_each_mut(&mut [] as &mut [u8], 4, |_| {}));
    }

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
        let pack = |b: &Vec<u8>, z: Option<&mut zstd::bulk::Compressor<'static>>| {
            (b.clone(), compress_smaller(z, b))
        };
        let one = with_compressors(&blobs, &mut pool, 1, pack);
        assert!(one.iter().zip(&blobs).all(|((raw, _), b)| raw == b));
        for threads in [2, 3, 4, 64] {
            assert_eq!(
                with_compressors(&blobs, &mut pool, threads, pack),
                one,
                "{threads} threads"
            );
        }
        // Incompressible blobs stay as they are.
        assert!(one.iter().step_by(5).all(|(_, c)| c.is_none()));
        let items: Vec<(&[u8], usize)> = one
            .iter()
            .filter_map(|(b, c)| c.as_deref().map(|c| (c, b.len())))
            .collect();
        let back = decompress_all(&items, 3);
        let expect: Vec<Result<Vec<u8>, ()>> = one
            .iter()
            .filter(|(_, c)| c.is_some())
            .map(|(b, _)| Ok(b.clone()))
            .collect();
        assert_eq!(back, expect);
        // A blob that inflates past its capacity fails alone.
        let big = zstd::bulk::compress(&[0u8; 5000], 1).unwrap();
        let r = decompress_all(&[(&big, 4096), (&big, 5000)], 2);
        assert!(r[0].is_err());
        assert_eq!(r[1].as_ref().map(Vec::len), Ok(5000));
    }
}
