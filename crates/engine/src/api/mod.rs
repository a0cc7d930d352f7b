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

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

pub use body::{refuse_oversized, ApiJson, BodyLimits};

use crate::app::AppState;

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
