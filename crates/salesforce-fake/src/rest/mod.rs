//! `/services/data/...`: the REST API. `guard` runs first on every call but
//! the versions list: version check, the 503 fault, the bearer token, the
//! daily limit and the `Sforce-Limit-Info` header. Handlers live in
//! `sobjects` (records and describes), `query` (SOQL and cursors) and
//! `composite` (collections and composite requests).

mod bulk;
mod composite;
mod query;
mod sobjects;

use std::sync::atomic::Ordering;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Extension, Router};
use serde_json::{json, Value};

use crate::error::{json_body, ApiError, SfError};
use crate::state::AppState;

/// API versions served, newest last: (version, release label).
pub(crate) const VERSIONS: &[(u32, &str)] = &[
    (31, "Summer '14"),
    (59, "Winter '24"),
    (60, "Spring '24"),
    (61, "Summer '24"),
    (62, "Winter '25"),
    (63, "Spring '25"),
    (64, "Summer '25"),
    (65, "Winter '26"),
    (66, "Spring '26"),
    (67, "Summer '26"),
];
pub(crate) use bulk::BulkJobs;
pub(crate) use sobjects::{blob_url, record_json};

/// The version used in URLs the library builds itself.
pub(crate) const DEFAULT_VERSION: &str = "v65.0";

/// Versions 21.0 to 30.0 are retired and answer 410.
const OLDEST_LIVE: u32 = 31;
const NEWEST: u32 = 67;

/// Who is calling, put in the request by `guard`.
#[derive(Clone)]
pub(crate) struct Caller {
    pub user_id: String,
}

pub(crate) fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/services/data", get(versions))
        .route("/services/data/", get(versions))
        .merge(data_routes().route_layer(from_fn_with_state(st.clone(), guard)))
}

/// The authenticated routes; also used unguarded for composite subrequests.
pub(crate) fn data_routes() -> Router<AppState> {
    Router::new()
        .route("/services/data/{v}", get(resources))
        .route("/services/data/{v}/", get(resources))
        .route("/services/data/{v}/limits", get(limits))
        .merge(sobjects::routes())
        .merge(query::routes())
        .merge(bulk::routes())
        .route(
            "/services/data/{v}/composite/sobjects",
            post(composite::create)
                .patch(composite::update)
                .delete(composite::delete),
        )
        .route(
            "/services/data/{v}/composite/sobjects/{object}/{field}",
            patch(composite::upsert),
        )
        .route("/services/data/{v}/composite", post(composite::composite))
        .route("/services/data/{v}/actions/custom/flow", get(flows))
        .route(
            "/services/data/{v}/actions/custom/flow/{name}",
            post(invoke_flow),
        )
}

async fn versions() -> Response {
    let list: Vec<Value> = VERSIONS
        .iter()
        .map(|(n, label)| json!({"label": label, "url": format!("/services/data/v{n}.0"), "version": format!("{n}.0")}))
        .collect();
    json_body(&Value::Array(list)).into_response()
}

/// The version number in `vNN.N`, if well formed.
fn version_number(v: &str) -> Option<u32> {
    let (major, minor) = v.strip_prefix('v')?.split_once('.')?;
    (minor == "0").then_some(())?;
    major.parse().ok()
}

async fn guard(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let version = req
        .uri()
        .path()
        .split('/')
        .nth(3)
        .unwrap_or_default()
        .to_string();
    match version_number(&version) {
        Some(n) if n < OLDEST_LIVE => {
            return ApiError::Rest(SfError::new(
                StatusCode::GONE,
                "API_VERSION_RETIRED",
                format!("API version {n}.0 has been retired and is no longer supported."),
            ))
            .into_response()
        }
        Some(n) if n <= NEWEST => {}
        _ => return ApiError::Rest(SfError::not_found()).into_response(),
    }
    if st.take_unavailable() {
        return ApiError::Rest(SfError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "Server Unavailable",
        ))
        .into_response();
    }
    let session = crate::oauth::bearer_token(req.headers()).and_then(|t| st.session(t));
    let Some(session) = session else {
        return ApiError::Rest(SfError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ))
        .into_response();
    };
    let max = st.api_max.load(Ordering::Relaxed);
    let used = st.api_used.load(Ordering::Relaxed);
    let mut res = if used >= max {
        ApiError::Rest(SfError::new(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ))
        .into_response()
    } else {
        st.api_used.fetch_add(1, Ordering::Relaxed);
        req.extensions_mut().insert(Caller {
            user_id: session.user_id,
        });
        next.run(req).await
    };
    if let Ok(v) = HeaderValue::from_str(&st.limit_info()) {
        res.headers_mut().insert("sforce-limit-info", v);
    }
    res
}

async fn resources(Path(v): Path<String>) -> Response {
    let base = format!("/services/data/{v}");
    json_body(&json!({
        "sobjects": format!("{base}/sobjects"),
        "query": format!("{base}/query"),
        "queryAll": format!("{base}/queryAll"),
        "composite": format!("{base}/composite"),
        "limits": format!("{base}/limits"),
        "actions": format!("{base}/actions"),
    }))
    .into_response()
}

async fn limits(State(st): State<AppState>) -> Response {
    let max = st.api_max.load(Ordering::Relaxed);
    let used = st.api_used.load(Ordering::Relaxed);
    let fixed = |m: u64| json!({"Max": m, "Remaining": m});
    json_body(&json!({
        "ConcurrentAsyncGetReportInstances": fixed(200),
        "DailyApiRequests": {"Max": max, "Remaining": max.saturating_sub(used)},
        "DailyAsyncApexExecutions": fixed(250000),
        "DailyBulkApiBatches": fixed(15000),
        "DailyBulkV2QueryJobs": fixed(10000),
        "DataStorageMB": fixed(5),
        "FileStorageMB": fixed(20),
        "HourlyTimeBasedWorkflow": fixed(1000),
        "SingleEmail": fixed(15),
    }))
    .into_response()
}

async fn flows(State(st): State<AppState>, Path(v): Path<String>) -> Response {
    let actions: Vec<Value> = st
        .config
        .flows
        .iter()
        .map(|f| {
            json!({"label": f.label, "name": f.api_name, "type": "FLOW", "url": format!("/services/data/{v}/actions/custom/flow/{}", f.api_name)})
        })
        .collect();
    json_body(&json!({"actions": actions})).into_response()
}

async fn invoke_flow(
    State(st): State<AppState>,
    Path((_v, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let flow = st
        .config
        .flows
        .iter()
        .find(|f| f.api_name == name)
        .ok_or_else(SfError::not_found)?;
    let parsed: Value = sobjects::parse_json(&body)?;
    let inputs = parsed
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            SfError::bad_request(
                "JSON_PARSER_ERROR",
                "Missing required field: inputs (expected an array of objects)",
            )
        })?;
    // A configured flow echoes its inputs back as outputs.
    let results: Vec<Value> = inputs
        .iter()
        .map(|input| {
            let mut out = input.as_object().cloned().unwrap_or_default();
            out.insert("Flow__InterviewStatus".into(), json!("Finished"));
            json!({"actionName": flow.api_name, "errors": null, "isSuccess": true, "outputValues": out, "version": 1})
        })
        .collect();
    Ok(json_body(&Value::Array(results)).into_response())
}

/// The caller of a guarded route.
pub(crate) type CallerExt = Extension<Caller>;
