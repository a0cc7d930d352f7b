//! [`WebhookGate`]: how many webhook executions run at once, and how many wait. Past the
//! queue a call is refused at once with 503 and `Retry-After`, before an execution or a row
//! exists, so that a burst degrades into clear refusals instead of memory growth.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Webhook executions at once and waiting.
#[derive(Debug)]
pub struct WebhookGate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

/// The gate is full: the caller should retry after a second.
#[derive(Debug)]
pub struct Busy;

impl WebhookGate {
    /// A gate letting `concurrency` executions run and `queue` more wait.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        Self {
            running: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
        }
    }

    /// A slot to run in, waiting in the queue for one if need be; [`Busy`] when the queue
    /// is full too.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(permit) = self.running.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.waiting);
        if before >= self.queue {
            return Err(Busy);
        }
        self.running.clone().acquire_owned().await.map_err(|_| Busy)
    }

    /// Calls waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

/// Takes a waiter off the count however the wait ends (a caller hanging up included).
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
