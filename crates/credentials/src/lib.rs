//! Credentials for Switchyard: credential types and their fields, the AES-256-GCM vault,
//! and the encrypted credential store on SQLite or Postgres. Knows nothing about
//! Salesforce beyond the names and fields of its credential types.
//!
//! # Layout
//! - [`types`]: the registry of credential types; validation, normalization (PEM repair),
//!   redaction, update merging and JSON Schema.
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
    tokens_after_update, Actor, AuditAction, AuditEntry, Credential, CredentialMeta,
    CredentialPatch, ExportedCredential, ImportReport, NewCredential, RotateOptions, RotateReport,
    SecretData, Store, TokensAfterUpdate,
};
pub use types::{
    CredentialType, FieldKind, FieldProblem, FieldSpec, Registry, ValidateOptions, ValidationError,
    REDACTED,
};
pub use vault::{EncryptionKey, KeyConfig, KeyFormatError, KeyRing, KeySource, Sealed, VaultError};
