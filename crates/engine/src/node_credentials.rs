//! How workflows reach the credential store: the executor's [`CredentialProvider`] (nodes
//! get decrypted, typed credentials and write token data back) and the validator's
//! [`CredentialLookup`] (a saved workflow may only reference credentials that exist).
//!
//! References resolve by id, then by name when the id is unknown: a workflow exported from
//! n8n names credentials whose ids differ here unless they were imported with theirs.

use async_trait::async_trait;
use credentials::{Credential, CredentialStore};
use node_api::{CredentialProvider, CredentialRef, DecryptedCredential, NodeError};
use secrecy::SecretString;
use serde_json::Value;

use crate::workflow::CredentialLookup;

/// The credential store, as nodes and the validator see it.
#[derive(Clone)]
pub struct StoreCredentials {
    store: CredentialStore,
}

impl StoreCredentials {
    /// Wraps the store.
    pub fn new(store: CredentialStore) -> Self {
        Self { store }
    }

    async fn resolve(
        &self,
        reference: &CredentialRef,
    ) -> Result<Option<Credential>, credentials::Error> {
        if let Some(id) = reference.id.as_deref().filter(|id| !id.is_empty()) {
            match self.store.get(id).await {
                Ok(found) => return Ok(Some(found)),
                Err(credentials::Error::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let all = self.store.list().await?;
        match all.into_iter().find(|meta| meta.name == reference.name) {
            Some(meta) => self.store.get(&meta.id).await.map(Some),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl CredentialLookup for StoreCredentials {
    async fn credential_type(&self, reference: &CredentialRef) -> Option<String> {
        match self.resolve(reference).await {
            Ok(found) => found.map(|c| c.meta.type_name),
            Err(err) => {
                tracing::warn!(error = %err, "credential lookup failed");
                None
            }
        }
    }
}

#[async_trait]
impl CredentialProvider for StoreCredentials {
    async fn get(
        &self,
        reference: &CredentialRef,
        credential_type: &str,
    ) -> Result<DecryptedCredential, NodeError> {
        let found = self
            .resolve(reference)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                NodeError::credentials(format!("credential {:?} does not exist", reference.name))
            })?;
        if found.meta.type_name != credential_type {
            return Err(NodeError::credentials(format!(
                "credential {:?} is a {}, this node needs a {credential_type}",
                found.meta.name, found.meta.type_name
            )));
        }
        let kind = self.store.types().get(&found.meta.type_name);
        let mut decrypted =
            DecryptedCredential::new(&found.meta.id, &found.meta.name, &found.meta.type_name);
        for (field, value) in found.data.expose() {
            let secret = kind
                .and_then(|k| k.field(field))
                .is_some_and(|spec| spec.secret);
            decrypted = match (secret, value) {
                (true, Value::String(text)) => {
                    decrypted.with_secret(field, SecretString::from(text.clone()))
                }
                _ => decrypted.with_field(field, value.clone()),
            };
        }
        if let Some(token) = &found.token_data {
            let json = Value::Object(token.expose().clone()).to_string();
            decrypted = decrypted.with_token_data(SecretString::from(json));
        }
        Ok(decrypted)
    }

    async fn save_token_data(
        &self,
        reference: &CredentialRef,
        credential_type: &str,
        token_data: Value,
    ) -> Result<(), NodeError> {
        let found = self.get(reference, credential_type).await?;
        self.store
            .set_token_data(found.id(), Some(token_data))
            .await
            .map_err(unavailable)
    }
}

fn unavailable(err: credentials::Error) -> NodeError {
    // The store's errors name ids and keys, never secrets; the detail goes to the log.
    tracing::warn!(error = %err, "credential store error");
    NodeError::credentials(format!("the credential could not be read: {err}"))
}
