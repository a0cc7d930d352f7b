//! Watching and steering the org: every request is recorded (secrets
//! masked) and counted per endpoint, scripted answers take precedence over
//! the normal handlers, and `/__fake/...` exposes all of it over HTTP with
//! fault injection, so the binary can be driven from a shell.

use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::json_body;
use crate::state::AppState;

/// Largest request body accepted (uploads included): a Bulk API upload
/// may carry up to 150 MB, as Salesforce allows.
pub(crate) const MAX_BODY: usize = 150 * 1024 * 1024;
/// Longest body text kept in a recorded request.
const MAX_RECORDED_BODY: usize = 64 * 1024;
/// Form fields whose values are secrets and never recorded.
const SECRET_FORM_FIELDS: &[&str] = &[
    "client_secret",
    "assertion",
    "code",
    "code_verifier",
    "refresh_token",
    "token",
    "password",
];

/// A request as the org received it. The `Authorization` value and secret
/// form fields are masked; [`RecordedRequest::authorization_is`] still lets a
/// test check which credential was sent.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Headers in arrival order, names lower-cased, `Authorization` masked.
    pub headers: Vec<(String, String)>,
    /// Body text (secret form fields masked, long bodies cut).
    pub body: String,
    #[serde(skip)]
    authorization_sha256: Option<[u8; 32]>,
    #[serde(skip)]
    received: Instant,
}

impl RecordedRequest {
    /// The first header of that name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// A query parameter, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Whether the `Authorization` header was exactly `expected`
    /// (e.g. `"Bearer CACHEDTOKEN"`), compared by digest.
    pub fn authorization_is(&self, expected: &str) -> bool {
        self.authorization_sha256 == Some(Sha256::digest(expected.as_bytes()).into())
    }

    /// When the org received it (the machine's monotonic clock, not the org's): the time
    /// between two requests shows how long a client waited before trying again.
    pub fn received(&self) -> Instant {
        self.received
    }
}

/// How the org's 503 answers say when to come back, while set (see
/// `FakeOrg::set_retry_after`). Over HTTP: `{"seconds": 3}` or `{"http_date": 3}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfter {
    /// `Retry-After: N`, a delay in seconds.
    Seconds(u64),
    /// `Retry-After: <HTTP-date>`, that many seconds after the org's clock (the time its
    /// `Date` header gives, so a client reading the two sees exactly that delay).
    HttpDate(u64),
}

impl RetryAfter {
    /// The header value for an answer sent at `now` (the org's clock).
    pub(crate) fn header_value(self, now: DateTime<Utc>) -> String {
        match self {
            RetryAfter::Seconds(n) => n.to_string(),
            RetryAfter::HttpDate(n) => http_date(
                i64::try_from(n)
                    .ok()
                    .and_then(chrono::TimeDelta::try_seconds)
                    .and_then(|d| now.checked_add_signed(d))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            ),
        }
    }
}

/// `t` as an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`), to the second.
pub(crate) fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A canned answer for one method and path (and query, when given).
#[derive(Debug, Clone)]
pub(crate) struct Script {
    method: String,
    path: String,
    query: Option<Vec<(String, String)>>,
    status: StatusCode,
    body: Value,
}

impl Script {
    pub fn new(method: &str, path_and_query: &str, status: StatusCode, body: Value) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(normalize_query(q))),
            None => (path_and_query, None),
        };
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            query,
            status,
            body,
        }
    }

    /// A path starting with `/services/` must match exactly; a shorter one
    /// (`/sobjects/task/id1`) matches below any `/services/data/vXX.X`.
    fn matches(&self, method: &Method, path: &str, query: Option<&str>) -> bool {
        if self.method != method.as_str() {
            return false;
        }
        let path_ok = if self.path.starts_with("/services/") {
            self.path == path
        } else {
            path.strip_prefix("/services/data/")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(_, tail)| format!("/{tail}") == self.path)
        };
        path_ok
            && self
                .query
                .as_ref()
                .is_none_or(|want| *want == normalize_query(query.unwrap_or_default()))
    }

    fn response(&self, st: &AppState) -> Response {
        let mut res = if self.body.is_null() {
            self.status.into_response()
        } else {
            (self.status, json_body(&self.body)).into_response()
        };
        if let Ok(v) = st.limit_info().parse() {
            res.headers_mut().insert("sforce-limit-info", v);
        }
        res
    }
}

/// Decoded query pairs with runs of whitespace collapsed, so SOQL written
/// on several lines matches the same query sent on one.
fn normalize_query(q: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| {
            (
                k.into_owned(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

fn mask_authorization(v: &str) -> String {
    match v.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} [masked]"),
        None => "[masked]".into(),
    }
}

fn recorded_body(headers: &HeaderMap, bytes: &Bytes) -> String {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(bytes) {
            let masked = SECRET_FORM_FIELDS.contains(&k.as_ref());
            out.append_pair(&k, if masked { "[masked]" } else { &v });
        }
        return out.finish();
    }
    let cut = bytes.len().min(MAX_RECORDED_BODY);
    let mut text = String::from_utf8_lossy(&bytes[..cut]).into_owned();
    if bytes.len() > cut {
        text.push_str(&format!("...[{} more bytes]", bytes.len() - cut));
    }
    text
}

/// Outermost layer for the org's own routes: buffer and record the request,
/// count it, apply latency, and answer from a script when one matches.
pub(crate) async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".into());
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    {
        let key = format!("{} {endpoint}", parts.method);
        *st.lock(&st.counters).entry(key).or_default() += 1;
    }
    let auth = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                let v = String::from_utf8_lossy(v.as_bytes());
                let v = if *k == header::AUTHORIZATION {
                    mask_authorization(&v)
                } else {
                    v.into_owned()
                };
                (k.as_str().to_string(), v)
            })
            .collect(),
        body: recorded_body(&parts.headers, &bytes),
        authorization_sha256: auth.map(|a| Sha256::digest(a).into()),
        received: Instant::now(),
    };
    {
        let mut log = st.lock(&st.requests);
        if log.len() >= st.record_limit {
            log.pop_front();
        }
        log.push_back(recorded);
    }
    let latency = st.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let scripted = st
        .lock(&st.scripts)
        .iter()
        .rev()
        .find(|s| s.matches(&parts.method, parts.uri.path(), parts.uri.query()))
        .cloned();
    if let Some(s) = scripted {
        return s.response(&st);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/__fake/requests", get(requests).delete(clear_requests))
        .route("/__fake/counters", get(counters))
        .route(
            "/__fake/faults",
            get(show_faults).post(set_faults).delete(clear_faults),
        )
        .route("/__fake/tokens/expire", post(expire_tokens))
        .route("/__fake/tokens/revoke", post(revoke_tokens))
        .route(
            "/__fake/tokens/hold",
            post(hold_tokens).delete(release_tokens),
        )
        .route("/__fake/limits", post(set_limits))
        .route("/__fake/clock", get(show_clock).post(advance_clock))
        .route("/__fake/bulk", post(set_bulk))
        .route("/__fake/scripts", post(add_scripts).delete(clear_scripts))
        .route("/__fake/records", post(insert_record))
        .route("/__fake/records/{id}", patch(update_record))
        .route("/__fake/records/{id}/commit", post(commit_record))
}

async fn requests(State(st): State<AppState>) -> Response {
    let list: Vec<RecordedRequest> = st.lock(&st.requests).iter().cloned().collect();
    Json(list).into_response()
}

async fn clear_requests(State(st): State<AppState>) -> StatusCode {
    st.lock(&st.requests).clear();
    StatusCode::NO_CONTENT
}

async fn counters(State(st): State<AppState>) -> Response {
    Json(st.lock(&st.counters).clone()).into_response()
}

/// Faults to set; absent fields stay as they are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    latency_ms: Option<u64>,
    unavailable: Option<u32>,
    lock_rows: Option<u32>,
    commit_delay_ms: Option<u64>,
    fail_nth_query: Option<u32>,
    fail_nth_page: Option<u32>,
    retry_after: Option<RetryAfter>,
}

fn faults_json(st: &AppState) -> Value {
    let f = st.faults().clone();
    json!({
        "latency_ms": f.latency.as_millis() as u64,
        "unavailable": f.unavailable,
        "lock_rows": f.lock_rows,
        "commit_delay_ms": f.commit_delay.as_millis() as u64,
        "failing_queries": f.queries.pending(),
        "failing_pages": f.pages.pending(),
        "retry_after": f.retry_after,
    })
}

async fn show_faults(State(st): State<AppState>) -> Response {
    Json(faults_json(&st)).into_response()
}

async fn set_faults(State(st): State<AppState>, body: Bytes) -> Response {
    let parsed: FaultsBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("expected a JSON object with latency_ms, unavailable, lock_rows, commit_delay_ms, fail_nth_query, fail_nth_page, retry_after ({{\"seconds\": N}} or {{\"http_date\": N}}): {e}")})),
            )
                .into_response()
        }
    };
    {
        let mut f = st.faults();
        if let Some(ms) = parsed.latency_ms {
            f.latency = Duration::from_millis(ms);
        }
        if let Some(n) = parsed.unavailable {
            f.unavailable = n;
        }
        if let Some(n) = parsed.lock_rows {
            f.lock_rows = n;
        }
        if let Some(ms) = parsed.commit_delay_ms {
            f.commit_delay = Duration::from_millis(ms);
        }
        if let Some(n) = parsed.fail_nth_query {
            f.queries.arm(n);
        }
        if let Some(n) = parsed.fail_nth_page {
            f.pages.arm(n);
        }
        if let Some(r) = parsed.retry_after {
            f.retry_after = Some(r);
        }
    }
    Json(faults_json(&st)).into_response()
}

async fn clear_faults(State(st): State<AppState>) -> Response {
    *st.faults() = Default::default();
    Json(faults_json(&st)).into_response()
}

async fn expire_tokens(State(st): State<AppState>) -> StatusCode {
    crate::org::expire_tokens(&st);
    StatusCode::NO_CONTENT
}

async fn revoke_tokens(State(st): State<AppState>) -> StatusCode {
    crate::org::revoke_tokens(&st);
    StatusCode::NO_CONTENT
}

async fn hold_tokens(State(st): State<AppState>) -> StatusCode {
    st.token_hold.send_replace(true);
    StatusCode::NO_CONTENT
}

async fn release_tokens(State(st): State<AppState>) -> StatusCode {
    st.token_hold.send_replace(false);
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsBody {
    used: Option<u64>,
    max: Option<u64>,
}

async fn set_limits(State(st): State<AppState>, body: Bytes) -> Response {
    let parsed: LimitsBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("expected a JSON object with used, max: {e}")})),
            )
                .into_response()
        }
    };
    use std::sync::atomic::Ordering;
    if let Some(u) = parsed.used {
        st.api_used.store(u, Ordering::Relaxed);
    }
    if let Some(m) = parsed.max {
        st.api_max.store(m, Ordering::Relaxed);
    }
    Json(json!({"used": st.api_used.load(Ordering::Relaxed), "max": st.api_max.load(Ordering::Relaxed)})).into_response()
}

fn clock_json(st: &AppState) -> Value {
    json!({"now": crate::store::format_datetime(st.now())})
}

async fn show_clock(State(st): State<AppState>) -> Response {
    Json(clock_json(&st)).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    advance_ms: u64,
}

/// Moves the org's clock forward, like `FakeOrg::advance_clock`.
async fn advance_clock(State(st): State<AppState>, body: Bytes) -> Response {
    let parsed: ClockBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("expected a JSON object with advance_ms: {e}")})),
            )
                .into_response()
        }
    };
    st.clock_offset_ms.fetch_add(
        i64::try_from(parsed.advance_ms).unwrap_or(i64::MAX / 2),
        std::sync::atomic::Ordering::Relaxed,
    );
    Json(clock_json(&st)).into_response()
}

/// A bad `/__fake` request: 400 (404 for an unknown record) with the reason.
fn fake_error(e: &crate::Error) -> Response {
    let status = match e {
        crate::Error::UnknownRecord(_) | crate::Error::UnknownObject(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({"error": e.to_string()}))).into_response()
}

fn bad_body(expected: &str, e: serde_json::Error) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": format!("expected a JSON object with {expected}: {e}")})),
    )
        .into_response()
}

/// A write placed in time: stamped `at` (default: the org's now), visible
/// at once or held back until `/__fake/records/{id}/commit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlacedWrite {
    object: Option<String>,
    fields: Value,
    at: Option<String>,
    #[serde(default)]
    uncommitted: bool,
}

const PLACED_FIELDS: &str = "object (on insert), fields, at (a dateTime), uncommitted";

/// The write's context, or what is wrong with its `at`.
fn placed_ctx(st: &AppState, w: &PlacedWrite) -> Result<crate::store::WriteCtx, String> {
    let at = match &w.at {
        None => st.now(),
        Some(raw) => crate::store::parse_datetime(raw).ok_or_else(|| {
            format!("at: expected a dateTime such as 2026-01-01T00:00:00Z, got {raw:?}")
        })?,
    };
    Ok(crate::org::ctx_at(st, at, w.uncommitted))
}

fn bad_at(reason: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": reason}))).into_response()
}

async fn insert_record(State(st): State<AppState>, body: Bytes) -> Response {
    let w: PlacedWrite = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => return bad_body(PLACED_FIELDS, e),
    };
    let ctx = match placed_ctx(&st, &w) {
        Ok(c) => c,
        Err(reason) => return bad_at(reason),
    };
    let Some(object) = w.object.as_deref() else {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": "object: required, the sObject type to insert (e.g. \"Account\")"}),
            ),
        )
            .into_response();
    };
    match crate::org::insert_record(&st, object, w.fields, &ctx) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(e) => fake_error(&e),
    }
}

async fn update_record(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let w: PlacedWrite = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => return bad_body(PLACED_FIELDS, e),
    };
    let ctx = match placed_ctx(&st, &w) {
        Ok(c) => c,
        Err(reason) => return bad_at(reason),
    };
    match crate::org::update_record(&st, &id, w.fields, &ctx) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fake_error(&e),
    }
}

async fn commit_record(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match st.store_mut().commit(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => fake_error(&crate::Error::UnknownRecord(id)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    polls: u32,
}

/// Sets how many job-info polls a closed Bulk API job answers `InProgress`.
async fn set_bulk(State(st): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<BulkBody>(&body) {
        Ok(b) => {
            st.bulk_polls
                .store(b.polls, std::sync::atomic::Ordering::Relaxed);
            Json(json!({"polls": b.polls})).into_response()
        }
        Err(e) => bad_body("polls", e),
    }
}

/// Scripts steps in the `expected` format: one step object or an array.
/// Fixture paths are read relative to the org's working directory.
async fn add_scripts(State(st): State<AppState>, body: Bytes) -> Response {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_body("method, path, soql?, reply (or an array of them)", e),
    };
    let steps = if parsed.is_array() {
        parsed
    } else {
        Value::Array(vec![parsed])
    };
    match crate::expected::scripts(&steps, std::path::Path::new(".")) {
        Ok(list) => {
            let n = list.len();
            let mut scripts = st.lock(&st.scripts);
            for s in list {
                let status = StatusCode::from_u16(s.status).unwrap_or(StatusCode::OK);
                scripts.push(Script::new(&s.method, &s.path_and_query, status, s.body));
            }
            (StatusCode::CREATED, Json(json!({"scripted": n}))).into_response()
        }
        Err(e) => fake_error(&e),
    }
}

async fn clear_scripts(State(st): State<AppState>) -> StatusCode {
    st.lock(&st.scripts).clear();
    StatusCode::NO_CONTENT
}
