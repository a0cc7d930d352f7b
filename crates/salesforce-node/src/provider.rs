//! The token provider: one per process, one slot per credential.
//!
//! A slot holds the last token in memory. When it is empty the provider first reads the
//! token data stored (encrypted) with the credential, so a restart does not sign in again;
//! only then does it sign in, and it writes the new token back. The slot's async lock is
//! held across the sign-in, so concurrent callers wait for that one sign-in and share it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use credentials::Store;
use secrecy::ExposeSecret;

use crate::auth::{AuthSettings, Method, Token};
use crate::error::Result;

#[derive(Default)]
struct Slot {
    token: Option<Arc<Token>>,
    // The access token Salesforce last refused: never handed out again, even when the
    // store still holds it.
    rejected: Option<String>,
}

/// Hands out access tokens per credential; see the module docs.
pub struct TokenProvider {
    store: Store,
    http: reqwest::Client,
    settings: AuthSettings,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider reading credentials from `store` and signing in over `http`.
    pub fn new(store: Store, http: reqwest::Client, settings: AuthSettings) -> TokenProvider {
        TokenProvider {
            store,
            http,
            settings,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The shared HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The URL settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The credential store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn slot(&self, id: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(id.to_owned()).or_default().clone()
    }

    /// A usable token for credential `id`: cached, stored, or from one new sign-in.
    pub async fn token(&self, id: &str) -> Result<Arc<Token>> {
        let slot = self.slot(id);
        let mut slot = slot.lock().await;
        if let Some(t) = &slot.token {
            return Ok(t.clone());
        }
        let credential = self.store.get(id).await?;
        let method =
            Method::from_credential(&credential.meta.type_name, &credential.data, &self.settings)?;
        let stored = credential
            .token_data
            .as_ref()
            .and_then(Token::from_token_data);
        let stale = |t: &Token| slot.rejected.as_deref() == Some(t.access_token.expose_secret());
        let token = match stored {
            Some(t) if !stale(&t) => {
                tracing::debug!(credential_id = %id, "using the stored token");
                Arc::new(t)
            }
            stored => {
                let refreshable =
                    stored.or_else(|| credential.token_data.as_ref().and_then(Token::refresh_only));
                let new = match (&method, refreshable) {
                    (Method::OAuth2 { .. }, Some(old)) => {
                        tracing::info!(credential_id = %id, "refreshing the access token");
                        method.refresh(&self.http, &self.settings, &old).await?
                    }
                    _ => {
                        tracing::info!(credential_id = %id, "signing in to Salesforce");
                        method.sign_in(&self.http, &self.settings).await?
                    }
                };
                // Stored in one write, so a rotated refresh token never goes missing.
                self.store
                    .set_token_data(id, Some(new.to_token_data()))
                    .await?;
                Arc::new(new)
            }
        };
        slot.rejected = None;
        slot.token = Some(token.clone());
        Ok(token)
    }

    /// Salesforce refused `token` (401 `INVALID_SESSION_ID`): the next [`TokenProvider::token`]
    /// signs in again, unless another caller already replaced it.
    pub async fn rejected(&self, id: &str, token: &Token) {
        let slot = self.slot(id);
        let mut slot = slot.lock().await;
        let refused = token.access_token.expose_secret();
        let current = slot
            .token
            .as_ref()
            .map(|t| t.access_token.expose_secret() == refused);
        if current != Some(false) {
            slot.token = None;
            slot.rejected = Some(refused.to_owned());
        }
    }

    /// Forgets everything cached for `id`: call it when the credential is updated or deleted.
    pub fn invalidate(&self, id: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // A caller holding the old slot finishes with the old settings; new callers start fresh.
        slots.remove(id);
    }

    /// The credential's sign-in method, as stored now.
    pub async fn method(&self, id: &str) -> Result<Method> {
        let credential = self.store.get(id).await?;
        Method::from_credential(&credential.meta.type_name, &credential.data, &self.settings)
    }

    /// Stores tokens obtained outside the provider (the OAuth2 connect flow) and caches them.
    pub async fn store_token(&self, id: &str, token: Token) -> Result<()> {
        self.store
            .set_token_data(id, Some(token.to_token_data()))
            .await?;
        self.invalidate(id);
        Ok(())
    }
}
