//! Key rotation: re-sealing every blob not sealed with the current key.
//!
//! Rows are visited in id order, `batch_size` per transaction, and only rows still holding
//! an old key are read, so a run that was stopped part-way simply continues. Each UPDATE is
//! conditional on the row still holding the exact blob that was read: a server running
//! with the new key may write the same row meanwhile, and its write must win.

use std::time::Duration;

use super::{audit_row, format_time, now, token_aad, AuditAction, CredentialStore};
use crate::error::{Error, Result};
use crate::vault::{Sealed, VaultError};
use crate::Actor;

/// How [`CredentialStore::rotate`] paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotateOptions {
    /// Rows per transaction.
    pub batch_size: u32,
    /// Sleep between batches, to go gently on a busy database.
    pub pause: Duration,
}

impl Default for RotateOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            pause: Duration::ZERO,
        }
    }
}

/// What [`CredentialStore::rotate`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotateReport {
    /// Credentials re-sealed under the current key (data, token data or both).
    pub moved: u64,
    /// Credentials that were already fully sealed with the current key when the run began.
    pub already_current: u64,
    /// Credentials left alone because another writer changed them between read and write
    /// (that writer seals with the current key, so nothing is lost).
    pub changed_concurrently: u64,
}

/// A row as read for rotation.
#[derive(sqlx::FromRow)]
pub(crate) struct RotationRow {
    id: String,
    name: String,
    data_key_id: String,
    data: Vec<u8>,
    token_key_id: Option<String>,
    token_data: Option<Vec<u8>>,
}

/// The new blobs for one row; `None` where the blob is already current.
struct Reseal {
    row: RotationRow,
    data: Option<Sealed>,
    token: Option<Sealed>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BatchOutcome {
    pub(crate) moved: u64,
    pub(crate) changed_concurrently: u64,
}

impl CredentialStore {
    /// Re-seals every blob (data and token data) not sealed with the current key, in
    /// batches of `opts.batch_size` rows, one transaction and one `rotated` audit row per
    /// credential each. `progress` gets the running count of moved credentials after each
    /// batch. Stops with [`Error::MissingKey`] before writing anything when some blob needs
    /// a key the ring lacks. Dropping the future part-way loses at most the open batch,
    /// which rolls back; running again continues.
    pub async fn rotate(
        &self,
        opts: RotateOptions,
        mut progress: impl FnMut(u64),
    ) -> Result<RotateReport> {
        self.check_keys().await?;
        let current = self.inner.keys.current_id().to_owned();
        let (already_current,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM credentials WHERE data_key_id = $1 AND (token_key_id IS NULL OR token_key_id = $1)",
        )
        .bind(&current)
        .fetch_one(self.inner.db.pool())
        .await?;
        let mut report = RotateReport {
            already_current: u64::try_from(already_current).unwrap_or_default(),
            ..Default::default()
        };
        let mut after = String::new();
        loop {
            let rows = self.rotation_batch(&after, opts.batch_size.max(1)).await?;
            let Some(last) = rows.last() else { break };
            after = last.id.clone();
            let outcome = self.reseal_batch(rows).await?;
            report.moved += outcome.moved;
            report.changed_concurrently += outcome.changed_concurrently;
            progress(report.moved);
            if !opts.pause.is_zero() {
                tokio::time::sleep(opts.pause).await;
            }
        }
        tracing::info!(
            moved = report.moved,
            already_current = report.already_current,
            changed_concurrently = report.changed_concurrently,
            key_id = %current,
            "key rotation finished"
        );
        Ok(report)
    }

    /// The next rows after `after` (in id order) holding a blob sealed with an old key.
    pub(crate) async fn rotation_batch(&self, after: &str, limit: u32) -> Result<Vec<RotationRow>> {
        Ok(sqlx::query_as(
            "SELECT id, name, data_key_id, data, token_key_id, token_data FROM credentials \
             WHERE id > $1 AND (data_key_id <> $2 OR (token_key_id IS NOT NULL AND token_key_id <> $2)) \
             ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(self.inner.keys.current_id())
        .bind(i64::from(limit))
        .fetch_all(self.inner.db.pool())
        .await?)
    }

    /// Re-seals the rows read by [`Self::rotation_batch`] in one transaction; a row that
    /// changed since it was read is left as the other writer left it.
    pub(crate) async fn reseal_batch(&self, rows: Vec<RotationRow>) -> Result<BatchOutcome> {
        let keys = &self.inner.keys;
        let current = keys.current_id();
        // Decrypt everything before writing anything, so a bad blob aborts a clean batch.
        let mut reseals = Vec::with_capacity(rows.len());
        for row in rows {
            let reopen = |key_id: &str, blob: &[u8], aad: &[u8]| -> Result<Sealed> {
                let plain = keys.open(key_id, blob, aad).map_err(|e| match e {
                    VaultError::UnknownKey { key_id } => Error::MissingKey { key_id, rows: 1 },
                    _ => Error::Decrypt {
                        credential_id: row.id.clone(),
                    },
                })?;
                Ok(keys.seal(&plain, aad))
            };
            let data = if row.data_key_id == current {
                None
            } else {
                Some(reopen(&row.data_key_id, &row.data, row.id.as_bytes())?)
            };
            let token = match (&row.token_key_id, &row.token_data) {
                (Some(key_id), Some(blob)) if key_id != current => {
                    Some(reopen(key_id, blob, token_aad(&row.id).as_bytes())?)
                }
                _ => None,
            };
            reseals.push(Reseal { row, data, token });
        }
        let stamp = format_time(&now());
        let mut outcome = BatchOutcome::default();
        let mut tx = self.inner.db.pool().begin().await?;
        for Reseal { row, data, token } in &reseals {
            let mut wrote = false;
            let mut lost = false;
            if let Some(sealed) = data {
                let done = sqlx::query(
                    "UPDATE credentials SET data_key_id = $1, data = $2 WHERE id = $3 AND data_key_id = $4 AND data = $5",
                )
                .bind(&sealed.key_id)
                .bind(&sealed.blob)
                .bind(&row.id)
                .bind(&row.data_key_id)
                .bind(&row.data)
                .execute(&mut *tx)
                .await?;
                wrote |= done.rows_affected() > 0;
                lost |= done.rows_affected() == 0;
            }
            if let (Some(sealed), Some(old_key), Some(old_blob)) =
                (token, &row.token_key_id, &row.token_data)
            {
                let done = sqlx::query(
                    "UPDATE credentials SET token_key_id = $1, token_data = $2 \
                     WHERE id = $3 AND token_key_id = $4 AND token_data = $5",
                )
                .bind(&sealed.key_id)
                .bind(&sealed.blob)
                .bind(&row.id)
                .bind(old_key)
                .bind(old_blob)
                .execute(&mut *tx)
                .await?;
                wrote |= done.rows_affected() > 0;
                lost |= done.rows_affected() == 0;
            }
            if wrote {
                outcome.moved += 1;
                audit_row(
                    &mut tx,
                    &stamp,
                    &Actor::System,
                    AuditAction::Rotated,
                    &row.id,
                    &row.name,
                )
                .await?;
            } else if lost {
                outcome.changed_concurrently += 1;
            }
        }
        tx.commit().await?;
        self.inner.cache.invalidate_all();
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    //! The race the conditional UPDATEs exist for, made deterministic: a server writes rows
    //! after the rotation read them and before it writes them back.

    use std::sync::Arc;

    use serde_json::json;

    use super::BatchOutcome;
    use crate::{
        Actor, CredentialPatch, CredentialStore, CredentialType, CredentialTypes, EncryptionKey,
        FieldKind, FieldSpec, KeyRing, NewCredential, ValidateOptions,
    };
    use db::{testing, Db};

    fn test_type() -> CredentialType {
        let text = |name, secret| FieldSpec {
            name,
            kind: FieldKind::Text,
            required: true,
            secret,
            description: "",
            default: None,
        };
        CredentialType {
            oauth2: true,
            ..CredentialType::new(
                "testOAuth2Api",
                "Test OAuth2",
                vec![text("clientId", false), text("clientSecret", true)],
            )
        }
    }

    fn store(db: &Db, ring: KeyRing) -> CredentialStore {
        CredentialStore::new(
            db.clone(),
            Arc::new(ring),
            Arc::new(CredentialTypes::new([test_type()]).expect("distinct types")),
            ValidateOptions::default(),
        )
    }

    async fn writes_between_read_and_reseal_win(db: Db) {
        let old = EncryptionKey::generate();
        let old_store = store(&db, KeyRing::new(old.clone(), vec![]));
        let mut ids = Vec::new();
        for name in ["a", "b", "c"] {
            let new = NewCredential {
                id: Some(name.into()),
                name: name.into(),
                type_name: "testOAuth2Api".into(),
                data: json!({"clientId": "c", "clientSecret": format!("{name}-old")}),
            };
            ids.push(old_store.create(new, &Actor::Cli).await.unwrap().id);
        }
        old_store
            .set_token_data("a", Some(json!({"access_token": "a-old"})))
            .await
            .unwrap();

        let rotating = store(&db, KeyRing::new(EncryptionKey::generate(), vec![old]));
        let rows = rotating.rotation_batch("", 10).await.unwrap();
        assert_eq!(rows.len(), 3);

        // The server (new key) changes a's data (which clears its token) and sets b's token.
        let patch = CredentialPatch {
            name: None,
            data: Some(json!({"clientSecret": "a-new"})),
        };
        rotating.update("a", patch, &Actor::Cli).await.unwrap();
        rotating
            .set_token_data("b", Some(json!({"access_token": "b-new"})))
            .await
            .unwrap();

        let outcome = rotating.reseal_batch(rows).await.unwrap();
        assert_eq!(
            outcome,
            BatchOutcome {
                moved: 2,
                changed_concurrently: 1
            }
        );
        let a = rotating.get("a").await.unwrap();
        assert_eq!(a.data.get_str("clientSecret"), Some("a-new"));
        assert!(
            a.token_data.is_none(),
            "the stale token was not written back"
        );
        let b = rotating.get("b").await.unwrap();
        assert_eq!(b.data.get_str("clientSecret"), Some("b-old"));
        assert_eq!(b.token_data.unwrap().get_str("access_token"), Some("b-new"));
        let only_new = store(
            &db,
            KeyRing::new(EncryptionKey::parse(&"00".repeat(32)).unwrap(), vec![]),
        );
        assert!(
            only_new.check_keys().await.is_err(),
            "sanity: a foreign ring is refused"
        );
        rotating.check_keys().await.unwrap();
        let (left,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM credentials WHERE data_key_id <> $1 \
             OR (token_key_id IS NOT NULL AND token_key_id <> $1)",
        )
        .bind(rotating.current_key_id())
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(left, 0, "every row ends under the new key");
    }

    #[tokio::test]
    async fn writes_between_read_and_reseal_win_sqlite() {
        let (db, _dir) = testing::sqlite().await;
        writes_between_read_and_reseal_win(db).await;
    }

    #[cfg_attr(
        postgres_tests_unset,
        ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
    )]
    #[tokio::test]
    async fn writes_between_read_and_reseal_win_postgres() {
        if let Some(db) = testing::postgres("writes_between_read_and_reseal_win").await {
            writes_between_read_and_reseal_win(db).await;
        }
    }
}
