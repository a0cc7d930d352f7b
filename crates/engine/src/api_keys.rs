//! API keys: created by `switchyard api-key create`, checked on every `/api/v1` request.
//!
//! A key is 32 random bytes, base64url, prefixed `sy_`. Only its SHA-256 is stored: the
//! key has full entropy, so a slow password hash would add latency and no safety.

use base64::Engine;
use chrono::{SecondsFormat, Utc};
use db::Db;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Who an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id (not the key).
    pub id: String,
    /// The name given at creation.
    pub name: String,
}

/// Creates a key named `name`; returns its record and the key itself, which is not stored.
pub async fn create(db: &Db, name: &str) -> anyhow::Result<(ApiKey, String)> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "--name: expected a non-empty name");
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let key = format!(
        "sy_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let id = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query("INSERT INTO api_keys (id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(name)
        .bind(hash(&key))
        .bind(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true))
        .execute(db.pool())
        .await?;
    Ok((
        ApiKey {
            id,
            name: name.to_owned(),
        },
        key,
    ))
}

/// The key's owner, or `None` when no such key exists.
pub async fn verify(db: &Db, key: &str) -> Result<Option<ApiKey>, sqlx::Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, name FROM api_keys WHERE key_hash = $1")
            .bind(hash(key))
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(id, name)| ApiKey { id, name }))
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}
