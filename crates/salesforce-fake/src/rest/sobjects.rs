//! sObject calls: global describe, summary, describe, create (JSON or
//! multipart), retrieve, update, delete, and retrieve/upsert by external id.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::CallerExt;
use crate::error::{json_body, ApiError, SfError};
use crate::schema::ObjectSchema;
use crate::state::AppState;
use crate::store::Upserted;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/services/data/{v}/sobjects", get(global_describe))
        .route("/services/data/{v}/sobjects/", get(global_describe))
        .route(
            "/services/data/{v}/sobjects/{object}",
            get(summary).post(create),
        )
        .route(
            "/services/data/{v}/sobjects/{object}/describe",
            get(describe),
        )
        .route("/services/data/{v}/sobjects/{object}/updated", get(updated))
        .route(
            "/services/data/{v}/sobjects/{object}/updated/",
            get(updated),
        )
        .route("/services/data/{v}/sobjects/{object}/deleted", get(deleted))
        .route(
            "/services/data/{v}/sobjects/{object}/deleted/",
            get(deleted),
        )
        .route(
            "/services/data/{v}/sobjects/{object}/{id}",
            get(retrieve).patch(update).delete(delete),
        )
        .route(
            "/services/data/{v}/sobjects/{object}/{field}/{value}",
            get(retrieve_by_external).patch(upsert),
        )
}

/// Parses a JSON body, reporting failures as Salesforce's parser does.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, SfError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SfError::bad_request(
            "JSON_PARSER_ERROR",
            "No content to map to Object due to end of input",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        let reason = text.split(" at line ").next().unwrap_or(&text);
        SfError::bad_request(
            "JSON_PARSER_ERROR",
            format!(
                "Unexpected character: {reason} at [line:{}, column:{}]",
                e.line(),
                e.column()
            ),
        )
    })
}

/// A JSON object body for `object`.
pub(crate) fn parse_record(body: &[u8], object: &str) -> Result<Map<String, Value>, SfError> {
    match parse_json(body)? {
        Value::Object(m) => Ok(m),
        other => {
            let token = if other.is_array() {
                "START_ARRAY"
            } else {
                "VALUE_STRING"
            };
            Err(SfError::bad_request(
                "JSON_PARSER_ERROR",
                format!("Cannot deserialize instance of {object} from {token} value or request may be missing a required field"),
            ))
        }
    }
}

fn object_index(st: &AppState, name: &str) -> Result<usize, SfError> {
    st.schema.index_of(name).ok_or_else(SfError::not_found)
}

fn lock_row_error(id: Option<&str>) -> SfError {
    let message = match id {
        Some(id) => format!("unable to obtain exclusive access to this record or 1 records: {id}"),
        None => "unable to obtain exclusive access to this record".to_string(),
    };
    SfError::bad_request("UNABLE_TO_LOCK_ROW", message).with_fields(vec![])
}

/// The injected lock-row fault, if armed for this write.
pub(crate) fn lock_fault(st: &AppState, id: Option<&str>) -> Result<(), SfError> {
    if st.take_lock_row() {
        Err(lock_row_error(id))
    } else {
        Ok(())
    }
}

/// A record as retrieve returns it: `attributes`, then its fields.
pub(crate) fn record_json(
    object: &str,
    fields: &Map<String, Value>,
    version: &str,
    only: Option<&[String]>,
) -> Value {
    let id = fields.get("Id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Map::with_capacity(fields.len() + 1);
    out.insert(
        "attributes".into(),
        json!({"type": object, "url": format!("/services/data/{version}/sobjects/{object}/{id}")}),
    );
    match only {
        Some(names) => {
            for n in names {
                out.insert(n.clone(), fields.get(n).cloned().unwrap_or(Value::Null));
            }
        }
        None => out.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone()))),
    }
    Value::Object(out)
}

/// The same shape as [`record_json`], serialized straight from the stored
/// record: a retrieve is the hottest call in benchmarks, and copying every
/// field into a new map first doubled its cost.
struct RecordView<'a> {
    object: &'a ObjectSchema,
    version: &'a str,
    fields: &'a Map<String, Value>,
    only: Option<&'a [String]>,
}

/// Salesforce never inlines binary fields (`Attachment.Body`,
/// `ContentVersion.VersionData`) in JSON: it gives their URL, and the bytes
/// come from `GET .../sobjects/{Type}/{id}/{Field}`.
pub(crate) fn blob_url(version: &str, object: &str, id: &str, field: &str) -> String {
    format!("/services/data/{version}/sobjects/{object}/{id}/{field}")
}

impl serde::Serialize for RecordView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let id = self
            .fields
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let object = &self.object.name;
        let url = format!("/services/data/{}/sobjects/{object}/{id}", self.version);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("attributes", &json!({"type": object, "url": url}))?;
        let mut entry = |k: &String, v: &Value| {
            if !v.is_null() && self.object.is_blob(k) {
                m.serialize_entry(k, &blob_url(self.version, object, id, k))
            } else {
                m.serialize_entry(k, v)
            }
        };
        match self.only {
            Some(names) => {
                for n in names {
                    entry(n, self.fields.get(n).unwrap_or(&Value::Null))?;
                }
            }
            None => {
                for (k, v) in self.fields {
                    entry(k, v)?;
                }
            }
        }
        m.end()
    }
}

async fn global_describe(State(st): State<AppState>, Path(v): Path<String>) -> Response {
    let sobjects: Vec<Value> = st.schema.objects.iter().map(|o| o.summary(&v)).collect();
    json_body(&json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects}))
        .into_response()
}

async fn summary(
    State(st): State<AppState>,
    Path((v, object)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    let obj = &st.schema.objects[idx];
    let label_field = ["Name", "Subject", "Title", "CaseNumber"]
        .into_iter()
        .find(|f| obj.field(f).is_some());
    let store = st.store();
    let recent: Vec<Value> = store
        .of_object(idx)
        .filter(|r| !r.deleted)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .take(25)
        .map(|r| {
            let mut names = vec!["Id".to_string()];
            names.extend(label_field.map(str::to_string));
            record_json(&obj.name, &r.fields, &v, Some(&names))
        })
        .collect();
    Ok(
        json_body(&json!({"objectDescribe": obj.summary(&v), "recentItems": recent}))
            .into_response(),
    )
}

async fn describe(
    State(st): State<AppState>,
    Path((v, object)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    Ok(json_body(&st.schema.objects[idx].describe(&v)).into_response())
}

/// JSON body, or multipart with a JSON `entity_content` part and binary parts
/// named after base64 fields (`VersionData` for ContentVersion).
async fn create(
    State(st): State<AppState>,
    Path((v, object)): Path<(String, String)>,
    Extension(caller): CallerExt,
    req: Request,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    let name = st.schema.objects[idx].name.clone();
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let body = if is_multipart {
        multipart_record(req, &name).await?
    } else {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|_| SfError::bad_request("JSON_PARSER_ERROR", "Unreadable request body"))?;
        parse_record(&bytes, &name)?
    };
    lock_fault(&st, None)?;
    let ctx = st.write_ctx(&caller.user_id);
    let id = st
        .store_mut()
        .create(&st.schema, idx, &body, &ctx, &mut vec![])?;
    let location = format!("/services/data/{v}/sobjects/{name}/{id}");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        json_body(&json!({"id": id, "success": true, "errors": []})),
    )
        .into_response())
}

use axum::Extension;

async fn multipart_record(req: Request, object: &str) -> Result<Map<String, Value>, SfError> {
    let bad = |m: String| SfError::bad_request("JSON_PARSER_ERROR", m);
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad(format!("Invalid multipart request: {e}")))?;
    let mut record: Option<Map<String, Value>> = None;
    let mut binaries = Vec::new();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| bad(format!("Invalid multipart request: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let data = field
            .bytes()
            .await
            .map_err(|e| bad(format!("Invalid multipart request: {e}")))?;
        if name.starts_with("entity_") || name == "json" {
            record = Some(parse_record(&data, object)?);
        } else {
            binaries.push((
                name,
                base64::engine::general_purpose::STANDARD.encode(&data),
            ));
        }
    }
    let mut record = record.ok_or_else(|| {
        bad("Multipart request is missing the entity_content part (a JSON object with the record's fields)".into())
    })?;
    for (name, data) in binaries {
        record.insert(name, Value::String(data));
    }
    Ok(record)
}

#[derive(Deserialize)]
struct FieldsParam {
    fields: Option<String>,
}

/// Canonical names for a `fields=` list, or Salesforce's INVALID_FIELD.
fn selected_fields(
    st: &AppState,
    idx: usize,
    fields: Option<&str>,
) -> Result<Option<Vec<String>>, SfError> {
    let Some(list) = fields.filter(|f| !f.trim().is_empty()) else {
        return Ok(None);
    };
    let obj = &st.schema.objects[idx];
    let mut names = vec![];
    for raw in list.split(',') {
        let raw = raw.trim();
        let f = obj.field(raw).ok_or_else(|| {
            SfError::bad_request(
                "INVALID_FIELD",
                format!(
                    "No such column '{raw}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                    obj.name
                ),
            )
        })?;
        names.push(f.name.clone());
    }
    Ok(Some(names))
}

async fn retrieve(
    State(st): State<AppState>,
    Path((v, object, id)): Path<(String, String, String)>,
    Query(q): Query<FieldsParam>,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    if !crate::ids::looks_like_id(&id) {
        return Err(SfError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("Provided external ID field does not exist or is not accessible: {id}"),
        )
        .into());
    }
    let only = selected_fields(&st, idx, q.fields.as_deref())?;
    let store = st.store();
    let rec = store
        .get(&id)
        .filter(|r| r.object == idx && !r.deleted)
        .ok_or_else(SfError::not_found)?;
    let view = RecordView {
        object: &st.schema.objects[idx],
        version: &v,
        fields: &rec.fields,
        only: only.as_deref(),
    };
    Ok(json_body(&view).into_response())
}

async fn update(
    State(st): State<AppState>,
    Path((_v, object, id)): Path<(String, String, String)>,
    Extension(caller): CallerExt,
    body: Bytes,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    let body = parse_record(&body, &st.schema.objects[idx].name)?;
    lock_fault(&st, Some(&id))?;
    let ctx = st.write_ctx(&caller.user_id);
    st.store_mut()
        .update(&st.schema, idx, &id, &body, &ctx, &mut vec![])?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete(
    State(st): State<AppState>,
    Path((_v, object, id)): Path<(String, String, String)>,
    Extension(caller): CallerExt,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    lock_fault(&st, Some(&id))?;
    let ctx = st.write_ctx(&caller.user_id);
    st.store_mut().delete(Some(idx), &id, &ctx, &mut vec![])?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn retrieve_by_external(
    State(st): State<AppState>,
    Path((v, object, field, value)): Path<(String, String, String, String)>,
    Query(q): Query<FieldsParam>,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    let obj = &st.schema.objects[idx];
    // `/sobjects/Attachment/{id}/Body` has the same shape as a lookup by
    // external id: a binary field name in the last place means the former.
    if crate::ids::looks_like_id(&field) && obj.is_blob(&value) {
        return blob(&st, idx, &field, &value);
    }
    let f = obj
        .field(&field)
        .filter(|f| f.external_id || f.name == "Id")
        .ok_or_else(|| {
            SfError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("Provided external ID field does not exist or is not accessible: {field}"),
            )
        })?;
    let only = selected_fields(&st, idx, q.fields.as_deref())?;
    let store = st.store();
    let hits: Vec<_> = store
        .of_object(idx)
        .filter(|r| !r.deleted)
        .filter(|r| {
            r.fields
                .get(&f.name)
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(&value))
        })
        .collect();
    match hits.as_slice() {
        [] => Err(SfError::not_found().into()),
        [one] => Ok(json_body(&RecordView {
            object: obj,
            version: &v,
            fields: &one.fields,
            only: only.as_deref(),
        })
        .into_response()),
        many => {
            let urls: Vec<String> = many
                .iter()
                .map(|r| format!("/services/data/{v}/sobjects/{}/{}", obj.name, r.id()))
                .collect();
            Ok((StatusCode::MULTIPLE_CHOICES, json_body(&json!(urls))).into_response())
        }
    }
}

/// The bytes of a binary field, with the record's content type when it has one.
fn blob(st: &AppState, idx: usize, id: &str, field: &str) -> Result<Response, ApiError> {
    let obj = &st.schema.objects[idx];
    let store = st.store();
    let rec = store
        .get(id)
        .filter(|r| r.object == idx && !r.deleted)
        .ok_or_else(SfError::not_found)?;
    let name = obj.field(field).map(|f| f.name.clone()).unwrap_or_default();
    let bytes = rec
        .fields
        .get(&name)
        .and_then(Value::as_str)
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .ok_or_else(SfError::not_found)?;
    let content_type = rec
        .fields
        .get("ContentType")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream")
        .to_string();
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

async fn upsert(
    State(st): State<AppState>,
    Path((v, object, field, value)): Path<(String, String, String, String)>,
    Extension(caller): CallerExt,
    body: Bytes,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    let name = st.schema.objects[idx].name.clone();
    let body = parse_record(&body, &name)?;
    lock_fault(&st, None)?;
    let ctx = st.write_ctx(&caller.user_id);
    let outcome =
        st.store_mut()
            .upsert(&st.schema, idx, &field, &value, &body, &ctx, &mut vec![])?;
    Ok(match outcome {
        Upserted::Created(id) => (
            StatusCode::CREATED,
            [(
                header::LOCATION,
                format!("/services/data/{v}/sobjects/{name}/{id}"),
            )],
            json_body(&json!({"id": id, "success": true, "errors": [], "created": true})),
        )
            .into_response(),
        Upserted::Updated(id) => {
            json_body(&json!({"id": id, "success": true, "errors": [], "created": false}))
                .into_response()
        }
        Upserted::Multiple(ids) => {
            let urls: Vec<String> = ids
                .iter()
                .map(|id| format!("/services/data/{v}/sobjects/{name}/{id}"))
                .collect();
            (StatusCode::MULTIPLE_CHOICES, json_body(&json!(urls))).into_response()
        }
    })
}

#[derive(Deserialize)]
struct Window {
    start: Option<String>,
    end: Option<String>,
}

/// `start` and `end` in stored timestamp format. An unencoded `+` in an
/// offset arrives as a space, so it is put back.
fn window(w: &Window) -> Result<(String, String), SfError> {
    let one = |name: &str, v: &Option<String>| {
        let raw = v.as_deref().ok_or_else(|| {
            SfError::bad_request("INVALID_INPUT", format!("Missing required parameter {name}: expected a dateTime such as 2025-03-30T17:57:34Z"))
        })?;
        crate::store::parse_datetime(&raw.replace(' ', "+"))
            .map(crate::store::format_datetime)
            .ok_or_else(|| {
                SfError::bad_request("INVALID_INPUT", format!("Invalid parameter {name}: {raw}: expected a dateTime such as 2025-03-30T17:57:34Z"))
            })
    };
    Ok((one("start", &w.start)?, one("end", &w.end)?))
}

/// Ids of records changed in `[start, end)`, for replication-style polling.
async fn updated(
    State(st): State<AppState>,
    Path((_v, object)): Path<(String, String)>,
    Query(w): Query<Window>,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    let (start, end) = window(&w)?;
    let now_ms = st.now_ms();
    let store = st.store();
    let ids: Vec<&str> = store
        .of_object(idx)
        .filter(|r| !r.deleted)
        .filter_map(|r| r.query_view(now_ms))
        .filter(|f| {
            f.get("SystemModstamp")
                .and_then(Value::as_str)
                .is_some_and(|t| t >= start.as_str() && t < end.as_str())
        })
        .filter_map(|f| f.get("Id").and_then(Value::as_str))
        .collect();
    Ok(json_body(&json!({"ids": ids, "latestDateCovered": end})).into_response())
}

/// Records deleted in `[start, end)`.
async fn deleted(
    State(st): State<AppState>,
    Path((_v, object)): Path<(String, String)>,
    Query(w): Query<Window>,
) -> Result<Response, ApiError> {
    let idx = object_index(&st, &object)?;
    let (start, end) = window(&w)?;
    let store = st.store();
    let gone: Vec<Value> = store
        .of_object(idx)
        .filter(|r| r.deleted)
        .filter_map(|r| {
            let at = r.fields.get("SystemModstamp").and_then(Value::as_str)?;
            (at >= start.as_str() && at < end.as_str())
                .then(|| json!({"id": r.id(), "deletedDate": at}))
        })
        .collect();
    Ok(json_body(
        &json!({"deletedRecords": gone, "earliestDateAvailable": start, "latestDateCovered": end}),
    )
    .into_response())
}
