//! `/query` and `/queryAll`: run SOQL, page the result by 2,000 rows (or the
//! `Sforce-Query-Options: batchSize` asked for) and serve later pages from
//! `nextRecordsUrl` cursors.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{json_body, ApiError, SfError};
use crate::soql;
use crate::state::{AppState, Cursor};

const MAX_BATCH: usize = 2000;
const MIN_BATCH: usize = 200;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/services/data/{v}/query", get(query))
        .route("/services/data/{v}/query/", get(query))
        .route("/services/data/{v}/queryAll", get(query_all))
        .route("/services/data/{v}/queryAll/", get(query_all))
        .route("/services/data/{v}/query/{locator}", get(more))
        .route("/services/data/{v}/queryAll/{locator}", get(more))
}

#[derive(Deserialize)]
struct Q {
    q: Option<String>,
}

async fn query(
    st: State<AppState>,
    v: Path<String>,
    q: Query<Q>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    run(st, v, q, h, false).await
}

async fn query_all(
    st: State<AppState>,
    v: Path<String>,
    q: Query<Q>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    run(st, v, q, h, true).await
}

/// `Sforce-Query-Options: batchSize=N`, clamped to Salesforce's 200..2000.
fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("batchSize"))
                .and_then(|(_, n)| n.trim().parse::<usize>().ok())
        })
        .map(|n| n.clamp(MIN_BATCH, MAX_BATCH))
        .unwrap_or(MAX_BATCH)
}

async fn run(
    State(st): State<AppState>,
    Path(v): Path<String>,
    Query(q): Query<Q>,
    headers: HeaderMap,
    include_deleted: bool,
) -> Result<Response, ApiError> {
    if st.faults().queries.take() {
        return Err(unavailable().into());
    }
    let text = q.q.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        SfError::bad_request("MALFORMED_QUERY", "A query string has to be specified")
    })?;
    let now = st.now();
    let plan = soql::parse(&text)
        .and_then(|parsed| soql::compile(&parsed, &st.schema, now))
        .map_err(|e| SfError::bad_request(e.code(), e.message(&text)))?;
    let now_ms = now.timestamp_millis();
    let rows: Vec<Value> = {
        let store = st.store();
        let mut hits: Vec<&Map<String, Value>> = store
            .of_object(plan.object)
            .filter(|r| include_deleted || !r.deleted)
            .filter_map(|r| r.query_view(now_ms))
            .filter(|fields| plan.matches(fields))
            .collect();
        plan.sort(&mut hits);
        let offset = plan.offset.unwrap_or(0) as usize;
        let limit = plan.limit.map(|l| l as usize).unwrap_or(usize::MAX);
        let window = hits.into_iter().skip(offset).take(limit);
        if plan.count_only {
            let total = window.count();
            return Ok(
                json_body(&json!({"totalSize": total, "done": true, "records": []}))
                    .into_response(),
            );
        }
        window.map(|fields| plan.project(fields, &v)).collect()
    };
    let batch = batch_size(&headers);
    let total = rows.len();
    if total <= batch {
        return Ok(
            json_body(&json!({"totalSize": total, "done": true, "records": rows})).into_response(),
        );
    }
    let rows = Arc::new(rows);
    let first: Vec<Value> = rows[..batch].to_vec();
    let id = st.next_cursor_id();
    st.lock(&st.cursors)
        .insert(id.clone(), Cursor { rows, batch });
    Ok(json_body(&json!({
        "totalSize": total,
        "done": false,
        "nextRecordsUrl": format!("/services/data/{v}/query/{id}-{batch}"),
        "records": first,
    }))
    .into_response())
}

fn unavailable() -> SfError {
    SfError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "SERVER_UNAVAILABLE",
        "Server Unavailable",
    )
}

async fn more(
    State(st): State<AppState>,
    Path((v, locator)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    // Before the cursor is touched: the same nextRecordsUrl works on retry.
    if st.faults().pages.take() {
        return Err(unavailable().into());
    }
    let invalid = || SfError::bad_request("INVALID_QUERY_LOCATOR", "invalid query locator");
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let mut cursors = st.lock(&st.cursors);
    let cursor = cursors.get(id).ok_or_else(invalid)?;
    let total = cursor.rows.len();
    if offset >= total {
        return Err(invalid().into());
    }
    let end = (offset + cursor.batch).min(total);
    let page: Vec<Value> = cursor.rows[offset..end].to_vec();
    let mut body = json!({"totalSize": total, "done": end == total});
    if end < total {
        body["nextRecordsUrl"] = json!(format!("/services/data/{v}/query/{id}-{end}"));
    } else {
        // The last page was served: Salesforce closes the cursor.
        cursors.remove(id);
    }
    body["records"] = Value::Array(page);
    Ok(json_body(&body).into_response())
}
