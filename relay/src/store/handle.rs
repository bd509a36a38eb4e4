//! A thread that owns the store; async code sends it closures.
//!
//! Inventory uploads come in bursts (a fleet reconnecting after a relay
//! restart). Each one rewrites a machine's 2,000 package rows, which touch
//! pages all over the package index; committed one by one, every upload
//! writes most of those pages to the WAL again. Jobs sent with
//! [`StoreHandle::call_batched`] that are waiting together therefore run in
//! one transaction (group commit), and their results are released only once
//! that transaction is committed.

use super::{Store, StoreError};
use std::sync::mpsc;

/// Sends a batched job's result, or the batch's commit failure.
type Reply = Box<dyn FnOnce(Option<String>) + Send>;

/// A job that runs alone.
type SingleJob = Box<dyn FnOnce(&mut dyn Store) + Send>;
/// A job that may share a transaction; its reply waits for the commit.
type BatchedJob = Box<dyn FnOnce(&mut dyn Store) -> Reply + Send>;

enum Job {
    Single(SingleJob),
    Batched(BatchedJob),
}

/// Most jobs committed together.
const MAX_BATCH: usize = 256;

/// A cheap, cloneable handle to the store thread.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Job>,
}

impl StoreHandle {
    /// Moves `store` onto its own thread.
    ///
    /// # Errors
    /// If the thread cannot be spawned.
    pub fn spawn(mut store: Box<dyn Store>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                let mut next = None;
                loop {
                    let job = match next.take() {
                        Some(j) => j,
                        None => match rx.recv() {
                            Ok(j) => j,
                            Err(_) => return,
                        },
                    };
                    match job {
                        Job::Single(f) => f(store.as_mut()),
                        Job::Batched(first) => {
                            let mut batch = vec![first];
                            while batch.len() < MAX_BATCH {
                                match rx.try_recv() {
                                    Ok(Job::Batched(f)) => batch.push(f),
                                    Ok(single) => {
                                        next = Some(single);
                                        break;
                                    }
                                    Err(_) => break,
                                }
                            }
                            run_batch(store.as_mut(), batch);
                        }
                    }
                }
            })?;
        Ok(Self { tx })
    }

    /// Runs `f` on the store thread and returns its result.
    ///
    /// # Errors
    /// [`StoreError::Gone`] if the store thread has stopped; otherwise
    /// whatever `f` returns.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Single(Box::new(move |store| {
            let _ = tx.send(f(store));
        }));
        self.tx.send(job).map_err(|_| StoreError::Gone)?;
        rx.await.map_err(|_| StoreError::Gone)?
    }

    /// Like [`StoreHandle::call`], but `f` may share its transaction with
    /// other batched jobs waiting at the same time; its result arrives
    /// after that transaction commits. `f` must keep its writes inside a
    /// savepoint, so a failing job undoes only its own.
    ///
    /// # Errors
    /// As [`StoreHandle::call`], plus a failed commit of the batch.
    pub async fn call_batched<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Batched(Box::new(move |store| {
            let result = f(store);
            Box::new(move |failed: Option<String>| {
                let _ = tx.send(match failed {
                    Some(why) => Err(StoreError::Batch(why)),
                    None => result,
                });
            })
        }));
        self.tx.send(job).map_err(|_| StoreError::Gone)?;
        rx.await.map_err(|_| StoreError::Gone)?
    }
}

fn run_batch(store: &mut dyn Store, batch: Vec<BatchedJob>) {
    let grouped = batch.len() > 1 && store.begin_batch().is_ok();
    let replies: Vec<Reply> = batch.into_iter().map(|f| f(store)).collect();
    let failed = if grouped {
        store.end_batch().err().map(|e| e.to_string())
    } else {
        None
    };
    for reply in replies {
        reply(failed.clone());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::{CategoryUpdate, InventoryStore, SqliteStore};

    fn update<'a>(machine_id: &'a str, json: &'a [u8]) -> CategoryUpdate<'a> {
        CategoryUpdate {
            machine_id,
            category: "system",
            hash: "h",
            json,
            now_unix: 1,
            changes: &[],
            packages: None,
            facts: None,
        }
    }

    #[tokio::test]
    async fn waiting_uploads_commit_together_and_a_bad_one_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        let store =
            super::super::store_with_machines(SqliteStore::open(&path).unwrap(), &["m1", "m2"]);
        let h = StoreHandle::spawn(Box::new(store)).unwrap();
        // Hold the store thread so the three uploads queue up together.
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let gate = tokio::spawn({
            let h = h.clone();
            async move {
                h.call(move |_| {
                    gate_rx.recv().ok();
                    Ok(())
                })
                .await
            }
        });
        tokio::task::yield_now().await;
        let mut jobs = Vec::new();
        for id in ["m1", "nobody", "m2"] {
            let h = h.clone();
            jobs.push(tokio::spawn(async move {
                h.call_batched(move |s| s.store_category(&update(id, b"{\"a\":1}")))
                    .await
            }));
            tokio::task::yield_now().await;
        }
        gate_tx.send(()).unwrap();
        gate.await.unwrap().unwrap();
        let results: Vec<bool> = futures_results(jobs).await;
        // The unknown machine breaks a foreign key; the others are stored.
        assert_eq!(results, [true, false, true]);
        for (id, want) in [("m1", 1), ("nobody", 0), ("m2", 1)] {
            let n = h.call(move |s| Ok(s.inventory(id)?.len())).await.unwrap();
            assert_eq!(n, want, "{id}");
        }
        // And it is on disk, not only in the open transaction.
        drop(h);
        let mut again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.inventory("m2").unwrap().len(), 1);
    }

    async fn futures_results(
        jobs: Vec<tokio::task::JoinHandle<Result<(), StoreError>>>,
    ) -> Vec<bool> {
        let mut out = Vec::new();
        for j in jobs {
            out.push(j.await.unwrap().is_ok());
        }
        out
    }
}
