//! Builders for the node tests: n8n-format workflows from a few lines, a run with the core
//! nodes, and a node's output as JSON, with or without `pairedItem`.
#![allow(dead_code)]

use std::sync::Arc;

use node_api::{ExecutionMode, Item};
use serde_json::{json, Value};
use workflow::{CancelHandle, ExecutionResult, Executor, RunRequest, Workflow};

/// A workflow (id `wf-test`, name `test workflow`, v1 order) from nodes and connections given
/// as `(from, output, to, input)`.
pub fn workflow(nodes: Value, connections: &[(&str, usize, &str, usize)]) -> Arc<Workflow> {
    workflow_with_settings(nodes, connections, json!({"executionOrder": "v1"}))
}

/// [`workflow`] with its own settings.
pub fn workflow_with_settings(
    nodes: Value,
    connections: &[(&str, usize, &str, usize)],
    settings: Value,
) -> Arc<Workflow> {
    let mut conns = serde_json::Map::new();
    for (from, out, to, input) in connections {
        let entry = conns
            .entry(from.to_string())
            .or_insert_with(|| json!({"main": []}));
        let main = entry["main"].as_array_mut().unwrap();
        while main.len() <= *out {
            main.push(json!([]));
        }
        main[*out]
            .as_array_mut()
            .unwrap()
            .push(json!({"node": to, "type": "main", "index": input}));
    }
    Arc::new(
        Workflow::from_value(json!({
            "id": "wf-test", "name": "test workflow", "nodes": nodes,
            "connections": conns, "settings": settings
        }))
        .unwrap(),
    )
}

/// A core node `n8n-nodes-base.{ty}` at height `y`.
pub fn node(name: &str, ty: &str, version: f64, params: Value, y: i64) -> Value {
    json!({"name": name, "type": format!("n8n-nodes-base.{ty}"), "typeVersion": version,
           "position": [0, y], "parameters": params})
}

/// The Manual Trigger, named `Trigger`.
pub fn trigger() -> Value {
    node("Trigger", "manualTrigger", 1.0, json!({}), 0)
}

/// A Set node (v3.4) adding `fields` (name -> expression or value, as strings) to each item.
pub fn set(name: &str, fields: &[(&str, &str)], y: i64) -> Value {
    let assignments: Vec<Value> = fields
        .iter()
        .enumerate()
        .map(|(i, (k, v))| json!({"id": format!("a{i}"), "name": k, "value": v, "type": "string"}))
        .collect();
    node(
        name,
        "set",
        3.4,
        json!({"assignments": {"assignments": assignments}, "includeOtherFields": true, "options": {}}),
        y,
    )
}

/// Items from a JSON array of objects.
pub fn items(values: Value) -> Vec<Item> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Item::from_value(v.clone()).unwrap())
        .collect()
}

/// Runs `wf` manually (execution id `exec-1`) from its trigger with `input`.
pub async fn run_on(executor: &Executor, wf: Arc<Workflow>, input: Value) -> ExecutionResult {
    executor
        .run(RunRequest {
            workflow: wf,
            execution_id: "exec-1".into(),
            mode: ExecutionMode::Manual,
            start_node: None,
            items: items(input),
            cancel: CancelHandle::new(),
            respond_early: None,
        })
        .await
        .unwrap()
}

/// Runs `wf` with `input` given as a JSON array, with the core nodes.
pub async fn run(wf: Arc<Workflow>, input: Value) -> ExecutionResult {
    run_on(&core_nodes::executor(), wf, input).await
}

/// The items' JSON as an array.
pub fn jsons(items: &[Item]) -> Value {
    Value::Array(items.iter().map(|i| i.json.clone().into_value()).collect())
}

/// What `node` sent on output `out` in its last run (empty when it did not run).
pub fn output(r: &ExecutionResult, node: &str, out: usize) -> Value {
    jsons(r.output_of(node, out).unwrap_or(&[]))
}

/// Output `out` of `node`'s last run as n8n records items: `{json, pairedItem, binary?}`.
pub fn full(r: &ExecutionResult, node: &str, out: usize) -> Value {
    serde_json::to_value(r.output_of(node, out).unwrap_or(&[])).unwrap()
}

/// `node`'s runs in n8n's run data shape.
pub fn runs(r: &ExecutionResult, node: &str) -> Vec<Value> {
    r.data_json()["resultData"]["runData"][node]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The message of the execution's failure.
pub fn failure(r: &ExecutionResult) -> String {
    r.error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_default()
}

/// Asserts the execution succeeded, showing the error when it did not.
#[track_caller]
pub fn assert_ok(r: &ExecutionResult) {
    assert_eq!(
        r.status,
        workflow::ExecutionStatus::Success,
        "{:?}",
        r.error
    );
}
