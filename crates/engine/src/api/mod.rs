//! The HTTP surface: `/healthz`, `/metrics`, `/api/v1` behind API-key authentication,
//! webhooks, and the OAuth2 connect routes under `/rest/oauth2-credential`.

mod auth;
mod body;
pub mod credentials;
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
        .merge(metrics::router())
        .merge(v1)
        .merge(oauth2::callback_router())
        .merge(webhooks::router(state.settings.max_webhook_body_bytes))
        .with_state(state)
        .merge(workflows)
}

/// 200 when the database answers, 503 when it does not.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(err) => {
            tracing::warn!(error = %err, "health check: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
