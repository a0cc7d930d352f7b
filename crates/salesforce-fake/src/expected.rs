//! Exact-fixture runs: serve a list of expected calls with canned replies
//! and check afterwards that the org received exactly those calls.
//!
//! The step format is the one of n8n's compatibility suite
//! (`shared/compat/n8n-salesforce/expected-requests.json`), so its
//! workflows can be served as they are:
//!
//! ```json
//! {"method": "GET", "path": "/query", "soql": "SELECT id FROM Account",
//!  "authorization": "Bearer CACHEDTOKEN",
//!  "reply": {"fixture": "fixtures/accounts.json", "wrap": "records"}}
//! {"method": "POST", "path": "/sobjects/task", "body": {"Subject": "Email"},
//!  "reply": {"json": {"id": "id1", "success": true, "errors": []}}}
//! {"method": "DELETE", "path": "/sobjects/task/id1", "reply": {"status": 204}}
//! ```
//!
//! `path` is below `/services/data/vXX.X` (any version). A `json` reply
//! answers 201 to a POST and 200 otherwise unless `status` says; a
//! `fixture` is read relative to the base directory and, with
//! `"wrap": "records"`, served as a finished query page.

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::inspect::RecordedRequest;

/// One step's method, path-and-query, status and body, ready to script.
pub(crate) struct Scripted {
    pub method: String,
    pub path_and_query: String,
    pub status: u16,
    pub body: Value,
}

fn bad(i: usize, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        field: format!("steps[{i}]"),
        reason: reason.into(),
    }
}

fn text<'a>(step: &'a Value, i: usize, key: &str) -> Result<&'a str> {
    step.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(i, format!("{key}: expected a string")))
}

/// Runs of whitespace collapsed and the ends trimmed, as the suite compares SOQL.
pub(crate) fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns steps into scripts, reading fixtures below `base_dir`.
pub(crate) fn scripts(steps: &Value, base_dir: &Path) -> Result<Vec<Scripted>> {
    let steps = steps.as_array().ok_or_else(|| Error::InvalidConfig {
        field: "steps".into(),
        reason: "expected an array of {method, path, soql?, body?, reply}".into(),
    })?;
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let method = text(step, i, "method")?.to_ascii_uppercase();
            let mut path_and_query = text(step, i, "path")?.to_string();
            if let Some(soql) = step.get("soql").and_then(Value::as_str) {
                let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
                path_and_query = format!("{path_and_query}?q={q}");
            }
            let reply = step
                .get("reply")
                .and_then(Value::as_object)
                .ok_or_else(|| bad(i, "reply: expected an object with json, fixture or status"))?;
            let body = match (reply.get("json"), reply.get("fixture")) {
                (Some(j), _) => j.clone(),
                (None, Some(f)) => {
                    let rel = f
                        .as_str()
                        .ok_or_else(|| bad(i, "reply.fixture: expected a file path"))?;
                    let file = base_dir.join(rel);
                    let raw = std::fs::read_to_string(&file).map_err(|e| {
                        bad(
                            i,
                            format!("reply.fixture: cannot read {}: {e}", file.display()),
                        )
                    })?;
                    let v: Value = serde_json::from_str(&raw).map_err(|e| {
                        bad(
                            i,
                            format!("reply.fixture: {} is not JSON: {e}", file.display()),
                        )
                    })?;
                    match reply.get("wrap").and_then(Value::as_str) {
                        None => v,
                        Some("records") => {
                            let n = v.as_array().map_or(0, Vec::len);
                            json!({"totalSize": n, "done": true, "records": v})
                        }
                        Some(other) => {
                            return Err(bad(
                                i,
                                format!("reply.wrap: {other:?}: only \"records\" is known"),
                            ))
                        }
                    }
                }
                (None, None) => Value::Null,
            };
            let default_status = match (method.as_str(), body.is_null()) {
                (_, true) => 204,
                ("POST", false) => 201,
                _ => 200,
            };
            let status = match reply.get("status") {
                None => default_status,
                Some(s) => s
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (100..600).contains(s))
                    .ok_or_else(|| bad(i, "reply.status: expected an HTTP status code"))?,
            };
            Ok(Scripted {
                method,
                path_and_query,
                status,
                body,
            })
        })
        .collect()
}

/// The path below `/services/data/vXX.X`, if the request was a REST call.
fn rest_tail(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/services/data/")?;
    rest.find('/').map(|i| &rest[i..])
}

/// Differences between what the steps expect and the REST calls received,
/// in order; empty when they agree.
pub(crate) fn verify(steps: &Value, received: &[RecordedRequest]) -> Vec<String> {
    let Some(steps) = steps.as_array() else {
        return vec!["steps: expected an array".into()];
    };
    let calls: Vec<&RecordedRequest> = received
        .iter()
        .filter(|r| rest_tail(&r.path).is_some())
        .collect();
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let method = step
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = step.get("path").and_then(Value::as_str).unwrap_or_default();
        let Some(call) = calls.get(i) else {
            out.push(format!(
                "step {i}: expected {method} {path}, but no call was received"
            ));
            continue;
        };
        let tail = rest_tail(&call.path).unwrap_or_default();
        if !call.method.eq_ignore_ascii_case(method) || tail != path {
            out.push(format!(
                "step {i}: expected {method} {path}, received {} {tail}",
                call.method
            ));
            continue;
        }
        if let Some(soql) = step.get("soql").and_then(Value::as_str) {
            let got = call.query_param("q").map(|q| collapse(&q));
            if got.as_deref() != Some(collapse(soql).as_str()) {
                out.push(format!(
                    "step {i}: expected SOQL {:?}, received {:?}",
                    collapse(soql),
                    got.unwrap_or_default()
                ));
            }
        }
        if let Some(body) = step.get("body") {
            if call.json().as_ref() != Some(body) {
                out.push(format!(
                    "step {i}: expected body {body}, received {}",
                    call.body
                ));
            }
        }
        if let Some(auth) = step.get("authorization").and_then(Value::as_str) {
            if !call.authorization_is(auth) {
                out.push(format!(
                    "step {i}: expected Authorization {:?}, received {:?}",
                    auth.split(' ').next().unwrap_or_default().to_string() + " ...",
                    call.header("authorization").unwrap_or("(none)")
                ));
            }
        }
    }
    for (i, extra) in calls.iter().enumerate().skip(steps.len()) {
        out.push(format!(
            "call {i}: {} {} was not expected",
            extra.method,
            rest_tail(&extra.path).unwrap_or_default()
        ));
    }
    out
}
