//! `/api/v1/workflows` and `/api/v1/executions` with n8n's shapes. The server mounts
//! [`router`] behind the API-key check; errors map to status codes in one place
//! ([`crate::error::ApiError`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use node_api::{ExecutionMode, Item, PollMode};
use serde::Deserialize;
use serde_json::{json, Value};

use workflow::executor::{ExecutionResult, ExecutionStatus};
use workflow::Workflow;

use crate::error::ApiError;
use crate::runner::ExecutionRequest;
use crate::store::{ExecutionFilter, StoredExecution, WorkflowFilter};
use crate::workflows::WorkflowService;

type ApiResult<T = Json<Value>> = Result<T, ApiError>;

/// The routes, with full paths under `/api/v1`.
pub fn router(state: Arc<WorkflowService>) -> Router {
    Router::new()
        .route("/api/v1/workflows", post(create).get(list))
        .route(
            "/api/v1/workflows/{id}",
            get(read).put(replace).delete(remove),
        )
        .route("/api/v1/workflows/{id}/activate", post(activate))
        .route("/api/v1/workflows/{id}/deactivate", post(deactivate))
        .route("/api/v1/workflows/{id}/run", post(run))
        .route(
            "/api/v1/workflows/{id}/test-webhook",
            post(arm_test_webhook),
        )
        .route("/api/v1/executions", get(list_executions))
        .route(
            "/api/v1/executions/{id}",
            get(read_execution).delete(remove_execution),
        )
        .route("/api/v1/executions/{id}/stop", post(stop_execution))
        .with_state(state)
}

fn json_of(w: &crate::store::StoredWorkflow) -> Value {
    w.to_json()
}

fn execution_json(e: &StoredExecution) -> Value {
    let mut v = json!({
        "id": e.id, "workflowId": e.workflow_id, "mode": e.mode, "status": e.status,
        "finished": e.status == "success", "startedAt": e.started_at, "stoppedAt": e.stopped_at,
    });
    if let Some(d) = &e.data {
        v["data"] = d.clone();
    }
    if let Some(err) = &e.error {
        v["error"] = err.clone();
    }
    v
}

/// The request body, which must be a workflow JSON object.
fn workflow_object(body: Value) -> ApiResult<Value> {
    if body.is_object() {
        Ok(body)
    } else {
        Err(ApiError::BadRequest(
            "request body: expected a workflow JSON object".into(),
        ))
    }
}

async fn create(
    State(svc): State<Arc<WorkflowService>>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let wf = svc.parse_and_validate(workflow_object(body?.0)?).await?;
    Ok(Json(json_of(&svc.store.create(wf).await?)))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    active: Option<bool>,
    name: Option<String>,
    /// Comma-separated tag names; a workflow must carry all of them.
    tags: Option<String>,
}

async fn list(State(svc): State<Arc<WorkflowService>>, Query(q): Query<ListQuery>) -> ApiResult {
    let filter = WorkflowFilter {
        active: q.active,
        name: q.name.filter(|n| !n.is_empty()),
        name_contains: None,
        tags: q
            .tags
            .iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        limit: q.limit,
        cursor: q.cursor,
    };
    let (items, next) = svc.store.list_filtered(&filter).await?;
    let data: Vec<Value> = items.iter().map(json_of).collect();
    Ok(Json(json!({ "data": data, "nextCursor": next })))
}

async fn read(State(svc): State<Arc<WorkflowService>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(json_of(&svc.store.get(&id).await?)))
}

async fn replace(
    State(svc): State<Arc<WorkflowService>>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let wf = svc.parse_and_validate(workflow_object(body?.0)?).await?;
    let _changing = svc.triggers.changing().await;
    // An active workflow's new triggers must be able to start before anything is stored.
    let plans = if svc.store.get(&id).await?.active {
        Some(svc.triggers.plan(&wf, svc.executor.registry())?)
    } else {
        None
    };
    let stored = svc.store.update(&id, wf).await?;
    if let Some(plans) = plans.filter(|_| stored.active) {
        svc.triggers.start(&svc, &stored, plans).await;
    }
    Ok(Json(json_of(&stored)))
}

/// `DELETE /workflows/{id}`: deletes the workflow and every execution of it; answers the
/// workflow as it was.
async fn remove(State(svc): State<Arc<WorkflowService>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(json_of(&svc.delete(&id).await?)))
}

/// Starts the workflow's triggers; one that cannot start (bad cron, unknown time zone)
/// answers 400 naming the node and parameter, and the workflow stays inactive.
async fn activate(State(svc): State<Arc<WorkflowService>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(json_of(&svc.activate(&id).await?)))
}

/// Stops the workflow's triggers: no execution starts from them once this answers.
async fn deactivate(State(svc): State<Arc<WorkflowService>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(json_of(&svc.deactivate(&id).await?)))
}

/// `POST /workflows/{id}/test-webhook`: arms the workflow's Webhook nodes, as saved now, on
/// `/webhook-test/` for one call within 120 seconds (n8n's "listen for test event").
async fn arm_test_webhook(
    State(svc): State<Arc<WorkflowService>>,
    Path(id): Path<String>,
) -> ApiResult {
    use crate::test_webhooks::{ArmError, TEST_WEBHOOK_TTL};
    let stored = svc.store.get(&id).await?;
    let routes = svc
        .test_webhooks
        .arm(&id, Arc::new(stored.workflow), TEST_WEBHOOK_TTL)
        .map_err(|e| match e {
            ArmError::NoWebhook => ApiError::BadRequest(format!(
                "workflow \"{id}\" has no enabled Webhook node to test"
            )),
            ArmError::Taken { route, workflow_id } => ApiError::Conflict(format!(
                "the test webhook {route} is armed for workflow \"{workflow_id}\"; \
                 try again once it was called or within 120 seconds"
            )),
        })?;
    let expires =
        chrono::Utc::now() + chrono::Duration::from_std(TEST_WEBHOOK_TTL).unwrap_or_default();
    let webhooks: Vec<Value> = routes
        .iter()
        .map(|(method, path)| json!({ "method": method, "path": path }))
        .collect();
    Ok(Json(json!({
        "workflowId": id,
        "expiresAt": expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "webhooks": webhooks,
    })))
}

#[derive(Deserialize)]
struct RunQuery {
    #[serde(default)]
    wait: bool,
}

async fn run(
    State(svc): State<Arc<WorkflowService>>,
    Path(id): Path<String>,
    Query(q): Query<RunQuery>,
    body: Option<Json<Value>>,
) -> ApiResult {
    let stored = svc.store.get(&id).await?;
    let items: Vec<Item> = match body.map(|b| b.0).and_then(|b| b.get("items").cloned()) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let v = if v.get("json").is_some() {
                    v
                } else {
                    json!({ "json": v })
                };
                serde_json::from_value(v).map_err(|e| {
                    ApiError::BadRequest(format!("items[{i}]: expected a JSON object ({e})"))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "items: expected an array of objects".into(),
            ))
        }
    };
    let workflow = Arc::new(stored.workflow);
    let items = if items.is_empty() {
        fetch_test_event(&svc, &id, &workflow).await?
    } else {
        items
    };
    let execution = svc
        .runner
        .start(ExecutionRequest {
            workflow_id: id.clone(),
            workflow,
            mode: ExecutionMode::Manual,
            start_node: None,
            items,
            respond: None,
        })
        .await?;
    let execution_id = execution.id.clone();
    if !q.wait {
        return Ok(Json(json!({ "executionId": execution_id })));
    }
    // The run is on its own task: a caller hanging up on `?wait=true` stops nothing.
    let ended = execution.wait().await;
    match (ended.outcome, ended.stored?) {
        // An execution the saving policy did not keep is answered from memory.
        (Ok(result), false) => Ok(Json(unsaved_execution_json(&execution_id, &id, &result))),
        _ => Ok(Json(execution_json(
            &svc.store.get_execution(&execution_id, true).await?,
        ))),
    }
}

/// A manual run of a workflow that starts with a polling trigger polls it first, as n8n's
/// "fetch test event" does: the trigger returns its latest matching data without moving its
/// saved state. A failed poll is stored as a failed manual execution and answered 500.
pub(crate) async fn fetch_test_event(
    svc: &WorkflowService,
    id: &str,
    workflow: &Workflow,
) -> ApiResult<Vec<Item>> {
    let Some(node) = svc.executor.first_trigger(workflow) else {
        return Ok(Vec::new());
    };
    let Some(trigger) = svc.executor.polling_trigger(node) else {
        return Ok(Vec::new());
    };
    let mut state = svc
        .store
        .trigger_state(id, &node.name)
        .await?
        .unwrap_or_else(|| json!({}));
    let mut with_id = workflow.clone();
    with_id.id = Some(id.to_owned());
    match svc
        .executor
        .poll(
            &with_id,
            node,
            trigger.as_ref(),
            &mut state,
            PollMode::Manual,
        )
        .await
    {
        Ok(items) => Ok(items.unwrap_or_default()),
        Err(e) => {
            let message = format!("polling trigger \"{}\" failed: {}", node.name, e.message);
            svc.runner
                .record_failure(id, ExecutionMode::Manual, &message)
                .await?;
            Err(ApiError::Execution(message))
        }
    }
}

fn status_name(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Success => "success",
        ExecutionStatus::Error => "error",
        ExecutionStatus::Canceled => "canceled",
        ExecutionStatus::Waiting => "waiting",
    }
}

/// A finished manual execution that the saving policy did not keep, in the stored shape.
fn unsaved_execution_json(id: &str, workflow_id: &str, r: &ExecutionResult) -> Value {
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut v = json!({
        "id": id, "workflowId": workflow_id, "mode": "manual", "status": status_name(r.status),
        "finished": r.status == ExecutionStatus::Success,
        "startedAt": stamp(r.started_at), "stoppedAt": stamp(r.stopped_at),
        "data": r.data_json(),
    });
    if let Some(e) = &r.error {
        v["error"] = serde_json::to_value(e).unwrap_or_default();
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionQuery {
    workflow_id: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    #[serde(default)]
    include_data: bool,
}

async fn list_executions(
    State(svc): State<Arc<WorkflowService>>,
    Query(q): Query<ExecutionQuery>,
) -> ApiResult {
    if let Some(s) = &q.status {
        if !matches!(
            s.as_str(),
            "running" | "success" | "error" | "canceled" | "crashed"
        ) {
            return Err(ApiError::BadRequest(format!(
                "status: expected one of running, success, error, canceled, crashed, got \"{s}\""
            )));
        }
    }
    let filter = ExecutionFilter {
        workflow_id: q.workflow_id,
        status: q.status,
        limit: q.limit,
        cursor: q.cursor,
        include_data: q.include_data,
    };
    let (items, next) = svc.store.list_executions(&filter).await?;
    let data: Vec<Value> = items.iter().map(execution_json).collect();
    Ok(Json(json!({ "data": data, "nextCursor": next })))
}

async fn read_execution(
    State(svc): State<Arc<WorkflowService>>,
    Path(id): Path<String>,
    Query(q): Query<ExecutionQuery>,
) -> ApiResult {
    Ok(Json(execution_json(
        &svc.store.get_execution(&id, q.include_data).await?,
    )))
}

/// How long a stop waits for the execution to record its end before answering.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// `POST /executions/{id}/stop`: cancels an execution running in this server and answers it
/// once stored as `canceled`; 404 for an unknown id, 409 for one that is not running.
async fn stop_execution(
    State(svc): State<Arc<WorkflowService>>,
    Path(id): Path<String>,
) -> ApiResult {
    match svc.store.stop_execution(&id, STOP_WAIT).await? {
        Some(e) => Ok(Json(execution_json(&e))),
        // The saving policy deleted it: say what happened all the same.
        None => Ok(Json(
            json!({ "id": id, "status": "canceled", "finished": false }),
        )),
    }
}

async fn remove_execution(
    State(svc): State<Arc<WorkflowService>>,
    Path(id): Path<String>,
) -> ApiResult {
    let e = svc.store.get_execution(&id, false).await?;
    svc.store.delete_execution(&id).await?;
    Ok(Json(execution_json(&e)))
}
