//! Credentials for Switchyard: the AES-256-GCM vault and the encrypted credential store on
//! SQLite or Postgres. Credential types (fields, validation, token rules) come from the
//! plugins through [`CredentialTypes`]; this crate knows no integration by name.
//!
//! # Layout
//! - [`types`]: [`CredentialTypes`], the types the store accepts (each a
//!   [`node_api::CredentialType`]: validation, redaction, update merging, JSON Schema).
//! - [`vault`]: encryption keys, the key ring (current + previous keys), sealing and
//!   opening blobs, loading the key from the environment or a generated file.
//! - [`store`]: create / get / list / update / delete, token data, audit log, key
//!   rotation, and export / import in n8n's format, on top of the three above.
//! - [`Error`]: what a caller can act on; no variant's message holds a secret.

#![warn(missing_docs)]

mod error;
pub mod store;
pub mod types;
pub mod vault;

pub use error::{Error, Result};
pub use store::{
    Actor, AuditAction, AuditEntry, Credential, CredentialMeta, CredentialPatch, CredentialStore,
    ExportedCredential, ImportReport, NewCredential, RotateOptions, RotateReport, SecretData,
};
pub use types::CredentialTypes;
// The type description is the plugin contract's; re-exported for the store's callers.
pub use node_api::{
    CredentialType, FieldKind, FieldProblem, FieldSpec, TokensAfterUpdate, ValidateOptions,
    ValidationError, REDACTED,
};
pub use vault::{EncryptionKey, KeyConfig, KeyFormatError, KeyRing, KeySource, Sealed, VaultError};
