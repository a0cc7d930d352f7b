//! Decrypted credentials as a node sees them ([`DecryptedCredential`]) and as a plugin's
//! token provider reads them ([`StoredCredential`]), and the [`CredentialProvider`] the engine
//! implements over its encrypted store.
//!
//! Secret fields are held as [`SecretString`] or [`SecretData`]: `Debug` never prints them,
//! and [`SecretData`] wipes its strings when dropped.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::error::NodeError;

/// A node's reference to a stored credential (`credentials: {type: {id, name}}` in n8n JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRef {
    /// The credential's id, when the workflow names one.
    pub id: Option<String>,
    /// The credential's name (n8n falls back to it when the id is unknown).
    pub name: String,
}

enum Field {
    Plain(Value),
    Secret(SecretString),
}

/// A credential's fields, decrypted and typed: plain fields as JSON, secrets as `SecretString`.
pub struct DecryptedCredential {
    id: String,
    name: String,
    credential_type: String,
    fields: BTreeMap<String, Field>,
    token_data: Option<SecretString>,
}

impl DecryptedCredential {
    /// An empty credential; add fields with [`Self::with_field`] and [`Self::with_secret`].
    pub fn new(id: &str, name: &str, credential_type: &str) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            credential_type: credential_type.to_string(),
            fields: BTreeMap::new(),
            token_data: None,
        }
    }

    /// Adds a non-secret field.
    pub fn with_field(mut self, name: &str, value: Value) -> Self {
        self.fields.insert(name.to_string(), Field::Plain(value));
        self
    }

    /// Adds a secret field.
    pub fn with_secret(mut self, name: &str, value: SecretString) -> Self {
        self.fields.insert(name.to_string(), Field::Secret(value));
        self
    }

    /// Attaches token data (JSON text, kept secret: it holds access and refresh tokens).
    pub fn with_token_data(mut self, json: SecretString) -> Self {
        self.token_data = Some(json);
        self
    }

    /// The credential's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The credential's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The credential type, e.g. `salesforceJwtApi`.
    pub fn credential_type(&self) -> &str {
        &self.credential_type
    }

    /// A required non-secret string field.
    pub fn string(&self, field: &str) -> Result<&str, NodeError> {
        match self.fields.get(field) {
            Some(Field::Plain(Value::String(s))) if !s.is_empty() => Ok(s),
            Some(Field::Secret(_)) => Err(NodeError::credentials(format!(
                "credential field \"{field}\" is secret; read it with secret()"
            ))),
            Some(Field::Plain(_)) | None => Err(self.missing(field)),
        }
    }

    /// An optional non-secret string field (`None` when absent or empty).
    pub fn opt_string(&self, field: &str) -> Option<&str> {
        match self.fields.get(field) {
            Some(Field::Plain(Value::String(s))) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// A non-secret field of any JSON type.
    pub fn value(&self, field: &str) -> Option<&Value> {
        match self.fields.get(field) {
            Some(Field::Plain(v)) => Some(v),
            _ => None,
        }
    }

    /// A required secret field.
    pub fn secret(&self, field: &str) -> Result<SecretString, NodeError> {
        match self.fields.get(field) {
            Some(Field::Secret(s)) if !s.expose_secret().is_empty() => Ok(s.clone()),
            Some(Field::Plain(_)) => Err(NodeError::credentials(format!(
                "credential field \"{field}\" is not a secret field"
            ))),
            _ => Err(self.missing(field)),
        }
    }

    /// The token data JSON (access token, refresh token, instance URL ...), if any.
    pub fn token_data(&self) -> Option<&SecretString> {
        self.token_data.as_ref()
    }

    fn missing(&self, field: &str) -> NodeError {
        NodeError::credentials(format!(
            "credential \"{}\" ({}) has no value for field \"{field}\"",
            self.name, self.credential_type
        ))
    }
}

impl fmt::Debug for DecryptedCredential {
    // Field names are shown so a misconfigured credential can be diagnosed; values are not,
    // because even "plain" fields (usernames, client ids) are better left out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptedCredential")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("type", &self.credential_type)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field(
                "token_data",
                &self.token_data.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Decrypted credential fields (or token data), all of them, secrets included. `Debug`
/// shows only the field names; the strings are wiped when dropped.
#[derive(Clone, PartialEq)]
pub struct SecretData(Map<String, Value>);

impl SecretData {
    /// Wraps decrypted fields.
    pub fn new(fields: Map<String, Value>) -> Self {
        Self(fields)
    }

    /// The fields, secrets included.
    pub fn expose(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The fields, to change in place (the wiping on drop still covers them).
    pub fn expose_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// A string field, secrets included.
    pub fn get_str(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted;
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, Redacted)))
            .finish()
    }
}

impl Drop for SecretData {
    fn drop(&mut self) {
        fn wipe(value: &mut Value) {
            match value {
                Value::String(s) => s.zeroize(),
                Value::Array(items) => items.iter_mut().for_each(wipe),
                Value::Object(map) => map.values_mut().for_each(wipe),
                _ => {}
            }
        }
        self.0.values_mut().for_each(wipe);
    }
}

/// A stored credential as its plugin's token provider and OAuth2 connect strategy read it:
/// every field and the token data, decrypted. `Debug` shows no value.
#[derive(Clone, Debug)]
pub struct StoredCredential {
    /// The credential's id.
    pub id: String,
    /// The user's name for it.
    pub name: String,
    /// The credential type.
    pub type_name: String,
    /// The fields the user set.
    pub data: SecretData,
    /// What the last sign-in stored (tokens, instance URL), if anything.
    pub token_data: Option<SecretData>,
}

/// Why the credential store could not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// No credential has this id (it may have been deleted).
    #[error("credential {id} not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The store failed (database, decryption); the message names ids, never secrets.
    #[error("the credential store failed: {0}")]
    Unavailable(String),
}

/// Where credentials come from: the engine implements it over the encrypted store, so this
/// crate (and plugins) never depend on the store.
#[async_trait]
pub trait CredentialProvider: Send + Sync {
    /// The decrypted credential `reference` points at, which must be of `credential_type`.
    async fn get(
        &self,
        reference: &CredentialRef,
        credential_type: &str,
    ) -> Result<DecryptedCredential, NodeError>;

    /// The id of the credential `reference` points at, which must be of `credential_type`.
    async fn resolve(
        &self,
        reference: &CredentialRef,
        credential_type: &str,
    ) -> Result<String, NodeError> {
        Ok(self.get(reference, credential_type).await?.id().to_owned())
    }

    /// The credential with this id, fields and token data decrypted.
    async fn by_id(&self, id: &str) -> Result<StoredCredential, CredentialError>;

    /// Stores (or, with `None`, clears) the token data of credential `id`, encrypted. A
    /// plugin's token provider is its only writer: one sign-in per credential, and a sign-in
    /// that raced a change of the credential is not written.
    async fn set_token_data(
        &self,
        id: &str,
        token_data: Option<Value>,
    ) -> Result<(), CredentialError>;

    /// Stores `new` as the token data of credential `id` only when the token data stored
    /// now equals `expected` (both `None`: none stored), and says whether it did: a
    /// compare-and-set, so that processes sharing one database can agree on which of them
    /// refreshes a token (with refresh-token rotation, a second refresh with the same
    /// refresh token can end the grant). The engine's store does it atomically, reading
    /// the database itself rather than any cache; this default, for providers without a
    /// shared database, compares and writes in two steps.
    async fn swap_token_data(
        &self,
        id: &str,
        expected: Option<&Value>,
        new: Option<Value>,
    ) -> Result<bool, CredentialError> {
        let current = self.by_id(id).await?.token_data;
        let same = match (&current, expected) {
            (None, None) => true,
            (Some(current), Some(Value::Object(expected))) => current.expose() == expected,
            _ => false,
        };
        if same {
            self.set_token_data(id, new).await?;
        }
        Ok(same)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_never_shows_values_and_secrets_need_secret() {
        let c = DecryptedCredential::new("c1", "My SF", "salesforceOAuth2Api")
            .with_field("clientId", json!("client-abc"))
            .with_secret("clientSecret", SecretString::from("s3cr3t-value"))
            .with_token_data(SecretString::from(r#"{"access_token":"tok-xyz"}"#));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t-value"), "{dbg}");
        assert!(!dbg.contains("tok-xyz"), "{dbg}");
        assert!(dbg.contains("clientSecret"), "{dbg}");
        assert_eq!(c.string("clientId").unwrap(), "client-abc");
        assert_eq!(
            c.secret("clientSecret").unwrap().expose_secret(),
            "s3cr3t-value"
        );
        let err = c.string("clientSecret").unwrap_err();
        assert!(!err.message.contains("s3cr3t"), "{}", err.message);
        assert_eq!(
            c.string("username").unwrap_err().message,
            "credential \"My SF\" (salesforceOAuth2Api) has no value for field \"username\""
        );
    }
}
