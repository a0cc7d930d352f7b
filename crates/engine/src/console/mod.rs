//! The web console at `/`: server-rendered HTML (maud) for the owner of this server to sign
//! in, connect and test credentials, import and run workflows, read executions, and manage
//! API keys. Its CSS and JavaScript are embedded in the binary; pages make no request
//! anywhere but this server.
//!
//! # Layout
//! - `auth`: the owner account, sessions (cookie -> hashed row), CSRF tokens, the sign-in
//!   rate limit, and the setup / sign-in / sign-out pages.
//! - `workflows`, `executions`, `credentials`, `operators`: one page family each; they call
//!   the same services and stores as the `/api/v1` handlers.
//! - `draw`: the read-only SVG drawing of a workflow.
//! - `assets/`: `console.css` and `console.js`, served from memory.
//!
//! Every page needs a session (none: 303 to `/signin`), every form post carries the
//! session's CSRF token (none or wrong: 403), and no page shows a secret.

pub mod auth;
mod credentials;
mod draw;
mod executions;
mod operators;
mod workflows;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use crate::app::AppState;

use auth::Session;
pub use auth::{create_owner, OwnerError, Shared};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// The console's routes, none under `/api`, `/webhook*`, `/rest`, `/healthz`, `/readyz`
/// or `/metrics`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .route("/setup", get(auth::setup_page).post(auth::setup))
        .route("/signin", get(auth::signin_page).post(auth::signin))
        .route("/signout", post(auth::signout))
        .route("/workflows", get(workflows::list))
        .route(
            "/workflows/import",
            get(workflows::import_page).post(workflows::import),
        )
        .route("/workflows/{id}", get(workflows::detail))
        .route("/workflows/{id}/export", get(workflows::export))
        .route("/workflows/{id}/activate", post(workflows::activate))
        .route("/workflows/{id}/deactivate", post(workflows::deactivate))
        .route("/workflows/{id}/run", post(workflows::run))
        .route("/workflows/{id}/delete", post(workflows::delete))
        .route("/executions", get(executions::list))
        .route("/executions/{id}", get(executions::detail))
        .route("/executions/{id}/data.json", get(executions::data))
        .route("/executions/{id}/retry", post(executions::retry))
        .route("/credentials", get(credentials::list))
        .route(
            "/credentials/new",
            get(credentials::new_page).post(credentials::create),
        )
        .route(
            "/credentials/{id}",
            get(credentials::edit_page).post(credentials::update),
        )
        .route("/credentials/{id}/test", post(credentials::test))
        .route("/credentials/{id}/connect", post(credentials::connect))
        .route("/credentials/{id}/delete", post(credentials::delete))
        .route("/operators", get(operators::show))
        .route("/operators/api-keys", post(operators::create_key))
        .route(
            "/operators/api-keys/{id}/revoke",
            post(operators::revoke_key),
        )
        .with_state(state)
}

async fn home(_session: Session) -> Redirect {
    Redirect::to("/workflows")
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Headers every console page carries: no caching of pages that show private data, no
/// framing, scripts and styles from this server only.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Which section of the navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Workflows,
    Executions,
    Credentials,
    Operators,
    None,
}

/// A whole page: the navigation (with the sign-out form) when signed in, then `body`.
fn page(title: &str, session: Option<&Session>, section: Section, body: Markup) -> Markup {
    let nav = [
        (Section::Workflows, "/workflows", "Workflows"),
        (Section::Executions, "/executions", "Executions"),
        (Section::Credentials, "/credentials", "Credentials"),
        (Section::Operators, "/operators", "Operators"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Switchyard" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "Switchyard" }
                    @if let Some(session) = session {
                        nav {
                            @for (s, href, label) in nav {
                                a href=(href) class=[(s == section).then_some("current")] { (label) }
                            }
                        }
                        form.signout method="post" action="/signout" {
                            (csrf_field(session))
                            button.link type="submit" title=(format!("Signed in as {}", session.email)) { "Sign out" }
                        }
                    }
                }
                main {
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field every form of a signed-in page carries.
fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A page answered with `status`.
fn respond(status: StatusCode, markup: Markup) -> Response {
    secure((status, markup).into_response())
}

/// A 200 page.
fn ok(markup: Markup) -> Response {
    respond(StatusCode::OK, markup)
}

/// A notice shown at the top of a page: `ok` (green) or not (red).
fn notice(ok: bool, text: &str) -> Markup {
    html! {
        p class=(if ok { "notice ok" } else { "notice error" }) role="status" { (text) }
    }
}

/// An error shown as a page. Internal errors are logged and shown without detail.
#[derive(Debug)]
pub(crate) enum ConsoleError {
    /// 404 with a message.
    NotFound(String),
    /// 400 with a message.
    BadRequest(String),
    /// 409 with a message.
    Conflict(String),
    /// 403: the form did not carry this session's token.
    Forbidden,
    /// 500: logged, not shown.
    Internal(anyhow::Error),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ConsoleError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ConsoleError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ConsoleError::Conflict(m) => (StatusCode::CONFLICT, m),
            ConsoleError::Forbidden => (
                StatusCode::FORBIDDEN,
                "This form is out of date or did not come from this console (its CSRF token is missing or wrong). \
                 Go back, reload the page and try again."
                    .to_owned(),
            ),
            ConsoleError::Internal(err) => {
                tracing::error!(error = %format!("{err:#}"), "console request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on the server; the log has the details.".to_owned(),
                )
            }
        };
        let title = status.canonical_reason().unwrap_or("Error");
        respond(
            status,
            page(
                title,
                None,
                Section::None,
                html! {
                    h1 { (title) }
                    p.notice.error { (message) }
                    p { a href="/" { "Back to the console" } }
                },
            ),
        )
    }
}

impl From<crate::store::StoreError> for ConsoleError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError as E;
        match err {
            E::NotFound { .. } => ConsoleError::NotFound(err.to_string()),
            E::InvalidInput { .. } => ConsoleError::BadRequest(err.to_string()),
            E::NotRunning { .. } | E::Conflict(_) => ConsoleError::Conflict(err.to_string()),
            E::Database(_) | E::Interrupted => ConsoleError::Internal(err.into()),
        }
    }
}

impl From<::credentials::Error> for ConsoleError {
    fn from(err: ::credentials::Error) -> Self {
        use ::credentials::Error as E;
        match err {
            E::NotFound { .. } => ConsoleError::NotFound(err.to_string()),
            E::UnknownType { .. } | E::Invalid(_) => ConsoleError::BadRequest(err.to_string()),
            E::AlreadyExists { .. } | E::Conflict { .. } => ConsoleError::Conflict(err.to_string()),
            other => ConsoleError::Internal(other.into()),
        }
    }
}

impl From<crate::error::ApiError> for ConsoleError {
    fn from(err: crate::error::ApiError) -> Self {
        use crate::error::ApiError as E;
        match err {
            E::NotFound(m) => ConsoleError::NotFound(m),
            E::Conflict(m) => ConsoleError::Conflict(m),
            E::Internal(e) => ConsoleError::Internal(e),
            other => ConsoleError::BadRequest(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for ConsoleError {
    fn from(err: sqlx::Error) -> Self {
        ConsoleError::Internal(err.into())
    }
}

type Page = Result<Response, ConsoleError>;

/// RFC 3339 `at` shown to the second, in UTC.
fn when(at: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        Err(_) => at.to_owned(),
    }
}

/// The time between two RFC 3339 instants, for people.
fn duration(start: &str, stop: Option<&str>) -> String {
    let (Ok(start), Some(Ok(stop))) = (
        chrono::DateTime::parse_from_rfc3339(start),
        stop.map(chrono::DateTime::parse_from_rfc3339),
    ) else {
        return "–".into();
    };
    let ms = stop.signed_duration_since(start).num_milliseconds().max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// The query-string encoding of `value`.
fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
