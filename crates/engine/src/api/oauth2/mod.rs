//! The OAuth2 connect flow, as n8n's server has it, for every credential type a plugin
//! declares with `oauth2: true`: `GET /rest/oauth2-credential/auth?id=ID` (API key) answers
//! `{"data": "<authorize URL>"}`, and `GET /rest/oauth2-credential/callback?code&state` (no
//! key: the browser comes back from the service) has the plugin exchange the code, and
//! stores the token data it returns. The engine keeps the state and the PKCE verifier; the
//! plugin's [`OAuth2Connect`] knows the service's URLs.
//!
//! The callback answers HTML for a person: a page that tells the window that opened it and
//! closes itself, or a 4xx page saying what went wrong. A refused callback stores nothing.
//! Neither the code, the state nor the verifier is ever logged or shown.

mod page;
pub mod pending;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use node_api::{
    AuthorizeRequest, CodeExchange, CredentialError, CredentialProvider, OAuth2Connect,
    PluginRuntime, StoredCredential,
};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use page::Failure;
use pending::StateError;

/// Where the service sends the browser back, below `SWITCHYARD_PUBLIC_URL`.
pub const CALLBACK_PATH: &str = "/rest/oauth2-credential/callback";

/// `GET /rest/oauth2-credential/auth`: mount behind the API key.
pub fn auth_router() -> Router<AppState> {
    Router::new().route("/rest/oauth2-credential/auth", get(auth))
}

/// `GET /rest/oauth2-credential/callback`: mount without the API key.
pub fn callback_router() -> Router<AppState> {
    Router::new().route(CALLBACK_PATH, get(callback))
}

/// The redirect URI registered with the service: the public URL + [`CALLBACK_PATH`].
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

/// The plugin that connects credentials of `stored`'s type through OAuth2, if any.
fn runtime_for<'a>(state: &'a AppState, type_name: &str) -> Option<&'a Arc<dyn PluginRuntime>> {
    state
        .plugins
        .owner_of(type_name)
        .filter(|p| p.oauth2(type_name).is_some())
}

/// The names of the credential types connected through OAuth2, for error messages.
fn oauth2_types(state: &AppState) -> String {
    state
        .credentials
        .types()
        .iter()
        .filter(|t| t.oauth2 && runtime_for(state, t.name).is_some())
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Starts a connect attempt for credential `id` and returns the service's authorize URL to
/// open. Used by the route and by `switchyard credentials connect`.
pub async fn authorize_url(state: &AppState, id: &str) -> ApiResult<String> {
    let credential = state.credentials.by_id(id).await.map_err(|e| match e {
        CredentialError::NotFound { .. } => ApiError::NotFound(e.to_string()),
        other => ApiError::Internal(other.into()),
    })?;
    let type_name = &credential.type_name;
    let connect = runtime_for(state, type_name)
        .and_then(|p| p.oauth2(type_name))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "credential {id} is of type {type_name}; only {} credentials are connected with OAuth2",
                oauth2_types(state)
            ))
        })?;
    let redirect_uri = redirect_uri(&state.settings.public_url);
    let started = pending::start(&state.credentials, id, &redirect_uri, Utc::now())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let url = connect
        .authorize_url(
            &credential,
            &AuthorizeRequest {
                redirect_uri: &redirect_uri,
                state: &started.state,
                code_challenge: &started.challenge,
            },
        )
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
        Ok((id, name, provider)) => {
            tracing::info!(credential_id = %id, "OAuth2 connect completed");
            page::success(&name, &provider, origin.as_deref())
        }
        Err(failure) => {
            // The reason only: never the code, the state or the service's redirect.
            tracing::warn!(reason = failure.reason(), "OAuth2 callback refused");
            page::failure(&failure)
        }
    }
}

/// The credential a state names and its plugin's connect strategy, without consuming the
/// state; `None` when the state does not open (the error path then names no service).
fn credential_of_state(state: &AppState, state_param: &str) -> Option<String> {
    pending::peek(&state.credentials, state_param).ok()
}

/// Runs the callback; `Ok` carries the credential's id and name and the service's name for
/// the success page.
async fn complete(
    state: &AppState,
    query: &HashMap<String, String>,
) -> Result<(String, String, String), Failure> {
    let param = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    if let Some(error) = param("error") {
        // The attempt is over either way: a genuine state is spent so it cannot be reused.
        let mut provider = None;
        if let Some(s) = param("state") {
            if let Some(id) = credential_of_state(state, s) {
                provider = provider_of(state, &id).await;
            }
            let _ = pending::take(&state.credentials, s, Utc::now()).await;
        }
        let description = param("error_description").unwrap_or_default().to_owned();
        return Err(if error == "access_denied" {
            Failure::AccessDenied {
                provider,
                description,
            }
        } else {
            Failure::Provider {
                provider,
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
    let credential = read(state, id).await?;
    let connect = runtime_for(state, &credential.type_name)
        .and_then(|p| p.oauth2(&credential.type_name))
        .ok_or_else(|| {
            Failure::Internal(anyhow::anyhow!(
                "no plugin connects credentials of type {} any more",
                credential.type_name
            ))
        })?;
    let token_data = connect
        .exchange_code(
            &credential,
            &CodeExchange {
                code,
                code_verifier: &pending.verifier,
                redirect_uri: &pending.redirect_uri,
            },
        )
        .await
        .map_err(|e| Failure::Exchange {
            provider: connect.provider().to_owned(),
            error: e,
        })?;
    store_tokens(state, id, token_data).await?;
    Ok((
        pending.credential_id,
        credential.name,
        connect.provider().to_owned(),
    ))
}

async fn read(state: &AppState, id: &str) -> Result<StoredCredential, Failure> {
    state.credentials.by_id(id).await.map_err(|e| match e {
        CredentialError::NotFound { .. } => Failure::CredentialGone,
        other => Failure::Internal(other.into()),
    })
}

/// The service name of credential `id`'s connect strategy.
async fn provider_of(state: &AppState, id: &str) -> Option<String> {
    let credential = state.credentials.by_id(id).await.ok()?;
    let connect: &dyn OAuth2Connect =
        runtime_for(state, &credential.type_name)?.oauth2(&credential.type_name)?;
    Some(connect.provider().to_owned())
}

/// Stores the token data the exchange returned (encrypted), then tells the plugins, so a
/// cached token of the old connection is never used again.
async fn store_tokens(state: &AppState, id: &str, token_data: Value) -> Result<(), Failure> {
    state
        .credentials
        .set_token_data(id, Some(token_data))
        .await
        .map_err(|e| match e {
            credentials::Error::NotFound { .. } => Failure::CredentialGone,
            other => Failure::Internal(other.into()),
        })?;
    state.plugins.credential_changed(id);
    Ok(())
}
