//! `/webhook/{path}` (active workflows) and `/webhook-test/{path}` (any saved workflow, a
//! test run): the request becomes the Webhook node's item, the execution is stored, and the
//! answer follows the node's response mode.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use node_api::WebhookResponse;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::webhook_index::WebhookTarget;
use crate::workflows::WorkflowService;
use workflow::webhook::{find_webhook_node, start_webhook_cancellable, WebhookRequest};

/// The webhook routes; their body limit is the webhook one, not the API's.
pub fn router(body_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/webhook/{*path}",
            any(|s, m, p, q, h, b| handle(s, m, p, q, h, b, false)),
        )
        .route(
            "/webhook-test/{*path}",
            any(|s, m, p, q, h, b| handle(s, m, p, q, h, b, true)),
        )
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
}

async fn handle(
    State(state): State<AppState>,
    method: Method,
    Path(path): Path<String>,
    Query(query): Query<Map<String, Value>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    test: bool,
) -> ApiResult<Response> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest(format!("request body could not be read: {rejection}")),
    })?;
    let Some(target) = find(&state, method.as_str(), &path, test).await? else {
        // n8n's wording, so clients that match on it keep working.
        return Err(ApiError::NotFound(format!(
            "The requested webhook \"{method} {path}\" is not registered."
        )));
    };
    let request = WebhookRequest {
        method: method.to_string(),
        path: path.clone(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        query,
        body: parse_body(&headers, &body)?,
        base_url: state.settings.public_url.trim_end_matches('/').to_owned(),
        test,
    };
    // Everything from the execution row to its recorded end runs in its own task: a caller
    // that hangs up drops this handler, and must not leave an execution `running` forever.
    let (answer_tx, answer_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(run_and_record(
        state.workflows.clone(),
        target,
        request,
        test,
        answer_tx,
    ));
    let answer = answer_rx.await.map_err(|err| {
        ApiError::Internal(anyhow::anyhow!("the webhook task ended early: {err}"))
    })??;
    let mut response =
        Response::builder().status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK));
    for (name, value) in &answer.headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from(answer.body.unwrap_or_default()))
        .map_err(|err| ApiError::Internal(err.into()))
        .map(IntoResponse::into_response)
}

/// Stores the execution, runs it, sends the answer on `answer` as soon as it is known, and
/// records how the execution ended.
async fn run_and_record(
    workflows: Arc<WorkflowService>,
    target: WebhookTarget,
    request: WebhookRequest,
    test: bool,
    answer: tokio::sync::oneshot::Sender<ApiResult<WebhookResponse>>,
) {
    let execution_id = uuid::Uuid::new_v4().to_string();
    let mode = if test { "manual" } else { "webhook" };
    // The workflow starts while its `running` row is being written; the answer waits for
    // the row, so that a caller is never told of an execution that a crash could erase.
    let begun = workflows
        .store
        .begin_execution(&execution_id, &target.workflow_id, mode)
        .await;
    let started = start_webhook_cancellable(
        workflows.executor.clone(),
        target.workflow.clone(),
        &target.node,
        execution_id.clone(),
        request,
        begun.cancel.clone(),
    )
    .await;
    let row = begun.stored().await;
    let started = match (started, row) {
        (Ok(started), Ok(())) => started,
        (Err(err), Ok(())) => {
            let recorded = workflows
                .store
                .mark_failed(&execution_id, &err.to_string())
                .await;
            let _ = answer.send(match recorded {
                Ok(()) => Err(err.into()),
                Err(store) => Err(store.into()),
            });
            return;
        }
        (started, Err(store)) => {
            // No row: stop the run and answer with the database's error.
            if let Ok(started) = started {
                started.execution.abort();
            }
            workflows.store.forget_running(&execution_id);
            let _ = answer.send(Err(store.into()));
            return;
        }
    };
    // The answer may go out before the execution ends (onReceived, Respond to Webhook).
    let _ = answer.send(Ok(started.response));
    let recorded = match started.execution.await {
        Ok(Ok(result)) => workflows
            .store
            .finish_execution_by_policy(&execution_id, &target.workflow, mode, &result)
            .await
            .map(drop),
        Ok(Err(err)) => {
            workflows
                .store
                .mark_failed(&execution_id, &err.to_string())
                .await
        }
        Err(err) => {
            workflows
                .store
                .mark_failed(&execution_id, &format!("the execution task failed: {err}"))
                .await
        }
    };
    if let Err(err) = recorded {
        tracing::error!(execution_id = %execution_id, error = %err, "could not record a webhook execution");
    }
}

/// The workflow and Webhook node listening on `method` `path`: among active workflows for
/// production calls (from the in-memory index, no database read), among all saved workflows
/// for test calls.
async fn find(
    state: &AppState,
    method: &str,
    path: &str,
    test: bool,
) -> ApiResult<Option<WebhookTarget>> {
    if !test {
        return Ok(state.workflows.store.webhook_target(method, path).await?);
    }
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = state
            .workflows
            .store
            .list(Some(250), cursor.as_deref())
            .await?;
        for stored in page {
            if let Some(node) = find_webhook_node(&stored.workflow, method, path) {
                return Ok(Some(WebhookTarget {
                    workflow_id: stored.id.clone(),
                    node: node.name.clone(),
                    workflow: Arc::new(stored.workflow),
                }));
            }
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(None),
        }
    }
}

/// JSON bodies as JSON, forms as an object, anything else as text; an empty body is `{}`.
fn parse_body(headers: &HeaderMap, body: &Bytes) -> ApiResult<Value> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.contains("json") {
        return serde_json::from_slice(body)
            .map_err(|err| ApiError::BadRequest(format!("request body is not valid JSON: {err}")));
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let fields = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok(Value::Object(fields));
    }
    Ok(Value::String(String::from_utf8_lossy(body).into_owned()))
}
