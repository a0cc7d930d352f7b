//! The OAuth2 connect flow, as n8n's server has it:
//! `GET /rest/oauth2-credential/auth?id=ID` (API key) answers `{"data": "<authorize URL>"}`,
//! and `GET /rest/oauth2-credential/callback?code&state` (no key: the browser comes back
//! from Salesforce) exchanges the code and stores the tokens.
//!
//! The callback answers HTML for a person: a page that tells the window that opened it and
//! closes itself, or a 4xx page saying what went wrong. A refused callback stores nothing.
//! Neither the code, the state nor the verifier is ever logged or shown.

mod page;
pub mod pending;

use std::collections::HashMap;

use axum::extract::{Query, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use salesforce_node::auth::Method;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use page::Failure;
use pending::StateError;

/// The only credential type connected through this flow.
pub const OAUTH2_TYPE: &str = "salesforceOAuth2Api";
/// Where Salesforce sends the browser back, below `SWITCHYARD_PUBLIC_URL`.
pub const CALLBACK_PATH: &str = "/rest/oauth2-credential/callback";

/// `GET /rest/oauth2-credential/auth`: mount behind the API key.
pub fn auth_router() -> Router<AppState> {
    Router::new().route("/rest/oauth2-credential/auth", get(auth))
}

/// `GET /rest/oauth2-credential/callback`: mount without the API key.
pub fn callback_router() -> Router<AppState> {
    Router::new().route(CALLBACK_PATH, get(callback))
}

/// The redirect URI registered in the Salesforce app: the public URL + [`CALLBACK_PATH`].
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'))
}

async fn auth(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = query
        .get("id")
        .map(|id| id.trim())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest("id: required query parameter, the credential's id".into())
        })?;
    let url = authorize_url(&state, id).await?;
    Ok(Json(json!({ "data": url })))
}

/// Starts a connect attempt for credential `id` and returns the Salesforce authorize URL
/// to open. Used by the route and by `switchyard credentials connect`.
pub async fn authorize_url(state: &AppState, id: &str) -> ApiResult<String> {
    let credential = state.credentials.get(id).await?;
    let type_name = &credential.meta.type_name;
    if type_name != OAUTH2_TYPE {
        return Err(ApiError::BadRequest(format!(
            "credential {id} is of type {type_name}; only {OAUTH2_TYPE} credentials are connected with OAuth2"
        )));
    }
    let method = Method::from_credential(
        type_name,
        &credential.data,
        state.salesforce.provider().settings(),
    )
    .map_err(|e| ApiError::BadRequest(format!("credential {id}: {e}")))?;
    let redirect_uri = redirect_uri(&state.settings.public_url);
    let started = pending::start(&state.credentials, id, &redirect_uri, Utc::now())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let url = method
        .authorize_url(&redirect_uri, &started.state, &started.challenge)
        .map_err(|e| ApiError::BadRequest(format!("credential {id}: {e}")))?;
    tracing::info!(credential_id = %id, "OAuth2 connect started");
    Ok(url)
}

async fn callback(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    // Parsed by hand: a malformed query gets the HTML failure page, not a plain-text
    // rejection, and a repeated parameter counts once (the last, as with `Query`).
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let origin = page::origin(&state.settings.public_url);
    match complete(&state, &query).await {
        Ok((id, name)) => {
            tracing::info!(credential_id = %id, "OAuth2 connect completed");
            page::success(&name, origin.as_deref())
        }
        Err(failure) => {
            // The reason only: never the code, the state or Salesforce's redirect.
            tracing::warn!(reason = failure.reason(), "OAuth2 callback refused");
            page::failure(&failure)
        }
    }
}

/// Runs the callback; `Ok` carries the credential's id and name for the success page.
async fn complete(
    state: &AppState,
    query: &HashMap<String, String>,
) -> Result<(String, String), Failure> {
    let param = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    if let Some(error) = param("error") {
        // The attempt is over either way: a genuine state is spent so it cannot be reused.
        if let Some(s) = param("state") {
            let _ = pending::take(&state.credentials, s, Utc::now()).await;
        }
        let description = param("error_description").unwrap_or_default().to_owned();
        return Err(if error == "access_denied" {
            Failure::AccessDenied { description }
        } else {
            Failure::Salesforce {
                error: error.to_owned(),
                description,
            }
        });
    }
    let missing: Vec<&str> = ["code", "state"]
        .into_iter()
        .filter(|p| param(p).is_none())
        .collect();
    let (Some(code), Some(state_param)) = (param("code"), param("state")) else {
        return Err(Failure::Missing(missing.join(" and ")));
    };
    let pending = pending::take(&state.credentials, state_param, Utc::now())
        .await
        .map_err(|e| match e {
            StateError::Invalid => Failure::InvalidState,
            StateError::Expired => Failure::Expired,
            StateError::AlreadyUsed => Failure::AlreadyUsed,
            StateError::Database(e) => Failure::Internal(e.into()),
        })?;
    let id = pending.credential_id.as_str();
    let credential = state.credentials.get(id).await.map_err(|e| match e {
        credentials::Error::NotFound { .. } => Failure::CredentialGone,
        other => Failure::Internal(other.into()),
    })?;
    let provider = state.salesforce.provider();
    let method = Method::from_credential(
        &credential.meta.type_name,
        &credential.data,
        provider.settings(),
    )
    .map_err(Failure::Exchange)?;
    let token = method
        .exchange_code(
            provider.http(),
            provider.settings(),
            code,
            &pending.verifier,
            &pending.redirect_uri,
        )
        .await
        .map_err(Failure::Exchange)?;
    provider.store_token(id, token).await.map_err(|e| match e {
        salesforce_node::Error::CredentialStore(credentials::Error::NotFound { .. }) => {
            Failure::CredentialGone
        }
        other => Failure::Internal(other.into()),
    })?;
    Ok((pending.credential_id, credential.meta.name))
}
