//! The token provider: one per process, one slot per credential.
//!
//! A slot holds the last token in memory. When it is empty the provider first reads the
//! token data stored (encrypted) with the credential, so a restart does not sign in again;
//! only then does it sign in, and it writes the new token back. The slot's async lock is
//! held across the sign-in, so concurrent callers wait for that one sign-in and share it.
//!
//! Processes sharing one database (servers, commands) each have their own slots, so an
//! OAuth2 refresh is also agreed through the store: the refreshing process first marks the
//! stored token data as claimed (`refreshing_until`, a compare-and-set on what it read),
//! refreshes, and replaces its claim with the new token data (again a compare-and-set). A
//! process that finds a live claim waits for the token it brings. With refresh-token
//! rotation on, Salesforce ends the whole grant when a rotated-out refresh token comes back,
//! so two processes refreshing with the same refresh token would disconnect the credential.
//! A claim runs out after 30 s, should its process die mid-refresh.
//!
//! Each credential also has a generation, bumped by [`TokenProvider::invalidate`] when the
//! credential changes. A sign-in that started under an older generation used the old
//! settings: its token goes to the caller that was already waiting for it, but it is
//! neither cached nor stored, so it cannot outlive the change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use node_api::CredentialProvider;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::auth::{AuthSettings, Method, Token};
use crate::error::{Error, Result};
use crate::metrics::{Counters, CredentialMetrics, Metrics};

#[derive(Default)]
struct Slot {
    /// The cached token and the generation it was obtained under.
    token: Option<(u64, Arc<Token>)>,
    // The access token Salesforce last refused: never handed out again, even when the
    // store still holds it.
    rejected: Option<String>,
    /// The access token this process last stored, and the generation it was signed in
    /// under. A stored token equal to one written under an older generation was written
    /// back after the credential changed (the write raced the update): not to be used.
    written: Option<(u64, String)>,
}

/// The token data field that marks a refresh under way in some process, until the epoch
/// millisecond it holds.
const CLAIM_FIELD: &str = "refreshing_until";
/// How long a refresh claim holds; a process that died mid-refresh blocks others this long.
const CLAIM_FOR: Duration = Duration::from_secs(30);
/// A refresh gives up after this, well within its claim.
const REFRESH_WITHIN: Duration = Duration::from_secs(20);
/// How often a process waiting for another's refresh reads the store again.
const CLAIM_POLL: Duration = Duration::from_millis(50);

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What a refresh across processes came to.
enum Refreshed {
    /// Ours, and stored in place of our claim.
    Stored(Token),
    /// Ours, but the stored token data changed meanwhile (the credential was updated): the
    /// token is for the caller only.
    NotStored(Token),
    /// Another process holds (or just replaced) the token data: read it again.
    Busy,
}

#[derive(Default)]
struct Entry {
    generation: AtomicU64,
    slot: tokio::sync::Mutex<Slot>,
}

/// Hands out access tokens per credential; see the module docs.
pub struct TokenProvider {
    credentials: Arc<dyn CredentialProvider>,
    http: reqwest::Client,
    settings: AuthSettings,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    metrics: Metrics,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider reading credentials from `credentials` and signing in over `http`.
    pub fn new(
        credentials: Arc<dyn CredentialProvider>,
        http: reqwest::Client,
        settings: AuthSettings,
    ) -> TokenProvider {
        TokenProvider {
            credentials,
            http,
            settings,
            entries: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
        }
    }

    /// The same provider warning when a credential's API usage reaches `percent` of the
    /// org's daily limit (default 90; see `SWITCHYARD_SALESFORCE_LIMIT_WARNING_PERCENT`).
    pub fn with_limit_warning_percent(mut self, percent: u64) -> TokenProvider {
        self.metrics = Metrics::new(percent);
        self
    }

    /// The shared HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The URL settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Counters of every credential used so far, ordered by credential id.
    pub fn metrics(&self) -> Vec<CredentialMetrics> {
        self.metrics.snapshot()
    }

    pub(crate) fn counters(&self, id: &str) -> Arc<Counters> {
        self.metrics.counters(id)
    }

    fn entry(&self, id: &str) -> Arc<Entry> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.entry(id.to_owned()).or_default().clone()
    }

    /// A usable token for credential `id`: cached, stored, or from one new sign-in.
    pub async fn token(&self, id: &str) -> Result<Arc<Token>> {
        let entry = self.entry(id);
        let mut slot = entry.slot.lock().await;
        let generation = entry.generation.load(Ordering::SeqCst);
        if let Some((g, t)) = &slot.token {
            if *g == generation {
                return Ok(t.clone());
            }
        }
        slot.token = None;
        let token = loop {
            let credential = self.credentials.by_id(id).await?;
            let method =
                Method::from_credential(&credential.type_name, &credential.data, &self.settings)?;
            let stored = credential
                .token_data
                .as_ref()
                .and_then(Token::from_token_data);
            let stale = |t: &Token| {
                let access = t.access_token.expose_secret();
                slot.rejected.as_deref() == Some(access)
                    || matches!(&slot.written, Some((g, w)) if *g != generation && w == access)
            };
            match stored {
                Some(t) if !stale(&t) => {
                    tracing::debug!(credential_id = %id, "using the stored token");
                    break Arc::new(t);
                }
                stored => {
                    let counters = self.counters(id);
                    let new = match method {
                        Method::OAuth2 { .. } => {
                            let Some(old) = stored.or_else(|| {
                                credential.token_data.as_ref().and_then(Token::refresh_only)
                            }) else {
                                return Err(Error::NotConnected);
                            };
                            let read = credential
                                .token_data
                                .as_ref()
                                .map(|d| Value::Object(d.expose().clone()));
                            // In a task of its own: should this caller be dropped mid-way,
                            // the refresh still finishes and stores its rotated refresh
                            // token, and the claim does not linger.
                            let refresh = tokio::spawn(refresh_once_across_processes(
                                self.credentials.clone(),
                                self.http.clone(),
                                self.settings,
                                id.to_owned(),
                                method,
                                old,
                                read,
                            ));
                            let refreshed = refresh.await.map_err(|e| Error::Unexpected {
                                status: 0,
                                what: "token refresh",
                                detail: e.to_string(),
                            })??;
                            match refreshed {
                                Refreshed::Stored(new) => {
                                    counters.refresh();
                                    new
                                }
                                Refreshed::NotStored(new) => {
                                    counters.refresh();
                                    tracing::warn!(credential_id = %id, "the stored token data changed during the refresh; its token is used once and not kept");
                                    return Ok(Arc::new(new));
                                }
                                // Another process refreshed, or is refreshing: read again.
                                Refreshed::Busy => continue,
                            }
                        }
                        method => {
                            tracing::info!(credential_id = %id, "signing in to Salesforce");
                            counters.sign_in();
                            let new = method.sign_in(&self.http, &self.settings).await?;
                            if entry.generation.load(Ordering::SeqCst) == generation {
                                // Stored in one write, so a rotated refresh token never goes
                                // missing.
                                self.credentials
                                    .set_token_data(id, Some(new.to_token_data()))
                                    .await?;
                            }
                            new
                        }
                    };
                    if entry.generation.load(Ordering::SeqCst) != generation {
                        tracing::info!(credential_id = %id, "the credential changed during sign-in; its token is used once and not kept");
                        return Ok(Arc::new(new));
                    }
                    // Should the credential change while this write is under way, the write
                    // may undo the update's clearing of the token data: `written` (and the
                    // generation on the cached copy) make the next caller ignore it.
                    slot.written = Some((generation, new.access_token.expose_secret().to_owned()));
                    break Arc::new(new);
                }
            }
        };
        slot.rejected = None;
        slot.token = Some((generation, token.clone()));
        Ok(token)
    }

    /// Salesforce refused `token` (401 `INVALID_SESSION_ID`): the next [`TokenProvider::token`]
    /// signs in again, unless another caller already replaced it.
    pub async fn rejected(&self, id: &str, token: &Token) {
        let entry = self.entry(id);
        let mut slot = entry.slot.lock().await;
        let refused = token.access_token.expose_secret();
        let current = slot
            .token
            .as_ref()
            .map(|(_, t)| t.access_token.expose_secret() == refused);
        if current != Some(false) {
            slot.token = None;
            slot.rejected = Some(refused.to_owned());
        }
    }

    /// Forgets everything cached for `id`: call it when the credential is updated or deleted.
    /// A sign-in already in flight finishes for its caller, but its token is not kept.
    pub fn invalidate(&self, id: &str) {
        self.entry(id).generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The credential's sign-in method, as stored now.
    pub async fn method(&self, id: &str) -> Result<Method> {
        let credential = self.credentials.by_id(id).await?;
        Method::from_credential(&credential.type_name, &credential.data, &self.settings)
    }
}

/// Refreshes `old` (read as `read` from the store) unless another process is already
/// refreshing this credential, and stores the new token data in place of the claim. See the
/// module docs: with refresh-token rotation, two refreshes with one refresh token would make
/// Salesforce end the grant.
async fn refresh_once_across_processes(
    credentials: Arc<dyn CredentialProvider>,
    http: reqwest::Client,
    settings: AuthSettings,
    id: String,
    method: Method,
    old: Token,
    read: Option<Value>,
) -> Result<Refreshed> {
    let Some(Value::Object(mut fields)) = read.clone() else {
        return Err(Error::NotConnected);
    };
    let now = epoch_ms();
    if let Some(until) = fields.get(CLAIM_FIELD).and_then(Value::as_i64) {
        if until > now {
            tracing::debug!(credential_id = %id, "another process is refreshing the token; waiting for it");
            tokio::time::sleep(CLAIM_POLL).await;
            return Ok(Refreshed::Busy);
        }
        tracing::warn!(credential_id = %id, "a refresh claimed by another process ran out; refreshing here");
    }
    fields.insert(
        CLAIM_FIELD.into(),
        Value::from(now + CLAIM_FOR.as_millis() as i64),
    );
    let claimed = Value::Object(fields);
    if !credentials
        .swap_token_data(&id, read.as_ref(), Some(claimed.clone()))
        .await?
    {
        return Ok(Refreshed::Busy);
    }
    tracing::info!(credential_id = %id, "refreshing the access token");
    // Bounded well within the claim, so that no other process takes over while it runs.
    let refreshed =
        match tokio::time::timeout(REFRESH_WITHIN, method.refresh(&http, &settings, &old)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Transport {
                detail: format!(
                    "no answer to the token refresh within {} s",
                    REFRESH_WITHIN.as_secs()
                ),
                kind: crate::error::TransportKind::Timeout,
            }),
        };
    let new = match refreshed {
        Ok(new) => new,
        Err(e) => {
            // Back to what was read, unless the stored data changed since.
            if let Err(e) = credentials.swap_token_data(&id, Some(&claimed), read).await {
                tracing::warn!(credential_id = %id, error = %e, "could not remove the refresh claim; it runs out by itself");
            }
            return Err(e);
        }
    };
    // Only over our own claim: had the credential changed in the store meanwhile, the
    // token belongs to the old settings.
    let stored = credentials
        .swap_token_data(&id, Some(&claimed), Some(new.to_token_data()))
        .await?;
    Ok(if stored {
        Refreshed::Stored(new)
    } else {
        keep_rotated_refresh_token(&*credentials, &id, &claimed, &old, &new).await;
        Refreshed::NotStored(new)
    })
}

/// The credential changed while this process refreshed, so its new token is not stored. But
/// an update that keeps the grant (a new client secret: the store drops the access token and
/// keeps the refresh token, and our claim with it) still holds the refresh token this refresh
/// just spent, and with rotation on Salesforce no longer accepts it: left there, the
/// credential would have to be connected again. So the rotated refresh token takes its place,
/// and nothing else of the refresh is kept (the update dropped the access token on purpose:
/// the next call refreshes with the new secret). Changes that ended the grant (tokens
/// cleared, another refresh token stored) are left as they are.
async fn keep_rotated_refresh_token(
    credentials: &dyn CredentialProvider,
    id: &str,
    claimed: &Value,
    old: &Token,
    new: &Token,
) {
    let (Some(spent), Some(fresh)) = (&old.refresh_token, &new.refresh_token) else {
        return;
    };
    if spent.expose_secret() == fresh.expose_secret() {
        return; // Not rotated: the stored one still works.
    }
    let our_claim = claimed.get(CLAIM_FIELD);
    for _ in 0..3 {
        let current = match credentials.by_id(id).await {
            Ok(c) => c.token_data.map(|d| Value::Object(d.expose().clone())),
            Err(e) => {
                tracing::warn!(credential_id = %id, error = %e, "could not read the credential to keep its rotated refresh token");
                return;
            }
        };
        let Some(Value::Object(mut fields)) = current.clone() else {
            return;
        };
        let holds_spent =
            fields.get("refresh_token").and_then(Value::as_str) == Some(spent.expose_secret());
        let claim = fields.get(CLAIM_FIELD);
        if !holds_spent || (claim.is_some() && claim != our_claim) {
            return;
        }
        fields.remove(CLAIM_FIELD);
        fields.insert(
            "refresh_token".into(),
            Value::from(fresh.expose_secret().to_owned()),
        );
        match credentials
            .swap_token_data(id, current.as_ref(), Some(Value::Object(fields)))
            .await
        {
            Ok(true) => {
                tracing::info!(credential_id = %id, "the credential changed during a refresh; its rotated refresh token was kept");
                return;
            }
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(credential_id = %id, error = %e, "could not keep the rotated refresh token");
                return;
            }
        }
    }
}
