//! `/api/v1/credentials`: n8n's shapes, secrets never returned.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::SecondsFormat;
use credentials::{Actor, CredentialPatch, NewCredential};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::ApiJson;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

/// The credential routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/credentials", get(list).post(create))
        .route("/api/v1/credentials/schema/{type}", get(schema))
        .route(
            "/api/v1/credentials/{id}",
            get(read).patch(update).delete(remove),
        )
        .route("/api/v1/credentials/{id}/test", post(test))
        .route("/api/v1/audit", get(audit))
}

async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut problems = Vec::new();
    let Some(body) = body.as_object() else {
        return Err(ApiError::BadRequest(
            "request body: expected a JSON object with name, type and data".into(),
        ));
    };
    for key in body.keys() {
        if !matches!(key.as_str(), "name" | "type" | "data" | "id") {
            problems.push(format!(
                "{key}: unknown field; expected name, type and data"
            ));
        }
    }
    let name = checked_name(body.get("name"), &mut problems);
    let type_name = match body.get("type") {
        Some(Value::String(t)) if state.credentials.types().get(t).is_some() => Some(t.clone()),
        Some(Value::String(t)) => {
            problems.push(format!(
                "type: unknown credential type {t:?}; expected one of {}",
                known_types(&state)
            ));
            None
        }
        _ => {
            problems.push(format!("type: required, one of {}", known_types(&state)));
            None
        }
    };
    let data = match body.get("data") {
        Some(data @ Value::Object(_)) => Some(data.clone()),
        Some(_) => {
            problems.push("data: expected a JSON object of the type's fields".into());
            None
        }
        None => {
            problems.push("data: required, a JSON object of the type's fields".into());
            None
        }
    };
    if let (Some(type_name), Some(data)) = (&type_name, &data) {
        let kind = state
            .credentials
            .types()
            .get(type_name)
            .expect("checked above");
        if let Err(invalid) = kind.validate(data, &state.validate_options) {
            problems.extend(invalid.problems.iter().map(|p| format!("data.{p}")));
        }
    }
    let id = match body.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if valid_id(id) => Some(id.clone()),
        Some(_) => {
            problems.push("id: expected 1 to 64 letters, digits, '-' or '_'".into());
            None
        }
    };
    if !problems.is_empty() {
        return Err(invalid_body(problems));
    }
    let (Some(name), Some(type_name), Some(data)) = (name, type_name, data) else {
        unreachable!("every missing part adds a problem");
    };
    let meta = state
        .credentials
        .create(
            NewCredential {
                id,
                name,
                type_name,
                data,
            },
            &actor,
        )
        .await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::to_value(meta).map_err(|e| ApiError::Internal(e.into()))?),
    ))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

const CURSOR_PREFIX: &str = "credential:";

/// A page of credentials in creation order. The cursor is opaque (creation time and id of
/// the last one shown), so a deleted credential does not break a listing under way.
async fn list(State(state): State<AppState>, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    let limit = match page.limit {
        None => 100,
        Some(n @ 1..=250) => n as usize,
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "limit: must be between 1 and 250, got {n}"
            )))
        }
    };
    let after = match &page.cursor {
        None => None,
        Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
            ApiError::BadRequest("cursor: is not a cursor returned by this API".into())
        })?),
    };
    let all = state.credentials.list().await?;
    let mut rest: Vec<_> = all
        .into_iter()
        .filter(|c| {
            after.as_ref().is_none_or(|(at, id)| {
                (
                    c.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                    &c.id,
                ) > (at.clone(), id)
            })
        })
        .take(limit + 1)
        .collect();
    let next = if rest.len() > limit {
        rest.truncate(limit);
        rest.last().map(|c| {
            URL_SAFE_NO_PAD.encode(format!(
                "{CURSOR_PREFIX}{}\n{}",
                c.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                c.id
            ))
        })
    } else {
        None
    };
    Ok(Json(json!({ "data": rest, "nextCursor": next })))
}

fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (at, id) = text.strip_prefix(CURSOR_PREFIX)?.split_once('\n')?;
    Some((at.to_owned(), id.to_owned()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditQuery {
    credential_id: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/audit`: the latest audit records (who changed which credential), newest
/// first; `credentialId` narrows it to one credential.
async fn audit(
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=1000) => n,
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "limit: must be between 1 and 1000, got {n}"
            )))
        }
    };
    let entries = state
        .credentials
        .audit(q.credential_id.as_deref(), limit)
        .await?;
    Ok(Json(json!({ "data": entries })))
}

async fn read(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (meta, data) = state.credentials.get_redacted(&id).await?;
    let mut body = to_object(&meta)?;
    body.insert("data".into(), Value::Object(data));
    Ok(Json(Value::Object(body)))
}

async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson,
) -> ApiResult<Json<Value>> {
    let Some(body) = body.as_object() else {
        return Err(ApiError::BadRequest(
            "request body: expected a JSON object with name and/or data".into(),
        ));
    };
    let mut problems = Vec::new();
    for key in body.keys() {
        if !matches!(key.as_str(), "name" | "data" | "type" | "isPartialData") {
            problems.push(format!("{key}: unknown field; expected name and/or data"));
        }
    }
    let name = match body.get("name") {
        None => None,
        some => checked_name(some, &mut problems),
    };
    let data = match body.get("data") {
        None => None,
        Some(data @ Value::Object(_)) => Some(data.clone()),
        Some(_) => {
            problems.push("data: expected a JSON object of the fields to change".into());
            None
        }
    };
    if let Some(new_type) = body.get("type") {
        let current = state.credentials.get_redacted(&id).await?.0;
        if new_type.as_str() != Some(current.type_name.as_str()) {
            problems.push(format!(
                "type: a credential's type cannot be changed (it is {}); create a new credential instead",
                current.type_name
            ));
        }
    }
    if !problems.is_empty() {
        return Err(invalid_body(problems));
    }
    let meta = state
        .credentials
        .update(&id, CredentialPatch { name, data }, &actor)
        .await?;
    // New settings (a rotated secret or key) apply to the very next call.
    state.plugins.credential_changed(&id);
    Ok(Json(Value::Object(to_object(&meta)?)))
}

async fn remove(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (meta, _) = state.credentials.get_redacted(&id).await?;
    state.credentials.delete(&id, &actor).await?;
    state.plugins.credential_changed(&id);
    Ok(Json(Value::Object(to_object(&meta)?)))
}

/// Asks the plugin that owns the credential's type to test it (Salesforce: sign in and ask
/// who we are): `{"status":"OK"}`, or `{"status":"Error", "message": ...}` naming the setup
/// step to fix. An unknown id is a 404; a type without a test, a 400.
async fn test(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let stored = node_api::CredentialProvider::by_id(&state.credentials, &id)
        .await
        .map_err(|e| match e {
            node_api::CredentialError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            other => ApiError::Internal(other.into()),
        })?;
    let outcome = match state.plugins.owner_of(&stored.type_name) {
        Some(plugin) => plugin.test_credential(&stored).await,
        None => None,
    };
    let Some(outcome) = outcome else {
        return Err(ApiError::BadRequest(format!(
            "credentials of type {} cannot be tested",
            stored.type_name
        )));
    };
    Ok(Json(match outcome {
        Ok(()) => json!({"status": "OK"}),
        Err(message) => {
            tracing::info!(credential_id = %id, error = %message, "credential test failed");
            json!({"status": "Error", "message": message})
        }
    }))
}

async fn schema(
    State(state): State<AppState>,
    Path(type_name): Path<String>,
) -> ApiResult<Json<Value>> {
    let kind = state.credentials.types().get(&type_name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "unknown credential type {type_name:?}; expected one of {}",
            known_types(&state)
        ))
    })?;
    Ok(Json(kind.json_schema()))
}

fn checked_name(value: Option<&Value>, problems: &mut Vec<String>) -> Option<String> {
    match value {
        Some(Value::String(name)) if name.contains('\0') => {
            problems.push("name: must not contain a NUL byte".into());
            None
        }
        Some(Value::String(name)) if !name.trim().is_empty() && name.chars().count() <= 128 => {
            Some(name.trim().to_owned())
        }
        Some(Value::String(name)) if !name.trim().is_empty() => {
            problems.push("name: expected at most 128 characters".into());
            None
        }
        _ => {
            problems.push("name: required, a non-empty string".into());
            None
        }
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn known_types(state: &AppState) -> String {
    state
        .credentials
        .types()
        .names()
        .collect::<Vec<_>>()
        .join(", ")
}

fn invalid_body(problems: Vec<String>) -> ApiError {
    ApiError::BadRequest(format!("invalid credential: {}", problems.join("; ")))
}

fn to_object(meta: &impl serde::Serialize) -> ApiResult<Map<String, Value>> {
    match serde_json::to_value(meta).map_err(|e| ApiError::Internal(e.into()))? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::Internal(anyhow::anyhow!(
            "credential metadata is not an object"
        ))),
    }
}
