//! The store as nodes and plugins see it: [`node_api::CredentialProvider`].
//!
//! References resolve by id, then by name when the id is unknown: a workflow exported from
//! n8n names credentials whose ids differ here unless they were imported with theirs.

use async_trait::async_trait;
use node_api::{
    CredentialError, CredentialProvider, CredentialRef, DecryptedCredential, NodeError,
    StoredCredential,
};
use secrecy::SecretString;
use serde_json::Value;

use super::{Credential, CredentialMeta, CredentialStore};
use crate::error::Error;

impl CredentialStore {
    /// The credential `reference` points at: by id, else by name; `None` when neither exists.
    pub async fn resolve_reference(
        &self,
        reference: &CredentialRef,
    ) -> crate::Result<Option<CredentialMeta>> {
        if let Some(id) = reference.id.as_deref().filter(|id| !id.is_empty()) {
            match self.get(id).await {
                Ok(found) => return Ok(Some(found.meta)),
                Err(Error::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let all = self.list().await?;
        Ok(all.into_iter().find(|meta| meta.name == reference.name))
    }

    async fn typed_reference(
        &self,
        reference: &CredentialRef,
        credential_type: &str,
    ) -> Result<CredentialMeta, NodeError> {
        let found = self
            .resolve_reference(reference)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                NodeError::credentials(format!("credential {:?} does not exist", reference.name))
            })?;
        if found.type_name != credential_type {
            return Err(NodeError::credentials(format!(
                "credential {:?} is a {}, this node needs a {credential_type}",
                found.name, found.type_name
            )));
        }
        Ok(found)
    }

    /// `found` as a node sees it: plain fields as JSON, secret fields as secrets.
    fn decrypted(&self, found: &Credential) -> DecryptedCredential {
        let kind = self.types().get(&found.meta.type_name);
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
        decrypted
    }
}

#[async_trait]
impl CredentialProvider for CredentialStore {
    async fn get(
        &self,
        reference: &CredentialRef,
        credential_type: &str,
    ) -> Result<DecryptedCredential, NodeError> {
        let meta = self.typed_reference(reference, credential_type).await?;
        let found = CredentialStore::get(self, &meta.id)
            .await
            .map_err(unavailable)?;
        Ok(self.decrypted(&found))
    }

    async fn resolve(
        &self,
        reference: &CredentialRef,
        credential_type: &str,
    ) -> Result<String, NodeError> {
        Ok(self.typed_reference(reference, credential_type).await?.id)
    }

    async fn by_id(&self, id: &str) -> Result<StoredCredential, CredentialError> {
        let found = CredentialStore::get(self, id).await.map_err(store_error)?;
        Ok(StoredCredential {
            id: found.meta.id,
            name: found.meta.name,
            type_name: found.meta.type_name,
            data: found.data,
            token_data: found.token_data,
        })
    }

    async fn set_token_data(
        &self,
        id: &str,
        token_data: Option<Value>,
    ) -> Result<(), CredentialError> {
        CredentialStore::set_token_data(self, id, token_data)
            .await
            .map_err(store_error)
    }

    async fn swap_token_data(
        &self,
        id: &str,
        expected: Option<&Value>,
        new: Option<Value>,
    ) -> Result<bool, CredentialError> {
        CredentialStore::swap_token_data(self, id, expected, new)
            .await
            .map_err(store_error)
    }
}

fn store_error(err: Error) -> CredentialError {
    match err {
        Error::NotFound { id } => CredentialError::NotFound { id },
        // The store's errors name ids and keys, never secrets.
        other => CredentialError::Unavailable(other.to_string()),
    }
}

fn unavailable(err: Error) -> NodeError {
    tracing::warn!(error = %err, "credential store error");
    NodeError::credentials(format!("the credential could not be read: {err}"))
}
