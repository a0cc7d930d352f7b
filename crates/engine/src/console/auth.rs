//! The owner account, sessions, CSRF tokens and the sign-in rate limit.
//!
//! - The one owner is created by the setup page (first visit) or `switchyard owner create`;
//!   the password is hashed with Argon2id on a blocking thread.
//! - A session is a random 256-bit cookie (`HttpOnly`, `SameSite=Lax`, `Secure` when the
//!   public URL is https). Only its SHA-256 is stored, with the session's CSRF token;
//!   signing out deletes the row, so the cookie is refused from then on.
//! - Every form post of a signed-in page carries the session's CSRF token ([`Posted`]); the
//!   setup and sign-in forms, before any session, carry the token of a pre-session cookie
//!   (double submit). Missing or wrong: 403, nothing done.
//! - Failed sign-ins are counted per client address (an IPv6 address by its /64) and for the
//!   owner's email in a sliding window; past the limit, 429 with `Retry-After`, before the
//!   password is even checked. Failures with any other email count for the address only, and
//!   the table of addresses has a hard cap, so a spray of emails or addresses cannot grow the
//!   server's memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::{SecondsFormat, Utc};
use db::Db;
use maud::{html, Markup};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{page, respond, secure, ConsoleError, Section};
use crate::app::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "sy_session";
/// The pre-session cookie whose value the setup and sign-in forms must carry.
pub const PRE_COOKIE: &str = "sy_presession";
/// How long a session lasts.
const SESSION_TTL: chrono::Duration = chrono::Duration::days(7);
/// The fixed id of the one owner row.
const OWNER_ID: &str = "owner";
/// Failed sign-ins are counted over this window.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins allowed per email within the window.
pub const MAX_FAILURES_PER_EMAIL: u32 = 5;
/// Failed sign-ins allowed per client address within the window.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// Most client addresses whose failures are remembered at once; past it, the address whose
/// window started first is forgotten (the owner's email key never is).
const MAX_TRACKED: usize = 10_000;
/// The key of failed sign-ins with the owner's email.
const OWNER_KEY: &str = "owner";
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (hashing cost stays bounded).
const MAX_PASSWORD_CHARS: usize = 1024;

/// What the console keeps in memory: the failed sign-ins per address and for the owner's
/// email.
#[derive(Debug, Default)]
pub struct Shared {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Shared {
    /// How long to wait when any of `keys` is past its limit, `None` when none is.
    fn blocked(&self, keys: &[(String, u32)]) -> Option<Duration> {
        let now = Instant::now();
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .filter_map(|(key, max)| {
                let (count, since) = failures.get(key)?;
                let left = WINDOW.checked_sub(now.duration_since(*since))?;
                (count >= max).then_some(left)
            })
            .max()
    }

    fn failed(&self, keys: &[(String, u32)]) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in keys {
            if !failures.contains_key(key) && failures.len() >= MAX_TRACKED {
                failures.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
                if failures.len() >= MAX_TRACKED {
                    let oldest = failures
                        .iter()
                        .filter(|(k, _)| k.as_str() != OWNER_KEY)
                        .min_by_key(|(_, (_, since))| *since)
                        .map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        failures.remove(&oldest);
                    }
                }
            }
            let entry = failures.entry(key.clone()).or_insert((0, now));
            if now.duration_since(entry.1) >= WINDOW {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    fn forget(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// How many keys are remembered (for tests of the cap).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// The rate-limit key of a client address: an IPv6 address by its /64 (what one customer of
/// a provider gets), an IPv4 address whole.
fn address_key(peer: Option<std::net::IpAddr>) -> String {
    match peer {
        Some(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let s = v6.segments();
                format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Some(std::net::IpAddr::V4(v4)) => format!("address:{v4}"),
        None => "address:unknown".to_owned(),
    }
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The owner's email.
    pub email: String,
    /// The owner's name.
    pub name: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The message a form post left for the page it redirected to, as stored; a page that shows
    /// messages takes it with [`Session::take_flash`], so a download or `data.json` in between
    /// does not swallow it.
    flash: Option<String>,
    token_hash: String,
}

impl Session {
    /// Leaves `message` for the next page this session gets, and redirects there (303): a
    /// successful form post answers this way, so reloading the page posts nothing again.
    pub async fn redirect_with(
        &self,
        db: &Db,
        to: &str,
        ok: bool,
        message: impl Into<String>,
    ) -> Result<Response, sqlx::Error> {
        let flash = serde_json::json!([ok, message.into()]).to_string();
        sqlx::query("UPDATE console_sessions SET flash = $1 WHERE token_hash = $2")
            .bind(flash)
            .bind(&self.token_hash)
            .execute(db.pool())
            .await?;
        Ok(Redirect::to(to).into_response())
    }

    /// The message a form post left for this page (`ok`, text), cleared so it shows once. Of two
    /// pages loading at once, one gets it: the row is cleared only if it still holds that message.
    pub async fn take_flash(&self, db: &Db) -> Result<Option<(bool, String)>, sqlx::Error> {
        let Some(text) = &self.flash else {
            return Ok(None);
        };
        let cleared = sqlx::query(
            "UPDATE console_sessions SET flash = NULL WHERE token_hash = $1 AND flash = $2",
        )
        .bind(&self.token_hash)
        .bind(text)
        .execute(db.pool())
        .await?
        .rows_affected();
        Ok(if cleared == 1 {
            serde_json::from_str::<(bool, String)>(text).ok()
        } else {
            None
        })
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(token) = cookie(&parts.headers, SESSION_COOKIE) {
            match lookup(&state.db, &hash(token)).await {
                Ok(Some(session)) => return Ok(session),
                Ok(None) => {}
                Err(err) => return Err(ConsoleError::Internal(err.into()).into_response()),
            }
        }
        Err(Redirect::to("/signin").into_response())
    }
}

/// A form posted by a signed-in page, its CSRF token checked; the fields by name (the last
/// value of a repeated one).
pub struct Posted {
    /// Who posted it.
    pub session: Session,
    /// The form's fields.
    pub fields: HashMap<String, String>,
}

impl Posted {
    /// Field `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let fields = read_form(body, state.settings.max_body_bytes).await?;
        match fields.get("csrf") {
            Some(token) if same(token, &session.csrf) => Ok(Posted { session, fields }),
            _ => {
                tracing::warn!(path = %parts.uri.path(), "console form refused: CSRF token missing or wrong");
                Err(ConsoleError::Forbidden.into_response())
            }
        }
    }
}

async fn read_form(
    body: axum::body::Body,
    limit: usize,
) -> Result<HashMap<String, String>, Response> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ConsoleError::BadRequest(
            "the form is larger than the configured limit (SWITCHYARD_MAX_BODY_BYTES)".into(),
        )
        .into_response()
    })?;
    Ok(url::form_urlencoded::parse(&bytes).into_owned().collect())
}

/// Compares two tokens in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn now_stamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `Set-Cookie` for `name`; `max_age` 0 deletes it.
fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = state
        .settings
        .public_url
        .to_ascii_lowercase()
        .starts_with("https://");
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).expect("cookie text is ASCII")
}

/// The session whose cookie hashes to `token_hash`, unexpired.
async fn lookup(db: &Db, token_hash: &str) -> Result<Option<Session>, sqlx::Error> {
    let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT s.csrf, o.email, o.name, s.flash FROM console_sessions s, console_owner o \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now_stamp())
    .fetch_optional(db.pool())
    .await?;
    let Some((csrf, email, name, flash)) = row else {
        return Ok(None);
    };
    Ok(Some(Session {
        email,
        name,
        csrf,
        flash,
        token_hash: token_hash.to_owned(),
    }))
}

/// Starts a session: stores its hash and CSRF token; returns the cookie value.
async fn start_session(db: &Db) -> Result<String, sqlx::Error> {
    let token = random_token();
    let now = Utc::now();
    sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
        .bind(now_stamp())
        .execute(db.pool())
        .await?;
    sqlx::query(
        "INSERT INTO console_sessions (token_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(hash(&token))
    .bind(random_token())
    .bind(now.to_rfc3339_opts(SecondsFormat::Millis, true))
    .bind((now + SESSION_TTL).to_rfc3339_opts(SecondsFormat::Millis, true))
    .execute(db.pool())
    .await?;
    Ok(token)
}

/// The owner as stored.
struct Owner {
    email: String,
    password_hash: String,
}

async fn owner(db: &Db) -> Result<Option<Owner>, sqlx::Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT email, password_hash FROM console_owner WHERE id = $1")
            .bind(OWNER_ID)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(email, password_hash)| Owner {
        email,
        password_hash,
    }))
}

/// Why the owner could not be created.
#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    /// Fields that are wrong: `(field, what is expected)`.
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(&'static str, String)>),
    /// There is an owner already.
    #[error("this server has an owner already; sign in at /signin")]
    Exists,
    /// The database or the hash failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn check_owner(email: &str, name: &str, password: &str) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let valid_email = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
    if !valid_email {
        problems.push((
            "email",
            "expected an email address such as ops@example.com".into(),
        ));
    }
    if name.is_empty() || name.chars().count() > 128 || name.contains('\0') {
        problems.push(("name", "required, at most 128 characters".into()));
    }
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        problems.push((
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    } else if chars > MAX_PASSWORD_CHARS {
        problems.push((
            "password",
            format!("at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    problems
}

/// Creates the owner (the setup page and `switchyard owner create`): checks the fields,
/// hashes the password with Argon2id off the async threads, stores the row. Refused when
/// there is an owner already.
pub async fn create_owner(
    db: &Db,
    email: &str,
    name: &str,
    password: &str,
) -> Result<(), OwnerError> {
    let email = email.trim().to_lowercase();
    let name = name.trim().to_owned();
    let problems = check_owner(&email, &name, password);
    if !problems.is_empty() {
        return Err(OwnerError::Invalid(problems));
    }
    if owner(db).await.map_err(anyhow::Error::from)?.is_some() {
        return Err(OwnerError::Exists);
    }
    let password = zeroize::Zeroizing::new(password.to_owned());
    let password_hash = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes(), &salt()?)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
    })
    .await
    .map_err(anyhow::Error::from)??;
    let inserted = sqlx::query(
        "INSERT INTO console_owner (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(OWNER_ID)
    .bind(&email)
    .bind(&name)
    .bind(password_hash)
    .bind(now_stamp())
    .execute(db.pool())
    .await;
    match inserted {
        Ok(_) => {
            tracing::info!("console owner created");
            Ok(())
        }
        // Lost a race with another setup.
        Err(_) if owner(db).await.ok().flatten().is_some() => Err(OwnerError::Exists),
        Err(err) => Err(OwnerError::Internal(err.into())),
    }
}

/// A random 128-bit salt.
fn salt() -> anyhow::Result<SaltString> {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    SaltString::encode_b64(&raw).map_err(|e| anyhow::anyhow!("cannot encode a salt: {e}"))
}

/// Checks `password` against the stored PHC string on a blocking thread.
async fn verify(password_hash: String, password: String) -> bool {
    let password = zeroize::Zeroizing::new(password);
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&password_hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, checked when the email is not the owner's so that a wrong
/// email takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        salt()
            .and_then(|salt| {
                Argon2::default()
                    .hash_password(random_token().as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .map_err(|e| anyhow::anyhow!("{e}"))
            })
            .unwrap_or_default()
    })
}

/// The pre-session token of this browser, and the cookie to set when it had none.
fn pre_token(headers: &HeaderMap, state: &AppState) -> (String, Option<HeaderValue>) {
    match cookie(headers, PRE_COOKIE) {
        Some(token) if token.len() == 43 => (token.to_owned(), None),
        _ => {
            let token = random_token();
            let set = set_cookie(state, PRE_COOKIE, &token, 3600);
            (token, Some(set))
        }
    }
}

fn with_cookies(
    mut response: Response,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    for c in cookies {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

fn field_error(problems: &[(&'static str, String)], field: &str) -> Markup {
    html! {
        @for (_, message) in problems.iter().filter(|(f, _)| *f == field) {
            span.field-error { (message) }
        }
    }
}

fn setup_form(token: &str, email: &str, name: &str, problems: &[(&'static str, String)]) -> Markup {
    page(
        "Set up",
        None,
        Section::None,
        html! {
            section.narrow {
                h1 { "Set up Switchyard" }
                p { "Create the owner account. Its email and password sign in to this console." }
                form method="post" action="/setup" {
                    input type="hidden" name="csrf" value=(token);
                    label { "Email" input type="email" name="email" value=(email) required autocomplete="username"; }
                    (field_error(problems, "email"))
                    label { "Name" input type="text" name="name" value=(name) required maxlength="128"; }
                    (field_error(problems, "name"))
                    label { "Password (at least " (MIN_PASSWORD_CHARS) " characters)"
                        input type="password" name="password" required minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password"; }
                    (field_error(problems, "password"))
                    button type="submit" { "Create owner" }
                }
            }
        },
    )
}

fn signin_form(token: &str, email: &str, message: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        Section::None,
        html! {
            section.narrow {
                h1 { "Sign in" }
                @if let Some(message) = message { p.notice.error role="alert" { (message) } }
                form method="post" action="/signin" {
                    input type="hidden" name="csrf" value=(token);
                    label { "Email" input type="email" name="email" value=(email) required autocomplete="username"; }
                    label { "Password" input type="password" name="password" required autocomplete="current-password"; }
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// `GET /setup`: the owner form while there is no owner; otherwise on to sign in.
pub async fn setup_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match owner(&state.db).await {
        Ok(Some(_)) => Redirect::to("/signin").into_response(),
        Ok(None) => {
            let (token, set) = pre_token(&headers, &state);
            with_cookies(
                respond(StatusCode::OK, setup_form(&token, "", "", &[])),
                set,
            )
        }
        Err(err) => ConsoleError::Internal(err.into()).into_response(),
    }
}

/// The fields of a pre-session form whose token matches the pre-session cookie.
async fn pre_form(
    state: &AppState,
    request: Request,
) -> Result<(HeaderMap, HashMap<String, String>), Response> {
    let (parts, body) = request.into_parts();
    let fields = read_form(body, state.settings.max_body_bytes).await?;
    let expected = cookie(&parts.headers, PRE_COOKIE);
    match (fields.get("csrf"), expected) {
        (Some(sent), Some(expected)) if same(sent, expected) => Ok((parts.headers, fields)),
        _ => Err(ConsoleError::Forbidden.into_response()),
    }
}

fn signed_in(state: &AppState, token: &str) -> Response {
    with_cookies(
        secure(Redirect::to("/workflows").into_response()),
        [
            set_cookie(state, SESSION_COOKIE, token, SESSION_TTL.num_seconds()),
            set_cookie(state, PRE_COOKIE, "", 0),
        ],
    )
}

/// `POST /setup`: creates the owner and signs in.
pub async fn setup(State(state): State<AppState>, request: Request) -> Response {
    let (headers, fields) = match pre_form(&state, request).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    match create_owner(&state.db, get("email"), get("name"), get("password")).await {
        Ok(()) => match start_session(&state.db).await {
            Ok(token) => signed_in(&state, &token),
            Err(err) => ConsoleError::Internal(err.into()).into_response(),
        },
        Err(OwnerError::Invalid(problems)) => {
            let (token, set) = pre_token(&headers, &state);
            with_cookies(
                respond(
                    StatusCode::BAD_REQUEST,
                    setup_form(&token, get("email"), get("name"), &problems),
                ),
                set,
            )
        }
        Err(OwnerError::Exists) => Redirect::to("/signin").into_response(),
        Err(OwnerError::Internal(err)) => ConsoleError::Internal(err).into_response(),
    }
}

/// `GET /signin`: the sign-in form, or the setup form's address when there is no owner.
pub async fn signin_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match owner(&state.db).await {
        Ok(None) => Redirect::to("/setup").into_response(),
        Ok(Some(_)) => {
            let (token, set) = pre_token(&headers, &state);
            with_cookies(respond(StatusCode::OK, signin_form(&token, "", None)), set)
        }
        Err(err) => ConsoleError::Internal(err.into()).into_response(),
    }
}

/// `POST /signin`: checks the limit, then the password; starts a session.
pub async fn signin(State(state): State<AppState>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (headers, fields) = match pre_form(&state, request).await {
        Ok(f) => f,
        Err(response) => return response,
    };
    let email = fields
        .get("email")
        .map(|e| e.trim().to_lowercase())
        .unwrap_or_default();
    let password = fields.get("password").cloned().unwrap_or_default();
    let (token, set) = pre_token(&headers, &state);
    let stored = match owner(&state.db).await {
        Ok(Some(o)) => o,
        Ok(None) => return Redirect::to("/setup").into_response(),
        Err(err) => return ConsoleError::Internal(err.into()).into_response(),
    };
    let owners = email == stored.email;
    let address = address_key(peer);
    let mut keys = vec![(address.clone(), MAX_FAILURES_PER_ADDRESS)];
    if owners {
        keys.push((OWNER_KEY.to_owned(), MAX_FAILURES_PER_EMAIL));
    }
    if let Some(wait) = state.console.blocked(&keys) {
        tracing::warn!(address = %address, "console sign-in refused: too many failed attempts");
        let seconds = wait.as_secs().max(1);
        let mut response = with_cookies(
            respond(
                StatusCode::TOO_MANY_REQUESTS,
                signin_form(
                    &token,
                    &email,
                    Some(&format!(
                        "Too many failed sign-ins. Try again in {} minutes.",
                        seconds.div_ceil(60)
                    )),
                ),
            ),
            set,
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&seconds.to_string()).expect("digits"),
        );
        return response;
    }
    let right = if owners {
        verify(stored.password_hash, password).await
    } else {
        verify(decoy_hash().to_owned(), password).await;
        false
    };
    if !right {
        state.console.failed(&keys);
        tracing::info!(address = %address, "console sign-in failed");
        return with_cookies(
            respond(
                StatusCode::UNAUTHORIZED,
                signin_form(&token, &email, Some("Wrong email or password.")),
            ),
            set,
        );
    }
    state.console.forget(OWNER_KEY);
    match start_session(&state.db).await {
        Ok(token) => {
            tracing::info!("console owner signed in");
            signed_in(&state, &token)
        }
        Err(err) => ConsoleError::Internal(err.into()).into_response(),
    }
}

/// `POST /signout`: deletes the session row (its cookie is refused from now on).
pub async fn signout(State(state): State<AppState>, posted: Posted) -> Response {
    if let Err(err) = sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
        .bind(&posted.session.token_hash)
        .execute(state.db.pool())
        .await
    {
        return ConsoleError::Internal(err.into()).into_response();
    }
    with_cookies(
        Redirect::to("/signin").into_response(),
        [set_cookie(&state, SESSION_COOKIE, "", 0)],
    )
}

/// Who the console tells the audit log changed a credential.
pub fn actor(session: &Session) -> credentials::Actor {
    credentials::Actor::Owner {
        email: session.email.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spray_of_addresses_stays_under_the_cap_and_keeps_the_owner_key() {
        let shared = Shared::default();
        shared.failed(&[(OWNER_KEY.to_owned(), MAX_FAILURES_PER_EMAIL)]);
        for i in 0..(MAX_TRACKED + 500) {
            let peer = std::net::IpAddr::V4(std::net::Ipv4Addr::from(i as u32));
            shared.failed(&[(address_key(Some(peer)), MAX_FAILURES_PER_ADDRESS)]);
        }
        assert_eq!(shared.tracked(), MAX_TRACKED);
        let failures = shared.failures.lock().unwrap();
        assert_eq!(failures.get(OWNER_KEY).map(|f| f.0), Some(1));
        // The newest address is remembered: older ones made room.
        let newest = std::net::Ipv4Addr::from((MAX_TRACKED + 499) as u32);
        assert!(failures.contains_key(&format!("address:{newest}")));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        assert_ne!(address_key(Some(a)), address_key(Some(c)));
        let mapped: std::net::IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(Some(mapped)), "address:192.0.2.7");
    }

    #[test]
    fn the_limit_blocks_for_the_rest_of_the_window() {
        let shared = Shared::default();
        let keys = [(address_key(None), 3)];
        for _ in 0..2 {
            shared.failed(&keys);
        }
        assert!(shared.blocked(&keys).is_none());
        shared.failed(&keys);
        let wait = shared.blocked(&keys).expect("blocked after three failures");
        assert!(wait > WINDOW - Duration::from_secs(60));
    }
}
