//! `X-N8N-API-KEY` (or `Authorization: Bearer`) on every `/api/v1` route.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use credentials::Actor;

use crate::app::AppState;
use crate::error::ApiError;

/// Rejects the request with 401 unless it carries a known API key; otherwise records the
/// key's owner as the request's [`Actor`] for the audit log.
pub async fn require_api_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // n8n's wording, so clients that match on it keep working.
    let key = presented_key(request.headers())
        .ok_or_else(|| ApiError::Unauthorized("'X-N8N-API-KEY' header required".into()))?;
    let owner = crate::api_keys::verify(&state.db, key)
        .await
        .map_err(|err| ApiError::Internal(err.into()))?
        .ok_or_else(|| ApiError::Unauthorized("unauthorized".into()))?;
    request.extensions_mut().insert(Actor::ApiKey {
        id: owner.id,
        name: owner.name,
    });
    Ok(next.run(request).await)
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-n8n-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
