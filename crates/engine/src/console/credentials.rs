//! Credentials: the list by type with the last test; create and edit forms made from the
//! type's field specs (secrets masked, blank keeps the stored value); Test; Connect for
//! OAuth2 types (a popup through the generic connect flow); delete. Saying what a change
//! invalidated is part of saving: replacing a secret is the rotation an operator does.

use std::collections::{HashMap, HashSet};

use ::credentials::{CredentialPatch, NewCredential};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use chrono::{SecondsFormat, Utc};
use maud::{html, Markup};
use node_api::{CredentialType, FieldKind, REDACTED};
use serde_json::{Map, Value};

use super::auth::{actor, Posted, Session};
use super::{csrf_field, enc, notice, ok, page, respond, when, ConsoleError, Page, Section};
use crate::app::AppState;

/// The last test of a credential.
struct LastTest {
    status: String,
    message: Option<String>,
    tested_at: String,
}

async fn last_tests(state: &AppState) -> Result<HashMap<String, LastTest>, ConsoleError> {
    let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT credential_id, status, message, tested_at FROM console_credential_tests",
    )
    .fetch_all(state.db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, status, message, tested_at)| {
            (
                id,
                LastTest {
                    status,
                    message,
                    tested_at,
                },
            )
        })
        .collect())
}

/// Ids of the credentials that hold token data (connected).
async fn connected(state: &AppState) -> Result<HashSet<String>, ConsoleError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM credentials WHERE token_data IS NOT NULL")
            .fetch_all(state.db.pool())
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

async fn has_tokens(state: &AppState, id: &str) -> Result<bool, ConsoleError> {
    Ok(connected_one(state, id).await?)
}

async fn connected_one(state: &AppState, id: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM credentials WHERE id = $1 AND token_data IS NOT NULL")
            .bind(id)
            .fetch_optional(state.db.pool())
            .await?;
    Ok(row.is_some())
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    connected: Option<String>,
}

/// `GET /credentials`
pub async fn list(
    session: Session,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Page {
    let message = match q.connected {
        Some(_) => Some((
            true,
            "Connected: the service granted access and the tokens are stored.".to_owned(),
        )),
        None => session.take_flash(&state.db).await?,
    };
    render_list(&state, &session, message).await
}

async fn render_list(state: &AppState, session: &Session, message: Option<(bool, String)>) -> Page {
    let all = state.credentials.list().await?;
    let tests = last_tests(state).await?;
    let tokens = connected(state).await?;
    let types = state.credentials.types();
    let body = html! {
        div.heading {
            h1 { "Credentials" }
            form.new-credential method="get" action="/credentials/new" {
                select name="type" aria-label="Credential type" {
                    @for t in types.iter() { option value=(t.name) { (t.display_name) } }
                }
                button.primary type="submit" { "New credential" }
            }
        }
        @if let Some((good, text)) = &message { (notice(*good, text)) }
        @if all.is_empty() {
            p.empty { "No credentials yet." }
        }
        @for t in types.iter() {
            @let of_type: Vec<_> = all.iter().filter(|c| c.type_name == t.name).collect();
            @if !of_type.is_empty() {
                h2 { (t.display_name) span.muted { " · " code { (t.name) } } }
                div.table {
                    table {
                        thead { tr { th { "Name" } th { "Id" } @if t.oauth2 { th { "Connection" } } th { "Last test" } th { "Actions" } } }
                        tbody {
                            @for c in of_type {
                                tr data-credential=(c.id) {
                                    td data-label="Name" { a href=(format!("/credentials/{}", enc(&c.id))) { (c.name) } }
                                    td data-label="Id" { code { (c.id) } }
                                    @if t.oauth2 {
                                        td data-label="Connection" {
                                            @if tokens.contains(&c.id) { span.badge.success.connection { "connected" } }
                                            @else { span.badge.connection { "not connected" } }
                                        }
                                    }
                                    td data-label="Last test" {
                                        @match tests.get(&c.id) {
                                            None => { span.muted { "never tested" } }
                                            Some(test) => {
                                                @if test.status == "OK" { span.badge.success.test-status { "OK" } }
                                                @else { span.badge.error.test-status { "failed" } }
                                                span.muted { " " (when(&test.tested_at)) }
                                                @if let Some(m) = &test.message { p.hint { (m) } }
                                            }
                                        }
                                    }
                                    td data-label="Actions" {
                                        div.actions {
                                            a.button href=(format!("/credentials/{}", enc(&c.id))) { "Edit" }
                                            form method="post" action=(format!("/credentials/{}/test", enc(&c.id))) {
                                                (csrf_field(session)) button type="submit" { "Test" }
                                            }
                                            @if t.oauth2 {
                                                form method="post" action=(format!("/credentials/{}/connect", enc(&c.id))) target="switchyard-connect" data-popup="switchyard-connect" {
                                                    (csrf_field(session)) button type="submit" { "Connect" }
                                                }
                                            }
                                            form method="post" action=(format!("/credentials/{}/delete", enc(&c.id))) data-confirm=(format!("Delete credential {:?}? Workflows that use it will fail.", c.name)) {
                                                (csrf_field(session)) button.danger type="submit" { "Delete" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ok(page(
        "Credentials",
        Some(session),
        Section::Credentials,
        body,
    )))
}

/// One input for `spec`, holding `value` (never a secret: a stored secret is shown as the
/// API's placeholder, masked).
fn field(spec: &node_api::FieldSpec, value: Option<&str>, problem: Option<&str>) -> Markup {
    let name = format!("f_{}", spec.name);
    let required = spec.required && spec.default.is_none();
    html! {
        label {
            (spec.name)
            @if required { " *" }
            @match spec.kind {
                FieldKind::Options(options) => {
                    select name=(name) {
                        @for o in options {
                            option value=(o) selected[value.or(spec.default) == Some(*o)] { (o) }
                        }
                    }
                }
                FieldKind::RsaPrivateKeyPem if spec.secret => {
                    textarea name=(name) rows="6" spellcheck="false" autocomplete="off"
                        placeholder=(if value.is_some() { "stored; leave blank to keep it" } else { "-----BEGIN PRIVATE KEY-----" }) {}
                }
                FieldKind::RsaPrivateKeyPem => {
                    textarea name=(name) rows="6" spellcheck="false" { (value.unwrap_or_default()) }
                }
                _ if spec.secret => {
                    input type="password" name=(name) value=(value.unwrap_or_default()) autocomplete="new-password"
                        placeholder=(if value.is_some() { "stored; leave blank to keep it" } else { "" });
                }
                FieldKind::HttpsUrl => {
                    input type="url" name=(name) value=(value.unwrap_or_default()) placeholder=(spec.default.unwrap_or("https://"));
                }
                _ => {
                    input type="text" name=(name) value=(value.unwrap_or_default()) placeholder=(spec.default.unwrap_or_default());
                }
            }
            @if !spec.description.is_empty() { span.help { (spec.description) } }
            @if let Some(problem) = problem { span.field-error { (problem) } }
        }
    }
}

/// The create or edit form. `values` holds what to show per field (secrets only as the
/// placeholder); `problems` by field name.
fn form(
    session: &Session,
    kind: &CredentialType,
    id: Option<&str>,
    name: &str,
    values: &Map<String, Value>,
    problems: &HashMap<String, String>,
    message: Option<(bool, String)>,
) -> Markup {
    let title = match id {
        Some(_) => format!("Edit {name}"),
        None => format!("New {}", kind.display_name),
    };
    let action = match id {
        Some(id) => format!("/credentials/{}", enc(id)),
        None => "/credentials/new".to_owned(),
    };
    let body = html! {
        p.crumbs { a href="/credentials" { "Credentials" } " / " }
        h1 { (title) }
        p.muted { (kind.display_name) " · " code { (kind.name) } }
        @if let Some((good, text)) = &message { (notice(*good, text)) }
        form.credential method="post" action=(action) {
            (csrf_field(session))
            input type="hidden" name="type" value=(kind.name);
            label { "Name *" input type="text" name="name" value=(name) required maxlength="128"; }
            @if let Some(p) = problems.get("name") { span.field-error { (p) } }
            @for spec in &kind.fields {
                (field(spec, values.get(spec.name).and_then(Value::as_str), problems.get(spec.name).map(String::as_str)))
            }
            @for (field_name, p) in problems.iter().filter(|(f, _)| *f != "name" && kind.field(f).is_none()) {
                span.field-error { (field_name) ": " (p) }
            }
            @if id.is_some() { p.help { "Secret fields show as dots: leave them as they are to keep the stored value, or type a new one to replace it." } }
            button.primary type="submit" { "Save" }
        }
    };
    page(&title, Some(session), Section::Credentials, body)
}

#[derive(serde::Deserialize)]
pub struct NewQuery {
    #[serde(rename = "type")]
    type_name: Option<String>,
}

fn kind_of<'a>(state: &'a AppState, name: &str) -> Result<&'a CredentialType, ConsoleError> {
    state.credentials.types().get(name).ok_or_else(|| {
        ConsoleError::BadRequest(format!(
            "type: unknown credential type {name:?}; expected one of {}",
            state
                .credentials
                .types()
                .names()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// `GET /credentials/new?type=...`
pub async fn new_page(
    session: Session,
    State(state): State<AppState>,
    Query(q): Query<NewQuery>,
) -> Page {
    let kind = kind_of(&state, q.type_name.as_deref().unwrap_or_default())?;
    Ok(ok(form(
        &session,
        kind,
        None,
        "",
        &Map::new(),
        &HashMap::new(),
        None,
    )))
}

fn problems_of(err: &::credentials::Error) -> Option<HashMap<String, String>> {
    match err {
        ::credentials::Error::Invalid(invalid) => Some(
            invalid
                .problems
                .iter()
                .map(|p| (p.field.clone(), p.expected.clone()))
                .collect(),
        ),
        _ => None,
    }
}

/// The non-secret values the owner typed, to show again with the problems.
fn typed_back(kind: &CredentialType, posted: &Posted) -> Map<String, Value> {
    kind.fields
        .iter()
        .filter(|f| !f.secret)
        .filter_map(|f| {
            let v = posted.get(&format!("f_{}", f.name));
            (!v.is_empty()).then(|| (f.name.to_owned(), Value::String(v.to_owned())))
        })
        .collect()
}

/// `POST /credentials/new`
pub async fn create(State(state): State<AppState>, posted: Posted) -> Page {
    let kind = kind_of(&state, posted.get("type"))?;
    let mut data = Map::new();
    for spec in &kind.fields {
        let v = posted.get(&format!("f_{}", spec.name));
        if !v.trim().is_empty() {
            data.insert(spec.name.to_owned(), Value::String(v.to_owned()));
        }
    }
    let created = state
        .credentials
        .create(
            NewCredential {
                id: None,
                name: posted.get("name").trim().to_owned(),
                type_name: kind.name.to_owned(),
                data: Value::Object(data),
            },
            &actor(&posted.session),
        )
        .await;
    match created {
        Ok(meta) => Ok(posted
            .session
            .redirect_with(
                &state.db,
                "/credentials",
                true,
                format!(
                    "Created credential {:?}. Test it to check the settings.",
                    meta.name
                ),
            )
            .await?),
        Err(err) => match problems_of(&err) {
            Some(problems) => Ok(respond(
                StatusCode::BAD_REQUEST,
                form(
                    &posted.session,
                    kind,
                    None,
                    posted.get("name"),
                    &typed_back(kind, &posted),
                    &problems,
                    Some((
                        false,
                        "Not saved; fix the fields below (secret fields must be typed again)."
                            .into(),
                    )),
                ),
            )),
            None => Err(err.into()),
        },
    }
}

/// `GET /credentials/{id}`
pub async fn edit_page(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Page {
    let (meta, data) = state.credentials.get_redacted(&id).await?;
    let kind = kind_of(&state, &meta.type_name)?;
    Ok(ok(form(
        &session,
        kind,
        Some(&meta.id),
        &meta.name,
        &data,
        &HashMap::new(),
        None,
    )))
}

/// `POST /credentials/{id}`: a blank (or untouched) secret keeps the stored one; a new
/// secret replaces it, and the page says what that invalidated.
pub async fn update(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Page {
    let (meta, stored) = state.credentials.get_redacted(&id).await?;
    let kind = kind_of(&state, &meta.type_name)?;
    let mut patch = Map::new();
    let mut replaced = Vec::new();
    for spec in &kind.fields {
        let v = posted.get(&format!("f_{}", spec.name));
        if spec.secret {
            if !v.trim().is_empty() && v != REDACTED {
                patch.insert(spec.name.to_owned(), Value::String(v.to_owned()));
                replaced.push(spec.name);
            }
        } else if v.trim().is_empty() {
            if stored.contains_key(spec.name) {
                patch.insert(spec.name.to_owned(), Value::Null);
            }
        } else {
            patch.insert(spec.name.to_owned(), Value::String(v.to_owned()));
        }
    }
    let had_tokens = has_tokens(&state, &id).await?;
    let updated = state
        .credentials
        .update(
            &id,
            CredentialPatch {
                name: Some(posted.get("name").to_owned()),
                data: Some(Value::Object(patch)),
            },
            &actor(&posted.session),
        )
        .await;
    match updated {
        Ok(meta) => {
            // Whatever a plugin cached for this credential (an access token) goes now.
            state.plugins.credential_changed(&id);
            let has = has_tokens(&state, &id).await?;
            let mut text = format!("Saved credential {:?}.", meta.name);
            if !replaced.is_empty() {
                text.push_str(&format!(
                    " Replaced {}. Invalidated: every access token cached for this credential (the next call signs in with the new secret)",
                    replaced.join(", ")
                ));
                text.push_str(match (had_tokens, has) {
                    (true, false) => "; the stored OAuth2 tokens (connect again).",
                    (true, true) => "; the stored access token (the refresh token was kept: no reconnect needed).",
                    _ => ".",
                });
            } else if had_tokens && !has {
                text.push_str(" The settings changed, so the stored OAuth2 tokens were cleared: connect again.");
            }
            Ok(posted
                .session
                .redirect_with(&state.db, "/credentials", true, text)
                .await?)
        }
        Err(err) => match problems_of(&err) {
            Some(problems) => {
                let mut values = stored.clone();
                values.extend(typed_back(kind, &posted));
                Ok(respond(
                    StatusCode::BAD_REQUEST,
                    form(
                        &posted.session,
                        kind,
                        Some(&id),
                        posted.get("name"),
                        &values,
                        &problems,
                        Some((false, "Not saved; fix the fields below.".into())),
                    ),
                ))
            }
            None => Err(err.into()),
        },
    }
}

/// `POST /credentials/{id}/test`: the owning plugin's test; the outcome is kept as the
/// credential's last test and shown with the setup hint on failure.
pub async fn test(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Page {
    let stored = node_api::CredentialProvider::by_id(&state.credentials, &id)
        .await
        .map_err(|e| match e {
            node_api::CredentialError::NotFound { .. } => ConsoleError::NotFound(e.to_string()),
            other => ConsoleError::Internal(other.into()),
        })?;
    let outcome = match state.plugins.owner_of(&stored.type_name) {
        Some(plugin) => plugin.test_credential(&stored).await,
        None => None,
    };
    let name = stored.name.clone();
    drop(stored);
    let Some(outcome) = outcome else {
        return Ok(posted
            .session
            .redirect_with(
                &state.db,
                "/credentials",
                false,
                format!("Credentials of this type cannot be tested ({name})."),
            )
            .await?);
    };
    let (status, message) = match &outcome {
        Ok(()) => ("OK", None),
        Err(message) => ("Error", Some(message.clone())),
    };
    sqlx::query(
        "INSERT INTO console_credential_tests (credential_id, status, message, tested_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (credential_id) DO UPDATE SET status = excluded.status, message = excluded.message, \
         tested_at = excluded.tested_at",
    )
    .bind(&id)
    .bind(status)
    .bind(&message)
    .bind(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true))
    .execute(state.db.pool())
    .await?;
    let text = match outcome {
        Ok(()) => format!("Test of {name:?} passed."),
        Err(message) => {
            tracing::info!(credential_id = %id, error = %message, "credential test failed");
            format!("Test of {name:?} failed: {message}")
        }
    };
    Ok(posted
        .session
        .redirect_with(&state.db, "/credentials", status == "OK", text)
        .await?)
}

/// `POST /credentials/{id}/connect`: on to the service's authorize page (in the popup the
/// form targets); the callback page tells this window when it is done.
pub async fn connect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _posted: Posted,
) -> Page {
    match crate::connect::authorize_url(&state, &id).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(crate::connect::StartError::NotFound(m)) => Err(ConsoleError::NotFound(m)),
        Err(crate::connect::StartError::Refused(m)) => Err(ConsoleError::BadRequest(m)),
        Err(crate::connect::StartError::Internal(e)) => Err(ConsoleError::Internal(e)),
    }
}

/// `POST /credentials/{id}/delete`
pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Page {
    let (meta, _) = state.credentials.get_redacted(&id).await?;
    state
        .credentials
        .delete(&id, &actor(&posted.session))
        .await?;
    state.plugins.credential_changed(&id);
    sqlx::query("DELETE FROM console_credential_tests WHERE credential_id = $1")
        .bind(&id)
        .execute(state.db.pool())
        .await?;
    Ok(posted
        .session
        .redirect_with(
            &state.db,
            "/credentials",
            true,
            format!("Deleted credential {:?}.", meta.name),
        )
        .await?)
}
