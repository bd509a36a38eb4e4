//! Clipboard text of this machine's X display, for sharing between the
//! technician and the user (only while the user allows it). One thread
//! owns the clipboard (arboard keeps serving what it set for as long as it
//! lives).

use std::sync::{Arc, Mutex, PoisonError, mpsc as std_mpsc};
use tokio::sync::oneshot;

enum Op {
    Set(String),
    Get(oneshot::Sender<Option<String>>),
}

/// A handle to the clipboard thread.
#[derive(Clone)]
pub struct Clip {
    tx: std_mpsc::Sender<Op>,
    /// What this process put there last: not to be sent back as if the
    /// person had copied it.
    last_set: Arc<Mutex<Option<String>>>,
}

impl Clip {
    /// Opens the clipboard of the agent's display.
    ///
    /// # Errors
    /// No display, or the X server refuses.
    pub fn open() -> Result<Self, String> {
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let (tx, rx) = std_mpsc::channel::<Op>();
        std::thread::Builder::new()
            .name("clipboard".into())
            .spawn(move || {
                let mut cb = match arboard::Clipboard::new() {
                    Ok(cb) => {
                        let _ = ready_tx.send(Ok(()));
                        cb
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("clipboard unavailable: {e}")));
                        return;
                    }
                };
                while let Ok(op) = rx.recv() {
                    match op {
                        Op::Set(text) => {
                            if let Err(e) = cb.set_text(text) {
                                tracing::warn!("cannot set the clipboard: {e}");
                            }
                        }
                        Op::Get(reply) => {
                            let _ = reply.send(cb.get_text().ok());
                        }
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        ready_rx
            .recv()
            .map_err(|_| "clipboard thread died".to_string())??;
        Ok(Self {
            tx,
            last_set: Arc::default(),
        })
    }

    /// Puts `text` on the clipboard.
    pub fn set(&self, text: String) {
        *self.last_set.lock().unwrap_or_else(PoisonError::into_inner) = Some(text.clone());
        let _ = self.tx.send(Op::Set(text));
    }

    /// Did this process put `text` there (rather than the person)?
    pub fn is_ours(&self, text: &str) -> bool {
        self.last_set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_deref()
            == Some(text)
    }

    /// The clipboard's text, if it holds text.
    pub async fn get(&self) -> Option<String> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Op::Get(tx)).ok()?;
        rx.await.ok().flatten()
    }
}
