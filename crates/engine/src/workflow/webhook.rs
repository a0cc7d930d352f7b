//! Running a workflow for an incoming webhook call: the request becomes the Webhook node's
//! item, and the answer follows the node's `responseMode` (`onReceived`, `lastNode`,
//! `responseNode`), as n8n answers it. The HTTP routes call [`run_webhook`]. Production calls
//! find their workflow in a [`WebhookIndex`] kept in memory, so a call reads no workflow row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use node_api::{ExecutionMode, Item, JsonObject, WebhookResponse};
use serde_json::{json, Value};

use super::error::WorkflowError;
use super::executor::{CancelHandle, ExecutionResult, ExecutionStatus, Executor, RunRequest};
use super::model::{Workflow, WorkflowNode};
use super::store::StoredWorkflow;

const JSON_TYPE: &str = "application/json; charset=utf-8";

/// An incoming webhook call, already read from the HTTP layer.
#[derive(Clone, Debug, Default)]
pub struct WebhookRequest {
    /// HTTP method.
    pub method: String,
    /// The path after `/webhook/` (or `/webhook-test/`).
    pub path: String,
    /// Request headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Query parameters.
    pub query: JsonObject,
    /// Parsed body (JSON, form fields as an object, or text as a string).
    pub body: Value,
    /// Public base URL, e.g. `http://localhost:5678`.
    pub base_url: String,
    /// True for `/webhook-test/` calls.
    pub test: bool,
}

/// The webhook's answer plus the execution behind it.
#[derive(Debug)]
pub struct WebhookOutcome {
    /// What to send back.
    pub response: WebhookResponse,
    /// The finished execution.
    pub execution: ExecutionResult,
}

/// The Webhook node of `workflow` that listens on `method` `path`, if any.
pub fn find_webhook_node<'a>(
    workflow: &'a Workflow,
    method: &str,
    path: &str,
) -> Option<&'a WorkflowNode> {
    workflow.nodes.iter().find(|n| {
        n.node_type == "n8n-nodes-base.webhook"
            && !n.is_disabled()
            && n.parameters
                .get("path")
                .and_then(Value::as_str)
                .map(|p| p.trim_matches('/'))
                == Some(path.trim_matches('/'))
            && n.parameters
                .get("httpMethod")
                .and_then(Value::as_str)
                .unwrap_or("GET")
                .eq_ignore_ascii_case(method)
    })
}

/// Where a production webhook call goes: the active workflow and its Webhook node.
#[derive(Clone, Debug)]
pub struct WebhookTarget {
    /// The workflow's id.
    pub workflow_id: String,
    /// The Webhook node's name.
    pub node: String,
    /// The workflow as last saved, shared with running executions.
    pub workflow: Arc<Workflow>,
}

type RouteKey = (String, String);

/// Production webhooks of the active workflows, by method and path.
///
/// The workflow store keeps it current on every create, update, activation, deactivation
/// and delete; it is filled from the database on first use. Writers hold [`Self::writing`]
/// across their database write and the index update, so a concurrent first fill or a
/// second writer cannot leave it behind the database.
#[derive(Debug, Default)]
pub struct WebhookIndex {
    routes: RwLock<HashMap<RouteKey, Vec<WebhookTarget>>>,
    loaded: AtomicBool,
    writing: tokio::sync::Mutex<()>,
}

fn route_key(method: &str, path: &str) -> RouteKey {
    (
        method.to_ascii_uppercase(),
        path.trim_matches('/').to_string(),
    )
}

/// The enabled Webhook nodes of `workflow` with their method and path.
fn webhook_routes(workflow: &Workflow) -> impl Iterator<Item = (RouteKey, &WorkflowNode)> {
    workflow.nodes.iter().filter_map(|n| {
        if n.node_type != "n8n-nodes-base.webhook" || n.is_disabled() {
            return None;
        }
        let path = n.parameters.get("path").and_then(Value::as_str)?;
        let method = n
            .parameters
            .get("httpMethod")
            .and_then(Value::as_str)
            .unwrap_or("GET");
        Some((route_key(method, path), n))
    })
}

impl WebhookIndex {
    /// Whether the index has been filled from the database.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Serialises writers (and the first fill) with each other; hold it across the database
    /// write and the matching [`Self::put`] or [`Self::remove`].
    pub async fn writing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writing.lock().await
    }

    /// Replaces the whole index with the webhooks of the active workflows among `workflows`.
    pub fn fill(&self, workflows: Vec<StoredWorkflow>) {
        let mut routes: HashMap<RouteKey, Vec<WebhookTarget>> = HashMap::new();
        for stored in workflows.into_iter().filter(|w| w.active) {
            Self::add(&mut routes, stored);
        }
        if let Ok(mut r) = self.routes.write() {
            *r = routes;
        }
        self.loaded.store(true, Ordering::Release);
    }

    fn add(routes: &mut HashMap<RouteKey, Vec<WebhookTarget>>, stored: StoredWorkflow) {
        let workflow = Arc::new(stored.workflow);
        for (key, node) in webhook_routes(&workflow) {
            let targets = routes.entry(key).or_default();
            targets.push(WebhookTarget {
                workflow_id: stored.id.clone(),
                node: node.name.clone(),
                workflow: workflow.clone(),
            });
            // Two active workflows on one path: the lowest id answers, as the scan did.
            targets.sort_by(|a, b| a.workflow_id.cmp(&b.workflow_id));
        }
    }

    /// Records `stored` as saved: its webhooks are listed when it is active, dropped when not.
    pub fn put(&self, stored: &StoredWorkflow) {
        if !self.is_loaded() {
            return;
        }
        self.remove(&stored.id);
        if stored.active {
            if let Ok(mut r) = self.routes.write() {
                Self::add(&mut r, stored.clone());
            }
        }
    }

    /// Drops every webhook of workflow `id`.
    pub fn remove(&self, id: &str) {
        if let Ok(mut r) = self.routes.write() {
            r.retain(|_, targets| {
                targets.retain(|t| t.workflow_id != id);
                !targets.is_empty()
            });
        }
    }

    /// The active workflow listening on `method` `path`.
    pub fn lookup(&self, method: &str, path: &str) -> Option<WebhookTarget> {
        let routes = self.routes.read().ok()?;
        routes
            .get(&route_key(method, path))
            .and_then(|t| t.first())
            .cloned()
    }
}

/// The Webhook node's output item for `request`, shaped as n8n's.
pub fn webhook_item(request: &WebhookRequest) -> Item {
    let headers: JsonObject = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
        .collect();
    let prefix = if request.test {
        "webhook-test"
    } else {
        "webhook"
    };
    let mut json = JsonObject::new();
    json.insert("headers".into(), Value::Object(headers));
    json.insert("params".into(), json!({}));
    json.insert("query".into(), Value::Object(request.query.clone()));
    json.insert("body".into(), request.body.clone());
    json.insert(
        "webhookUrl".into(),
        Value::String(format!(
            "{}/{prefix}/{}",
            request.base_url.trim_end_matches('/'),
            request.path.trim_matches('/')
        )),
    );
    json.insert(
        "executionMode".into(),
        Value::String(if request.test { "test" } else { "production" }.into()),
    );
    Item::new(json)
}

/// Runs `workflow` from its webhook node `node` for `request` and builds the answer.
pub async fn run_webhook(
    executor: &Executor,
    workflow: Arc<Workflow>,
    node: &str,
    execution_id: String,
    request: &WebhookRequest,
) -> Result<WebhookOutcome, WorkflowError> {
    let webhook = workflow
        .node(node)
        .cloned()
        .ok_or_else(|| WorkflowError::NoStartNode(format!("no node named \"{node}\"")))?;
    let execution = executor
        .run(RunRequest {
            workflow,
            execution_id,
            mode: if request.test {
                ExecutionMode::Manual
            } else {
                ExecutionMode::Webhook
            },
            start_node: Some(webhook.name.clone()),
            items: vec![webhook_item(request)],
            cancel: CancelHandle::new(),
            respond_early: None,
        })
        .await?;
    let response = response_for(&webhook, &execution);
    Ok(WebhookOutcome {
        response,
        execution,
    })
}

/// A webhook call under way: the answer to send now, and the execution still running.
#[derive(Debug)]
pub struct WebhookStart {
    /// What to send back to the caller.
    pub response: WebhookResponse,
    /// The execution; it may still be running (onReceived, responseNode).
    pub execution: tokio::task::JoinHandle<Result<ExecutionResult, WorkflowError>>,
}

/// Starts the execution in the background and returns the answer as soon as it is known, as
/// n8n does: at once for `onReceived`, when Respond to Webhook runs for `responseNode`, and
/// at the end for `lastNode` (or when no Respond node answered).
pub async fn start_webhook(
    executor: Executor,
    workflow: Arc<Workflow>,
    node: &str,
    execution_id: String,
    request: WebhookRequest,
) -> Result<WebhookStart, WorkflowError> {
    start_webhook_cancellable(
        executor,
        workflow,
        node,
        execution_id,
        request,
        CancelHandle::new(),
    )
    .await
}

/// [`start_webhook`] with the handle that stops the execution
/// (`POST /api/v1/executions/{id}/stop`).
pub async fn start_webhook_cancellable(
    executor: Executor,
    workflow: Arc<Workflow>,
    node: &str,
    execution_id: String,
    request: WebhookRequest,
    cancel: CancelHandle,
) -> Result<WebhookStart, WorkflowError> {
    let webhook = workflow
        .node(node)
        .cloned()
        .ok_or_else(|| WorkflowError::NoStartNode(format!("no node named \"{node}\"")))?;
    let mode = webhook
        .parameters
        .get("responseMode")
        .and_then(Value::as_str)
        .unwrap_or("onReceived")
        .to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let run = RunRequest {
        workflow,
        execution_id,
        mode: if request.test {
            ExecutionMode::Manual
        } else {
            ExecutionMode::Webhook
        },
        start_node: Some(webhook.name.clone()),
        items: vec![webhook_item(&request)],
        cancel,
        respond_early: Some(tx),
    };
    let execution = tokio::spawn(async move { executor.run(run).await });
    match mode.as_str() {
        "lastNode" => {}
        "responseNode" => {
            if let Ok(response) = rx.await {
                return Ok(WebhookStart {
                    response,
                    execution,
                });
            }
        }
        _ => {
            return Ok(WebhookStart {
                response: on_received_response(&webhook),
                execution,
            })
        }
    }
    let result = execution
        .await
        .map_err(|e| WorkflowError::NoStartNode(format!("the execution task failed: {e}")))??;
    let response = response_for(&webhook, &result);
    Ok(WebhookStart {
        response,
        execution: tokio::spawn(async move { Ok(result) }),
    })
}

fn json_response(status: u16, body: &Value) -> WebhookResponse {
    WebhookResponse {
        status,
        headers: vec![("content-type".into(), JSON_TYPE.into())],
        body: Some(body.to_string().into_bytes()),
    }
}

/// The answer for `responseMode: onReceived`, sent before the execution runs.
pub fn on_received_response(webhook: &WorkflowNode) -> WebhookResponse {
    let code = response_code(webhook);
    match webhook
        .parameters
        .get("options")
        .and_then(|o| o.get("responseData"))
        .and_then(Value::as_str)
    {
        Some("noData") => WebhookResponse {
            status: code,
            headers: Vec::new(),
            body: None,
        },
        Some(text) if !text.is_empty() => WebhookResponse {
            status: code,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: Some(text.as_bytes().to_vec()),
        },
        _ => json_response(code, &json!({"message": "Workflow was started"})),
    }
}

fn response_code(webhook: &WorkflowNode) -> u16 {
    webhook
        .parameters
        .get("options")
        .and_then(|o| o.get("responseCode"))
        .and_then(|c| {
            c.as_u64()
                .or_else(|| c.get("values")?.get("responseCode")?.as_u64())
        })
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(200)
}

/// The answer after the execution, following the Webhook node's `responseMode`.
pub fn response_for(webhook: &WorkflowNode, execution: &ExecutionResult) -> WebhookResponse {
    let mode = webhook
        .parameters
        .get("responseMode")
        .and_then(Value::as_str)
        .unwrap_or("onReceived");
    if let Some(r) = &execution.response {
        return r.clone();
    }
    if execution.status != ExecutionStatus::Success {
        return json_response(500, &json!({"message": "Error in workflow"}));
    }
    match mode {
        "lastNode" => {
            let items = execution.last_node_output();
            let data = webhook
                .parameters
                .get("responseData")
                .and_then(Value::as_str)
                .unwrap_or("firstEntryJson");
            let code = response_code(webhook);
            match data {
                "allEntries" => json_response(
                    code,
                    &Value::Array(
                        items
                            .iter()
                            .map(|i| Value::Object(i.json.clone()))
                            .collect(),
                    ),
                ),
                "noData" => WebhookResponse {
                    status: code,
                    headers: Vec::new(),
                    body: None,
                },
                _ => match items.first() {
                    Some(i) => json_response(code, &Value::Object(i.json.clone())),
                    None => json_response(500, &json!({"message": "No item to return was found"})),
                },
            }
        }
        "responseNode" => json_response(
            500,
            &json!({"message": "No Respond to Webhook node ran; the workflow finished without answering"}),
        ),
        _ => on_received_response(webhook),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: &str, active: bool, hooks: &[(&str, &str, bool)]) -> StoredWorkflow {
        let nodes: Vec<Value> = hooks
            .iter()
            .enumerate()
            .map(|(i, (method, path, disabled))| {
                json!({"name": format!("Hook {i}"), "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                       "disabled": disabled, "parameters": {"httpMethod": method, "path": path}})
            })
            .collect();
        let workflow =
            Workflow::from_value(json!({"id": id, "name": id, "nodes": nodes, "connections": {}}))
                .expect("workflow");
        StoredWorkflow {
            id: id.into(),
            active,
            workflow,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn answering(index: &WebhookIndex, method: &str, path: &str) -> Option<(String, String)> {
        index.lookup(method, path).map(|t| (t.workflow_id, t.node))
    }

    #[test]
    fn index_lists_enabled_hooks_of_active_workflows() {
        let index = WebhookIndex::default();
        index.fill(vec![
            stored(
                "b",
                true,
                &[("POST", "/orders/", false), ("GET", "off", true)],
            ),
            stored("a", true, &[("post", "orders", false)]),
            stored("c", false, &[("GET", "idle", false)]),
        ]);
        // Method case and surrounding slashes do not matter; the lowest id wins a shared path.
        assert_eq!(
            answering(&index, "POST", "orders"),
            Some(("a".into(), "Hook 0".into()))
        );
        assert_eq!(answering(&index, "GET", "orders"), None);
        assert_eq!(answering(&index, "GET", "off"), None, "disabled node");
        assert_eq!(answering(&index, "GET", "idle"), None, "inactive workflow");

        index.remove("a");
        assert_eq!(
            answering(&index, "POST", "/orders"),
            Some(("b".into(), "Hook 0".into()))
        );
        index.put(&stored("c", true, &[("GET", "idle", false)]));
        assert_eq!(
            answering(&index, "get", "idle"),
            Some(("c".into(), "Hook 0".into()))
        );
        index.put(&stored("b", false, &[("POST", "orders", false)]));
        assert_eq!(answering(&index, "POST", "orders"), None);
    }

    #[test]
    fn writes_before_the_first_fill_are_left_to_it() {
        let index = WebhookIndex::default();
        index.put(&stored("a", true, &[("GET", "x", false)]));
        assert!(!index.is_loaded());
        assert_eq!(answering(&index, "GET", "x"), None);
    }
}
