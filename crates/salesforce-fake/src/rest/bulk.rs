//! Bulk API 2.0 ingest: `/jobs/ingest`. A job is created (`Open`), gets one
//! CSV upload, is closed (`UploadComplete`) and then processed: the next
//! job-info polls show `InProgress` (how many is configurable, see
//! `FakeOrgBuilder::bulk_polls`), and the poll after them runs the rows
//! through the same write rules as the sObject calls and shows
//! `JobComplete` (or `Failed` when the file itself is unusable). Results
//! come back as CSV with Salesforce's `sf__` columns.
//!
//! Processing is driven by polls, not by a background task, so a test sees
//! the same sequence every run. It is linear in the number of rows: upserts
//! look external ids up in an index built once per job.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Router};
use csv::{QuoteStyle, StringRecord, Terminator};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::sobjects::parse_json;
use super::CallerExt;
use crate::error::{json_body, ApiError, SfError};
use crate::schema::{FieldType, ObjectSchema};
use crate::state::AppState;
use crate::store::{format_datetime, Undo};

pub(super) fn routes() -> Router<AppState> {
    let base = "/services/data/{v}/jobs/ingest";
    let mut r = Router::new()
        .route(base, get(list).post(create))
        .route(&format!("{base}/"), get(list).post(create))
        .route(
            &format!("{base}/{{id}}"),
            get(info).patch(change_state).delete(delete),
        )
        .route(&format!("{base}/{{id}}/batches"), put(upload))
        .route(&format!("{base}/{{id}}/batches/"), put(upload));
    // Salesforce documents these with a trailing slash; clients send both.
    for (tail, kind) in [
        ("successfulResults", ResultKind::Successful),
        ("failedResults", ResultKind::Failed),
        ("unprocessedrecords", ResultKind::Unprocessed),
    ] {
        let handler = get(move |st, p| results(st, p, kind));
        r = r
            .route(&format!("{base}/{{id}}/{tail}"), handler.clone())
            .route(&format!("{base}/{{id}}/{tail}/"), handler);
    }
    r
}

/// The DML a job applies to every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Insert,
    Update,
    Upsert,
    Delete,
    HardDelete,
}

impl Operation {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "insert" => Self::Insert,
            "update" => Self::Update,
            "upsert" => Self::Upsert,
            "delete" => Self::Delete,
            "hardDelete" => Self::HardDelete,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Upsert => "upsert",
            Self::Delete => "delete",
            Self::HardDelete => "hardDelete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    Open,
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

impl JobState {
    fn name(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::UploadComplete => "UploadComplete",
            Self::InProgress => "InProgress",
            Self::JobComplete => "JobComplete",
            Self::Failed => "Failed",
            Self::Aborted => "Aborted",
        }
    }
}

/// `columnDelimiter` values and their bytes.
const DELIMITERS: &[(&str, u8)] = &[
    ("COMMA", b','),
    ("TAB", b'\t'),
    ("PIPE", b'|'),
    ("SEMICOLON", b';'),
    ("CARET", b'^'),
    ("BACKQUOTE", b'`'),
];

/// What happened to one row.
enum Outcome {
    Done { id: String, created: bool },
    Failed { id: String, error: String },
}

/// One ingest job.
pub(crate) struct Job {
    id: String,
    object: String,
    object_idx: usize,
    operation: Operation,
    external_id: Option<String>,
    crlf: bool,
    delimiter: (&'static str, u8),
    created_by: String,
    created_date: String,
    modstamp: String,
    api_version: f64,
    state: JobState,
    data: Option<Bytes>,
    polls_left: u32,
    error_message: Option<String>,
    header: StringRecord,
    rows: Vec<StringRecord>,
    /// One per processed row, in row order; rows past its end were not processed.
    outcomes: Vec<Outcome>,
    processing_ms: u64,
}

/// Every ingest job of the org, by id (ids sort in creation order).
#[derive(Default)]
pub(crate) struct BulkJobs {
    jobs: BTreeMap<String, Job>,
    seq: u64,
}

fn invalid_job(message: impl Into<String>) -> SfError {
    SfError::bad_request("INVALIDJOB", message)
}

/// A request that the job's current state does not allow.
fn wrong_state(message: impl Into<String>) -> SfError {
    SfError::new(StatusCode::CONFLICT, "INVALIDJOBSTATE", message)
}

fn version_number(v: &str) -> f64 {
    v.trim_start_matches('v').parse().unwrap_or(0.0)
}

impl Job {
    /// The short form Salesforce returns on create, close and abort.
    fn summary(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "operation": self.operation.name(),
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.modstamp,
            "state": self.state.name(),
        });
        if let Some(f) = &self.external_id {
            v["externalIdFieldName"] = json!(f);
        }
        let rest = json!({
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.api_version,
            "contentUrl": format!("services/data/v{:.1}/jobs/ingest/{}/batches", self.api_version, self.id),
            "lineEnding": if self.crlf { "CRLF" } else { "LF" },
            "columnDelimiter": self.delimiter.0,
        });
        if let (Some(o), Value::Object(r)) = (v.as_object_mut(), rest) {
            o.extend(r);
        }
        v
    }

    /// The full job info, with counts and timings.
    fn info(&self) -> Value {
        let mut v = self.summary();
        let failed = self
            .outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Failed { .. }))
            .count();
        let extra = json!({
            "jobType": "V2Ingest",
            "numberRecordsProcessed": self.outcomes.len(),
            "numberRecordsFailed": failed,
            "retries": 0,
            "totalProcessingTime": self.processing_ms,
            "apiActiveProcessingTime": self.processing_ms,
            "apexProcessingTime": 0,
        });
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
            if let Some(m) = &self.error_message {
                o.insert("errorMessage".into(), json!(m));
            }
        }
        v
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateJob {
    object: Option<String>,
    operation: Option<String>,
    external_id_field_name: Option<String>,
    content_type: Option<String>,
    line_ending: Option<String>,
    column_delimiter: Option<String>,
}

async fn create(
    State(st): State<AppState>,
    Path(v): Path<String>,
    Extension(caller): CallerExt,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: CreateJob = serde_json::from_value(parse_json(&body)?).map_err(|e| {
        SfError::bad_request(
            "JSON_PARSER_ERROR",
            format!("Expected a job definition {{\"object\", \"operation\", \"externalIdFieldName\", \"contentType\", \"lineEnding\", \"columnDelimiter\"}}: {e}"),
        )
    })?;
    let object = req
        .object
        .ok_or_else(|| invalid_job("InvalidJob : Required field is missing: object"))?;
    let object_idx = st
        .schema
        .index_of(&object)
        .ok_or_else(|| invalid_job(format!("InvalidJob : Invalid object: {object}")))?;
    let obj = &st.schema.objects[object_idx];
    let op_text = req
        .operation
        .ok_or_else(|| invalid_job("InvalidJob : Required field is missing: operation"))?;
    let operation = Operation::parse(&op_text).ok_or_else(|| {
        invalid_job(format!(
            "InvalidJob : Invalid operation: {op_text}: expected insert, update, upsert, delete or hardDelete"
        ))
    })?;
    let external_id = match (operation, req.external_id_field_name) {
        (Operation::Upsert, None) => return Err(invalid_job(
            "InvalidJob : External ID field name is required for upsert: set externalIdFieldName",
        )
        .into()),
        (Operation::Upsert, Some(name)) => {
            let f = obj
                .field(&name)
                .filter(|f| f.external_id || f.ty == FieldType::Id)
                .ok_or_else(|| {
                    invalid_job(format!(
                        "InvalidJob : The field {name} on {} is not an external id field",
                        obj.name
                    ))
                })?;
            Some(f.name.clone())
        }
        (_, _) => None,
    };
    if let Some(ct) = req.content_type.filter(|c| c != "CSV") {
        return Err(invalid_job(format!(
            "InvalidJob : Invalid contentType: {ct}: the only valid value is CSV"
        ))
        .into());
    }
    let crlf = match req.line_ending.as_deref() {
        None | Some("LF") => false,
        Some("CRLF") => true,
        Some(other) => {
            return Err(invalid_job(format!(
                "InvalidJob : Invalid lineEnding: {other}: expected LF or CRLF"
            ))
            .into())
        }
    };
    let delimiter = match req.column_delimiter.as_deref() {
        None => DELIMITERS[0],
        Some(name) => *DELIMITERS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            invalid_job(format!(
                "InvalidJob : Invalid columnDelimiter: {name}: expected COMMA, TAB, PIPE, SEMICOLON, CARET or BACKQUOTE"
            ))
        })?,
    };
    let now = format_datetime(st.now());
    let mut bulk = st.lock(&st.bulk);
    bulk.seq += 1;
    let id = crate::ids::make("750", bulk.seq);
    let job = Job {
        id: id.clone(),
        object: obj.name.clone(),
        object_idx,
        operation,
        external_id,
        crlf,
        delimiter,
        created_by: caller.user_id,
        created_date: now.clone(),
        modstamp: now,
        api_version: version_number(&v),
        state: JobState::Open,
        data: None,
        polls_left: 0,
        error_message: None,
        header: StringRecord::new(),
        rows: Vec::new(),
        outcomes: Vec::new(),
        processing_ms: 0,
    };
    let body = job.summary();
    bulk.jobs.insert(id, job);
    Ok(json_body(&body).into_response())
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(rename = "jobType")]
    job_type: Option<String>,
}

async fn list(
    State(st): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Response, ApiError> {
    let bulk = st.lock(&st.bulk);
    let records: Vec<Value> = bulk
        .jobs
        .values()
        .filter(|_| p.job_type.as_deref().is_none_or(|t| t == "V2Ingest"))
        .map(|j| {
            let mut v = j.summary();
            v["jobType"] = json!("V2Ingest");
            v
        })
        .collect();
    Ok(
        json_body(&json!({"done": true, "records": records, "nextRecordsUrl": null}))
            .into_response(),
    )
}

fn not_found() -> SfError {
    SfError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

async fn upload(
    State(st): State<AppState>,
    Path((_v, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    if !is_csv {
        return Err(SfError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Job data must be sent with Content-Type: text/csv",
        )
        .into());
    }
    let mut bulk = st.lock(&st.bulk);
    let job = bulk.jobs.get_mut(&id).ok_or_else(not_found)?;
    if job.state != JobState::Open {
        return Err(wrong_state(format!(
            "Job data can only be uploaded to an Open job; job {id} is {}",
            job.state.name()
        ))
        .into());
    }
    if job.data.is_some() {
        return Err(wrong_state(format!(
            "Found multiple contents for job: <{id}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job."
        ))
        .into());
    }
    job.data = Some(body);
    Ok(StatusCode::CREATED.into_response())
}

#[derive(Deserialize)]
struct StateChange {
    state: String,
}

async fn change_state(
    State(st): State<AppState>,
    Path((_v, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let change: StateChange = serde_json::from_value(parse_json(&body)?).map_err(|e| {
        SfError::bad_request(
            "JSON_PARSER_ERROR",
            format!("Expected {{\"state\": \"UploadComplete\" or \"Aborted\"}}: {e}"),
        )
    })?;
    let polls = st.bulk_polls();
    let now = format_datetime(st.now());
    let mut bulk = st.lock(&st.bulk);
    let job = bulk.jobs.get_mut(&id).ok_or_else(not_found)?;
    match change.state.as_str() {
        "UploadComplete" => {
            if job.state != JobState::Open {
                return Err(wrong_state(format!(
                    "Only an Open job can be closed; job {id} is {}",
                    job.state.name()
                ))
                .into());
            }
            job.state = JobState::UploadComplete;
            job.polls_left = polls;
        }
        "Aborted" => {
            if !matches!(
                job.state,
                JobState::Open | JobState::UploadComplete | JobState::InProgress
            ) {
                return Err(wrong_state(format!(
                    "Aborting already {} Job not allowed",
                    job.state.name()
                ))
                .into());
            }
            // Parsed so that unprocessedrecords can list what was uploaded.
            let _ = parse_upload(job);
            job.state = JobState::Aborted;
        }
        other => {
            return Err(SfError::bad_request(
                "INVALIDJOBSTATE",
                format!("Invalid state: {other}: a job can be set to UploadComplete or Aborted"),
            )
            .into())
        }
    }
    job.modstamp = now;
    Ok(json_body(&job.summary()).into_response())
}

async fn info(
    State(st): State<AppState>,
    Path((_v, id)): Path<(String, String)>,
    Extension(caller): CallerExt,
) -> Result<Response, ApiError> {
    let mut bulk = st.lock(&st.bulk);
    let job = bulk.jobs.get_mut(&id).ok_or_else(not_found)?;
    match job.state {
        JobState::UploadComplete | JobState::InProgress if job.polls_left > 0 => {
            job.polls_left -= 1;
            job.state = JobState::InProgress;
        }
        JobState::UploadComplete | JobState::InProgress => {
            let started = std::time::Instant::now();
            process(&st, job, &caller.user_id);
            job.processing_ms = started.elapsed().as_millis() as u64;
            job.modstamp = format_datetime(st.now());
        }
        _ => {}
    }
    Ok(json_body(&job.info()).into_response())
}

async fn delete(
    State(st): State<AppState>,
    Path((_v, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut bulk = st.lock(&st.bulk);
    let job = bulk.jobs.get(&id).ok_or_else(not_found)?;
    if matches!(job.state, JobState::Open | JobState::InProgress) {
        return Err(wrong_state(format!(
            "A job can be deleted once it is UploadComplete, JobComplete, Failed or Aborted; job {id} is {}",
            job.state.name()
        ))
        .into());
    }
    bulk.jobs.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reads the uploaded CSV into the job's header and rows (once), so that
/// results and unprocessed records can echo them back.
fn parse_upload(job: &mut Job) -> Result<(), String> {
    let Some(data) = job.data.clone() else {
        return Ok(());
    };
    if !job.header.is_empty() {
        return Ok(());
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(job.delimiter.1)
        .has_headers(true)
        .from_reader(&data[..]);
    job.header = reader
        .headers()
        .map_err(|e| format!("InvalidBatch : Failed to parse CSV header: {e}"))?
        .clone();
    for (n, row) in reader.records().enumerate() {
        let row =
            row.map_err(|e| format!("InvalidBatch : Failed to parse CSV row {}: {e}", n + 1))?;
        job.rows.push(row);
    }
    Ok(())
}

/// Marks the whole job failed; its rows stay unprocessed.
fn fail(job: &mut Job, message: String) {
    job.state = JobState::Failed;
    job.error_message = Some(message);
    job.outcomes.clear();
}

/// Parses the upload and applies every row, as the poll that completes the
/// job. File-level problems (line endings, unknown columns, bad CSV) fail
/// the job before any row is written, as Salesforce does.
fn process(st: &AppState, job: &mut Job, user_id: &str) {
    if job.data.is_none() {
        return fail(
            job,
            "InvalidBatch : No data was uploaded for this job".into(),
        );
    }
    if let Err(message) = parse_upload(job) {
        return fail(job, message);
    }
    let data = job.data.clone().unwrap_or_default();
    let has_crlf = data.windows(2).any(|w| w == b"\r\n");
    let has_bare_lf = data
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\n' && (i == 0 || data[i - 1] != b'\r'));
    if (!job.crlf && has_crlf) || (job.crlf && has_bare_lf) {
        let setting = if job.crlf { "CRLF" } else { "LF" };
        return fail(
            job,
            format!("ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is {setting}"),
        );
    }
    let obj = &st.schema.objects[job.object_idx];
    let mut columns = Vec::with_capacity(job.header.len());
    for name in job.header.iter() {
        match obj.field(name.trim()) {
            Some(f) => columns.push(f.name.clone()),
            None => {
                return fail(
                    job,
                    format!("InvalidBatch : Field name not found : {}", name.trim()),
                )
            }
        }
    }
    let id_col = columns.iter().position(|c| c == "Id");
    let needs_id = matches!(
        job.operation,
        Operation::Update | Operation::Delete | Operation::HardDelete
    );
    if needs_id && id_col.is_none() {
        return fail(
            job,
            "InvalidBatch : Field name not provided: Id (update and delete jobs need an Id column)"
                .into(),
        );
    }
    let ext_col = match &job.external_id {
        Some(ext) => match columns.iter().position(|c| c == ext) {
            Some(i) => Some(i),
            None => {
                return fail(
                    job,
                    format!(
                    "InvalidBatch : Field name not provided: {ext} (the job's externalIdFieldName)"
                ),
                )
            }
        },
        None => None,
    };
    job.state = JobState::JobComplete;
    let ctx = st.write_ctx(user_id);
    let mut store = st.store_mut();
    let mut index = job
        .external_id
        .as_ref()
        .map(|f| store.index_by(job.object_idx, f));
    let mut undo = Undo::new();
    let mut outcomes = Vec::with_capacity(job.rows.len());
    for row in &job.rows {
        let row_id = id_col
            .and_then(|i| row.get(i))
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        let result = if st.take_lock_row() {
            Err(SfError::bad_request(
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access to this record",
            ))
        } else {
            match job.operation {
                Operation::Insert => row_fields(obj, &columns, row, None)
                    .and_then(|body| {
                        store.create(&st.schema, job.object_idx, &body, &ctx, &mut undo)
                    })
                    .map(|id| (id, true)),
                Operation::Update => row_fields(obj, &columns, row, id_col)
                    .and_then(|body| {
                        store.update(&st.schema, job.object_idx, &row_id, &body, &ctx, &mut undo)
                    })
                    .map(|id| (id, false)),
                Operation::Delete => store
                    .delete(Some(job.object_idx), &row_id, &ctx, &mut undo)
                    .map(|id| (id, false)),
                Operation::HardDelete => store
                    .hard_delete(job.object_idx, &row_id)
                    .map(|id| (id, false)),
                Operation::Upsert => {
                    let col = ext_col.unwrap_or_default();
                    let field = &columns[col];
                    let value = row.get(col).unwrap_or_default().trim().to_string();
                    let index = index.as_mut().expect("upsert jobs have an index");
                    row_fields(obj, &columns, row, None).and_then(|body| {
                        upsert_row(
                            st,
                            &mut store,
                            job.object_idx,
                            field,
                            &value,
                            &body,
                            &ctx,
                            index,
                        )
                    })
                }
            }
        };
        undo.clear();
        outcomes.push(match result {
            Ok((id, created)) => Outcome::Done { id, created },
            Err(e) => Outcome::Failed {
                id: if needs_id { row_id } else { String::new() },
                error: bulk_error(&e),
            },
        });
    }
    job.outcomes = outcomes;
}

/// One upsert row against the job's external-id index.
#[allow(clippy::too_many_arguments)]
fn upsert_row(
    st: &AppState,
    store: &mut crate::store::Store,
    object: usize,
    field: &str,
    value: &str,
    body: &Map<String, Value>,
    ctx: &crate::store::WriteCtx,
    index: &mut HashMap<String, Vec<String>>,
) -> Result<(String, bool), SfError> {
    if value.is_empty() {
        return Err(
            SfError::bad_request("MISSING_ARGUMENT", format!("{field} not specified"))
                .with_fields(vec![field.to_string()]),
        );
    }
    if field == "Id" {
        return store
            .update(&st.schema, object, value, body, ctx, &mut Undo::new())
            .map(|id| (id, false));
    }
    let key = value.to_lowercase();
    match index.get(&key).map(Vec::as_slice) {
        // The index says nothing matches: create at once rather than let
        // `Store::upsert` scan every record of the object again.
        None | Some([]) => {
            let mut with_key = body.clone();
            with_key.insert(field.to_string(), Value::String(value.to_string()));
            let id = store.create(&st.schema, object, &with_key, ctx, &mut Undo::new())?;
            index.entry(key).or_default().push(id.clone());
            Ok((id, true))
        }
        Some([one]) => {
            let one = one.clone();
            store
                .update(&st.schema, object, &one, body, ctx, &mut Undo::new())
                .map(|id| (id, false))
        }
        Some(_) => Err(SfError::bad_request(
            "DUPLICATE_EXTERNAL_ID",
            format!("{field}: more than one record found for external id field: {value}"),
        )
        .with_fields(vec![field.to_string()])),
    }
}

/// A CSV row as the JSON fields the store validates. Empty cells are left
/// out (Bulk API ignores them); `#N/A` sets a field to null. Checkbox text
/// becomes a boolean; other values stay text for the field's own rules.
fn row_fields(
    obj: &ObjectSchema,
    columns: &[String],
    row: &StringRecord,
    skip: Option<usize>,
) -> Result<Map<String, Value>, SfError> {
    let mut body = Map::with_capacity(columns.len());
    for (i, (name, cell)) in columns.iter().zip(row.iter()).enumerate() {
        if Some(i) == skip || cell.is_empty() {
            continue;
        }
        let value = if cell == "#N/A" {
            Value::Null
        } else {
            let is_checkbox = obj.field(name).is_some_and(|f| f.ty == FieldType::Boolean);
            match (is_checkbox, cell.to_ascii_lowercase().as_str()) {
                (true, "true" | "1" | "yes") => Value::Bool(true),
                (true, "false" | "0" | "no") => Value::Bool(false),
                _ => Value::String(cell.to_string()),
            }
        };
        body.insert(name.clone(), value);
    }
    Ok(body)
}

/// `sf__Error` text: `CODE:message:Field1,Field2 --`, as Salesforce
/// writes record errors in Bulk API results.
fn bulk_error(e: &SfError) -> String {
    let fields = e.fields.as_deref().unwrap_or_default();
    if fields.is_empty() {
        format!("{}:{}:--", e.code, e.message)
    } else {
        format!("{}:{}:{} --", e.code, e.message, fields.join(","))
    }
}

#[derive(Debug, Clone, Copy)]
enum ResultKind {
    Successful,
    Failed,
    Unprocessed,
}

/// A CSV writer with the job's delimiter and line ending.
fn writer(job: &Job, quote: QuoteStyle) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(job.delimiter.1)
        .terminator(if job.crlf {
            Terminator::CRLF
        } else {
            Terminator::Any(b'\n')
        })
        .quote_style(quote)
        .from_writer(Vec::new())
}

/// The header line: the `sf__` columns quoted, then the client's own
/// column names as it sent them.
fn header_line(job: &Job, sf_columns: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, c) in sf_columns.iter().enumerate() {
        if i > 0 {
            out.push(job.delimiter.1);
        }
        out.extend_from_slice(format!("\"{c}\"").as_bytes());
    }
    if job.header.is_empty() {
        if !out.is_empty() {
            out.extend_from_slice(if job.crlf { b"\r\n" } else { b"\n" });
        }
        return out;
    }
    if !out.is_empty() {
        out.push(job.delimiter.1);
    }
    let mut w = writer(job, QuoteStyle::Necessary);
    let _ = w.write_record(job.header.iter());
    out.extend(w.into_inner().unwrap_or_default());
    out
}

fn csv_rows<'a>(
    job: &Job,
    rows: impl Iterator<Item = (Vec<&'a str>, &'a StringRecord)>,
) -> Vec<u8> {
    let mut w = writer(job, QuoteStyle::Always);
    for (prefix, row) in rows {
        let _ = w.write_record(prefix.into_iter().chain(row.iter()));
    }
    w.into_inner().unwrap_or_default()
}

async fn results(
    State(st): State<AppState>,
    Path((_v, id)): Path<(String, String)>,
    kind: ResultKind,
) -> Result<Response, ApiError> {
    let bulk = st.lock(&st.bulk);
    let job = bulk.jobs.get(&id).ok_or_else(not_found)?;
    if !matches!(
        job.state,
        JobState::JobComplete | JobState::Failed | JobState::Aborted
    ) {
        return Err(wrong_state(format!(
            "Results are available once the job is JobComplete, Failed or Aborted; job {id} is {}",
            job.state.name()
        ))
        .into());
    }
    let mut body = match kind {
        ResultKind::Successful => header_line(job, &["sf__Id", "sf__Created"]),
        ResultKind::Failed => header_line(job, &["sf__Id", "sf__Error"]),
        ResultKind::Unprocessed => header_line(job, &[]),
    };
    let paired = job.outcomes.iter().zip(job.rows.iter());
    let rows = match kind {
        ResultKind::Successful => csv_rows(
            job,
            paired.filter_map(|(o, row)| match o {
                Outcome::Done { id, created } => Some((
                    vec![id.as_str(), if *created { "true" } else { "false" }],
                    row,
                )),
                Outcome::Failed { .. } => None,
            }),
        ),
        ResultKind::Failed => csv_rows(
            job,
            paired.filter_map(|(o, row)| match o {
                Outcome::Failed { id, error } => Some((vec![id.as_str(), error.as_str()], row)),
                Outcome::Done { .. } => None,
            }),
        ),
        ResultKind::Unprocessed => {
            let done = job.outcomes.len();
            csv_rows(job, job.rows.iter().skip(done).map(|row| (Vec::new(), row)))
        }
    };
    body.extend(rows);
    Ok(([(header::CONTENT_TYPE, "text/csv")], body).into_response())
}
