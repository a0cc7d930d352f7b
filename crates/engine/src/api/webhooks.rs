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
use node_api::ExecutionMode;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::runner::ExecutionRequest;
use crate::webhook_index::WebhookTarget;
use workflow::webhook::{
    answer, find_webhook_node, on_received_response, response_mode, webhook_item, ResponseMode,
    WebhookRequest,
};

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
        .route("/webhook-waiting/{id}", any(resume_waiting))
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
    let webhook = target
        .workflow
        .node(&target.node)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no node named \"{}\"", target.node)))?;
    let (respond, responded) = tokio::sync::oneshot::channel();
    let execution = state
        .workflows
        .runner
        .start(ExecutionRequest {
            workflow_id: target.workflow_id,
            workflow: target.workflow,
            mode: if test {
                ExecutionMode::Manual
            } else {
                ExecutionMode::Webhook
            },
            start_node: Some(webhook.name.clone()),
            items: vec![webhook_item(&request)],
            respond: Some(respond),
        })
        .await?;
    // The run goes on in its own task: a caller hanging up here stops nothing.
    let answer = match response_mode(&webhook) {
        // n8n answers these at once. Here the answer waits until the execution's end is
        // stored, so a caller told 2xx finds the execution with its outcome, even after a
        // crash; grouped commits keep the rate.
        ResponseMode::OnReceived => {
            execution.wait().await.stored?;
            on_received_response(&webhook)
        }
        // lastNode waits for the end (stored) anyway. responseNode answers when Respond to
        // Webhook runs: a crash after that leaves the execution `running`, and the next
        // start marks it `crashed`.
        ResponseMode::LastNode | ResponseMode::ResponseNode => {
            let ended = async {
                let ended = execution.wait().await;
                ended.stored?;
                ended.outcome.map_err(ApiError::from)
            };
            answer(&webhook, responded, ended).await?
        }
    };
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

/// `/webhook-waiting/{executionId}` (`$execution.resumeUrl`): resumes an execution waiting
/// at a Wait node set to resume on a webhook call with this method. The Wait node passes
/// the call's item on; the answer (the node's `onReceived` response) goes out once the
/// execution's end is stored, as for production webhooks.
async fn resume_waiting(
    State(state): State<AppState>,
    method: Method,
    Path(id): Path<String>,
    Query(query): Query<Map<String, Value>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest(format!("request body could not be read: {rejection}")),
    })?;
    let not_waiting = || {
        ApiError::NotFound(format!(
            "The execution \"{id}\" is not waiting for a webhook call."
        ))
    };
    let store = &state.workflows.store;
    let (workflow_id, mode, resume) = store.waiting_state(&id).await?.ok_or_else(not_waiting)?;
    let wait_node = serde_json::from_str::<Value>(&resume)
        .ok()
        .and_then(|s| s["waitNode"].as_str().map(str::to_owned))
        .ok_or_else(not_waiting)?;
    let workflow = store.get(&workflow_id).await?.workflow;
    let node = workflow.node(&wait_node).cloned().ok_or_else(not_waiting)?;
    let param = |name: &str, default: &str| {
        node.parameters
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    if param("resume", "timeInterval") != "webhook"
        || !param("httpMethod", "GET").eq_ignore_ascii_case(method.as_str())
    {
        return Err(not_waiting());
    }
    let request = WebhookRequest {
        method: method.to_string(),
        path: id.clone(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        query,
        body: parse_body(&headers, &body)?,
        base_url: state.settings.public_url.trim_end_matches('/').to_owned(),
        test: false,
    };
    let mut item = webhook_item(&request);
    item.json.insert(
        "webhookUrl".into(),
        Value::String(format!("{}/webhook-waiting/{id}", request.base_url)),
    );
    let execution = state
        .workflows
        .runner
        .resume(&id, &workflow_id, &mode, Some(vec![item]))
        .await?
        .ok_or_else(not_waiting)?;
    execution.wait().await.stored?;
    let answer = on_received_response(&node);
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
