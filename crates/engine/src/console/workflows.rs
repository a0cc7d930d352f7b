//! Workflows: the list (active, trigger kinds, webhook URLs), import, activate / deactivate,
//! run now, export, delete, and one workflow's page with its drawing.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use maud::{html, Markup};
use node_api::ExecutionMode;
use serde_json::Value;
use workflow::{Workflow, WorkflowError};

use super::auth::{Posted, Session};
use super::{csrf_field, enc, notice, ok, page, respond, when, ConsoleError, Page, Section};
use crate::app::AppState;
use crate::runner::ExecutionRequest;
use crate::store::StoredWorkflow;

/// Workflows shown per page.
const PER_PAGE: u32 = 100;

/// The trigger node types of `workflow`, short (`scheduleTrigger`, `webhook`).
fn trigger_kinds(workflow: &Workflow) -> Vec<String> {
    let mut kinds: Vec<String> = workflow
        .nodes
        .iter()
        .filter(|n| !n.is_disabled())
        .filter(|n| {
            let t = n.node_type.to_ascii_lowercase();
            t.ends_with("trigger") || t.ends_with(".webhook")
        })
        .map(|n| {
            n.node_type
                .rsplit('.')
                .next()
                .unwrap_or(&n.node_type)
                .to_owned()
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// `(method, production URL)` of each enabled Webhook node.
fn webhook_urls(state: &AppState, workflow: &Workflow) -> Vec<(String, String)> {
    let base = state.settings.public_url.trim_end_matches('/');
    workflow::webhook::webhook_routes(workflow)
        .map(|(method, path, _)| (method, format!("{base}/webhook/{path}")))
        .collect()
}

fn actions(session: &Session, w: &StoredWorkflow) -> Markup {
    let id = &w.id;
    html! {
        div.actions {
            @if w.active {
                form method="post" action=(format!("/workflows/{id}/deactivate")) {
                    (csrf_field(session)) button type="submit" { "Deactivate" }
                }
            } @else {
                form method="post" action=(format!("/workflows/{id}/activate")) {
                    (csrf_field(session)) button type="submit" { "Activate" }
                }
            }
            form method="post" action=(format!("/workflows/{id}/run")) {
                (csrf_field(session)) button type="submit" { "Run now" }
            }
            a.button href=(format!("/workflows/{id}/export")) download { "Export" }
            form method="post" action=(format!("/workflows/{id}/delete")) data-confirm=(format!("Delete workflow {:?} and all its executions?", w.workflow.name)) {
                (csrf_field(session)) button.danger type="submit" { "Delete" }
            }
        }
    }
}

fn webhooks(urls: &[(String, String)]) -> Markup {
    html! {
        @for (method, url) in urls {
            div.webhook {
                span.method { (method) }
                code { (url) }
                button.copy type="button" data-copy=(url) { "Copy" }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    /// Text the names must contain.
    q: Option<String>,
}

/// `GET /workflows`
pub async fn list(
    session: Session,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Page {
    // (A NUL byte never gets here: every query string carrying one is refused with 400.)
    let search: String = q.q.unwrap_or_default().trim().chars().take(200).collect();
    let cursor = q.cursor.as_deref().filter(|c| !c.is_empty());
    let (items, next) = state
        .workflows
        .store
        .list_filtered(&crate::store::WorkflowFilter {
            limit: Some(PER_PAGE),
            cursor: cursor.map(str::to_owned),
            name_contains: Some(search.clone()).filter(|s| !s.is_empty()),
            ..Default::default()
        })
        .await?;
    let message = session.take_flash(&state.db).await?;
    let body = html! {
        div.heading {
            h1 { "Workflows" }
            form.inline.search method="get" action="/workflows" role="search" {
                input type="search" name="q" value=(search) placeholder="Name contains" aria-label="Search workflows by name" maxlength="200";
                button type="submit" { "Search" }
            }
            a.button.primary href="/workflows/import" { "Import" }
        }
        @if let Some((good, text)) = &message { (notice(*good, text)) }
        @if items.is_empty() && !search.is_empty() {
            p.empty { "No workflow name contains " strong { (search) } ". " a href="/workflows" { "Show all" } }
        } @else if items.is_empty() && cursor.is_none() {
            p.empty { "No workflows yet. " a href="/workflows/import" { "Import one" } " exported from n8n." }
        } @else {
            div.table {
                table {
                    thead { tr { th { "Name" } th { "Active" } th { "Triggers" } th { "Webhook URLs" } th { "Actions" } } }
                    tbody {
                        @for w in &items {
                            tr {
                                td data-label="Name" { a href=(format!("/workflows/{}", w.id)) { (display_name(w)) } }
                                td data-label="Active" {
                                    @if w.active { span.badge.success { "active" } } @else { span.badge { "inactive" } }
                                }
                                td data-label="Triggers" { (trigger_kinds(&w.workflow).join(", ")) }
                                td data-label="Webhook URLs" { (webhooks(&webhook_urls(&state, &w.workflow))) }
                                td data-label="Actions" { (actions(&session, w)) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p.pager { a href=(format!("/workflows?q={}&cursor={}", enc(&search), enc(&next))) { "Next page →" } }
            }
        }
    };
    Ok(ok(page(
        "Workflows",
        Some(&session),
        Section::Workflows,
        body,
    )))
}

fn display_name(w: &StoredWorkflow) -> &str {
    if w.workflow.name.trim().is_empty() {
        &w.id
    } else {
        &w.workflow.name
    }
}

/// `GET /workflows/{id}`
pub async fn detail(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Page {
    let w = state.workflows.store.get(&id).await?;
    let message = session.take_flash(&state.db).await?;
    Ok(ok(detail_page(&state, &session, &w, message)))
}

fn detail_page(
    state: &AppState,
    session: &Session,
    w: &StoredWorkflow,
    message: Option<(bool, String)>,
) -> Markup {
    let urls = webhook_urls(state, &w.workflow);
    let body = html! {
        p.crumbs { a href="/workflows" { "Workflows" } " / " }
        h1 { (display_name(w)) }
        @if let Some((good, text)) = &message { (notice(*good, text)) }
        dl.facts {
            dt { "Id" } dd { code { (w.id) } }
            dt { "Active" } dd { @if w.active { span.badge.success { "active" } } @else { span.badge { "inactive" } } }
            dt { "Triggers" } dd { (trigger_kinds(&w.workflow).join(", ")) }
            dt { "Nodes" } dd { (w.workflow.nodes.len()) }
            dt { "Updated" } dd { (when(&w.updated_at)) }
            @if !urls.is_empty() { dt { "Webhook URLs" } dd { (webhooks(&urls)) } }
        }
        (actions(session, w))
        p { a href=(format!("/executions?workflow={}", enc(&w.id))) { "Executions of this workflow →" } }
        h2 { "Drawing" }
        div.drawing { (super::draw::svg(&w.workflow)) }
    };
    page(display_name(w), Some(session), Section::Workflows, body)
}

/// `GET /workflows/{id}/export`: the workflow JSON as n8n exports it, as a download.
pub async fn export(
    _session: Session,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Page {
    let w = state.workflows.store.get(&id).await?;
    let body =
        serde_json::to_string_pretty(&w.to_json()).map_err(|e| ConsoleError::Internal(e.into()))?;
    let file: String = display_name(&w)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}.json\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// `POST /workflows/{id}/activate`
pub async fn activate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Page {
    match state.workflows.activate(&id).await {
        Ok(w) => Ok(posted
            .session
            .redirect_with(
                &state.db,
                &format!("/workflows/{}", enc(&w.id)),
                true,
                "Activated: its triggers are running.",
            )
            .await?),
        Err(crate::error::ApiError::NotFound(m)) => Err(ConsoleError::NotFound(m)),
        Err(crate::error::ApiError::Internal(e)) => Err(ConsoleError::Internal(e)),
        Err(other) => {
            let w = state.workflows.store.get(&id).await?;
            Ok(respond(
                axum::http::StatusCode::BAD_REQUEST,
                detail_page(
                    &state,
                    &posted.session,
                    &w,
                    Some((false, format!("Not activated: {other}"))),
                ),
            ))
        }
    }
}

/// `POST /workflows/{id}/deactivate`
pub async fn deactivate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Page {
    let w = state.workflows.deactivate(&id).await?;
    Ok(posted
        .session
        .redirect_with(
            &state.db,
            &format!("/workflows/{}", enc(&w.id)),
            true,
            "Deactivated: its triggers are stopped.",
        )
        .await?)
}

/// `POST /workflows/{id}/delete`
pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Page {
    let w = state.workflows.delete(&id).await?;
    Ok(posted
        .session
        .redirect_with(
            &state.db,
            "/workflows",
            true,
            format!("Deleted workflow {:?}.", display_name(&w)),
        )
        .await?)
}

/// `POST /workflows/{id}/run`: a manual run (a polling trigger polls first, as the API's
/// run does); on to the execution's page.
pub async fn run(State(state): State<AppState>, Path(id): Path<String>, _posted: Posted) -> Page {
    let svc = &state.workflows;
    let stored = svc.store.get(&id).await?;
    let workflow = Arc::new(stored.workflow);
    let items = crate::api::workflows::fetch_test_event(svc, &id, &workflow).await?;
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
    Ok(Redirect::to(&format!("/executions/{}", enc(&execution.id))).into_response())
}

/// `GET /workflows/import`
pub async fn import_page(session: Session) -> Page {
    Ok(ok(import_form(&session, "", None, &[])))
}

fn import_form(
    session: &Session,
    json: &str,
    error: Option<&str>,
    problems: &[(Option<String>, String)],
) -> Markup {
    let body = html! {
        p.crumbs { a href="/workflows" { "Workflows" } " / " }
        h1 { "Import a workflow" }
        p { "Paste the JSON of a workflow exported from n8n, or choose its file." }
        @if let Some(error) = error { (notice(false, error)) }
        @if !problems.is_empty() {
            div.table {
                table.problems {
                    thead { tr { th { "Node" } th { "Problem" } } }
                    tbody {
                        @for (node, message) in problems {
                            tr {
                                td data-label="Node" { @if let Some(node) = node { (node) } @else { em { "workflow" } } }
                                td data-label="Problem" { (message) }
                            }
                        }
                    }
                }
            }
        }
        form.import method="post" action="/workflows/import" {
            (csrf_field(session))
            label { "File" input type="file" accept=".json,application/json" data-fill="json"; }
            label { "Workflow JSON" textarea id="json" name="json" rows="16" spellcheck="false" required { (json) } }
            button.primary type="submit" { "Import" }
        }
    };
    page("Import", Some(session), Section::Workflows, body)
}

/// `POST /workflows/import`: parse, validate (errors per node), store.
pub async fn import(State(state): State<AppState>, posted: Posted) -> Page {
    let text = posted.get("json").to_owned();
    let refuse = |error: Option<&str>, problems: &[(Option<String>, String)]| {
        respond(
            axum::http::StatusCode::BAD_REQUEST,
            import_form(&posted.session, &text, error, problems),
        )
    };
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            return Ok(refuse(
                Some(&format!(
                    "Not JSON: {} (line {}, column {}).",
                    e,
                    e.line(),
                    e.column()
                )),
                &[],
            ))
        }
    };
    // `n8n export:workflow` writes an array.
    let value = match value {
        Value::Array(mut list) if list.len() == 1 => list.remove(0),
        Value::Array(list) => {
            return Ok(refuse(
                Some(&format!(
                    "The file holds {} workflows; import them one at a time (or with `switchyard import workflow`).",
                    list.len()
                )),
                &[],
            ))
        }
        other => other,
    };
    if !value.is_object() {
        return Ok(refuse(Some("Expected a workflow JSON object."), &[]));
    }
    let wf = match state.workflows.parse_and_validate(value).await {
        Ok(wf) => wf,
        Err(WorkflowError::Invalid(problems)) => {
            let rows: Vec<(Option<String>, String)> =
                problems.into_iter().map(|p| (p.node, p.message)).collect();
            return Ok(refuse(
                Some("The workflow was not imported; fix these and try again."),
                &rows,
            ));
        }
        Err(other) => return Ok(refuse(Some(&other.to_string()), &[])),
    };
    match state.workflows.store.create(wf).await {
        Ok(stored) => Ok(posted
            .session
            .redirect_with(
                &state.db,
                &format!("/workflows/{}", enc(&stored.id)),
                true,
                "Imported. It is inactive until you activate it.",
            )
            .await?),
        Err(
            e @ (crate::store::StoreError::Conflict(_)
            | crate::store::StoreError::InvalidInput { .. }),
        ) => Ok(refuse(Some(&e.to_string()), &[])),
        Err(e) => Err(e.into()),
    }
}

/// Workflow names by id, for the execution pages.
pub(super) async fn names(state: &AppState) -> Result<HashMap<String, String>, ConsoleError> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, name FROM workflows")
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows.into_iter().collect())
}
