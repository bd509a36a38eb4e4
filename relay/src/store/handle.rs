//! A thread that owns the store; async code sends it closures.

use super::{Store, StoreError};
use std::sync::mpsc;

type Job = Box<dyn FnOnce(&mut dyn Store) + Send>;

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
                while let Ok(job) = rx.recv() {
                    job(store.as_mut());
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
        let job: Job = Box::new(move |store| {
            let _ = tx.send(f(store));
        });
        self.tx.send(job).map_err(|_| StoreError::Gone)?;
        rx.await.map_err(|_| StoreError::Gone)?
    }
}
