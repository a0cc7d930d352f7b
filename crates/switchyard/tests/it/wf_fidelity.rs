//! Behaviours matched to n8n: `$node["X"].json` past the end of X's items, a whole-node
//! failure under continue-on-error, and the time zone of a manual Schedule Trigger item.

use crate::common;

use std::sync::Arc;

use crate::common::{Backend, TestEnv, TestServer, KEY_A};
use node_api::{ExecutionMode, Item};
use reqwest::StatusCode;
use serde_json::{json, Value};
use workflow::{CancelHandle, ExecutionResult, ExecutionStatus, RunRequest, Workflow};

common::on_both_backends!(a_manual_schedule_run_uses_the_triggers_time_zone);

fn node(name: &str, ty: &str, params: Value, extra: Value) -> Value {
    let mut n = json!({"name": name, "type": format!("n8n-nodes-base.{ty}"), "typeVersion": 1,
                       "position": [0, 0], "parameters": params});
    if ty == "set" {
        n["typeVersion"] = json!(3.4);
    }
    for (k, v) in extra.as_object().into_iter().flatten() {
        n[k] = v.clone();
    }
    n
}

fn set(name: &str, field: &str, value: Value) -> Value {
    node(
        name,
        "set",
        json!({"assignments": {"assignments": [{"id": "a", "name": field, "value": value, "type": "string"}]},
               "includeOtherFields": true, "options": {}}),
        json!({}),
    )
}

fn workflow(nodes: Value, chain: &[&str]) -> Arc<Workflow> {
    let mut connections = serde_json::Map::new();
    for pair in chain.windows(2) {
        connections.insert(
            pair[0].to_string(),
            json!({"main": [[{"node": pair[1], "type": "main", "index": 0}]]}),
        );
    }
    Arc::new(
        Workflow::from_value(json!({
            "id": "wf-fidelity", "name": "fidelity", "nodes": nodes,
            "connections": connections, "settings": {"executionOrder": "v1"}
        }))
        .unwrap(),
    )
}

async fn run(wf: Arc<Workflow>, input: Value) -> ExecutionResult {
    let items = input
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Item::from_value(v.clone()).unwrap())
        .collect();
    core_nodes::executor()
        .run(RunRequest {
            workflow: wf,
            execution_id: "exec-1".into(),
            mode: ExecutionMode::Manual,
            start_node: None,
            items,
            cancel: CancelHandle::new(),
            respond_early: None,
        })
        .await
        .unwrap()
}

fn output(r: &ExecutionResult, node: &str) -> Value {
    Value::Array(
        r.output_of(node, 0)
            .unwrap_or(&[])
            .iter()
            .map(|i| i.json.clone().into_value())
            .collect(),
    )
}

/// n8n (`WorkflowDataProxy`, `nodeDataGetter`): `$node["X"].json` for an item index X has no
/// item for is an error saying how many items X has, not X's first item.
#[tokio::test]
async fn node_json_past_the_referenced_nodes_items_is_an_error() {
    let nodes = json!([
        node("Trigger", "manualTrigger", json!({}), json!({})),
        set("One", "name", json!("ada")),
        node(
            "Split",
            "splitOut",
            json!({"fieldToSplitOut": "list"}),
            json!({})
        ),
        set("Use", "from", json!("={{ $node[\"One\"].json.name }}")),
    ]);
    let wf = workflow(nodes, &["Trigger", "One", "Split", "Use"]);

    // One item after Split: index 0 exists in "One".
    let r = run(wf.clone(), json!([{"list": [1]}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(output(&r, "Use"), json!([{"list": 1, "from": "ada"}]));

    // Three items after Split: item 1 has no counterpart in "One".
    let r = run(wf, json!([{"list": [1, 2, 3]}])).await;
    assert_eq!(r.status, ExecutionStatus::Error);
    let err = r.error.unwrap();
    assert_eq!(err.node.as_deref(), Some("Use"));
    assert_eq!(
        err.message,
        "expression in node \"Use\", parameter \"assignments.assignments[0].value\": \
         Error: \"One\" node has 1 item(s) but you're trying to access item 1"
    );
}

/// n8n (`workflow-execute.ts`, `handleNodeExecutionError`): a node that fails as a whole
/// while set to continue passes its input items through unchanged on output 0, its run is
/// recorded as an error with the error, and the workflow goes on.
#[tokio::test]
async fn a_whole_node_failure_that_continues_passes_its_input_through() {
    for setting in [
        json!({"continueOnFail": true}),
        json!({"onError": "continueRegularOutput"}),
        json!({"onError": "continueErrorOutput"}),
    ] {
        let nodes = json!([
            node("Trigger", "manualTrigger", json!({}), json!({})),
            node(
                "Fail",
                "stopAndError",
                json!({"errorMessage": "={{ 'bad ' + $json.id }}"}),
                setting.clone()
            ),
            set("After", "seen", json!("={{ $json.id }}")),
        ]);
        let wf = workflow(nodes, &["Trigger", "Fail", "After"]);
        let r = run(wf, json!([{"id": 1}, {"id": 2}])).await;
        assert_eq!(
            r.status,
            ExecutionStatus::Success,
            "{setting}: {:?}",
            r.error
        );
        assert_eq!(
            output(&r, "After"),
            json!([{"id": 1, "seen": "1"}, {"id": 2, "seen": "2"}]),
            "{setting}"
        );
        let data = r.data_json();
        let fail = &data["resultData"]["runData"]["Fail"][0];
        assert_eq!(fail["executionStatus"], "error", "{setting}: {fail}");
        assert_eq!(fail["error"]["message"], "bad 1", "{setting}: {fail}");
        assert_eq!(
            fail["data"]["main"][0],
            json!([{"json": {"id": 1}, "pairedItem": {"item": 0}},
                   {"json": {"id": 2}, "pairedItem": {"item": 1}}]),
            "{setting}: {fail}"
        );
        assert!(
            data["resultData"].get("error").is_none(),
            "{setting}: {data}"
        );
    }
}

fn schedule_workflow(timezone: Option<&str>) -> Value {
    let mut settings = json!({"executionOrder": "v1"});
    if let Some(tz) = timezone {
        settings["timezone"] = json!(tz);
    }
    json!({
        "name": "scheduled",
        "settings": settings,
        "nodes": [
            {"name": "Schedule", "type": "n8n-nodes-base.scheduleTrigger", "typeVersion": 1.2,
             "position": [0, 0],
             "parameters": {"rule": {"interval": [{"field": "hours", "hoursInterval": 1}]}}}
        ],
        "connections": {}
    })
}

/// The item a manual `/run` of a Schedule Trigger workflow starts with is in the zone the
/// active trigger uses: the workflow's `settings.timezone`, else the server's.
async fn a_manual_schedule_run_uses_the_triggers_time_zone(backend: Backend) {
    let Some(env) =
        TestEnv::new(backend, "a_manual_schedule_run_uses_the_triggers_time_zone").await
    else {
        return;
    };
    let key = env.api_key(KEY_A);
    let mut settings = env.settings(KEY_A, None);
    // Zones without daylight saving, so the offsets hold whatever the date.
    settings.generic_timezone = Some("Asia/Tokyo".into());
    let server = TestServer::start(settings).await;
    let api = server.api(&key);
    for (zone, want) in [
        (None, ("Asia/Tokyo (UTC+09:00)", "+09:00")),
        (Some("DEFAULT"), ("Asia/Tokyo (UTC+09:00)", "+09:00")),
        (Some("Asia/Kolkata"), ("Asia/Kolkata (UTC+05:30)", "+05:30")),
    ] {
        let (status, created) = api
            .post_json("/api/v1/workflows", &schedule_workflow(zone))
            .await;
        assert_eq!(status, StatusCode::OK, "{zone:?}: {created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (_, done) = api
            .post(&format!("/api/v1/workflows/{id}/run?wait=true"))
            .await;
        assert_eq!(done["status"], "success", "{done}");
        let item =
            &done["data"]["resultData"]["runData"]["Schedule"][0]["data"]["main"][0][0]["json"];
        assert_eq!(item["Timezone"], want.0, "{zone:?}: {item}");
        let stamp = item["timestamp"].as_str().unwrap_or_default();
        assert!(stamp.ends_with(want.1), "{zone:?}: {stamp}");
    }
    server.stop().await;
}
