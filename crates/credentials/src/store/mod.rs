//! The credential store: credentials sealed with the key ring and kept in SQLite or
//! Postgres, with an audit row for every change.
//!
//! Each row holds the user's fields (`data`, associated data = the credential id) and,
//! separately, the token data a sign-in returned (`token_data`, associated data =
//! `"{id}/token"`), each with the id of the key that sealed it. Writes that depend on what
//! was read are conditional on the row still holding the blob that was read, so a
//! concurrent writer (another request, a running server during `rotate-key`) is never
//! overwritten; see [`CredentialStore::update`] and [`CredentialStore::rotate`].

mod cache;
mod provider;
mod rotate;
mod transfer;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::types::CredentialTypes;
use crate::vault::{KeyRing, VaultError};
use db::Db;
use node_api::item::json_kind;
pub use node_api::SecretData;
use node_api::{CredentialType, FieldProblem, TokensAfterUpdate, ValidateOptions, ValidationError};

pub use rotate::{RotateOptions, RotateReport};
pub use transfer::{ExportedCredential, ImportReport};

/// How many times an update re-reads and retries when the row changed under it.
const UPDATE_ATTEMPTS: usize = 5;

/// Who performed a change, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A request authenticated with this API key.
    ApiKey {
        /// The API key's id (never the key).
        id: String,
        /// The API key's name.
        name: String,
    },
    /// The `switchyard` command line.
    Cli,
    /// The owner, signed in to the web console.
    Owner {
        /// The owner's email address.
        email: String,
    },
    /// Switchyard itself (key rotation, token refresh).
    System,
}

impl Actor {
    /// The text stored in the audit table: `api_key:{id}:{name}`, `cli` or `system`.
    pub fn as_stored(&self) -> String {
        match self {
            Actor::ApiKey { id, name } => format!("api_key:{id}:{name}"),
            Actor::Cli => "cli".into(),
            Actor::Owner { email } => format!("owner:{email}"),
            Actor::System => "system".into(),
        }
    }
}

/// What happened to a credential, as recorded in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Created through the API or CLI.
    Created,
    /// Name or data changed.
    Updated,
    /// Deleted.
    Deleted,
    /// Re-encrypted under the current key.
    Rotated,
    /// Created or overwritten by an import.
    Imported,
}

impl AuditAction {
    /// The stored text.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuditAction::Created => "created",
            AuditAction::Updated => "updated",
            AuditAction::Deleted => "deleted",
            AuditAction::Rotated => "rotated",
            AuditAction::Imported => "imported",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Created,
            Self::Updated,
            Self::Deleted,
            Self::Rotated,
            Self::Imported,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }
}

/// One audit record. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// When it happened.
    #[serde(serialize_with = "serialize_n8n_time")]
    pub at: DateTime<Utc>,
    /// Who did it, as stored (see [`Actor::as_stored`]).
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// Which credential.
    pub credential_id: String,
    /// The credential's name at the time.
    pub credential_name: Option<String>,
}

/// A credential's public description: everything but its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialMeta {
    /// 16 alphanumeric characters for new credentials, like n8n's.
    pub id: String,
    /// The user's name for it.
    pub name: String,
    /// The credential type's name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// When it was created.
    #[serde(serialize_with = "serialize_n8n_time")]
    pub created_at: DateTime<Utc>,
    /// When its name or data last changed.
    #[serde(serialize_with = "serialize_n8n_time")]
    pub updated_at: DateTime<Utc>,
}

/// n8n's timestamp form: ISO-8601 with milliseconds and `Z`.
fn serialize_n8n_time<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The stored form: RFC 3339 UTC with a fixed six fractional digits, so that text order is
/// time order and rows created in the same millisecond still list in creation order.
fn format_time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn now() -> DateTime<Utc> {
    // Truncated to what is stored, so values returned by writes equal later reads.
    Utc::now().trunc_subsecs(6)
}

/// A decrypted credential.
#[derive(Debug, Clone)]
pub struct Credential {
    /// Id, name, type and timestamps.
    pub meta: CredentialMeta,
    /// The user's fields, secrets included.
    pub data: SecretData,
    /// What the last sign-in returned (tokens), if any.
    pub token_data: Option<SecretData>,
}

/// Input to [`CredentialStore::create`].
#[derive(Clone)]
pub struct NewCredential {
    /// An explicit id (1-64 characters of letters, digits, `-`, `_`), or `None` for a new one.
    pub id: Option<String>,
    /// The user's name for it; must not be blank.
    pub name: String,
    /// The credential type's name.
    pub type_name: String,
    /// The fields, validated against the type.
    pub data: Value,
}

impl fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCredential")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("data", &"[redacted]")
            .finish()
    }
}

/// Input to [`CredentialStore::update`]: only what is `Some` changes.
#[derive(Clone, Default)]
pub struct CredentialPatch {
    /// A new name.
    pub name: Option<String>,
    /// Fields to change, merged into the stored ones (see [`CredentialType::merge_update`]).
    pub data: Option<Value>,
}

impl fmt::Debug for CredentialPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialPatch")
            .field("name", &self.name)
            .field("data", &self.data.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A stored row, still sealed.
#[derive(Clone, sqlx::FromRow)]
pub(crate) struct Row {
    id: String,
    name: String,
    #[sqlx(rename = "type")]
    type_name: String,
    data_key_id: String,
    data: Vec<u8>,
    token_key_id: Option<String>,
    token_data: Option<Vec<u8>>,
    created_at: String,
    updated_at: String,
}

const SELECT_ROW: &str =
    "SELECT id, name, type, data_key_id, data, token_key_id, token_data, created_at, updated_at \
                          FROM credentials WHERE id = $1";

#[derive(sqlx::FromRow)]
struct MetaRow {
    id: String,
    name: String,
    #[sqlx(rename = "type")]
    type_name: String,
    created_at: String,
    updated_at: String,
}

fn parse_time(id: &str, text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::Corrupt {
            credential_id: id.to_owned(),
            what: "a timestamp is not RFC 3339",
        })
}

impl MetaRow {
    fn into_meta(self) -> Result<CredentialMeta> {
        Ok(CredentialMeta {
            created_at: parse_time(&self.id, &self.created_at)?,
            updated_at: parse_time(&self.id, &self.updated_at)?,
            id: self.id,
            name: self.name,
            type_name: self.type_name,
        })
    }
}

impl Row {
    fn meta(&self) -> Result<CredentialMeta> {
        Ok(CredentialMeta {
            id: self.id.clone(),
            name: self.name.clone(),
            type_name: self.type_name.clone(),
            created_at: parse_time(&self.id, &self.created_at)?,
            updated_at: parse_time(&self.id, &self.updated_at)?,
        })
    }
}

/// The associated data binding a token blob to its credential (and not to its data column).
fn token_aad(id: &str) -> String {
    format!("{id}/token")
}

/// Checks an explicit credential id: ids reach URLs and file names, so keep them plain.
fn check_id(id: &str) -> Option<FieldProblem> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (!ok).then(|| FieldProblem {
        field: "id".into(),
        expected: "1 to 64 letters, digits, '-' or '_'".into(),
    })
}

fn check_name(name: &str) -> Result<String, FieldProblem> {
    let name = name.trim();
    if name.is_empty() {
        Err(FieldProblem {
            field: "name".into(),
            expected: "required, a non-empty string".into(),
        })
    } else if name.contains('\0') {
        // Postgres cannot store it; refused on both backends alike.
        Err(FieldProblem {
            field: "name".into(),
            expected: "a string without NUL bytes".into(),
        })
    } else {
        Ok(name.to_owned())
    }
}

/// A new id: 16 alphanumeric characters, like n8n's.
fn new_id() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 16)
}

struct Inner {
    db: Db,
    keys: Arc<KeyRing>,
    types: Arc<CredentialTypes>,
    opts: ValidateOptions,
    cache: cache::RowCache,
}

/// The credential store. Cheap to clone: clones share the pool, keys and cache.
#[derive(Clone)]
pub struct CredentialStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("db", &self.inner.db)
            .field("keys", &self.inner.keys)
            .finish()
    }
}

impl CredentialStore {
    /// A store over `db`, sealing with `keys`, validating against `types` with `opts`.
    pub fn new(
        db: Db,
        keys: Arc<KeyRing>,
        types: Arc<CredentialTypes>,
        opts: ValidateOptions,
    ) -> CredentialStore {
        CredentialStore {
            inner: Arc::new(Inner {
                db,
                keys,
                types,
                opts,
                cache: cache::RowCache::new(cache::DEFAULT_TTL),
            }),
        }
    }

    /// The same store with a different bound on how long a cached row is trusted
    /// (`Duration::ZERO` turns the cache off). See [`CredentialStore::get`].
    pub fn with_cache_ttl(self, ttl: std::time::Duration) -> CredentialStore {
        let inner = &self.inner;
        CredentialStore {
            inner: Arc::new(Inner {
                db: inner.db.clone(),
                keys: inner.keys.clone(),
                types: inner.types.clone(),
                opts: inner.opts,
                cache: cache::RowCache::new(ttl),
            }),
        }
    }

    /// The database this store writes to.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The id of the key new writes are sealed with.
    pub fn current_key_id(&self) -> &str {
        self.inner.keys.current_id()
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// The credential types.
    pub fn types(&self) -> &CredentialTypes {
        &self.inner.types
    }

    fn credential_type(&self, type_name: &str) -> Result<&CredentialType> {
        self.inner
            .types
            .get(type_name)
            .ok_or_else(|| Error::UnknownType {
                type_name: type_name.to_owned(),
            })
    }

    /// Refuses (with [`Error::MissingKey`]) when any stored blob, data or token, was sealed
    /// with a key the ring lacks. Called at start-up.
    pub async fn check_keys(&self) -> Result<()> {
        let counts: Vec<(String, i64)> = sqlx::query_as(
            "SELECT data_key_id, COUNT(*) FROM credentials GROUP BY data_key_id \
             UNION ALL \
             SELECT token_key_id, COUNT(*) FROM credentials WHERE token_key_id IS NOT NULL GROUP BY token_key_id",
        )
        .fetch_all(self.inner.db.pool())
        .await?;
        let mut missing = std::collections::BTreeMap::<String, u64>::new();
        for (key_id, n) in counts {
            if !self.inner.keys.has(&key_id) {
                *missing.entry(key_id).or_default() += u64::try_from(n).unwrap_or_default();
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::MissingKey {
            key_id: missing.keys().cloned().collect::<Vec<_>>().join(", "),
            rows: missing.values().sum(),
        })
    }

    /// Validates and stores a new credential, sealed under the current key.
    pub async fn create(&self, new: NewCredential, actor: &Actor) -> Result<CredentialMeta> {
        let ty = self.credential_type(&new.type_name)?;
        let mut problems = Vec::new();
        if let Some(p) = new.id.as_deref().and_then(check_id) {
            problems.push(p);
        }
        let name = check_name(&new.name).map_err(|p| problems.push(p)).ok();
        let data = match ty.validate(&new.data, &self.inner.opts) {
            Ok(data) => Some(data),
            Err(e) => {
                problems.extend(e.problems);
                None
            }
        };
        let (Some(name), Some(data), true) = (name, data, problems.is_empty()) else {
            return Err(ValidationError { problems }.into());
        };
        let id = new.id.unwrap_or_else(new_id);
        let sealed = self.seal_data(&id, &data);
        let at = now();
        let stamp = format_time(&at);
        let mut tx = self.inner.db.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO credentials (id, name, type, data_key_id, data, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(&name)
        .bind(ty.name)
        .bind(&sealed.key_id)
        .bind(sealed.blob)
        .bind(&stamp)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(Error::AlreadyExists { id });
        }
        audit_row(&mut tx, &stamp, actor, AuditAction::Created, &id, &name).await?;
        tx.commit().await?;
        self.inner.cache.invalidate(&id);
        tracing::debug!(credential_id = %id, credential_type = ty.name, "credential created");
        Ok(CredentialMeta {
            id,
            name,
            type_name: ty.name.to_owned(),
            created_at: at,
            updated_at: at,
        })
    }

    fn seal_data(&self, id: &str, data: &Map<String, Value>) -> crate::vault::Sealed {
        let plain =
            zeroize::Zeroizing::new(serde_json::to_vec(data).expect("a JSON map serializes"));
        self.inner.keys.seal(&plain, id.as_bytes())
    }

    async fn fetch_row(&self, id: &str) -> Result<Row> {
        sqlx::query_as::<_, Row>(SELECT_ROW)
            .bind(id)
            .fetch_optional(self.inner.db.pool())
            .await?
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })
    }

    /// The row, from the cache when it holds a fresh copy.
    async fn cached_row(&self, id: &str) -> Result<Arc<Row>> {
        if let Some(row) = self.inner.cache.get(id) {
            return Ok(row);
        }
        let generation = self.inner.cache.generation();
        let row = Arc::new(self.fetch_row(id).await?);
        self.inner.cache.insert(id, row.clone(), generation);
        Ok(row)
    }

    fn open_map(
        &self,
        id: &str,
        key_id: &str,
        blob: &[u8],
        aad: &[u8],
    ) -> Result<Map<String, Value>> {
        let plain = self
            .inner
            .keys
            .open(key_id, blob, aad)
            .map_err(|e| match e {
                VaultError::UnknownKey { key_id } => Error::MissingKey { key_id, rows: 1 },
                _ => Error::Decrypt {
                    credential_id: id.to_owned(),
                },
            })?;
        serde_json::from_slice(&plain).map_err(|_| Error::Corrupt {
            credential_id: id.to_owned(),
            what: "decrypted data is not a JSON object",
        })
    }

    fn open_row(&self, row: &Row) -> Result<Credential> {
        let data = self.open_map(&row.id, &row.data_key_id, &row.data, row.id.as_bytes())?;
        let token_data = match (&row.token_key_id, &row.token_data) {
            (Some(key_id), Some(blob)) => Some(SecretData::new(self.open_map(
                &row.id,
                key_id,
                blob,
                token_aad(&row.id).as_bytes(),
            )?)),
            _ => None,
        };
        Ok(Credential {
            meta: row.meta()?,
            data: SecretData::new(data),
            token_data,
        })
    }

    /// Reads and decrypts one credential.
    ///
    /// Sealed rows are cached in this process for a short time (1 s by default, see
    /// [`CredentialStore::with_cache_ttl`]): every write through this store, or any clone of it,
    /// drops the entry at once; a write by another process is seen after at most that
    /// bound. Only ciphertext is cached, never plaintext.
    pub async fn get(&self, id: &str) -> Result<Credential> {
        let row = self.cached_row(id).await?;
        self.open_row(&row)
    }

    /// The credential's description and its data with every secret field replaced by
    /// [`node_api::REDACTED`].
    pub async fn get_redacted(&self, id: &str) -> Result<(CredentialMeta, Map<String, Value>)> {
        let row = self.cached_row(id).await?;
        let credential = self.open_row(&row)?;
        let redacted = match self.inner.types.get(&credential.meta.type_name) {
            Some(ty) => ty.redact(credential.data.expose()),
            // A type this build does not know: hide every value rather than guess.
            None => credential
                .data
                .expose()
                .keys()
                .map(|k| (k.clone(), Value::String(node_api::REDACTED.into())))
                .collect(),
        };
        Ok((credential.meta.clone(), redacted))
    }

    /// Every credential's description, oldest first.
    pub async fn list(&self) -> Result<Vec<CredentialMeta>> {
        sqlx::query_as::<_, MetaRow>(
            "SELECT id, name, type, created_at, updated_at FROM credentials ORDER BY created_at, id",
        )
        .fetch_all(self.inner.db.pool())
        .await?
        .into_iter()
        .map(MetaRow::into_meta)
        .collect()
    }

    /// Changes the name and/or merges new fields into the data, then validates the result;
    /// nothing is stored when anything is wrong. A change of data clears the token data,
    /// since tokens were issued for the old settings; except that when only the client
    /// secret of an OAuth2 credential changes, the refresh token is kept (see
    /// [`CredentialType::tokens_after_update`]).
    pub async fn update(
        &self,
        id: &str,
        patch: CredentialPatch,
        actor: &Actor,
    ) -> Result<CredentialMeta> {
        for _ in 0..UPDATE_ATTEMPTS {
            let row = self.fetch_row(id).await?;
            let ty = self.credential_type(&row.type_name)?;
            let mut problems = Vec::new();
            let name = match patch.name.as_deref().map(check_name) {
                None => Some(row.name.clone()),
                Some(Ok(name)) => Some(name),
                Some(Err(p)) => {
                    problems.push(p);
                    None
                }
            };
            let new_data = match &patch.data {
                None => None,
                Some(Value::Object(fields)) => {
                    let stored = SecretData::new(self.open_map(
                        &row.id,
                        &row.data_key_id,
                        &row.data,
                        row.id.as_bytes(),
                    )?);
                    let merged = Value::Object(ty.merge_update(stored.expose(), fields));
                    match ty.validate(&merged, &self.inner.opts) {
                        Ok(data) if data == *stored.expose() => None,
                        Ok(data) => Some(SecretData::new(data)),
                        Err(e) => {
                            problems.extend(e.problems);
                            None
                        }
                    }
                }
                Some(other) => {
                    problems.push(FieldProblem {
                        field: "data".into(),
                        expected: format!(
                            "expected a JSON object with the fields to change, got {}",
                            json_kind(other)
                        ),
                    });
                    None
                }
            };
            let Some(name) = name.filter(|_| problems.is_empty()) else {
                return Err(ValidationError { problems }.into());
            };
            if name == row.name && new_data.is_none() {
                return row.meta();
            }
            let at = now();
            let stamp = format_time(&at);
            let mut tx = self.inner.db.pool().begin().await?;
            let kept_tokens = match &new_data {
                Some(data) => self.tokens_kept(&row, ty, data.expose())?,
                None => None,
            };
            let result = match (&new_data, kept_tokens) {
                (Some(data), Some((token, read_token))) => {
                    // Conditional on the token data read too: a refresh that rotated the
                    // refresh token meanwhile must not be overwritten with the old one.
                    let sealed = self.seal_data(id, data.expose());
                    sqlx::query(
                        "UPDATE credentials SET name = $1, data_key_id = $2, data = $3, token_key_id = $4, \
                         token_data = $5, updated_at = $6 WHERE id = $7 AND data_key_id = $8 AND data = $9 \
                         AND token_data = $10",
                    )
                    .bind(&name)
                    .bind(&sealed.key_id)
                    .bind(sealed.blob)
                    .bind(&token.key_id)
                    .bind(token.blob)
                    .bind(&stamp)
                    .bind(id)
                    .bind(&row.data_key_id)
                    .bind(&row.data)
                    .bind(read_token)
                    .execute(&mut *tx)
                    .await?
                }
                (Some(data), None) => {
                    let sealed = self.seal_data(id, data.expose());
                    sqlx::query(
                        "UPDATE credentials SET name = $1, data_key_id = $2, data = $3, token_key_id = NULL, \
                         token_data = NULL, updated_at = $4 WHERE id = $5 AND data_key_id = $6 AND data = $7",
                    )
                    .bind(&name)
                    .bind(&sealed.key_id)
                    .bind(sealed.blob)
                    .bind(&stamp)
                    .bind(id)
                    .bind(&row.data_key_id)
                    .bind(&row.data)
                    .execute(&mut *tx)
                    .await?
                }
                (None, _) => {
                    sqlx::query("UPDATE credentials SET name = $1, updated_at = $2 WHERE id = $3")
                        .bind(&name)
                        .bind(&stamp)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                }
            };
            if result.rows_affected() == 0 {
                // Changed (or deleted) since we read it: read again and re-apply the patch.
                tx.rollback().await?;
                continue;
            }
            audit_row(&mut tx, &stamp, actor, AuditAction::Updated, id, &name).await?;
            tx.commit().await?;
            self.inner.cache.invalidate(id);
            tracing::debug!(credential_id = %id, data_changed = new_data.is_some(), "credential updated");
            let mut meta = row.meta()?;
            meta.name = name;
            meta.updated_at = at;
            return Ok(meta);
        }
        Err(Error::Conflict { id: id.to_owned() })
    }

    /// The token data to store with new `data`, sealed, and the token blob it replaces; `None`
    /// when the update clears the token data.
    fn tokens_kept(
        &self,
        row: &Row,
        ty: &CredentialType,
        data: &Map<String, Value>,
    ) -> Result<Option<(crate::vault::Sealed, Vec<u8>)>> {
        let (Some(key_id), Some(blob)) = (&row.token_key_id, &row.token_data) else {
            return Ok(None);
        };
        let stored = SecretData::new(self.open_map(
            &row.id,
            &row.data_key_id,
            &row.data,
            row.id.as_bytes(),
        )?);
        if ty.tokens_after_update(stored.expose(), data) != TokensAfterUpdate::DropAccessToken {
            return Ok(None);
        }
        let mut token =
            SecretData::new(self.open_map(&row.id, key_id, blob, token_aad(&row.id).as_bytes())?);
        token.expose_mut().remove("access_token");
        if token.get_str("refresh_token").is_none() {
            return Ok(None);
        }
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(token.expose()).expect("a JSON map serializes"),
        );
        let sealed = self.inner.keys.seal(&plain, token_aad(&row.id).as_bytes());
        Ok(Some((sealed, blob.clone())))
    }

    /// Deletes a credential.
    pub async fn delete(&self, id: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.inner.db.pool().begin().await?;
        let name: Option<(String,)> =
            sqlx::query_as("DELETE FROM credentials WHERE id = $1 RETURNING name")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((name,)) = name else {
            return Err(Error::NotFound { id: id.to_owned() });
        };
        audit_row(
            &mut tx,
            &format_time(&now()),
            actor,
            AuditAction::Deleted,
            id,
            &name,
        )
        .await?;
        tx.commit().await?;
        self.inner.cache.invalidate(id);
        tracing::debug!(credential_id = %id, "credential deleted");
        Ok(())
    }

    /// Stores (sealed under the current key) or, with `None`, clears the token data.
    /// Token data must be a JSON object. Not audited: tokens refresh often.
    pub async fn set_token_data(&self, id: &str, token: Option<Value>) -> Result<()> {
        let result =
            match token {
                Some(Value::Object(fields)) => {
                    let plain = zeroize::Zeroizing::new(
                        serde_json::to_vec(&fields).expect("a JSON map serializes"),
                    );
                    drop(SecretData::new(fields));
                    let sealed = self.inner.keys.seal(&plain, token_aad(id).as_bytes());
                    sqlx::query(
                        "UPDATE credentials SET token_key_id = $1, token_data = $2 WHERE id = $3",
                    )
                    .bind(&sealed.key_id)
                    .bind(sealed.blob)
                    .bind(id)
                    .execute(self.inner.db.pool())
                    .await?
                }
                Some(other) => {
                    let problem = format!("expected a JSON object, got {}", json_kind(&other));
                    return Err(ValidationError::single("tokenData", problem).into());
                }
                None => sqlx::query(
                    "UPDATE credentials SET token_key_id = NULL, token_data = NULL WHERE id = $1",
                )
                .bind(id)
                .execute(self.inner.db.pool())
                .await?,
            };
        self.inner.cache.invalidate(id);
        if result.rows_affected() == 0 {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        Ok(())
    }

    /// Replaces the token data with `new` only when the token data stored now, read from the
    /// database rather than the cache, equals `expected` (both `None`: none stored); returns
    /// whether it did. A compare-and-set: processes sharing the database use it to agree on
    /// which one refreshes a token, since with refresh-token rotation a second refresh with
    /// the same refresh token ends the grant. Not audited, like [`CredentialStore::set_token_data`].
    pub async fn swap_token_data(
        &self,
        id: &str,
        expected: Option<&Value>,
        new: Option<Value>,
    ) -> Result<bool> {
        let sealed = match new {
            Some(Value::Object(fields)) => {
                let plain = zeroize::Zeroizing::new(
                    serde_json::to_vec(&fields).expect("a JSON map serializes"),
                );
                drop(SecretData::new(fields));
                Some(self.inner.keys.seal(&plain, token_aad(id).as_bytes()))
            }
            Some(other) => {
                let problem = format!("expected a JSON object, got {}", json_kind(&other));
                return Err(ValidationError::single("tokenData", problem).into());
            }
            None => None,
        };
        let (key_id, blob) = match sealed {
            Some(s) => (Some(s.key_id), Some(s.blob)),
            None => (None, None),
        };
        for _ in 0..UPDATE_ATTEMPTS {
            let row = self.fetch_row(id).await?;
            let current = match (&row.token_key_id, &row.token_data) {
                (Some(key_id), Some(stored)) => Some(SecretData::new(self.open_map(
                    id,
                    key_id,
                    stored,
                    token_aad(id).as_bytes(),
                )?)),
                _ => None,
            };
            let same = match (&current, expected) {
                (None, None) => true,
                (Some(current), Some(Value::Object(expected))) => current.expose() == expected,
                _ => false,
            };
            if !same {
                // Whoever reads next should see what changed, not a cached copy.
                self.inner.cache.invalidate(id);
                return Ok(false);
            }
            // Conditional on the very blob read: a write in between (another process's
            // refresh, an update, a key rotation) makes it match no row, and we read again.
            let result = sqlx::query(
                "UPDATE credentials SET token_key_id = $1, token_data = $2 \
                 WHERE id = $3 AND token_data IS NOT DISTINCT FROM $4",
            )
            .bind(&key_id)
            .bind(&blob)
            .bind(id)
            .bind(&row.token_data)
            .execute(self.inner.db.pool())
            .await?;
            self.inner.cache.invalidate(id);
            if result.rows_affected() == 1 {
                return Ok(true);
            }
        }
        Err(Error::Conflict { id: id.to_owned() })
    }

    /// The latest `limit` audit records, newest first; only those of one credential when
    /// `credential_id` is given.
    pub async fn audit(&self, credential_id: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(String, String, String, String, Option<String>)> = match credential_id {
            Some(id) => sqlx::query_as(
                "SELECT at, actor, action, credential_id, credential_name FROM credential_audit \
                     WHERE credential_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(self.inner.db.pool())
            .await?,
            None => sqlx::query_as(
                "SELECT at, actor, action, credential_id, credential_name FROM credential_audit \
                     ORDER BY id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(self.inner.db.pool())
            .await?,
        };
        rows.into_iter()
            .map(|(at, actor, action, credential_id, credential_name)| {
                Ok(AuditEntry {
                    at: parse_time(&credential_id, &at)?,
                    actor,
                    action: AuditAction::parse(&action).ok_or_else(|| Error::Corrupt {
                        credential_id: credential_id.clone(),
                        what: "an audit row has an unknown action",
                    })?,
                    credential_id,
                    credential_name,
                })
            })
            .collect()
    }
}

async fn audit_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    at: &str,
    actor: &Actor,
    action: AuditAction,
    credential_id: &str,
    credential_name: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO credential_audit (at, actor, action, credential_id, credential_name) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(at)
    .bind(actor.as_stored())
    .bind(action.as_str())
    .bind(credential_id)
    .bind(credential_name)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
