//! The HTTP surface: `/healthz` (liveness), `/readyz` (readiness), `/metrics`, `/api/v1` behind API-key authentication,
//! webhooks, and the OAuth2 connect routes under `/rest/oauth2-credential`.

mod auth;
mod body;
pub mod credentials;
pub mod gate;
pub mod metrics;
pub mod oauth2;
pub mod webhooks;
pub mod workflows;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use body::{refuse_oversized, ApiJson, BodyLimits};

use crate::app::AppState;
use crate::error::ApiError;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let require_key = || axum::middleware::from_fn_with_state(state.clone(), auth::require_api_key);
    // Routers carry full paths and are merged: the workflow routes come with their own state.
    let v1 = credentials::router()
        .merge(oauth2::auth_router())
        .route_layer(require_key());
    let workflows = workflows::router(state.workflows.clone()).route_layer(require_key());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(metrics::router())
        .merge(v1)
        .merge(oauth2::callback_router())
        .merge(webhooks::router(state.settings.max_webhook_body_bytes))
        .with_state(state)
        .merge(workflows)
}

/// Liveness: 200 while the process answers requests. It reads nothing, so an unreachable
/// database does not make an orchestrator restart a process that would heal by itself.
async fn healthz() -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok")
}

/// How long readiness waits for the database before saying 503.
const READY_WAIT: std::time::Duration = std::time::Duration::from_millis(900);

/// Readiness: 200 when the database answers and holds the schema this build migrated to;
/// 503 otherwise (unreachable, slow past a second, or dropped and recreated empty), each
/// within a second.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match tokio::time::timeout(READY_WAIT, state.db.schema_is_current()).await {
        Ok(Ok(true)) => (StatusCode::OK, "ready"),
        Ok(Ok(false)) => {
            tracing::warn!("readiness: the database does not hold this build's schema");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not hold this build's schema",
            )
        }
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => {
            tracing::warn!("readiness: database did not answer within a second");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// How much of a plain-text error body is read to wrap it in JSON.
const ERROR_TEXT_MAX: usize = 16 * 1024;

/// Every error answered outside the webhooks is `{"message": ...}`: axum's own answers (no
/// route, method not allowed, a query string or path that does not parse) come as plain
/// text or nothing, and are wrapped here, in one place. Webhook answers are the workflow's
/// to shape; HTML pages (the OAuth2 callback) and JSON stay as they are.
pub async fn errors_as_json(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if path.starts_with("/webhook/") || path.starts_with("/webhook-test/") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.contains("json") || content_type.starts_with("text/html") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, ERROR_TEXT_MAX)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match status {
        _ if !text.is_empty() => text,
        StatusCode::NOT_FOUND => format!("no route for {method} {path}"),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if allowed.is_empty() {
                format!("method {method} is not allowed on {path}")
            } else {
                format!("method {method} is not allowed on {path}; allowed: {allowed}")
            }
        }
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned(),
    };
    let body = serde_json::json!({ "message": message }).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// Refuses a NUL byte anywhere in the path or query string with 400 naming the field,
/// before any handler runs. Postgres cannot store NUL in text, and SQLite can, so without
/// this the same request answered 500 on one backend and was stored on the other.
/// Webhook paths are left to the webhook lookup, where such a path matches nothing.
pub async fn refuse_nul_bytes(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let path = uri.path();
    if !(path.starts_with("/webhook/") || path.starts_with("/webhook-test/")) {
        let segments: Vec<&str> = path.split('/').collect();
        // A NUL can only reach a URI percent-encoded.
        if let Some(at) = segments.iter().position(|s| s.contains("%00")) {
            let field = match at.checked_sub(1).and_then(|i| segments.get(i)) {
                Some(&("workflows" | "executions" | "credentials")) => "id",
                Some(&"schema") => "type",
                _ => "path",
            };
            return ApiError::BadRequest(format!("{field}: must not contain a NUL byte"))
                .into_response();
        }
        if let Some(query) = uri.query() {
            let bad = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, v)| k.contains('\0') || v.contains('\0'))
                .map(|(k, _)| k.replace('\0', ""));
            if let Some(key) = bad {
                return ApiError::BadRequest(format!(
                    "query parameter {key}: must not contain a NUL byte"
                ))
                .into_response();
            }
        }
    }
    next.run(request).await
}
