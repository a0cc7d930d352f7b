//! What the client counts per credential: API calls, sign-ins, token refreshes and the
//! last `Sforce-Limit-Info` usage seen. Read as a [`CredentialMetrics`] snapshot; the
//! engine renders it on `/metrics`. Keyed by credential id only: no names, no secrets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// API requests used and allowed today, from `Sforce-Limit-Info: api-usage=USED/MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    /// Requests used in the last 24 hours.
    pub used: u64,
    /// The org's daily allowance.
    pub max: u64,
}

/// One credential's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialMetrics {
    /// The credential's id.
    pub credential_id: String,
    /// REST requests sent (each retry and each re-sent call counts: Salesforce counts them too).
    pub api_calls: u64,
    /// Sign-ins attempted (JWT bearer, client credentials).
    pub sign_ins: u64,
    /// OAuth2 token refreshes attempted.
    pub refreshes: u64,
    /// The usage in the last answer that carried one.
    pub api_usage: Option<ApiUsage>,
}

#[derive(Default)]
pub(crate) struct Counters {
    api_calls: AtomicU64,
    sign_ins: AtomicU64,
    refreshes: AtomicU64,
    usage: Mutex<Option<ApiUsage>>,
}

impl Counters {
    pub(crate) fn api_call(&self) {
        self.api_calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sign_in(&self) {
        self.sign_ins.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refresh(&self) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn usage(&self, usage: ApiUsage) {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner()) = Some(usage);
    }
}

/// Counters for every credential the process has used.
#[derive(Default)]
pub(crate) struct Metrics {
    per_credential: Mutex<HashMap<String, Arc<Counters>>>,
}

impl Metrics {
    pub(crate) fn counters(&self, id: &str) -> Arc<Counters> {
        let mut map = self
            .per_credential
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(id) {
            return c.clone();
        }
        map.entry(id.to_owned()).or_default().clone()
    }

    /// Every credential's counters, ordered by id.
    pub(crate) fn snapshot(&self) -> Vec<CredentialMetrics> {
        let map = self
            .per_credential
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<CredentialMetrics> = map
            .iter()
            .map(|(id, c)| CredentialMetrics {
                credential_id: id.clone(),
                api_calls: c.api_calls.load(Ordering::Relaxed),
                sign_ins: c.sign_ins.load(Ordering::Relaxed),
                refreshes: c.refreshes.load(Ordering::Relaxed),
                api_usage: *c.usage.lock().unwrap_or_else(|e| e.into_inner()),
            })
            .collect();
        all.sort_by(|a, b| a.credential_id.cmp(&b.credential_id));
        all
    }
}
