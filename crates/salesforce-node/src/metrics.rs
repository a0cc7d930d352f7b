//! What the client counts per credential: API calls, sign-ins, token refreshes, the
//! last `Sforce-Limit-Info` usage seen, and how often that usage crossed the warning share
//! of the daily limit (`SWITCHYARD_SALESFORCE_LIMIT_WARNING_PERCENT`). Read as a [`CredentialMetrics`] snapshot; the
//! engine renders it on `/metrics`. Keyed by credential id only: no names, no secrets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Whether that usage is at or above the warning share of the daily limit.
    pub above_warning: bool,
    /// How many times the usage crossed the warning share from below (each logged once).
    pub usage_warnings: u64,
}

/// The share of the daily limit above which usage is warned about, by default.
pub const DEFAULT_WARNING_PERCENT: u64 = 90;

pub(crate) struct Counters {
    api_calls: AtomicU64,
    sign_ins: AtomicU64,
    refreshes: AtomicU64,
    usage: Mutex<Option<ApiUsage>>,
    warn_at_percent: u64,
    above_warning: AtomicBool,
    usage_warnings: AtomicU64,
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

    /// Records the usage Salesforce reported; `true` when it has just crossed the warning
    /// share from below, so the caller warns once per crossing, not once per call.
    pub(crate) fn usage(&self, usage: ApiUsage) -> bool {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner()) = Some(usage);
        // used/max >= percent/100, in integers.
        let above = usage.max > 0
            && u128::from(usage.used) * 100
                >= u128::from(usage.max) * u128::from(self.warn_at_percent);
        let was_above = self.above_warning.swap(above, Ordering::SeqCst);
        let crossed = above && !was_above;
        if crossed {
            self.usage_warnings.fetch_add(1, Ordering::Relaxed);
        }
        crossed
    }

    /// The warning share, in percent of the daily limit.
    pub(crate) fn warn_at_percent(&self) -> u64 {
        self.warn_at_percent
    }
}

/// Counters for every credential the process has used.
pub(crate) struct Metrics {
    per_credential: Mutex<HashMap<String, Arc<Counters>>>,
    warn_at_percent: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(DEFAULT_WARNING_PERCENT)
    }
}

impl Metrics {
    /// Counters that warn when usage reaches `warn_at_percent` of the daily limit.
    pub(crate) fn new(warn_at_percent: u64) -> Self {
        Self {
            per_credential: Mutex::default(),
            warn_at_percent,
        }
    }

    pub(crate) fn counters(&self, id: &str) -> Arc<Counters> {
        let mut map = self
            .per_credential
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(id) {
            return c.clone();
        }
        map.entry(id.to_owned())
            .or_insert_with(|| {
                Arc::new(Counters {
                    api_calls: AtomicU64::new(0),
                    sign_ins: AtomicU64::new(0),
                    refreshes: AtomicU64::new(0),
                    usage: Mutex::new(None),
                    warn_at_percent: self.warn_at_percent,
                    above_warning: AtomicBool::new(false),
                    usage_warnings: AtomicU64::new(0),
                })
            })
            .clone()
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
                above_warning: c.above_warning.load(Ordering::SeqCst),
                usage_warnings: c.usage_warnings.load(Ordering::Relaxed),
            })
            .collect();
        all.sort_by(|a, b| a.credential_id.cmp(&b.credential_id));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_warns_once_per_crossing() {
        let metrics = Metrics::new(90);
        let c = metrics.counters("a");
        let at = |used| ApiUsage { used, max: 1000 };
        assert!(!c.usage(at(899)));
        assert!(c.usage(at(900)), "reaching the share crosses it");
        assert!(!c.usage(at(950)), "still above: no second warning");
        assert!(!c.usage(at(10)), "back below (a new day)");
        assert!(c.usage(at(990)), "a new crossing");
        assert!(!c.usage(ApiUsage { used: 5, max: 0 }));
        let snapshot = &metrics.snapshot()[0];
        assert_eq!(snapshot.usage_warnings, 2);
        assert!(!snapshot.above_warning);
    }
}
