//! Executions: the list (newest first, filtered by workflow and status, paged) and one
//! execution: each node's input and output items, the error with its node, retry.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use maud::{html, Markup};
use node_api::{ExecutionMode, Item};
use serde_json::{json, Value};

use super::auth::{Posted, Session};
use super::{csrf_field, duration, enc, ok, page, when, ConsoleError, Page, Section};
use crate::app::AppState;
use crate::runner::ExecutionRequest;
use crate::store::ExecutionFilter;

/// Executions shown per page.
const PER_PAGE: u32 = 50;
/// JSON longer than this is cut on the page; the whole is in the download.
const SHOWN_BYTES: usize = 32 * 1024;
const STATUSES: [&str; 6] = [
    "running", "success", "error", "canceled", "crashed", "waiting",
];

#[derive(serde::Deserialize)]
pub struct ListQuery {
    workflow: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

fn status_badge(status: &str) -> Markup {
    let class = match status {
        "success" => "badge success",
        "error" | "crashed" => "badge error",
        "running" | "waiting" => "badge running",
        _ => "badge",
    };
    html! { span class=(class) { (status) } }
}

/// `GET /executions`
pub async fn list(
    session: Session,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Page {
    let workflow = q.workflow.filter(|w| !w.is_empty());
    let status = q.status.filter(|s| !s.is_empty());
    if let Some(s) = &status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ConsoleError::BadRequest(format!(
                "status: expected one of {}, got {s:?}",
                STATUSES.join(", ")
            )));
        }
    }
    let (items, next) = state
        .workflows
        .store
        .list_executions(&ExecutionFilter {
            workflow_id: workflow.clone(),
            status: status.clone(),
            limit: Some(PER_PAGE),
            cursor: q.cursor.filter(|c| !c.is_empty()),
            include_data: false,
        })
        .await?;
    let names = super::workflows::names(&state).await?;
    let mut by_name: Vec<(&String, &String)> = names.iter().collect();
    by_name.sort_by(|a, b| {
        a.1.to_lowercase()
            .cmp(&b.1.to_lowercase())
            .then(a.0.cmp(b.0))
    });
    let filter_query = format!(
        "workflow={}&status={}",
        enc(workflow.as_deref().unwrap_or_default()),
        enc(status.as_deref().unwrap_or_default())
    );
    let body = html! {
        h1 { "Executions" }
        form.filters method="get" action="/executions" {
            label { "Workflow"
                select name="workflow" {
                    option value="" { "All workflows" }
                    @for (id, name) in &by_name {
                        option value=(id) selected[workflow.as_deref() == Some(id.as_str())] { (name) }
                    }
                }
            }
            label { "Status"
                select name="status" {
                    option value="" { "Any status" }
                    @for s in STATUSES {
                        option value=(s) selected[status.as_deref() == Some(s)] { (s) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        @if items.is_empty() {
            p.empty { "No executions." }
        } @else {
            div.table {
                table {
                    thead { tr { th { "Execution" } th { "Workflow" } th { "Status" } th { "Mode" } th { "Started" } th { "Duration" } } }
                    tbody {
                        @for e in &items {
                            tr {
                                td data-label="Execution" { a href=(format!("/executions/{}", enc(&e.id))) { "#" (e.id) } }
                                td data-label="Workflow" {
                                    a href=(format!("/workflows/{}", enc(&e.workflow_id))) {
                                        (names.get(&e.workflow_id).map_or(e.workflow_id.as_str(), String::as_str))
                                    }
                                }
                                td data-label="Status" { (status_badge(&e.status)) }
                                td data-label="Mode" { (e.mode) }
                                td data-label="Started" { (when(&e.started_at)) }
                                td data-label="Duration" { (duration(&e.started_at, e.stopped_at.as_deref())) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p.pager { a href=(format!("/executions?{filter_query}&cursor={}", enc(&next))) { "Older →" } }
            }
        }
    };
    Ok(ok(page(
        "Executions",
        Some(&session),
        Section::Executions,
        body,
    )))
}

/// Pretty JSON of `value`, cut past [`SHOWN_BYTES`]; whether it was cut.
fn shown(value: &Value) -> (String, bool) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    if text.len() <= SHOWN_BYTES {
        return (text, false);
    }
    let mut end = SHOWN_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

fn json_block(label: &str, items: &Value, download: &str) -> Markup {
    let count = items.as_array().map_or(0, Vec::len);
    let (text, cut) = shown(items);
    html! {
        details.json {
            summary { (label) " · " (count) (if count == 1 { " item" } else { " items" }) }
            pre { code { (text) } }
            @if cut {
                p.notice.error { "Truncated: the items are larger than " (SHOWN_BYTES / 1024) " KiB. "
                    a href=(download) download { "Download the whole execution as JSON" } }
            }
        }
    }
}

/// The items of output `output` of run `run` of `node`.
fn output_of(
    run_data: &serde_json::Map<String, Value>,
    node: &str,
    run: usize,
    output: usize,
) -> Value {
    run_data
        .get(node)
        .and_then(|runs| runs.get(run))
        .and_then(|r| r.pointer("/data/main"))
        .and_then(|main| main.get(output))
        .cloned()
        .filter(|v| !v.is_null())
        .unwrap_or_else(|| json!([]))
}

/// `GET /executions/{id}`
pub async fn detail(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Page {
    let e = state.workflows.store.get_execution(&id, true).await?;
    let workflow_name = state
        .workflows
        .store
        .get(&e.workflow_id)
        .await
        .map(|w| w.workflow.name)
        .unwrap_or_else(|_| e.workflow_id.clone());
    let empty = serde_json::Map::new();
    let run_data = e
        .data
        .as_ref()
        .and_then(|d| d.pointer("/resultData/runData"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut nodes: Vec<(&String, &Value)> = run_data.iter().collect();
    nodes.sort_by_key(|(_, runs)| {
        runs.pointer("/0/startTime")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX)
    });
    let error_message = e.error.as_ref().and_then(|err| {
        err.get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| err.as_str().map(str::to_owned))
    });
    let error_node = e
        .error
        .as_ref()
        .and_then(|err| err.get("node"))
        .and_then(Value::as_str);
    let download = format!("/executions/{}/data.json", enc(&e.id));
    let running = matches!(e.status.as_str(), "running" | "waiting");
    let body = html! {
        @if running { div data-reload="2000" {} }
        p.crumbs { a href="/executions" { "Executions" } " / " }
        h1 { "Execution #" (e.id) }
        dl.facts {
            dt { "Workflow" } dd { a href=(format!("/workflows/{}", enc(&e.workflow_id))) { (workflow_name) } }
            dt { "Status" } dd { (status_badge(&e.status)) }
            dt { "Mode" } dd { (e.mode) }
            dt { "Started" } dd { (when(&e.started_at)) }
            dt { "Duration" } dd { (duration(&e.started_at, e.stopped_at.as_deref())) }
        }
        @if let Some(message) = &error_message {
            div.notice.error role="alert" {
                strong { @if let Some(node) = error_node { "Node \"" (node) "\" failed: " } @else { "Failed: " } }
                (message)
            }
        }
        div.actions {
            @if !running {
                form method="post" action=(format!("/executions/{}/retry", enc(&e.id))) {
                    (csrf_field(&session)) button type="submit" { "Retry" }
                }
            }
            a.button href=(download) download { "Download JSON" }
        }
        h2 { "Nodes" }
        @if nodes.is_empty() {
            p.empty { @if running { "Running…" } @else { "No node data was saved for this execution." } }
        }
        @for (name, runs) in &nodes {
            @for (run_index, run) in runs.as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
                @let failed = run.get("error").is_some_and(|v| !v.is_null());
                section.node-run.failed[failed] {
                    h3 {
                        (name)
                        @if runs.as_array().map_or(0, Vec::len) > 1 { " (run " (run_index + 1) ")" }
                        " "
                        (status_badge(run.get("executionStatus").and_then(Value::as_str).unwrap_or("success")))
                        span.muted { " " (run.get("executionTime").and_then(Value::as_i64).unwrap_or(0)) " ms" }
                    }
                    @if let Some(err) = run.get("error").filter(|v| !v.is_null()) {
                        p.notice.error { (err.get("message").and_then(Value::as_str).unwrap_or("failed")) }
                        @if let Some(description) = err.get("description").and_then(Value::as_str) {
                            p.muted { (description) }
                        }
                    }
                    @for (i, source) in run.get("source").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
                        @if let Some(previous) = source.get("previousNode").and_then(Value::as_str) {
                            @let items = output_of(
                                run_data,
                                previous,
                                source.get("previousNodeRun").and_then(Value::as_u64).unwrap_or(0) as usize,
                                source.get("previousNodeOutput").and_then(Value::as_u64).unwrap_or(0) as usize,
                            );
                            (json_block(&format!("Input {} from {previous}", i + 1), &items, &download))
                        }
                    }
                    @let outputs = run.pointer("/data/main").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                    @for (i, items) in outputs.iter().enumerate() {
                        @let label = if outputs.len() > 1 { format!("Output {}", i + 1) } else { "Output".to_owned() };
                        (json_block(&label, if items.is_null() { &Value::Null } else { items }, &download))
                    }
                }
            }
        }
    };
    Ok(ok(page(
        &format!("Execution {}", e.id),
        Some(&session),
        Section::Executions,
        body,
    )))
}

/// `GET /executions/{id}/data.json`: the execution with its data, as the API answers it.
pub async fn data(
    _session: Session,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Page {
    let e = state.workflows.store.get_execution(&id, true).await?;
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
    let file: String =
        e.id.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"execution-{file}.json\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        serde_json::to_string_pretty(&v).unwrap_or_default(),
    )
        .into_response())
}

/// `POST /executions/{id}/retry`: runs the workflow as saved now, in `retry` mode, handing
/// its trigger the items that trigger produced in the original execution.
pub async fn retry(State(state): State<AppState>, Path(id): Path<String>, _posted: Posted) -> Page {
    let svc = &state.workflows;
    let original = svc.store.get_execution(&id, true).await?;
    let stored = svc.store.get(&original.workflow_id).await?;
    let start = svc
        .executor
        .first_trigger(&stored.workflow)
        .map(|n| n.name.clone());
    let items: Vec<Item> = start
        .as_deref()
        .and_then(|node| {
            let run_data = original
                .data
                .as_ref()?
                .pointer("/resultData/runData")?
                .as_object()?;
            serde_json::from_value(output_of(run_data, node, 0, 0)).ok()
        })
        .unwrap_or_default();
    let execution = svc
        .runner
        .start(ExecutionRequest {
            workflow_id: original.workflow_id.clone(),
            workflow: Arc::new(stored.workflow),
            mode: ExecutionMode::Retry,
            start_node: None,
            items,
            respond: None,
        })
        .await?;
    Ok(Redirect::to(&format!("/executions/{}", enc(&execution.id))).into_response())
}
