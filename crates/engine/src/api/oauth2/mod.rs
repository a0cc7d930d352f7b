//! The OAuth2 connect routes, as n8n's server has them: `GET /rest/oauth2-credential/auth?id=ID`
//! (API key) answers `{"data": "<authorize URL>"}`, and `GET /rest/oauth2-credential/callback`
//! (no key: the browser comes back from the service) completes the attempt. The flow itself
//! is [`crate::connect`]'s; these routes translate HTTP.
//!
//! The callback answers HTML for a person: a page that tells the window that opened it and
//! closes itself, or a 4xx page saying what went wrong.

mod page;

use std::collections::HashMap;

use axum::extract::{Query, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::connect::{authorize_url, complete, CALLBACK_PATH};
use crate::error::{ApiError, ApiResult};

/// `GET /rest/oauth2-credential/auth`: mount behind the API key.
pub fn auth_router() -> Router<AppState> {
    Router::new().route("/rest/oauth2-credential/auth", get(auth))
}

/// `GET /rest/oauth2-credential/callback`: mount without the API key.
pub fn callback_router() -> Router<AppState> {
    Router::new().route(CALLBACK_PATH, get(callback))
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
