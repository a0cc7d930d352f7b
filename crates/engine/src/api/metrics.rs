//! `GET /metrics`: OpenMetrics text, no API key (scrapers don't carry one): the engine's
//! metrics ([`crate::metrics`]) and the plugins' families (Salesforce: API usage, calls,
//! sign-ins, refreshes per credential id), encoded by `prometheus-client`.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use crate::metrics::Snapshot;

/// The exposition format's content type.
const TEXT_FORMAT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot = Snapshot {
        writer_queue: state.workflows.store.queued_writes(),
        webhook_waiting: state.webhook_gate.waiting(),
        pool_size: state.db.pool().size(),
        pool_idle: state.db.pool().num_idle(),
    };
    (
        [(CONTENT_TYPE, TEXT_FORMAT)],
        crate::metrics::render(snapshot, state.plugins.metrics()),
    )
}
