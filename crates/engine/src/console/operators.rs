//! Operators: API keys (create shows the key once; list; revoke), the encryption key in use
//! and whether a rotation is pending, health, version.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::html;

use super::auth::{Posted, Session};
use super::{csrf_field, enc, notice, ok, page, when, ConsoleError, Page, Section};
use crate::app::AppState;

/// `GET /operators`
pub async fn show(session: Session, State(state): State<AppState>) -> Page {
    let message = session.take_flash(&state.db).await?;
    render(&state, &session, message, None).await
}

/// Credentials whose data or tokens are sealed under a key other than the current one.
async fn under_previous_keys(state: &AppState) -> Result<i64, ConsoleError> {
    let current = state.credentials.current_key_id();
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM credentials WHERE data_key_id <> $1 \
         OR (token_key_id IS NOT NULL AND token_key_id <> $2)",
    )
    .bind(current)
    .bind(current)
    .fetch_one(state.db.pool())
    .await?;
    Ok(n)
}

async fn render(
    state: &AppState,
    session: &Session,
    message: Option<(bool, String)>,
    new_key: Option<(String, String)>,
) -> Page {
    let keys = crate::api_keys::list(&state.db).await?;
    let pending = under_previous_keys(state).await?;
    let previous = state.credentials.keys().previous_ids();
    let schema_current = state.db.schema_is_current().await.unwrap_or(false);
    let running = state.workflows.store.running_count();
    let body = html! {
        h1 { "Operators" }
        @if let Some((good, text)) = &message { (notice(*good, text)) }
        @if let Some((name, key)) = &new_key {
            div.notice.ok.new-key role="status" {
                p { "Created API key " strong { (name) } ". It is shown only this once: copy it now." }
                div.webhook { code #new-api-key { (key) } button.copy type="button" data-copy=(key) { "Copy" } }
            }
        }
        h2 { "API keys" }
        p.muted { "Clients of " code { "/api/v1" } " send a key in the " code { "X-N8N-API-KEY" } " header." }
        form.inline method="post" action="/operators/api-keys" {
            (csrf_field(session))
            label { "Name" input type="text" name="name" required maxlength="128" placeholder="e.g. ci-deploy"; }
            button.primary type="submit" { "Create API key" }
        }
        @if keys.is_empty() {
            p.empty { "No API keys." }
        } @else {
            div.table {
                table {
                    thead { tr { th { "Name" } th { "Id" } th { "Created" } th { "Last used" } th { "" } } }
                    tbody {
                        @for k in &keys {
                            tr data-api-key=(k.id) {
                                td data-label="Name" { (k.name) }
                                td data-label="Id" { code { (k.id) } }
                                td data-label="Created" { (when(&k.created_at)) }
                                td data-label="Last used" { (k.last_used_at.as_deref().map(when).unwrap_or_else(|| "never".into())) }
                                td {
                                    form method="post" action=(format!("/operators/api-keys/{}/revoke", enc(&k.id))) data-confirm=(format!("Revoke API key {:?}? Clients using it are refused at once.", k.name)) {
                                        (csrf_field(session)) button.danger type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Encryption" }
        dl.facts {
            dt { "Key in use" } dd { code #key-id { (state.credentials.current_key_id()) } }
            dt { "Previous keys" } dd { @if previous.is_empty() { "none" } @else { (previous.join(", ")) } }
            dt { "Rotation" } dd #rotation {
                @if pending == 0 { span.badge.success { "none pending" } " every credential is under the current key" }
                @else { span.badge.error { "pending" } " " (pending) " credential(s) are under a previous key: run " code { "switchyard rotate-key" } }
            }
        }
        h2 { "Health" }
        dl.facts {
            dt { "Database" } dd {
                @if schema_current { span.badge.success { "ready" } } @else { span.badge.error { "not ready" } }
                " " (format!("{:?}", state.db.backend()).to_lowercase())
            }
            dt { "Running executions" } dd { (running) }
            dt { "Public URL" } dd { code { (state.settings.public_url) } }
            dt { "Version" } dd { "Switchyard " (env!("CARGO_PKG_VERSION")) }
            dt { "Signed in as" } dd { (session.name) " <" (session.email) ">" }
        }
    };
    Ok(ok(page(
        "Operators",
        Some(session),
        Section::Operators,
        body,
    )))
}

/// `POST /operators/api-keys`: creates a key and shows it once.
pub async fn create_key(State(state): State<AppState>, posted: Posted) -> Page {
    let name = posted.get("name").trim().to_owned();
    if name.is_empty() || name.chars().count() > 128 || name.contains('\0') {
        let page = render(
            &state,
            &posted.session,
            Some((false, "name: required, at most 128 characters".into())),
            None,
        )
        .await?;
        return Ok(with_status(page, StatusCode::BAD_REQUEST));
    }
    let (key, secret) = crate::api_keys::create(&state.db, &name)
        .await
        .map_err(ConsoleError::Internal)?;
    tracing::info!(key_id = %key.id, "API key created in the console");
    render(&state, &posted.session, None, Some((key.name, secret))).await
}

/// `POST /operators/api-keys/{id}/revoke`
pub async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Page {
    match crate::api_keys::revoke(&state.db, &id).await {
        Ok(key) => Ok(posted
            .session
            .redirect_with(
                &state.db,
                "/operators",
                true,
                format!(
                    "Revoked API key {:?}; requests made with it are refused from now on.",
                    key.name
                ),
            )
            .await?),
        Err(err) => {
            let page = render(
                &state,
                &posted.session,
                Some((false, err.to_string())),
                None,
            )
            .await?;
            Ok(with_status(page, StatusCode::NOT_FOUND))
        }
    }
}

fn with_status(response: axum::response::Response, status: StatusCode) -> axum::response::Response {
    let (mut parts, body) = response.into_parts();
    parts.status = status;
    axum::response::Response::from_parts(parts, body)
}
