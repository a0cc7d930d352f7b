//! The crate's error type. No variant's message includes a secret: values of secret
//! fields, keys and plaintext never reach an error.

use crate::vault::{VaultError, KEY_VAR, PREVIOUS_KEYS_VAR};
use node_api::ValidationError;

/// What went wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credential has this id.
    #[error("credential {id} not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// A credential with this id exists already (create with an explicit id).
    #[error("a credential with id {id} already exists")]
    AlreadyExists {
        /// The id asked for.
        id: String,
    },
    /// The credential type is not one the plugins declare.
    #[error("unknown credential type {type_name:?}")]
    UnknownType {
        /// The type name given.
        type_name: String,
    },
    /// The input failed validation; every problem is listed.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Stored data was sealed with keys the ring lacks; the engine refuses to start.
    #[error(
        "stored credentials were encrypted with key id {key_id} ({rows} stored values), which is not configured; \
         set it as {KEY_VAR} or add it to {PREVIOUS_KEYS_VAR}"
    )]
    MissingKey {
        /// The id of the missing key (several are joined with ", ").
        key_id: String,
        /// How many stored encrypted values (data or token data) need it.
        rows: u64,
    },
    /// A stored blob did not decrypt with its key: altered, or copied from another row.
    #[error("credential {credential_id} could not be decrypted: its stored data was altered or belongs to another credential")]
    Decrypt {
        /// The credential whose data failed.
        credential_id: String,
    },
    /// A stored row decrypted but does not hold what it should (not a JSON object, bad timestamp).
    #[error("credential {credential_id} is stored in an unreadable form: {what}")]
    Corrupt {
        /// The credential concerned.
        credential_id: String,
        /// What is wrong, without any content.
        what: &'static str,
    },
    /// The row kept changing under an update (concurrent writers); retrying may succeed.
    #[error("credential {id} was changed concurrently too many times; try again")]
    Conflict {
        /// The credential concerned.
        id: String,
    },
    /// The vault refused (key format, key file).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
