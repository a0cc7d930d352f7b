//! A short-lived, in-process cache of sealed credential rows, so that the hot path of a
//! running workflow (read and decrypt one credential) does not wait on the database.
//!
//! Only ciphertext is cached. Every write through the owning store drops the entry and
//! bumps a generation counter; a read that started before a write never caches what it
//! read (its generation is stale), so this process never serves a row older than its own
//! last write. Writes by other processes are seen once the entry expires.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Row;

/// How long a cached row is trusted by default.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(1);

/// Beyond this many entries, expired ones are purged (and, if none are, all are).
const MAX_ENTRIES: usize = 10_000;

pub(crate) struct RowCache {
    ttl: Duration,
    generation: AtomicU64,
    rows: Mutex<HashMap<String, (Arc<Row>, Instant)>>,
}

impl RowCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            rows: Mutex::new(HashMap::new()),
        }
    }

    fn rows(&self) -> MutexGuard<'_, HashMap<String, (Arc<Row>, Instant)>> {
        // A panic while holding the lock cannot leave the map inconsistent (single calls).
        self.rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached row, if fresh.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Row>> {
        if self.ttl.is_zero() {
            return None;
        }
        let mut rows = self.rows();
        match rows.get(id) {
            Some((row, at)) if at.elapsed() < self.ttl => Some(row.clone()),
            Some(_) => {
                rows.remove(id);
                None
            }
            None => None,
        }
    }

    /// The generation to pass to [`Self::insert`]: read it before reading the database.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a row read from the database, unless a write happened since `generation`.
    pub(crate) fn insert(&self, id: &str, row: Arc<Row>, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut rows = self.rows();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if rows.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            rows.retain(|_, (_, at)| at.elapsed() < ttl);
            if rows.len() >= MAX_ENTRIES {
                rows.clear();
            }
        }
        rows.insert(id.to_owned(), (row, Instant::now()));
    }

    /// Drops one row, after a write to it.
    pub(crate) fn invalidate(&self, id: &str) {
        let mut rows = self.rows();
        self.generation.fetch_add(1, Ordering::AcqRel);
        rows.remove(id);
    }

    /// Drops every row, after a write to many.
    pub(crate) fn invalidate_all(&self) {
        let mut rows = self.rows();
        self.generation.fetch_add(1, Ordering::AcqRel);
        rows.clear();
    }
}
