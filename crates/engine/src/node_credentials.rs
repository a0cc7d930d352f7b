//! The credential store as the workflow validator sees it: a saved workflow may only
//! reference credentials that exist, of the type its node asks for. (Nodes and plugins reach
//! the store through `node_api::CredentialProvider`, which the store implements itself.)

use async_trait::async_trait;
use credentials::CredentialStore;
use node_api::CredentialRef;
use workflow::CredentialLookup;

/// The credential store, as the validator sees it.
#[derive(Clone)]
pub struct StoreCredentials {
    store: CredentialStore,
}

impl StoreCredentials {
    /// Wraps the store.
    pub fn new(store: CredentialStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl CredentialLookup for StoreCredentials {
    async fn credential_type(&self, reference: &CredentialRef) -> Option<String> {
        match self.store.resolve_reference(reference).await {
            Ok(found) => found.map(|meta| meta.type_name),
            Err(err) => {
                tracing::warn!(error = %err, "credential lookup failed");
                None
            }
        }
    }
}
