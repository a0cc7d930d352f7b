//! Export and import in n8n's `export:credentials --decrypted` format: a JSON array of
//! `{id, name, type, data}` with the decrypted fields in `data`, and for OAuth2 types the
//! token data in `data.oauthTokenData`.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    audit_row, check_id, check_name, format_time, now, token_aad, Actor, AuditAction,
    CredentialStore, Row, SecretData,
};
use crate::error::Result;
use node_api::{FieldProblem, ValidationError};

/// The field holding OAuth token data in n8n's credential data.
pub const OAUTH_TOKEN_FIELD: &str = "oauthTokenData";

/// Keys n8n keeps in OAuth2 credential data for the sign-in flow in progress; they mean
/// nothing once imported and are dropped.
const N8N_INTERNAL_FIELDS: &[&str] = &["csrfSecret", "codeVerifier"];

/// One credential in n8n's decrypted export format. `Debug` hides `data`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedCredential {
    /// The credential id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The credential type's name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The decrypted fields (secrets included), plus `oauthTokenData` for OAuth2 types.
    pub data: Value,
}

impl fmt::Debug for ExportedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportedCredential")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("data", &"[redacted]")
            .finish()
    }
}

/// What [`CredentialStore::import`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Credentials whose id was new.
    pub created: u64,
    /// Credentials whose id existed and were overwritten.
    pub updated: u64,
}

/// An item checked and ready to write.
struct Checked {
    id: String,
    name: String,
    type_name: &'static str,
    data: SecretData,
    token: Option<SecretData>,
}

impl CredentialStore {
    /// Every credential, decrypted, oldest first, in n8n's export format.
    pub async fn export_decrypted(&self) -> Result<Vec<ExportedCredential>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, type, data_key_id, data, token_key_id, token_data, created_at, \
             updated_at FROM credentials ORDER BY created_at, id",
        )
        .fetch_all(self.inner.db.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let credential = self.open_row(&row)?;
            let mut data = credential.data.expose().clone();
            let oauth = self
                .inner
                .types
                .get(&row.type_name)
                .is_some_and(|t| t.oauth2);
            if let (true, Some(token)) = (oauth, &credential.token_data) {
                data.insert(
                    OAUTH_TOKEN_FIELD.into(),
                    Value::Object(token.expose().clone()),
                );
            }
            out.push(ExportedCredential {
                id: row.id,
                name: row.name,
                type_name: row.type_name,
                data: Value::Object(data),
            });
        }
        Ok(out)
    }

    /// Imports credentials in n8n's export format, creating new ids and overwriting
    /// existing ones. Every item is validated first; if any is bad, every problem is
    /// reported (fields named `items[N] (id ID).field`) and nothing is written.
    pub async fn import(
        &self,
        items: Vec<ExportedCredential>,
        actor: &Actor,
    ) -> Result<ImportReport> {
        let mut problems = Vec::new();
        let mut checked = Vec::with_capacity(items.len());
        let mut seen = HashSet::new();
        for (index, item) in items.iter().enumerate() {
            let prefix = format!("items[{index}] (id {:?})", truncate(&item.id));
            let mut push = |field: &str, expected: String| {
                problems.push(FieldProblem {
                    field: format!("{prefix}.{field}"),
                    expected,
                })
            };
            if let Some(p) = check_id(&item.id) {
                push(&p.field, p.expected);
            } else if !seen.insert(item.id.clone()) {
                push(
                    "id",
                    "an id not used by an earlier item in the same file".into(),
                );
            }
            let name = check_name(&item.name)
                .map_err(|p| push(&p.field, p.expected))
                .ok();
            let Some(ty) = self.inner.types.get(&item.type_name) else {
                push(
                    "type",
                    format!(
                        "one of {}, got {:?}",
                        self.inner.types.names().collect::<Vec<_>>().join(", "),
                        truncate(&item.type_name)
                    ),
                );
                continue;
            };
            let Value::Object(fields) = &item.data else {
                push(
                    "data",
                    format!("expected a JSON object with the fields of {}", ty.name),
                );
                continue;
            };
            let mut fields = fields.clone();
            for internal in N8N_INTERNAL_FIELDS {
                fields.remove(*internal);
            }
            let token = if ty.oauth2 {
                match fields.remove(OAUTH_TOKEN_FIELD) {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(token)) => Some(token),
                    Some(_) => {
                        push(
                            &format!("data.{OAUTH_TOKEN_FIELD}"),
                            "expected a JSON object".into(),
                        );
                        None
                    }
                }
            } else {
                None
            };
            match ty.validate(&Value::Object(fields), &self.inner.opts) {
                Ok(data) => {
                    if let Some(name) = name {
                        checked.push(Checked {
                            id: item.id.clone(),
                            name,
                            type_name: ty.name,
                            data: SecretData::new(data),
                            token: token.map(SecretData::new),
                        });
                    }
                }
                Err(e) => {
                    for p in e.problems {
                        push(&format!("data.{}", p.field), p.expected);
                    }
                }
            }
        }
        drop(items);
        if !problems.is_empty() {
            return Err(ValidationError { problems }.into());
        }

        let stamp = format_time(&now());
        let mut report = ImportReport::default();
        let mut tx = self.inner.db.pool().begin().await?;
        for item in &checked {
            let sealed = self.seal_data(&item.id, item.data.expose());
            let token = item.token.as_ref().map(|t| {
                let plain = zeroize::Zeroizing::new(
                    serde_json::to_vec(t.expose()).expect("a JSON map serializes"),
                );
                self.inner.keys.seal(&plain, token_aad(&item.id).as_bytes())
            });
            let (token_key_id, token_blob) = match token {
                Some(s) => (Some(s.key_id), Some(s.blob)),
                None => (None, None),
            };
            let updated = sqlx::query(
                "UPDATE credentials SET name = $1, type = $2, data_key_id = $3, data = $4, token_key_id = $5, \
                 token_data = $6, updated_at = $7 WHERE id = $8",
            )
            .bind(&item.name)
            .bind(item.type_name)
            .bind(&sealed.key_id)
            .bind(&sealed.blob)
            .bind(&token_key_id)
            .bind(&token_blob)
            .bind(&stamp)
            .bind(&item.id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() > 0 {
                report.updated += 1;
            } else {
                sqlx::query(
                    "INSERT INTO credentials (id, name, type, data_key_id, data, token_key_id, token_data, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                )
                .bind(&item.id)
                .bind(&item.name)
                .bind(item.type_name)
                .bind(&sealed.key_id)
                .bind(&sealed.blob)
                .bind(&token_key_id)
                .bind(&token_blob)
                .bind(&stamp)
                .execute(&mut *tx)
                .await?;
                report.created += 1;
            }
            audit_row(
                &mut tx,
                &stamp,
                actor,
                AuditAction::Imported,
                &item.id,
                &item.name,
            )
            .await?;
        }
        tx.commit().await?;
        self.inner.cache.invalidate_all();
        tracing::info!(
            created = report.created,
            updated = report.updated,
            "credentials imported"
        );
        Ok(report)
    }
}

/// Shortens user-supplied identifiers quoted in error messages.
fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}
