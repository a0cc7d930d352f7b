//! `/webhook/{path}` (active workflows) and `/webhook-test/{path}` (a workflow armed by
//! `POST /api/v1/workflows/{id}/test-webhook`, one call within 120 s): the caller is checked
//! (IP allow list, authentication) before anything runs, the request becomes the Webhook
//! node's item, the execution is stored, and the answer follows the node's response mode.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Extension;
use axum::Router;
use node_api::ExecutionMode;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::runner::{Ended, ExecutionRequest, RunError};
use crate::store::StoreError;
use crate::webhook_index::WebhookTarget;
use workflow::webhook::{
    answer, into_webhook_item, is_framing_header, on_received_response, response_mode,
    ResponseMode, WebhookRequest,
};

/// The webhook routes; their body limit is the webhook one, not the API's.
pub fn router(body_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/webhook/{*path}",
            any(|s, c, m, p, q, h, b| handle(s, c, m, p, q, h, b, false)),
        )
        .route(
            "/webhook-test/{*path}",
            any(|s, c, m, p, q, h, b| handle(s, c, m, p, q, h, b, true)),
        )
        .route("/webhook-waiting/{id}", any(resume_waiting))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(count_answer))
}

/// Counts each webhook answer by status for `/metrics`.
async fn count_answer(response: Response) -> Response {
    crate::metrics::engine()
        .webhook_answers
        .get_or_create(&crate::metrics::AnswerLabels {
            status: response.status().as_u16().to_string(),
        })
        .inc();
    response
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    method: Method,
    Path(path): Path<String>,
    query: Result<Query<Map<String, Value>>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    test: bool,
) -> ApiResult<Response> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::BadRequest(format!("query string: {}", rejection.body_text()))
    })?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest(format!("request body could not be read: {rejection}")),
    })?;
    let Some(target) = find(&state, method.as_str(), &path, test).await? else {
        // n8n's wording, so clients that match on it keep working.
        let hint = if test {
            " Test webhooks answer one call within 120 seconds of \
             POST /api/v1/workflows/{id}/test-webhook."
        } else {
            ""
        };
        return Err(ApiError::NotFound(format!(
            "The requested webhook \"{method} {path}\" is not registered.{hint}"
        )));
    };
    let webhook = target
        .workflow
        .node(&target.node)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no node named \"{}\"", target.node)))?;
    // Before anything runs or is stored.
    let peer = crate::webhook_auth::client_address(
        &headers,
        peer.map(|Extension(ConnectInfo(addr))| addr.ip()),
        state.settings.proxy_hops,
    );
    let jwt_payload =
        match crate::webhook_auth::check(&webhook, &headers, peer, &state.credentials).await {
            Ok(payload) => payload,
            Err(refusal) => return Ok(refusal.into_response()),
        };
    // A slot once the caller is let in, before anything is parsed or stored: past the queue, a clear 503.
    let slot = state.webhook_gate.enter().await.map_err(|_| {
        ApiError::Busy(
            "too many webhook calls at once (SWITCHYARD_WEBHOOK_CONCURRENCY running, \
             SWITCHYARD_WEBHOOK_QUEUE waiting); retry later"
                .into(),
        )
    })?;
    let params = target.params(&path);
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
        params,
        test,
    };
    // Parsed once; the raw bytes go now rather than when the answer leaves, and the parsed
    // body moves into the item (held once, shared from there on by the run).
    drop(body);
    let mut item = into_webhook_item(request);
    if let Some(payload) = jwt_payload {
        item.json.insert("jwtPayload".into(), payload);
    }
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
            items: vec![item],
            respond: Some(respond),
        })
        .await?;
    // The run goes on in its own task: a caller hanging up here stops nothing. The slot is
    // held until the execution's end is stored, not until the answer leaves: responseNode
    // answers mid-run and a caller may hang up, and either way the run goes on, holding its
    // items, so SWITCHYARD_WEBHOOK_CONCURRENCY bounds executions, not answers.
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let ended = execution.wait().await;
        drop(slot);
        let _ = ended_tx.send(ended);
    });
    let ended = async {
        ended_rx.await.unwrap_or(Ended {
            outcome: Err(RunError::Panicked),
            stored: Err(StoreError::Interrupted),
        })
    };
    let answer = match response_mode(&webhook) {
        // n8n answers these at once. Here the answer waits until the execution's end is
        // stored, so a caller told 2xx finds the execution with its outcome, even after a
        // crash; grouped commits keep the rate.
        ResponseMode::OnReceived => {
            ended.await.stored?;
            on_received_response(&webhook)
        }
        // lastNode waits for the end (stored) anyway. responseNode answers when Respond to
        // Webhook runs: a crash after that leaves the execution `running`, and the next
        // start marks it `crashed` (README, "Webhooks").
        ResponseMode::LastNode | ResponseMode::ResponseNode => {
            let ended = async {
                let ended = ended.await;
                ended.stored?;
                ended.outcome.map_err(ApiError::from)
            };
            answer(&webhook, responded, ended).await?
        }
    };
    let mut response =
        Response::builder().status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK));
    // The server frames the answer: a workflow's framing or hop-by-hop header would let a
    // crafted body pass for a second response on the connection. Respond to Webhook drops
    // them with a warning; this covers any other node that answers.
    for (name, value) in answer.headers.iter().filter(|(n, _)| !is_framing_header(n)) {
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
        params: Default::default(),
        test: false,
    };
    drop(body);
    let webhook_url = format!("{}/webhook-waiting/{id}", request.base_url);
    let mut item = into_webhook_item(request);
    item.json
        .insert("webhookUrl".into(), Value::String(webhook_url));
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
/// production calls, among armed test webhooks for test calls (one call each); both from
/// in-memory indexes, no workflow read.
async fn find(
    state: &AppState,
    method: &str,
    path: &str,
    test: bool,
) -> ApiResult<Option<WebhookTarget>> {
    if test {
        return Ok(state.workflows.test_webhooks.take(method, path));
    }
    Ok(state.workflows.store.webhook_target(method, path).await?)
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
