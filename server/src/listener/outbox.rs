//! `Outbox`: the frames waiting to be written to one connection.
//!
//! Watch events are pushed while the state machine applies a change and
//! replies while a request completes, both synchronously and under the
//! state lock, so the order a client sees is the order of the changes:
//! an event always precedes the reply of any read that saw its change.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::{watch, Notify};

/// Frames queued beyond this mean the client does not read: the connection
/// is closed rather than letting its queue grow without bound.
pub const OUTBOX_FRAMES_MAX: usize = 100_000;

/// Queue of encoded frames for one connection, drained by its writer task.
#[derive(Debug)]
pub struct Outbox {
    frames: Mutex<VecDeque<Bytes>>,
    ready: Notify,
    closing: AtomicBool,
    closed_tx: watch::Sender<bool>,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox {
            frames: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            closing: AtomicBool::new(false),
            closed_tx: watch::channel(false).0,
        }
    }
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Resolves once the connection starts closing.
    pub async fn closed(&self) {
        let mut rx = self.closed_tx.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// Queue a frame. Returns false (and starts closing the connection) if
    /// the client has fallen too far behind or the outbox is closing.
    pub fn push(&self, frame: Bytes) -> bool {
        if self.closing.load(Ordering::Acquire) {
            return false;
        }
        let mut frames = self.frames.lock().expect("outbox lock");
        if frames.len() >= OUTBOX_FRAMES_MAX {
            drop(frames);
            tracing::warn!("client does not read its replies; closing connection");
            self.close();
            return false;
        }
        frames.push_back(frame);
        drop(frames);
        self.ready.notify_one();
        true
    }

    /// Ask the writer to flush what is queued and then close the connection.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.closed_tx.send_replace(true);
        self.ready.notify_one();
    }

    /// Whether the connection is closing.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Wait for frames; returns them all at once, or None once closing and
    /// empty.
    pub async fn next_batch(&self) -> Option<Vec<Bytes>> {
        loop {
            let notified = self.ready.notified();
            {
                let mut frames = self.frames.lock().expect("outbox lock");
                if !frames.is_empty() {
                    return Some(frames.drain(..).collect());
                }
                if self.is_closing() {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Number of queued frames.
    pub fn len(&self) -> usize {
        self.frames.lock().expect("outbox lock").len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_come_out_in_order_then_close() {
        let o = Outbox::new();
        assert!(o.push(Bytes::from_static(b"a")));
        assert!(o.push(Bytes::from_static(b"b")));
        o.close();
        assert!(!o.push(Bytes::from_static(b"c")));
        let batch = o.next_batch().await.unwrap();
        assert_eq!(
            batch,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
        assert!(o.next_batch().await.is_none());
    }
}
