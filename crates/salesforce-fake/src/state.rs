//! The running org's shared state: configuration, records, OAuth grants and
//! tokens, faults, API usage, recorded requests, scripted answers and query
//! cursors. Handlers get it as axum state (`AppState`, an `Arc`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::DecodingKey;
use rand::distributions::Alphanumeric;
use rand::Rng;
use secrecy::SecretString;
use serde_json::Value;

use crate::inspect::{RecordedRequest, Script};
use crate::schema::Schema;
use crate::store::{Store, WriteCtx};

/// A configured autolaunched flow.
#[derive(Debug, Clone)]
pub struct Flow {
    /// API name, used in the invoke URL.
    pub api_name: String,
    /// Display label.
    pub label: String,
}

/// Immutable settings of the org, fixed at start.
pub(crate) struct OrgConfig {
    pub consumer_key: String,
    pub consumer_secret: SecretString,
    pub jwt_key: Option<DecodingKey>,
    pub org_id: String,
    /// Lower-cased username -> user id.
    pub users: HashMap<String, (String, String)>,
    pub pre_authorized: HashSet<String>,
    pub admin_approval_required: bool,
    pub client_credentials_user: Option<String>,
    pub audiences: Vec<String>,
    pub token_lifetime: Duration,
    pub refresh_token_rotation: bool,
    pub auto_approve: bool,
    pub authorize_as: Option<String>,
    pub callback_urls: Vec<String>,
    pub flows: Vec<Flow>,
}

impl OrgConfig {
    /// `(user id, canonical username)` for a username, case-insensitively.
    pub fn user(&self, username: &str) -> Option<&(String, String)> {
        self.users.get(&username.to_ascii_lowercase())
    }
}

/// An access token's owner and lifetime.
#[derive(Clone)]
pub(crate) struct Session {
    pub user_id: String,
    pub username: String,
    pub expires_at_ms: i64,
    pub grant: Option<u64>,
}

pub(crate) struct AuthCode {
    pub user_id: String,
    pub username: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub scope: String,
    pub expires_at_ms: i64,
}

/// One user's authorization of the app; its refresh tokens and access tokens hang off it.
pub(crate) struct Grant {
    pub user_id: String,
    pub username: String,
    pub scope: String,
    pub revoked: bool,
}

/// OAuth state. No `Debug`: it holds live tokens.
#[derive(Default)]
pub(crate) struct Auth {
    pub tokens: HashMap<String, Session>,
    pub codes: HashMap<String, AuthCode>,
    pub grants: HashMap<u64, Grant>,
    /// Refresh token -> (grant, still current).
    pub refresh: HashMap<String, (u64, bool)>,
    /// Users who approved the app on the authorize page.
    pub approved: HashSet<String>,
    pub next_grant: u64,
}

impl Auth {
    /// Revokes a grant: its access tokens and refresh tokens stop working.
    pub fn revoke_grant(&mut self, grant: u64) {
        if let Some(g) = self.grants.get_mut(&grant) {
            g.revoked = true;
        }
        self.tokens.retain(|_, s| s.grant != Some(grant));
        for (g, current) in self.refresh.values_mut() {
            if *g == grant {
                *current = false;
            }
        }
    }
}

/// Injected failures.
#[derive(Debug, Default, Clone)]
pub(crate) struct Faults {
    pub latency: Duration,
    pub unavailable: u32,
    pub lock_rows: u32,
    pub commit_delay: Duration,
    /// Query calls (`/query`, `/queryAll`) that answer 503, by ordinal.
    pub queries: Countdown,
    /// `nextRecordsUrl` page fetches that answer 503, by ordinal.
    pub pages: Countdown,
    /// The `Retry-After` every 503 carries, while set.
    pub retry_after: Option<crate::inspect::RetryAfter>,
}

/// Fails chosen calls among those still to come: "the 3rd next query".
#[derive(Debug, Default, Clone)]
pub(crate) struct Countdown {
    seen: u64,
    failing: BTreeSet<u64>,
}

impl Countdown {
    /// Arms a failure for the `n`th call from now (1 = the next one).
    pub fn arm(&mut self, n: u32) {
        self.failing.insert(self.seen + u64::from(n.max(1)));
    }

    /// Counts one call; true when it is one to fail.
    pub fn take(&mut self) -> bool {
        self.seen += 1;
        self.failing.remove(&self.seen)
    }

    /// How many calls from now each armed failure is, soonest first.
    pub fn pending(&self) -> Vec<u64> {
        self.failing.iter().map(|n| n - self.seen).collect()
    }
}

/// A paused query: the rows not yet served.
pub(crate) struct Cursor {
    pub rows: Arc<Vec<Value>>,
    pub batch: usize,
}

/// Shared state behind every handler.
#[derive(Clone)]
pub(crate) struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

pub(crate) struct Inner {
    pub config: OrgConfig,
    pub base_url: String,
    pub schema: Schema,
    pub store: RwLock<Store>,
    pub auth: RwLock<Auth>,
    pub faults: Mutex<Faults>,
    pub api_used: AtomicU64,
    pub api_max: AtomicU64,
    pub requests: Mutex<VecDeque<RecordedRequest>>,
    pub record_limit: usize,
    pub counters: Mutex<BTreeMap<String, u64>>,
    pub scripts: Mutex<Vec<Script>>,
    pub cursors: Mutex<HashMap<String, Cursor>>,
    pub cursor_seq: AtomicU64,
    /// How far the org's clock runs ahead of the machine's (test hook).
    pub clock_offset_ms: AtomicI64,
    /// Bulk API 2.0 ingest jobs.
    pub bulk: Mutex<crate::rest::BulkJobs>,
    /// Job-info polls a closed bulk job answers `InProgress` before it completes.
    pub bulk_polls: AtomicU32,
    /// While `true`, token requests are counted and recorded, then wait (test hook): a
    /// test holds sign-ins in flight for as long as it needs, instead of guessing a latency.
    pub token_hold: tokio::sync::watch::Sender<bool>,
}

/// A poisoned lock only means another handler panicked mid-request; the
/// data is still usable for a fake, so keep serving.
fn recover<T>(r: Result<T, std::sync::PoisonError<T>>) -> T {
    r.unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    pub fn store(&self) -> RwLockReadGuard<'_, Store> {
        recover(self.store.read())
    }

    pub fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        recover(self.store.write())
    }

    pub fn auth(&self) -> RwLockReadGuard<'_, Auth> {
        recover(self.auth.read())
    }

    pub fn auth_mut(&self) -> RwLockWriteGuard<'_, Auth> {
        recover(self.auth.write())
    }

    pub fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        recover(self.faults.lock())
    }

    pub fn lock<'a, T>(&self, m: &'a Mutex<T>) -> std::sync::MutexGuard<'a, T> {
        recover(m.lock())
    }

    /// The org's clock: the machine's, moved by `advance_clock`. Every
    /// expiry, timestamp and visibility check reads it, so a test can move
    /// time instead of sleeping.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    /// Job-info polls a closed bulk job answers `InProgress` before it completes.
    pub fn bulk_polls(&self) -> u32 {
        self.bulk_polls.load(Ordering::Relaxed)
    }

    /// The org's clock in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Takes one "503 for the next N calls" fault, if armed.
    pub fn take_unavailable(&self) -> bool {
        let mut f = self.faults();
        if f.unavailable > 0 {
            f.unavailable -= 1;
            true
        } else {
            false
        }
    }

    /// Takes one "UNABLE_TO_LOCK_ROW for the next N writes" fault, if armed.
    pub fn take_lock_row(&self) -> bool {
        let mut f = self.faults();
        if f.lock_rows > 0 {
            f.lock_rows -= 1;
            true
        } else {
            false
        }
    }

    /// The context for a write by `user_id` now.
    pub fn write_ctx(&self, user_id: &str) -> WriteCtx {
        let mut ctx = WriteCtx::at(self.now(), user_id, false);
        ctx.visible_at_ms += self.faults().commit_delay.as_millis() as i64;
        ctx
    }

    /// A new access token for a user, valid for the configured lifetime.
    pub fn mint_access_token(&self, user_id: &str, username: &str, grant: Option<u64>) -> String {
        let token = format!("{}!AQ{}", &self.config.org_id[..15], random_token(96));
        let expires_at_ms = self.now_ms() + self.config.token_lifetime.as_millis() as i64;
        self.auth_mut().tokens.insert(
            token.clone(),
            Session {
                user_id: user_id.into(),
                username: username.into(),
                expires_at_ms,
                grant,
            },
        );
        token
    }

    /// The live session for a bearer token, if any.
    pub fn session(&self, token: &str) -> Option<Session> {
        let now = self.now_ms();
        self.auth()
            .tokens
            .get(token)
            .filter(|s| s.expires_at_ms > now)
            .cloned()
    }

    /// `api-usage=N/M` for the Sforce-Limit-Info header.
    pub fn limit_info(&self) -> String {
        format!(
            "api-usage={}/{}",
            self.api_used.load(Ordering::Relaxed),
            self.api_max.load(Ordering::Relaxed)
        )
    }

    /// A fresh query locator.
    pub fn next_cursor_id(&self) -> String {
        let n = self.cursor_seq.fetch_add(1, Ordering::Relaxed) + 1;
        crate::ids::make("01g", n)
    }
}

/// A random alphanumeric string (tokens, codes).
pub(crate) fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
