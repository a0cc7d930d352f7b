//! The Webhook node's side of a webhook call: who may call it ([`WEBHOOK_AUTHENTICATION`],
//! [`parse_ip_allow_list`]; the server checks callers before any execution starts), the
//! request becomes the node's item, and the answer follows the node's `responseMode`
//! (`onReceived`, `lastNode`, `responseNode`), as n8n answers it. The server turns HTTP into a
//! [`WebhookRequest`] and the answer back.

use std::sync::Arc;

use node_api::{ExecutionMode, Item, JsonObject, WebhookResponse};
use serde_json::{json, Value};

use crate::error::WorkflowError;
use crate::executor::{CancelHandle, ExecutionResult, ExecutionStatus, Executor, RunRequest};
use crate::model::{Workflow, WorkflowNode};

const JSON_TYPE: &str = "application/json; charset=utf-8";

/// The Webhook node's type name.
pub const WEBHOOK_NODE: &str = "n8n-nodes-base.webhook";

/// `httpBasicAuth`: a user name and password (HTTP Basic).
pub const HTTP_BASIC_AUTH: &str = "httpBasicAuth";
/// `httpHeaderAuth`: one header name and its value.
pub const HTTP_HEADER_AUTH: &str = "httpHeaderAuth";
/// `jwtAuth`: a JWT key (a passphrase, or PEM keys) and its algorithm.
pub const JWT_AUTH: &str = "jwtAuth";

/// The Webhook node's `authentication` modes and the credential type each checks callers
/// against (n8n's names; the core plugin declares the types).
pub const WEBHOOK_AUTHENTICATION: &[(&str, Option<&str>)] = &[
    ("none", None),
    ("basicAuth", Some(HTTP_BASIC_AUTH)),
    ("headerAuth", Some(HTTP_HEADER_AUTH)),
    ("jwtAuth", Some(JWT_AUTH)),
];

/// Parses n8n's `options.ipWhitelist`: a comma list of addresses and CIDR ranges. Returns
/// every entry as a network, or the first entry that is neither.
pub fn parse_ip_allow_list(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!(
                        "options.ipWhitelist: {entry:?} is neither an IP address nor a CIDR range \
                         (e.g. 10.0.0.0/8)"
                    )
                })
        })
        .collect()
}

/// Headers a workflow may not set on a webhook answer: the server frames the answer itself
/// (`content-length`, `transfer-encoding`), and hop-by-hop headers belong to the connection.
/// A user-set length shorter than the body sent would make the rest of the body read as a
/// second, forged response on a keep-alive connection.
pub const FRAMING_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Whether a workflow may not set header `name` on a webhook answer ([`FRAMING_HEADERS`]).
pub fn is_framing_header(name: &str) -> bool {
    FRAMING_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name.trim()))
}

/// The status codes a webhook answer may have: 1xx would leave the caller waiting for a
/// second answer on the connection.
pub const ANSWER_STATUS: std::ops::RangeInclusive<u16> = 200..=599;

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
    /// The values of the path's dynamic segments (`user/:id` called as `user/7`: `id` = `7`).
    pub params: JsonObject,
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

/// The Webhook node of `workflow` that listens on `method` `path`, if any: a node whose path
/// is exactly `path` first, else one whose dynamic path (`user/:id`) matches it.
pub fn find_webhook_node<'a>(
    workflow: &'a Workflow,
    method: &str,
    path: &str,
) -> Option<&'a WorkflowNode> {
    let path = path.trim_matches('/');
    let routes: Vec<_> = webhook_routes(workflow)
        .filter(|(m, _, _)| m.eq_ignore_ascii_case(method))
        .collect();
    let exact = routes.iter().find(|(_, p, _)| p == path);
    exact
        .or_else(|| {
            routes
                .iter()
                .find(|(_, p, _)| path_params(p, path).is_some())
        })
        .map(|(_, _, node)| *node)
}

/// A webhook path as a route: without surrounding slashes, and each dynamic segment (n8n's
/// `:name`) as a bare `:`, so that `user/:id` and `user/:name` are the same route.
pub fn route_pattern(path: &str) -> String {
    path.trim_matches('/')
        .split('/')
        .map(|segment| {
            if segment.starts_with(':') {
                ":"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the path has dynamic segments (`:name`).
pub fn is_dynamic(path: &str) -> bool {
    path.trim_matches('/')
        .split('/')
        .any(|s| s.starts_with(':'))
}

/// Matches a called `path` against a node's `node_path`: `Some` with the dynamic segments'
/// values by name (empty for a static path) when every segment matches, `None` otherwise.
/// Dynamic segments match one non-empty segment each, as in n8n.
pub fn path_params(node_path: &str, path: &str) -> Option<JsonObject> {
    let wanted: Vec<&str> = node_path.trim_matches('/').split('/').collect();
    let given: Vec<&str> = path.trim_matches('/').split('/').collect();
    if wanted.len() != given.len() {
        return None;
    }
    let mut params = JsonObject::new();
    for (w, g) in wanted.iter().zip(&given) {
        match w.strip_prefix(':') {
            Some(name) if !g.is_empty() => {
                params.insert(name.to_owned(), Value::String((*g).to_owned()));
            }
            Some(_) => return None,
            None if w == g => {}
            None => return None,
        }
    }
    Some(params)
}

/// The enabled Webhook nodes of `workflow`, each with its HTTP method (upper case) and path
/// (without surrounding slashes).
pub fn webhook_routes(
    workflow: &Workflow,
) -> impl Iterator<Item = (String, String, &WorkflowNode)> {
    workflow.nodes.iter().filter_map(|n| {
        if n.node_type != WEBHOOK_NODE || n.is_disabled() {
            return None;
        }
        let path = n.parameters.get("path").and_then(Value::as_str)?;
        let method = n
            .parameters
            .get("httpMethod")
            .and_then(Value::as_str)
            .unwrap_or("GET");
        Some((
            method.to_ascii_uppercase(),
            path.trim_matches('/').to_string(),
            n,
        ))
    })
}

/// The Webhook node's output item for `request`, shaped as n8n's.
pub fn webhook_item(request: &WebhookRequest) -> Item {
    item_with_body(request, request.body.clone())
}

/// [`webhook_item`] taking the request, so that its body moves into the item instead of being
/// copied (a large body is then held once).
pub fn into_webhook_item(mut request: WebhookRequest) -> Item {
    let body = std::mem::take(&mut request.body);
    item_with_body(&request, body)
}

fn item_with_body(request: &WebhookRequest, body: Value) -> Item {
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
    json.insert("params".into(), Value::Object(request.params.clone()));
    json.insert("query".into(), Value::Object(request.query.clone()));
    json.insert("body".into(), body);
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

/// When a webhook call is answered (the Webhook node's `responseMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// At once, before the workflow runs (n8n's default).
    OnReceived,
    /// When the workflow ends, with the last node's output.
    LastNode,
    /// When a Respond to Webhook node runs (or at the end, if none does).
    ResponseNode,
}

/// The response mode of `webhook`; unknown values count as n8n's default, `onReceived`.
pub fn response_mode(webhook: &WorkflowNode) -> ResponseMode {
    match webhook
        .parameters
        .get("responseMode")
        .and_then(Value::as_str)
    {
        Some("lastNode") => ResponseMode::LastNode,
        Some("responseNode") => ResponseMode::ResponseNode,
        _ => ResponseMode::OnReceived,
    }
}

/// The answer to a webhook call as soon as it is known, as n8n gives it: at once for
/// `onReceived`, when Respond to Webhook sends one (`responded`) for `responseNode`, and
/// when the execution has `ended` for `lastNode` (or when no Respond node answered).
/// `ended` is only awaited when the answer needs it.
pub async fn answer<E>(
    webhook: &WorkflowNode,
    responded: tokio::sync::oneshot::Receiver<WebhookResponse>,
    ended: impl std::future::Future<Output = Result<ExecutionResult, E>>,
) -> Result<WebhookResponse, E> {
    match response_mode(webhook) {
        ResponseMode::OnReceived => Ok(on_received_response(webhook)),
        ResponseMode::ResponseNode => match responded.await {
            Ok(response) => Ok(response),
            Err(_) => Ok(response_for(webhook, &ended.await?)),
        },
        ResponseMode::LastNode => Ok(response_for(webhook, &ended.await?)),
    }
}

/// A webhook call under way: the answer to send now, and the execution still running.
#[derive(Debug)]
pub struct WebhookStart {
    /// What to send back to the caller.
    pub response: WebhookResponse,
    /// The execution; it may still be running (onReceived, responseNode).
    pub execution: tokio::task::JoinHandle<Result<ExecutionResult, WorkflowError>>,
}

/// Starts the execution on its own task and returns the [`answer`] as soon as it is known,
/// without storing anything (the engine's runner stores executions; this serves tests and
/// embedders).
pub async fn start_webhook(
    executor: Executor,
    workflow: Arc<Workflow>,
    node: &str,
    execution_id: String,
    request: WebhookRequest,
) -> Result<WebhookStart, WorkflowError> {
    let webhook = workflow
        .node(node)
        .cloned()
        .ok_or_else(|| WorkflowError::NoStartNode(format!("no node named \"{node}\"")))?;
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
        cancel: CancelHandle::new(),
        respond_early: Some(tx),
    };
    let mut execution = tokio::spawn(async move { executor.run(run).await });
    // A finished task cannot be awaited twice: keep its result for the handle returned.
    let mut finished = None;
    let ended = async {
        let result = (&mut execution)
            .await
            .map_err(|e| WorkflowError::NoStartNode(format!("the execution task failed: {e}")))??;
        finished = Some(result.clone());
        Ok::<_, WorkflowError>(result)
    };
    let response = answer(&webhook, rx, ended).await?;
    let execution = match finished {
        Some(result) => tokio::spawn(async move { Ok(result) }),
        None => execution,
    };
    Ok(WebhookStart {
        response,
        execution,
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
                    &Value::Array(items.iter().map(|i| i.json.clone().into_value()).collect()),
                ),
                "noData" => WebhookResponse {
                    status: code,
                    headers: Vec::new(),
                    body: None,
                },
                _ => match items.first() {
                    Some(i) => json_response(code, &i.json.clone().into_value()),
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
mod path_tests {
    use super::*;

    #[test]
    fn dynamic_segments_match_one_segment_each() {
        assert_eq!(route_pattern("/user/:id/"), "user/:");
        assert_eq!(route_pattern("user/:name"), route_pattern("user/:id"));
        assert!(is_dynamic("user/:id") && !is_dynamic("user/id"));
        let params = path_params("user/:id/orders/:order", "/user/7/orders/x-1").unwrap();
        assert_eq!(Value::Object(params), json!({"id": "7", "order": "x-1"}));
        assert_eq!(path_params("user/:id", "user/7/more"), None);
        assert_eq!(path_params("user/:id", "user//"), None);
        assert_eq!(path_params("user/:id", "team/7"), None);
        assert_eq!(path_params("user/me", "user/me"), Some(JsonObject::new()));
    }
}
