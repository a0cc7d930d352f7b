//! The executor against our own n8n-format workflows: branching, merging, retries,
//! continue-on-fail, error outputs, node settings, expression variables, limits, validation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use node_api::CredentialRef;
use serde_json::{json, Value};
use workflow::{
    validate, CancelHandle, CredentialLookup, ExecutionStatus, Workflow, WorkflowError,
};

use crate::flows::{items, jsons, node, output, run, run_with, trigger, workflow};

fn set(name: &str, assignments: Value, include_other: bool, y: i64) -> Value {
    let list: Vec<Value> = assignments
        .as_object()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let (value, ty) = (v[0].clone(), v[1].as_str().unwrap().to_string());
            json!({"id": format!("a{i}"), "name": k, "value": value, "type": ty})
        })
        .collect();
    node(
        name,
        "set",
        3.4,
        json!({"assignments": {"assignments": list}, "includeOtherFields": include_other, "options": {}}),
        y,
    )
}

#[tokio::test]
async fn if_routes_items_and_merge_appends_true_branch_first() {
    let wf = workflow(
        json!([
            trigger(),
            node(
                "If",
                "if",
                2.2,
                json!({"conditions": {
                "options": {"caseSensitive": true, "typeValidation": "strict"},
                "conditions": [{"leftValue": "={{ $json.n }}", "rightValue": 2,
                                "operator": {"type": "number", "operation": "gt"}}],
                "combinator": "and"}}),
                0
            ),
            set("Big", json!({"size": ["big", "string"]}), true, -100),
            set("Small", json!({"size": ["small", "string"]}), true, 100),
            node("Merge", "merge", 3.2, json!({}), 0),
        ]),
        &[
            ("Trigger", 0, "If", 0),
            ("If", 0, "Big", 0),
            ("If", 1, "Small", 0),
            ("Big", 0, "Merge", 0),
            ("Small", 0, "Merge", 1),
        ],
    );
    let r = run(wf, json!([{"n": 1}, {"n": 3}, {"n": 2}, {"n": 5}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(r.last_node.as_deref(), Some("Merge"));
    assert_eq!(
        jsons(r.last_node_output()),
        json!([{"n": 3, "size": "big"}, {"n": 5, "size": "big"},
               {"n": 1, "size": "small"}, {"n": 2, "size": "small"}])
    );
    // Run data has n8n's shape: one run per node, with its source.
    let data = r.data_json();
    assert_eq!(
        data["resultData"]["runData"]["Merge"][0]["source"][1]["previousNode"],
        "Small"
    );
    assert_eq!(
        data["resultData"]["runData"]["If"][0]["data"]["main"][1][0]["json"]["n"],
        1
    );
    assert_eq!(data["resultData"]["lastNodeExecuted"], "Merge");
}

#[tokio::test]
async fn merge_runs_with_one_input_when_the_other_branch_is_empty() {
    let wf = workflow(
        json!([
            trigger(),
            node(
                "If",
                "if",
                2.2,
                json!({"conditions": {"conditions": [
                {"leftValue": "={{ $json.ok }}", "rightValue": "", "operator": {"type": "boolean", "operation": "true"}}
            ], "combinator": "and"}}),
                0
            ),
            node("Merge", "merge", 3.2, json!({}), 0),
        ]),
        &[
            ("Trigger", 0, "If", 0),
            ("If", 0, "Merge", 0),
            ("If", 1, "Merge", 1),
        ],
    );
    let r = run(wf, json!([{"ok": true}, {"ok": true}])).await;
    assert_eq!(output(&r, "Merge", 0), json!([{"ok": true}, {"ok": true}]));
}

#[tokio::test]
async fn merge_by_position_and_choose_branch() {
    let wf = workflow(
        json!([
            trigger(),
            set("A", json!({"a": ["={{ $json.i }}", "number"]}), false, -100),
            set(
                "B",
                json!({"b": ["={{ $json.i * 10 }}", "number"]}),
                false,
                100
            ),
            node(
                "ByPosition",
                "merge",
                3.2,
                json!({"mode": "combine", "combineBy": "combineByPosition"}),
                0
            ),
            node(
                "Choose",
                "merge",
                3.2,
                json!({"mode": "chooseBranch", "useDataOfInput": 2}),
                200
            ),
        ]),
        &[
            ("Trigger", 0, "A", 0),
            ("Trigger", 0, "B", 0),
            ("A", 0, "ByPosition", 0),
            ("B", 0, "ByPosition", 1),
            ("A", 0, "Choose", 0),
            ("B", 0, "Choose", 1),
        ],
    );
    let r = run(wf, json!([{"i": 1}, {"i": 2}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(
        output(&r, "ByPosition", 0),
        json!([{"a": 1, "b": 10}, {"a": 2, "b": 20}])
    );
    assert_eq!(output(&r, "Choose", 0), json!([{"b": 10}, {"b": 20}]));
}

/// A real HTTP server on port 0 that fails `fail_first` times with 503, then answers, and
/// records what it received.
struct TestServer {
    url: String,
    hits: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Value>>>,
}

async fn server(fail_first: usize) -> TestServer {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    type S = (Arc<AtomicUsize>, Arc<Mutex<Vec<Value>>>, usize);
    async fn flaky(State((hits, _, fail)): State<S>) -> (StatusCode, Json<Value>) {
        let n = hits.fetch_add(1, Ordering::SeqCst);
        if n < fail {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"message": "busy"})),
            )
        } else {
            (StatusCode::OK, Json(json!({"attempt": n + 1})))
        }
    }
    async fn echo(
        State((hits, seen, _)): State<S>,
        Query(q): Query<serde_json::Map<String, Value>>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        hits.fetch_add(1, Ordering::SeqCst);
        let rec = json!({"query": q, "x-token": headers.get("x-token").and_then(|v| v.to_str().ok()), "body": body});
        seen.lock().unwrap().push(rec.clone());
        Json(json!([{"echo": rec}, {"second": true}]))
    }
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(10)).await;
        "late"
    }
    let app = Router::new()
        .route("/flaky", get(flaky))
        .route("/echo", post(echo))
        .route("/slow", get(slow))
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "nothing here") }),
        )
        .with_state((hits.clone(), seen.clone(), fail_first));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer { url, hits, seen }
}

fn http_node(name: &str, url: &str, extra: Value) -> Value {
    let mut n = node(
        name,
        "httpRequest",
        4.2,
        json!({"url": url, "options": {}}),
        0,
    );
    for (k, v) in extra.as_object().unwrap() {
        n[k] = v.clone();
    }
    n
}

#[tokio::test]
async fn retry_on_fail_retries_until_the_server_answers() {
    let srv = server(2).await;
    let wf = workflow(
        json!([
            trigger(),
            http_node(
                "Call",
                &format!("{}/flaky", srv.url),
                json!({"retryOnFail": true, "maxTries": 3, "waitBetweenTries": 10})
            )
        ]),
        &[("Trigger", 0, "Call", 0)],
    );
    let r = run(wf, json!([{}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(output(&r, "Call", 0), json!([{"attempt": 3}]));
    assert_eq!(srv.hits.load(Ordering::SeqCst), 3);

    // Without retries the same server fails the execution on the first 503, naming the node.
    let srv = server(1).await;
    let wf = workflow(
        json!([
            trigger(),
            http_node("Call", &format!("{}/flaky", srv.url), json!({}))
        ]),
        &[("Trigger", 0, "Call", 0)],
    );
    let r = run(wf, json!([{}])).await;
    assert_eq!(r.status, ExecutionStatus::Error);
    let err = r.error.unwrap();
    assert_eq!(err.node.as_deref(), Some("Call"));
    assert!(
        err.message.starts_with("Service unavailable"),
        "{}",
        err.message
    );
    assert_eq!(err.node_error.unwrap().http_code, Some(503));
}

#[tokio::test]
async fn http_request_sends_query_headers_and_json_body() {
    let srv = server(0).await;
    let wf = workflow(
        json!([
            trigger(),
            http_node(
                "Post",
                &format!("{}/echo", srv.url),
                json!({"parameters": {
                    "method": "POST", "url": format!("{}/echo", srv.url),
                    "sendQuery": true, "queryParameters": {"parameters": [{"name": "q", "value": "={{ $json.term }}"}]},
                    "sendHeaders": true, "headerParameters": {"parameters": [{"name": "X-Token", "value": "t-1"}]},
                    "sendBody": true, "specifyBody": "json", "jsonBody": "={{ JSON.stringify({term: $json.term, n: 2}) }}",
                    "options": {}
                }})
            )
        ]),
        &[("Trigger", 0, "Post", 0)],
    );
    let r = run(wf, json!([{"term": "ada"}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    let want = json!({"query": {"q": "ada"}, "x-token": "t-1", "body": {"term": "ada", "n": 2}});
    assert_eq!(srv.seen.lock().unwrap().clone(), vec![want.clone()]);
    // A JSON array answer becomes one item per element.
    assert_eq!(
        output(&r, "Post", 0),
        json!([{"echo": want}, {"second": true}])
    );
}

#[tokio::test]
async fn continue_on_fail_turns_errors_into_items_and_the_workflow_goes_on() {
    let srv = server(0).await;
    for setting in [
        json!({"continueOnFail": true}),
        json!({"onError": "continueRegularOutput"}),
    ] {
        let wf = workflow(
            json!([
                trigger(),
                http_node("Call", &format!("{}/missing", srv.url), setting),
                set(
                    "After",
                    json!({"seen": ["={{ $json.httpCode }}", "string"]}),
                    true,
                    0
                )
            ]),
            &[("Trigger", 0, "Call", 0), ("Call", 0, "After", 0)],
        );
        let r = run(wf, json!([{}])).await;
        assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
        assert_eq!(
            output(&r, "After", 0),
            json!([{"error": "The resource you are requesting could not be found",
                    "description": "nothing here", "httpCode": "404", "seen": "404"}])
        );
    }
}

#[tokio::test]
async fn error_output_routes_failures_to_their_own_branch() {
    let wf = workflow(
        json!([
            trigger(),
            {"name": "Fail", "type": "n8n-nodes-base.stopAndError", "typeVersion": 1, "position": [0, 0],
             "parameters": {"errorMessage": "={{ 'bad ' + $json.id }}"}, "onError": "continueErrorOutput"},
            set("Handle", json!({"handled": [true, "boolean"]}), true, 0),
        ]),
        &[("Trigger", 0, "Fail", 0), ("Fail", 0, "Handle", 0)],
    );
    // Stop and Error has no regular output, so its error output is output 0. It fails as a
    // whole, so (as in n8n) its input passes through there and the run records the error.
    let r = run(wf, json!([{"id": 7}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(output(&r, "Handle", 0), json!([{"id": 7, "handled": true}]));
    assert_eq!(
        r.data_json()["resultData"]["runData"]["Fail"][0]["error"]["message"],
        "bad 7"
    );

    let wf = workflow(
        json!([
            trigger(),
            {"name": "Check", "type": "n8n-nodes-base.if", "typeVersion": 2.2, "position": [0, 0],
             "parameters": {"conditions": {"conditions": [{"leftValue": "={{ $json.v }}", "rightValue": 1,
                "operator": {"type": "number", "operation": "equals"}}]}},
             "onError": "continueErrorOutput"},
            set("Errors", json!({"branch": ["error", "string"]}), true, 0),
        ]),
        &[("Trigger", 0, "Check", 0), ("Check", 2, "Errors", 0)],
    );
    // A string where a number is required fails strict validation; with continue-on-fail If
    // sends it to "false", so the error branch stays empty and the item is on output 1.
    let r = run(wf, json!([{"v": "one"}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(output(&r, "Check", 1), json!([{"v": "one"}]));
    assert!(r.output_of("Errors", 0).is_none());
}

#[tokio::test]
async fn stop_and_error_fails_the_execution_naming_the_node() {
    let wf = workflow(
        json!([
            trigger(),
            node(
                "Stop",
                "stopAndError",
                1.0,
                json!({"errorMessage": "={{ 'no ' + $json.x }}"}),
                0
            ),
            set("Never", json!({"a": [1, "number"]}), false, 0)
        ]),
        &[("Trigger", 0, "Stop", 0), ("Stop", 0, "Never", 0)],
    );
    let r = run(wf, json!([{"x": "way"}])).await;
    assert_eq!(r.status, ExecutionStatus::Error);
    let err = r.error.clone().unwrap();
    assert_eq!(
        (err.node.as_deref(), err.message.as_str()),
        (Some("Stop"), "no way")
    );
    assert!(!r.run_data.contains_key("Never"));
    assert_eq!(
        r.data_json()["resultData"]["runData"]["Stop"][0]["executionStatus"],
        "error"
    );
    assert_eq!(r.data_json()["resultData"]["error"]["node"], "Stop");
}

#[tokio::test]
async fn disabled_always_output_data_and_execute_once() {
    let mut disabled = set("Off", json!({"x": [1, "number"]}), false, 0);
    disabled["disabled"] = json!(true);
    let mut once = set(
        "Once",
        json!({"first": ["={{ $json.n }}", "number"]}),
        false,
        0,
    );
    once["executeOnce"] = json!(true);
    let mut always = node(
        "Nothing",
        "filter",
        2.2,
        json!({"conditions": {"conditions": [
        {"leftValue": "={{ $json.n }}", "rightValue": 100, "operator": {"type": "number", "operation": "gt"}}]}}),
        0,
    );
    always["alwaysOutputData"] = json!(true);
    let wf = workflow(
        json!([trigger(), disabled, once, always]),
        &[
            ("Trigger", 0, "Off", 0),
            ("Off", 0, "Once", 0),
            ("Trigger", 0, "Nothing", 0),
        ],
    );
    let r = run(wf, json!([{"n": 1}, {"n": 2}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(output(&r, "Off", 0), json!([{"n": 1}, {"n": 2}]));
    assert_eq!(output(&r, "Once", 0), json!([{"first": 1}]));
    assert_eq!(output(&r, "Nothing", 0), json!([{}]));
}

#[tokio::test]
async fn pin_data_replaces_a_node_in_manual_runs() {
    let wf = Workflow::from_value(json!({
        "name": "pinned",
        "nodes": [trigger(), set("Source", json!({"live": [true, "boolean"]}), false, 0)],
        "connections": {"Trigger": {"main": [[{"node": "Source", "type": "main", "index": 0}]]}},
        "pinData": {"Source": [{"json": {"pinned": 1}}]}
    }))
    .unwrap();
    let r = run(Arc::new(wf), json!([{}])).await;
    assert_eq!(output(&r, "Source", 0), json!([{"pinned": 1}]));
}

#[tokio::test]
async fn every_expression_variable_resolves() {
    let mut input = items(json!([{"name": "ada", "n": 1}, {"name": "bob", "n": 2}]));
    input[1].binary = Some(
        [(
            "file".to_string(),
            node_api::BinaryData {
                data: "aGk=".into(),
                mime_type: "text/plain".into(),
                file_name: Some("hi.txt".into()),
                ..Default::default()
            },
        )]
        .into(),
    );
    let wf = workflow(
        json!([
            trigger(),
            set(
                "Up",
                json!({"upper": ["={{ $json.name.toUpperCase() }}", "string"]}),
                true,
                0
            ),
            set(
                "Vars",
                json!({
                    "json": ["={{ $json.upper }}", "string"],
                    "binaryName": ["={{ $binary.file ? $binary.file.fileName : 'none' }}", "string"],
                    "inputItem": ["={{ $input.item.json.n }}", "number"],
                    "inputAll": ["={{ $input.all().length }}", "number"],
                    "inputFirst": ["={{ $input.first().json.name }}", "string"],
                    "pairedItem": ["={{ $('Trigger').item.json.name }}", "string"],
                    "firstOf": ["={{ $('Trigger').first().json.n }}", "number"],
                    "allOf": ["={{ $('Up').all().map(i => i.json.upper).join(',') }}", "string"],
                    "legacyNode": ["={{ $node[\"Up\"].json.upper }}", "string"],
                    "nowYear": ["={{ $now.year >= 2024 && $now.toISO().length > 10 }}", "boolean"],
                    "today": ["={{ $today.hour + $today.minute }}", "number"],
                    "dateMath": ["={{ DateTime.fromISO('2024-01-31T10:00:00Z').plus({days: 1}).toFormat('yyyy-MM-dd') }}", "string"],
                    "execution": ["={{ $execution.id }}", "string"],
                    "workflow": ["={{ $workflow.id + '/' + $workflow.name }}", "string"],
                    "itemIndex": ["={{ $itemIndex }}", "number"],
                    "runIndex": ["={{ $runIndex }}", "number"],
                }),
                false,
                0
            ),
        ]),
        &[("Trigger", 0, "Up", 0), ("Up", 0, "Vars", 0)],
    );
    let r = run_with(wf, input, CancelHandle::new()).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    let common = |json: &str, bin: &str, n: i64, name: &str, idx: i64| {
        json!({
            "json": json, "binaryName": bin, "inputItem": n, "inputAll": 2, "inputFirst": "ada",
            "pairedItem": name, "firstOf": 1, "allOf": "ADA,BOB", "legacyNode": json, "nowYear": true,
            "today": 0, "dateMath": "2024-02-01", "execution": "exec-1", "workflow": "wf-test/test workflow",
            "itemIndex": idx, "runIndex": 0
        })
    };
    assert_eq!(
        output(&r, "Vars", 0),
        json!([
            common("ADA", "none", 1, "ada", 0),
            common("BOB", "hi.txt", 2, "bob", 1)
        ])
    );
}

#[tokio::test]
async fn an_expression_that_loops_forever_fails_the_execution_clearly() {
    let wf = workflow(
        json!([
            trigger(),
            set(
                "Loop",
                json!({"x": ["={{ (() => { for (;;) {} })() }}", "string"]}),
                false,
                0
            )
        ]),
        &[("Trigger", 0, "Loop", 0)],
    );
    let started = std::time::Instant::now();
    let r = run(wf, json!([{}])).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.status, ExecutionStatus::Error);
    let err = r.error.unwrap();
    assert_eq!(err.node.as_deref(), Some("Loop"));
    assert_eq!(
        err.message,
        "expression in node \"Loop\", parameter \"assignments.assignments[0].value\": expression took longer than 1000 ms and was stopped"
    );
}

#[tokio::test]
async fn an_expression_syntax_error_names_node_and_parameter() {
    let wf = workflow(
        json!([
            trigger(),
            set(
                "Bad",
                json!({"x": ["={{ $json.a +* 2 }}", "string"]}),
                false,
                0
            )
        ]),
        &[("Trigger", 0, "Bad", 0)],
    );
    let r = run(wf, json!([{"a": 1}])).await;
    let err = r.error.unwrap();
    assert!(
        err.message.starts_with("expression in node \"Bad\", parameter \"assignments.assignments[0].value\": SyntaxError"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn execution_timeout_and_cancel_stop_a_slow_node() {
    let srv = server(0).await;
    let mut wf = (*workflow(
        json!([
            trigger(),
            http_node("Slow", &format!("{}/slow", srv.url), json!({}))
        ]),
        &[("Trigger", 0, "Slow", 0)],
    ))
    .clone();
    wf.settings.as_mut().unwrap().execution_timeout = Some(1);
    let started = std::time::Instant::now();
    let r = run(Arc::new(wf.clone()), json!([{}])).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.status, ExecutionStatus::Error);
    assert_eq!(r.error.unwrap().message, "execution timed out after 1 s");

    wf.settings.as_mut().unwrap().execution_timeout = None;
    let cancel = CancelHandle::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.cancel();
    });
    let started = std::time::Instant::now();
    let r = run_with(Arc::new(wf), items(json!([{}])), cancel).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.status, ExecutionStatus::Canceled);
}

struct Store;

#[async_trait]
impl CredentialLookup for Store {
    async fn credential_type(&self, r: &CredentialRef) -> Option<String> {
        (r.id.as_deref() == Some("c1")).then(|| "httpHeaderAuth".to_string())
    }
}

#[tokio::test]
async fn validation_names_every_offending_node() {
    let wf = Workflow::from_value(json!({
        "name": "broken",
        "nodes": [
            trigger(),
            node("Mystery", "doesNotExist", 1.0, json!({}), 0),
            node("Old Set", "set", 1.0, json!({}), 0),
            node("Split", "splitOut", 1.0, json!({}), 0),
            node("Split", "noOp", 1.0, json!({}), 0),
            {"name": "Creds", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "parameters": {"url": "http://x"},
             "credentials": {"salesforceOAuth2Api": {"id": "c9", "name": "SF"}}},
        ],
        "connections": {"Trigger": {"main": [[{"node": "Ghost", "type": "main", "index": 0}]]}}
    }))
    .unwrap();
    let registry = core_nodes::executor();
    let err = validate(&wf, registry.registry(), Some(&Store))
        .await
        .unwrap_err();
    let WorkflowError::Invalid(problems) = &err else {
        panic!("{err}")
    };
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        vec![
            "node \"Mystery\": unknown node type \"n8n-nodes-base.doesNotExist\"",
            "node \"Old Set\": node type \"n8n-nodes-base.set\" has no version 1.0 (supported: 3, 3.1, 3.2, 3.3, 3.4)",
            "node \"Split\": Parameter \"fieldToSplitOut\" is required",
            "node \"Split\": duplicate node name; names must be unique",
            "node \"Creds\": credential type \"salesforceOAuth2Api\" is not accepted by this node (accepts: httpBasicAuth, httpHeaderAuth, httpQueryAuth, httpBearerAuth, oAuth2Api)",
            "node \"Trigger\": connects to node \"Ghost\", which does not exist",
        ]
    );
    // Malformed JSON is refused with the parser's reason.
    let err = Workflow::from_json("{\"nodes\": 3}").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid workflow JSON: invalid type"),
        "{err}"
    );
}
