//! Builders for executor-level tests: n8n-format workflows from a few lines, a run with the
//! core nodes, and a node's output as JSON. No database and no server.
#![allow(dead_code)]

use std::sync::Arc;

use node_api::{ExecutionMode, Item};
use serde_json::{json, Value};
use workflow::{CancelHandle, ExecutionResult, RunRequest, Workflow};

/// A workflow (id `wf-test`, name `test workflow`, v1 order) from nodes and connections given
/// as `(from, output, to, input)`.
pub fn workflow(nodes: Value, connections: &[(&str, usize, &str, usize)]) -> Arc<Workflow> {
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
            "connections": conns, "settings": {"executionOrder": "v1"}
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
pub async fn run_with(
    wf: Arc<Workflow>,
    input: Vec<Item>,
    cancel: CancelHandle,
) -> ExecutionResult {
    core_nodes::executor()
        .run(RunRequest {
            workflow: wf,
            execution_id: "exec-1".into(),
            mode: ExecutionMode::Manual,
            start_node: None,
            items: input,
            cancel,
            respond_early: None,
        })
        .await
        .unwrap()
}

/// Runs `wf` with `input` given as a JSON array.
pub async fn run(wf: Arc<Workflow>, input: Value) -> ExecutionResult {
    run_with(wf, items(input), CancelHandle::new()).await
}

/// The items' JSON as an array.
pub fn jsons(items: &[Item]) -> Value {
    Value::Array(items.iter().map(|i| i.json.clone().into_value()).collect())
}

/// What `node` sent on output `out` (empty when it did not run).
pub fn output(r: &ExecutionResult, node: &str, out: usize) -> Value {
    jsons(r.output_of(node, out).unwrap_or(&[]))
}
