//! API keys: created by `switchyard api-key create`, checked on every `/api/v1` request.
//!
//! A key is 32 random bytes, base64url, prefixed `sy_`. Only its SHA-256 is stored: the
//! key has full entropy, so a slow password hash would add latency and no safety.
//!
//! Every request looks its key up in the database (one indexed read, no cache), so a key
//! revoked by `switchyard api-key revoke` stops working on a running server at once.

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

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// The key's id.
    pub id: String,
    /// The name given at creation.
    pub name: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last request made with it (to the minute), if any.
    pub last_used_at: Option<String>,
}

/// How often `last_used_at` is written for a key in use: often enough to tell an idle key,
/// rarely enough that requests do not turn into writes.
const LAST_USED_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// The key's owner, or `None` when no such key exists (or it was revoked). Notes the use
/// in the background, at most once a minute per key.
pub async fn verify(db: &Db, key: &str) -> Result<Option<ApiKey>, sqlx::Error> {
    let row: Option<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, name, last_used_at FROM api_keys WHERE key_hash = $1")
            .bind(hash(key))
            .fetch_optional(db.pool())
            .await?;
    let Some((id, name, last_used_at)) = row else {
        return Ok(None);
    };
    let now = Utc::now();
    let stale = last_used_at
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok())
        .is_none_or(|at| now.signed_duration_since(at) >= LAST_USED_EVERY);
    if stale {
        let db = db.clone();
        let key_id = id.clone();
        tokio::spawn(async move {
            let done = sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now.to_rfc3339_opts(SecondsFormat::Millis, true))
                .bind(&key_id)
                .execute(db.pool())
                .await;
            if let Err(err) = done {
                tracing::warn!(error = %err, key_id, "cannot note when an API key was used");
            }
        });
    }
    Ok(Some(ApiKey { id, name }))
}

/// Every API key, oldest first.
pub async fn list(db: &Db) -> Result<Vec<ApiKeyInfo>, sqlx::Error> {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, name, created_at, last_used_at FROM api_keys ORDER BY created_at, id",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at, last_used_at)| ApiKeyInfo {
            id,
            name,
            created_at,
            last_used_at,
        })
        .collect())
}

/// Revokes the key whose id, or else whose name, is `id_or_name`; it stops working at once.
/// A name shared by several keys is refused: revoke those by id.
pub async fn revoke(db: &Db, id_or_name: &str) -> anyhow::Result<ApiKey> {
    let all = list(db).await?;
    let by_id: Vec<&ApiKeyInfo> = all.iter().filter(|k| k.id == id_or_name).collect();
    let matches = if by_id.is_empty() {
        all.iter().filter(|k| k.name == id_or_name).collect()
    } else {
        by_id
    };
    let key = match matches.as_slice() {
        [] => anyhow::bail!(
            "no API key has the id or name {id_or_name:?}; see `switchyard api-key list`"
        ),
        [one] => *one,
        several => anyhow::bail!(
            "{} API keys are named {id_or_name:?}; revoke one by id: {}",
            several.len(),
            several
                .iter()
                .map(|k| k.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    sqlx::query("DELETE FROM api_keys WHERE id = $1")
        .bind(&key.id)
        .execute(db.pool())
        .await?;
    tracing::info!(key_id = %key.id, name = %key.name, "API key revoked");
    Ok(ApiKey {
        id: key.id.clone(),
        name: key.name.clone(),
    })
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}
