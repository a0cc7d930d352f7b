//! The token provider: one per process, one slot per credential.
//!
//! A slot holds the last token in memory. When it is empty the provider first reads the
//! token data stored (encrypted) with the credential, so a restart does not sign in again;
//! only then does it sign in, and it writes the new token back. The slot's async lock is
//! held across the sign-in, so concurrent callers wait for that one sign-in and share it.
//!
//! Each credential also has a generation, bumped by [`TokenProvider::invalidate`] when the
//! credential changes. A sign-in that started under an older generation used the old
//! settings: its token goes to the caller that was already waiting for it, but it is
//! neither cached nor stored, so it cannot outlive the change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use node_api::CredentialProvider;
use secrecy::ExposeSecret;

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
        let token = match stored {
            Some(t) if !stale(&t) => {
                tracing::debug!(credential_id = %id, "using the stored token");
                Arc::new(t)
            }
            stored => {
                let counters = self.counters(id);
                let refreshable =
                    stored.or_else(|| credential.token_data.as_ref().and_then(Token::refresh_only));
                let new = match (&method, refreshable) {
                    (Method::OAuth2 { .. }, Some(old)) => {
                        tracing::info!(credential_id = %id, "refreshing the access token");
                        counters.refresh();
                        method.refresh(&self.http, &self.settings, &old).await?
                    }
                    (Method::OAuth2 { .. }, None) => return Err(Error::NotConnected),
                    _ => {
                        tracing::info!(credential_id = %id, "signing in to Salesforce");
                        counters.sign_in();
                        method.sign_in(&self.http, &self.settings).await?
                    }
                };
                if entry.generation.load(Ordering::SeqCst) != generation {
                    tracing::info!(credential_id = %id, "the credential changed during sign-in; its token is used once and not kept");
                    return Ok(Arc::new(new));
                }
                // Stored in one write, so a rotated refresh token never goes missing.
                self.credentials
                    .set_token_data(id, Some(new.to_token_data()))
                    .await?;
                // Should the credential change while this write is under way, the write may
                // undo the update's clearing of the token data: `written` (and the generation
                // on the cached copy) make the next caller ignore it.
                slot.written = Some((generation, new.access_token.expose_secret().to_owned()));
                Arc::new(new)
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
