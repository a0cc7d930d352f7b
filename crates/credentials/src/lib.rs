//! Credentials for Switchyard: credential types and their fields, the AES-256-GCM vault,
//! and the encrypted credential store on SQLite or Postgres.
//!
//! # Layout
//! - [`db`]: the database handle (one pool for both backends) and the embedded migrations.
//! - [`types`]: the registry of credential types; validation, normalization (PEM repair),
//!   redaction, update merging and JSON Schema.
//! - [`vault`]: encryption keys, the key ring (current + previous keys), sealing and
//!   opening blobs, loading the key from the environment or a generated file.

pub mod db;
pub mod types;
pub mod vault;

pub use db::{Backend, Db, DbError};
pub use types::{
    CredentialType, FieldKind, FieldProblem, FieldSpec, Registry, ValidateOptions, ValidationError,
    REDACTED,
};
pub use vault::{EncryptionKey, KeyConfig, KeyFormatError, KeyRing, KeySource, Sealed, VaultError};
