//! Record writes above the bulk threshold (`NodeSettings::bulk_threshold`, 10,000 by
//! default): Bulk API 2.0 ingest jobs, one per object and operation (and more when the CSV
//! would pass Salesforce's upload limit), each created, given its CSV, closed, polled to
//! completion with a growing delay, and read back.
//!
//! Salesforce echoes each row's own columns in its results, in no promised order, so rows
//! are matched back to their items by their cells; identical rows are interchangeable and
//! take their items in order. A refused row fails only its item, as with sObject
//! Collections; a job that fails as a whole fails every item it carried. The job is
//! processed as a whole before any result is read, so without continue-on-fail the node
//! fails naming the first refused item after every other row was written.
//!
//! Cells follow Bulk API rules: an empty cell leaves a field as it is (an item without a
//! field another item sets), `#N/A` sets it to null (JSON `null`, or an empty string, which
//! the single-record calls store as null too).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use node_api::NodeError;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::api::{node_error, segment};
use super::batch::{accepted, Kind, Write};
use super::{Outputs, Run};
use crate::client::Call;
use crate::error::{ApiError, Error};

/// Salesforce takes at most 150 MB per upload (of the base64 form); a job's CSV stays well
/// below.
const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// How Bulk API jobs are polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkPolling {
    /// The first wait after closing a job; each later one doubles, up to `max_delay`.
    pub first_delay: Duration,
    /// The longest wait between two polls.
    pub max_delay: Duration,
    /// How long a job may take; past it the job is aborted and its items fail.
    pub timeout: Duration,
}

impl Default for BulkPolling {
    /// Polls after 1 s, doubling to 15 s, for at most 30 minutes.
    fn default() -> Self {
        BulkPolling {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15),
            timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// One job's rows: its columns, and each item with its cells.
struct Job<'w> {
    object: &'w str,
    kind: &'w Kind,
    columns: Vec<String>,
    rows: Vec<(&'w Write, Vec<String>)>,
}

fn operation(kind: &Kind) -> &'static str {
    match kind {
        Kind::Create => "insert",
        Kind::Update => "update",
        Kind::Upsert(_) => "upsert",
        Kind::Delete => "delete",
    }
}

/// A value as a Bulk API cell.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "#N/A".into(),
        Value::String(s) if s.is_empty() => "#N/A".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// The columns and cells of `writes` (one object, one kind).
fn rows<'w>(object: &'w str, kind: &'w Kind, writes: &[&'w Write]) -> Job<'w> {
    let mut columns: Vec<String> = Vec::new();
    let key_column = match kind {
        Kind::Create => None,
        Kind::Update | Kind::Delete => Some("Id".to_owned()),
        Kind::Upsert(field) => Some(field.clone()),
    };
    columns.extend(key_column.clone());
    if *kind != Kind::Delete {
        for w in writes {
            for name in w.fields.keys() {
                if !columns.iter().any(|c| c.eq_ignore_ascii_case(name)) {
                    columns.push(name.clone());
                }
            }
        }
    }
    let rows = writes
        .iter()
        .map(|w| {
            let cells = columns
                .iter()
                .enumerate()
                .map(|(i, column)| {
                    if i == 0 && key_column.is_some() {
                        return w.key.clone().unwrap_or_default();
                    }
                    w.fields
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(column))
                        .map(|(_, v)| cell(v))
                        .unwrap_or_default()
                })
                .collect();
            (*w, cells)
        })
        .collect();
    Job {
        object,
        kind,
        columns,
        rows,
    }
}

fn csv_bytes(columns: &[String], rows: &[(&Write, Vec<String>)]) -> Result<Vec<u8>, NodeError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let failed = |e: csv::Error| NodeError::operation(format!("could not write the CSV: {e}"));
    w.write_record(columns).map_err(failed)?;
    for (_, cells) in rows {
        w.write_record(cells).map_err(failed)?;
    }
    w.into_inner()
        .map_err(|e| NodeError::operation(format!("could not write the CSV: {e}")))
}

/// Splits a job whose CSV would pass the upload limit.
fn split(job: Job<'_>) -> Vec<Job<'_>> {
    let header: usize = job.columns.iter().map(|c| c.len() + 3).sum();
    let mut parts: Vec<Job<'_>> = Vec::new();
    let mut size = usize::MAX;
    for row in job.rows {
        let len: usize = row.1.iter().map(|c| c.len() + 3).sum();
        if size.saturating_add(len) > MAX_UPLOAD_BYTES {
            parts.push(Job {
                object: job.object,
                kind: job.kind,
                columns: job.columns.clone(),
                rows: Vec::new(),
            });
            size = header;
        }
        size += len;
        if let Some(last) = parts.last_mut() {
            last.rows.push(row);
        }
    }
    parts
}

/// Sends `writes` as Bulk API 2.0 jobs and records each item's outcome in `out`.
pub(crate) async fn send(
    run: &Run<'_>,
    writes: &[Write],
    out: &mut Outputs,
) -> Result<(), NodeError> {
    let mut groups: Vec<((String, Kind), Vec<&Write>)> = Vec::new();
    for w in writes {
        let key = (w.object.to_ascii_lowercase(), w.kind.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(w),
            None => groups.push((key, vec![w])),
        }
    }
    let mut results: Vec<(usize, Result<Value, NodeError>)> = Vec::with_capacity(writes.len());
    for ((_, kind), list) in &groups {
        for job in split(rows(&list[0].object, kind, list)) {
            run_job(run, job, &mut results).await;
        }
    }
    results.sort_by_key(|(item, _)| *item);
    for (item, result) in results {
        match result {
            Ok(json) => out.push(item, json),
            Err(e) => out.fail(item, e)?,
        }
    }
    Ok(())
}

/// Runs one job; every row of it gets a result.
async fn run_job(
    run: &Run<'_>,
    job: Job<'_>,
    results: &mut Vec<(usize, Result<Value, NodeError>)>,
) {
    let items: Vec<usize> = job.rows.iter().map(|(w, _)| w.item).collect();
    let fail_all = |e: NodeError, results: &mut Vec<(usize, Result<Value, NodeError>)>| {
        results.extend(items.iter().map(|&i| (i, Err(e.clone()))));
    };
    let started = std::time::Instant::now();
    let id = match create_and_upload(run, &job).await {
        Ok(id) => id,
        Err(e) => return fail_all(e, results),
    };
    let info = match poll(run, &id, job.rows.len()).await {
        Ok(info) => info,
        Err(e) => return fail_all(e, results),
    };
    let state = info["state"].as_str().unwrap_or_default().to_owned();
    let mut unmatched: HashMap<String, VecDeque<&Write>> = HashMap::new();
    for (w, cells) in &job.rows {
        unmatched.entry(row_key(cells)).or_default().push_back(w);
    }
    let path = |tail: &str| format!("/jobs/ingest/{}/{tail}", segment(&id));
    match read_csv(run, &path("successfulResults")).await {
        Ok(rows) => {
            for row in rows {
                let (sf, mine) = row.split_at(2.min(row.len()));
                if let Some(w) = unmatched
                    .get_mut(&row_key(mine))
                    .and_then(VecDeque::pop_front)
                {
                    let id = sf.first().filter(|s| !s.is_empty()).cloned();
                    let created = sf.get(1).map(|c| c == "true");
                    results.push((w.item, Ok(accepted(job.kind, id, created))));
                }
            }
        }
        Err(e) => return fail_remaining(unmatched, e, results),
    }
    match read_csv(run, &path("failedResults")).await {
        Ok(rows) => {
            for row in rows {
                let (sf, mine) = row.split_at(2.min(row.len()));
                if let Some(w) = unmatched
                    .get_mut(&row_key(mine))
                    .and_then(VecDeque::pop_front)
                {
                    let error = sf.get(1).map(String::as_str).unwrap_or_default();
                    results.push((w.item, Err(row_error(error))));
                }
            }
        }
        Err(e) => return fail_remaining(unmatched, e, results),
    }
    let left = unmatched.values().map(VecDeque::len).sum::<usize>();
    tracing::info!(
        parent: run.ctx.span(),
        job = %id,
        object = job.object,
        operation = operation(job.kind),
        state = %state,
        records = job.rows.len(),
        failed = info["numberRecordsFailed"].as_u64().unwrap_or(0),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Bulk API job finished"
    );
    if left > 0 {
        let why = match info["errorMessage"].as_str() {
            Some(m) => {
                format!("Bulk API job {id} ended {state} without processing this record: {m}")
            }
            None => format!("Bulk API job {id} ended {state} without a result for this record"),
        };
        fail_remaining(unmatched, NodeError::operation(why), results);
    }
}

fn fail_remaining(
    unmatched: HashMap<String, VecDeque<&Write>>,
    e: NodeError,
    results: &mut Vec<(usize, Result<Value, NodeError>)>,
) {
    for w in unmatched.into_values().flatten() {
        results.push((w.item, Err(e.clone())));
    }
}

/// The cells of a row as one key (a separator no cell text can hold unescaped).
fn row_key(cells: &[String]) -> String {
    cells.join("\u{1f}")
}

/// `sf__Error`: `CODE:message:Field1,Field2 --`.
fn row_error(text: &str) -> NodeError {
    let text = text.trim_end();
    let text = text.strip_suffix("--").unwrap_or(text).trim_end();
    let (code, rest) = text.split_once(':').unwrap_or(("", text));
    let (message, fields) = rest.rsplit_once(':').unwrap_or((rest, ""));
    let fields: Vec<String> = fields
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    super::batch::refused(&[ApiError {
        error_code: code.to_owned(),
        message: message.to_owned(),
        fields,
    }])
}

/// Creates the job, uploads its CSV and closes it; the job's id.
async fn create_and_upload(run: &Run<'_>, job: &Job<'_>) -> Result<String, NodeError> {
    let mut definition = json!({
        "object": job.object,
        "operation": operation(job.kind),
        "contentType": "CSV",
        "lineEnding": "LF",
    });
    if let Kind::Upsert(field) = job.kind {
        definition["externalIdFieldName"] = json!(field);
    }
    let created = run
        .api
        .send_json(Method::POST, "/jobs/ingest", &definition)
        .await
        .map_err(|e| node_error(&e))?;
    let id = created.body["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            NodeError::api(
                created.status,
                "Salesforce created a Bulk API job without an id",
            )
        })?
        .to_owned();
    let csv = csv_bytes(&job.columns, &job.rows)?;
    tracing::info!(parent: run.ctx.span(), job = %id, object = job.object, operation = operation(job.kind), records = job.rows.len(), bytes = csv.len(), "Bulk API job created; uploading");
    let batches = format!("/jobs/ingest/{}/batches", segment(&id));
    let upload = Call::new(Method::PUT, &batches).raw("text/csv", &csv);
    let closing = async {
        run.api.call(&upload).await?;
        run.api
            .send_json(
                Method::PATCH,
                &format!("/jobs/ingest/{}", segment(&id)),
                &json!({"state": "UploadComplete"}),
            )
            .await
    };
    if let Err(e) = closing.await {
        abort(run, &id).await;
        return Err(node_error(&e));
    }
    Ok(id)
}

/// Polls the job until it is `JobComplete`, `Failed` or `Aborted`; its last info.
async fn poll(run: &Run<'_>, id: &str, records: usize) -> Result<Value, NodeError> {
    let polling = run.node.settings.bulk;
    let deadline = Instant::now() + polling.timeout;
    let mut delay = polling.first_delay;
    let path = format!("/jobs/ingest/{}", segment(id));
    loop {
        tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))).await;
        let info = run.api.get(&path).await.map_err(|e| node_error(&e))?.body;
        let state = info["state"].as_str().unwrap_or_default();
        tracing::info!(
            parent: run.ctx.span(),
            job = %id,
            state,
            processed = info["numberRecordsProcessed"].as_u64().unwrap_or(0),
            failed = info["numberRecordsFailed"].as_u64().unwrap_or(0),
            records,
            "Bulk API job progress"
        );
        if matches!(state, "JobComplete" | "Failed" | "Aborted") {
            return Ok(info);
        }
        if Instant::now() >= deadline {
            abort(run, id).await;
            return Err(NodeError::operation(format!(
                "Bulk API job {id} did not finish within {} s (last state {state}); it was aborted",
                polling.timeout.as_secs()
            )));
        }
        delay = (delay * 2).min(polling.max_delay);
    }
}

/// Aborts a job that will not be used, so it does not linger in the org; failures only
/// logged (the job's own failure is what the user needs to see).
async fn abort(run: &Run<'_>, id: &str) {
    let path = format!("/jobs/ingest/{}", segment(id));
    if let Err(e) = run
        .api
        .send_json(Method::PATCH, &path, &json!({"state": "Aborted"}))
        .await
    {
        tracing::warn!(job = %id, error = %e, "could not abort the Bulk API job");
    }
}

/// A results CSV, without its header.
async fn read_csv(run: &Run<'_>, path: &str) -> Result<Vec<Vec<String>>, NodeError> {
    let res = run.api.get(path).await.map_err(|e| node_error(&e))?;
    let text = match res.body {
        Value::String(s) => s,
        Value::Null => return Ok(Vec::new()),
        other => {
            return Err(node_error(&Error::Unexpected {
                status: res.status,
                what: "Bulk API results",
                detail: format!(
                    "expected CSV, got {}",
                    node_api::item::json_type_name(&other)
                ),
            }))
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            r.map(|row| row.iter().map(str::to_owned).collect())
                .map_err(|e| {
                    node_error(&Error::Unexpected {
                        status: res.status,
                        what: "Bulk API results",
                        detail: format!("unreadable CSV: {e}"),
                    })
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::JsonObject;

    fn write(item: usize, kind: Kind, key: Option<&str>, fields: Value) -> Write {
        Write {
            item,
            path_object: "contact".into(),
            object: "Contact".into(),
            kind,
            key: key.map(str::to_owned),
            fields: fields.as_object().cloned().unwrap_or_else(JsonObject::new),
            checks: Vec::new(),
        }
    }

    #[test]
    fn columns_are_the_union_and_cells_follow_bulk_rules() {
        let kind = Kind::Upsert("Email".into());
        let a = write(
            0,
            kind.clone(),
            Some("a@x.com"),
            json!({"LastName": "A", "Age__c": 3}),
        );
        let b = write(
            1,
            kind.clone(),
            Some("b@x.com"),
            json!({"LastName": null, "Active__c": true}),
        );
        let c = write(2, kind.clone(), Some("c@x.com"), json!({"lastname": ""}));
        let job = rows("Contact", &kind, &[&a, &b, &c]);
        assert_eq!(job.columns, ["Email", "LastName", "Age__c", "Active__c"]);
        let cells: Vec<&Vec<String>> = job.rows.iter().map(|(_, c)| c).collect();
        assert_eq!(cells[0], &["a@x.com", "A", "3", ""]);
        assert_eq!(cells[1], &["b@x.com", "#N/A", "", "true"]);
        assert_eq!(cells[2], &["c@x.com", "#N/A", "", ""]);
        let csv = String::from_utf8(csv_bytes(&job.columns, &job.rows).unwrap()).unwrap();
        assert_eq!(
            csv,
            "Email,LastName,Age__c,Active__c\na@x.com,A,3,\nb@x.com,#N/A,,true\nc@x.com,#N/A,,\n"
        );
        let delete = write(0, Kind::Delete, Some("003x"), json!({}));
        let job = rows("Contact", &Kind::Delete, &[&delete]);
        assert_eq!(job.columns, ["Id"]);
    }

    #[test]
    fn a_row_error_keeps_code_message_and_fields() {
        let e =
            row_error("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --");
        assert_eq!(e.error_code.as_deref(), Some("REQUIRED_FIELD_MISSING"));
        assert_eq!(e.message, "Required fields are missing: [LastName]");
        assert_eq!(e.fields, ["LastName"]);
        let e = row_error("INVALID_EMAIL_ADDRESS:Email: invalid email address: x:--");
        assert_eq!(e.message, "Email: invalid email address: x");
        assert!(e.fields.is_empty());
    }
}
