//! sObject Collections (create, update, upsert, delete up to 200 records,
//! per-record results, `allOrNone`) and `composite` (up to 25 subrequests
//! with `@{ref.field}` references, run through the same handlers).

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, Method, Request};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tower::ServiceExt;

use super::sobjects::{lock_fault, parse_json};
use super::{Caller, CallerExt};
use crate::error::{json_body, ApiError, SfError};
use crate::state::AppState;
use crate::store::{Undo, Upserted};

const MAX_RECORDS: usize = 200;
const MAX_SUBREQUESTS: usize = 25;

fn rolled_back() -> SfError {
    SfError::bad_request(
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using AllOrNone header",
    )
}

fn too_many() -> SfError {
    SfError::bad_request(
        "EXCEEDED_ID_LIMIT",
        "record limit reached. cannot submit more than 200 records into this call",
    )
}

/// One record's result: `Ok((id, created))` or its error.
type Outcome = Result<(String, Option<bool>), SfError>;

fn result_json(o: &Outcome, id_on_failure: Option<&str>) -> Value {
    match o {
        Ok((id, created)) => {
            let mut v = json!({"id": id, "success": true, "errors": []});
            if let Some(c) = created {
                v["created"] = json!(c);
            }
            v
        }
        Err(e) => {
            let mut v = json!({"success": false, "errors": [e.collection_json()]});
            if let Some(id) = id_on_failure {
                v["id"] = json!(id);
            }
            v
        }
    }
}

/// Runs `op` for each item under one write lock; with `all_or_none`, any
/// failure undoes every write and the others report a roll-back.
fn batch<T>(
    st: &AppState,
    items: &[T],
    all_or_none: bool,
    mut op: impl FnMut(&mut crate::store::Store, &T, &mut Undo) -> Outcome,
) -> Vec<Outcome> {
    let mut store = st.store_mut();
    let mut undo = Undo::new();
    let mut results: Vec<Outcome> = items
        .iter()
        .map(|item| op(&mut store, item, &mut undo))
        .collect();
    if all_or_none && results.iter().any(Result::is_err) {
        store.rollback(undo);
        for r in &mut results {
            if r.is_ok() {
                *r = Err(rolled_back());
            }
        }
    }
    results
}

#[derive(Deserialize)]
struct Records {
    #[serde(rename = "allOrNone", default)]
    all_or_none: bool,
    records: Vec<Map<String, Value>>,
}

fn parse_records(body: &[u8]) -> Result<Records, SfError> {
    let v = parse_json(body)?;
    let r: Records = serde_json::from_value(v).map_err(|e| {
        SfError::bad_request(
            "JSON_PARSER_ERROR",
            format!("Expected {{\"allOrNone\": boolean, \"records\": [objects]}}: {e}"),
        )
    })?;
    if r.records.len() > MAX_RECORDS {
        return Err(too_many());
    }
    Ok(r)
}

/// The object named by a record's `attributes.type`.
fn record_type(st: &AppState, rec: &Map<String, Value>) -> Result<usize, SfError> {
    let ty = rec
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str);
    let ty = ty.ok_or_else(|| {
        SfError::bad_request(
            "INVALID_TYPE",
            "Must specify a type in attributes for each record",
        )
    })?;
    st.schema.index_of(ty).ok_or_else(|| {
        SfError::bad_request(
            "INVALID_TYPE",
            format!("sObject type '{ty}' is not supported."),
        )
    })
}

fn respond(results: &[Outcome], ids: Option<&[String]>) -> Response {
    let list: Vec<Value> = results
        .iter()
        .enumerate()
        .map(|(i, r)| result_json(r, ids.and_then(|ids| ids.get(i)).map(String::as_str)))
        .collect();
    json_body(&Value::Array(list)).into_response()
}

pub(super) async fn create(
    State(st): State<AppState>,
    Extension(caller): CallerExt,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req = parse_records(&body)?;
    let ctx = st.write_ctx(&caller.user_id);
    let results = batch(&st, &req.records, req.all_or_none, |store, rec, undo| {
        let idx = record_type(&st, rec)?;
        if rec.keys().any(|k| k.eq_ignore_ascii_case("id")) {
            return Err(SfError::bad_request(
                "INVALID_FIELD",
                "cannot specify Id in an insert call",
            )
            .with_fields(vec!["Id".into()]));
        }
        lock_fault(&st, None)?;
        store
            .create(&st.schema, idx, rec, &ctx, undo)
            .map(|id| (id, None))
    });
    Ok(respond(&results, None))
}

pub(super) async fn update(
    State(st): State<AppState>,
    Extension(caller): CallerExt,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req = parse_records(&body)?;
    let ctx = st.write_ctx(&caller.user_id);
    let results = batch(&st, &req.records, req.all_or_none, |store, rec, undo| {
        let idx = record_type(&st, rec)?;
        let id = rec
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("id"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                SfError::bad_request("MISSING_ARGUMENT", "Id not specified in an update call")
                    .with_fields(vec![])
            })?;
        let mut fields = rec.clone();
        fields.retain(|k, _| !k.eq_ignore_ascii_case("id"));
        lock_fault(&st, Some(&id))?;
        store
            .update(&st.schema, idx, &id, &fields, &ctx, undo)
            .map(|id| (id, None))
    });
    Ok(respond(&results, None))
}

#[derive(Deserialize)]
pub(super) struct DeleteParams {
    ids: Option<String>,
    #[serde(rename = "allOrNone", default)]
    all_or_none: bool,
}

pub(super) async fn delete(
    State(st): State<AppState>,
    Extension(caller): CallerExt,
    Query(p): Query<DeleteParams>,
) -> Result<Response, ApiError> {
    let ids: Vec<String> = p
        .ids
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return Err(SfError::bad_request(
            "MISSING_ARGUMENT",
            "ids parameter is required: a comma-separated list of record ids",
        )
        .into());
    }
    if ids.len() > MAX_RECORDS {
        return Err(too_many().into());
    }
    let ctx = st.write_ctx(&caller.user_id);
    let results = batch(&st, &ids, p.all_or_none, |store, id, undo| {
        if !crate::ids::looks_like_id(id) {
            return Err(
                SfError::bad_request("MALFORMED_ID", format!("malformed id {id}"))
                    .with_fields(vec![]),
            );
        }
        lock_fault(&st, Some(id))?;
        store.delete(None, id, &ctx, undo).map(|id| (id, None))
    });
    Ok(respond(&results, Some(&ids)))
}

pub(super) async fn upsert(
    State(st): State<AppState>,
    Path((_v, object, field)): Path<(String, String, String)>,
    Extension(caller): CallerExt,
    body: Bytes,
) -> Result<Response, ApiError> {
    let idx = st.schema.index_of(&object).ok_or_else(SfError::not_found)?;
    let req = parse_records(&body)?;
    let ctx = st.write_ctx(&caller.user_id);
    let results = batch(&st, &req.records, req.all_or_none, |store, rec, undo| {
        let value = rec
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&field))
            .map(|(_, v)| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .ok_or_else(|| {
                SfError::bad_request("MISSING_ARGUMENT", format!("{field} not specified"))
                    .with_fields(vec![field.clone()])
            })?;
        lock_fault(&st, None)?;
        match store.upsert(&st.schema, idx, &field, &value, rec, &ctx, undo)? {
            Upserted::Created(id) => Ok((id, Some(true))),
            Upserted::Updated(id) => Ok((id, Some(false))),
            Upserted::Multiple(_) => Err(SfError::bad_request(
                "DUPLICATE_EXTERNAL_ID",
                format!("The {field} value {value} matches multiple records"),
            )
            .with_fields(vec![field.clone()])),
        }
    });
    Ok(respond(&results, None))
}

#[derive(Deserialize)]
struct CompositeRequest {
    #[serde(rename = "allOrNone", default)]
    all_or_none: bool,
    #[serde(rename = "compositeRequest")]
    requests: Vec<Subrequest>,
}

#[derive(Deserialize)]
struct Subrequest {
    method: String,
    url: String,
    #[serde(rename = "referenceId")]
    reference_id: String,
    body: Option<Value>,
}

fn halted(message: String) -> Value {
    json!({"body": [{"errorCode": "PROCESSING_HALTED", "message": message}], "httpHeaders": {}, "httpStatusCode": 400})
}

/// Looks up `ref.path[0].field` in earlier results.
fn lookup(results: &Map<String, Value>, expr: &str) -> Option<Value> {
    let (reference, path) = expr.split_once('.')?;
    let mut cur = results.get(reference)?;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        if let Some(i) = index {
            cur = cur.get(i)?;
        }
    }
    Some(cur.clone())
}

/// Replaces every `@{...}` in `text`; the first unresolved expression is the error.
fn substitute(text: &str, results: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| after.to_string())?;
        let expr = &after[..end];
        let value = lookup(results, expr).ok_or_else(|| expr.to_string())?;
        match value {
            Value::String(s) => out.push_str(&s),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// References inside JSON strings; a string that is exactly one reference
/// takes the referenced value's own JSON type.
fn substitute_json(v: &Value, results: &Map<String, Value>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            let trimmed = s.trim();
            if trimmed.starts_with("@{")
                && trimmed.ends_with('}')
                && trimmed.matches("@{").count() == 1
            {
                lookup(results, &trimmed[2..trimmed.len() - 1])
                    .ok_or_else(|| trimmed[2..trimmed.len() - 1].to_string())?
            } else {
                Value::String(substitute(s, results)?)
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute_json(x, results))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), substitute_json(x, results)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

pub(super) async fn composite(
    State(st): State<AppState>,
    Extension(caller): CallerExt,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: CompositeRequest = serde_json::from_value(parse_json(&body)?).map_err(|e| {
        SfError::bad_request(
            "JSON_PARSER_ERROR",
            format!("Expected {{\"compositeRequest\": [{{method, url, referenceId, body}}]}}: {e}"),
        )
    })?;
    if req.requests.len() > MAX_SUBREQUESTS {
        return Err(SfError::bad_request(
            "INVALID_INPUT",
            format!(
                "The composite request has {} subrequests; the limit is 25.",
                req.requests.len()
            ),
        )
        .into());
    }
    // allOrNone rolls back by restoring the whole store as it was; other
    // writers are not expected to race a test's composite call.
    let snapshot = req.all_or_none.then(|| st.store().clone());
    let inner = super::data_routes().with_state(st.clone());
    let mut bodies = Map::new();
    let mut out: Vec<Value> = Vec::with_capacity(req.requests.len());
    let mut failed = false;
    for sub in &req.requests {
        if failed && req.all_or_none {
            out.push(json!({"referenceId": sub.reference_id}));
            continue;
        }
        let resolved = substitute(&sub.url, &bodies).and_then(|url| {
            sub.body
                .as_ref()
                .map(|b| substitute_json(b, &bodies))
                .transpose()
                .map(|b| (url, b))
        });
        let (url, sub_body) = match resolved {
            Ok(r) => r,
            Err(expr) => {
                let reference = expr.split('.').next().unwrap_or_default().to_string();
                let mut v = halted(format!(
                    "Invalid reference specified. No value for {expr} found in {reference}. Provided referenceId ({reference}) must match a previous referenceId."
                ));
                v["referenceId"] = json!(sub.reference_id);
                out.push(v);
                failed = true;
                continue;
            }
        };
        let (status, location, value) =
            run_subrequest(&inner, &caller, &sub.method, &url, sub_body).await;
        if status >= 400 {
            failed = true;
        }
        let mut headers = Map::new();
        if let Some(l) = location {
            headers.insert("Location".into(), json!(l));
        }
        bodies.insert(sub.reference_id.clone(), value.clone());
        out.push(json!({"body": value, "httpHeaders": headers, "httpStatusCode": status, "referenceId": sub.reference_id}));
    }
    if failed && req.all_or_none {
        if let Some(snap) = snapshot {
            *st.store_mut() = snap;
        }
        for item in &mut out {
            let ok = item["httpStatusCode"].as_u64().is_some_and(|s| s < 400);
            if ok || item.get("httpStatusCode").is_none() {
                let reference = item["referenceId"].clone();
                *item = halted("The transaction was rolled back since another operation in the same transaction failed.".into());
                item["referenceId"] = reference;
            }
        }
    }
    Ok(json_body(&json!({"compositeResponse": out})).into_response())
}

async fn run_subrequest(
    inner: &axum::Router,
    caller: &Caller,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET);
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap_or_default())
        .unwrap_or_default();
    let mut req = match Request::builder()
        .method(method)
        .uri(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(bytes))
    {
        Ok(r) => r,
        Err(e) => {
            let err = SfError::bad_request(
                "INVALID_INPUT",
                format!("invalid subrequest url {url:?}: {e}"),
            );
            return (400, None, json!([err.rest_json()]));
        }
    };
    req.extensions_mut().insert(caller.clone());
    let res = match inner.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    (status, location, value)
}
