//! The workflow and execution routes over a real server on port 0 and a real database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use db::testing;
use db::Db;
use engine::api::workflows::router;
use engine::store::WorkflowStore;
use engine::workflows::WorkflowService;
use serde_json::{json, Value};

use crate::common::Api;

/// The workflow routes alone (no API key layer) on a free port.
async fn serve(db: Db) -> Api {
    let svc = Arc::new(WorkflowService::new(
        WorkflowStore::new(db),
        core_nodes::executor(),
        None,
        Default::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(svc)).await.unwrap() });
    Api::new(&base, reqwest::Client::new())
}

fn doubling() -> Value {
    json!({
        "name": "double", "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
            {"name": "Double", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                "assignments": {"assignments": [{"id": "a", "name": "d", "value": "={{ $json.n * 2 }}", "type": "number"}]}}}
        ],
        "connections": {"Start": {"main": [[{"node": "Double", "type": "main", "index": 0}]]}}
    })
}

async fn story(db: Db) {
    let api = serve(db).await;

    // Bad input: 400 naming what is wrong; nothing stored.
    let (status, body) = api
        .post_raw("/workflows", "application/json", "{not json")
        .await;
    assert_eq!(status, 400);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("request body:"));
    let mut bad = doubling();
    bad["nodes"][1]["type"] = json!("n8n-nodes-base.nope");
    let (status, body) = api.post_json("/workflows", &bad).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "invalid workflow: node \"Double\": unknown node type \"n8n-nodes-base.nope\""
    );
    let (_, list) = api.get("/workflows").await;
    assert_eq!(list["data"], json!([]));

    // Create, read, replace, activate.
    let (status, created) = api.post_json("/workflows", &doubling()).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        (created["name"].clone(), created["active"].clone()),
        (json!("double"), json!(false))
    );
    let (_, got) = api.get(&format!("/workflows/{id}")).await;
    assert_eq!(got["nodes"], created["nodes"]);
    let mut renamed = doubling();
    renamed["name"] = json!("double it");
    let (_, put) = api.put_json(&format!("/workflows/{id}"), &renamed).await;
    assert_eq!(put["name"], "double it");
    let (_, act) = api.post(&format!("/workflows/{id}/activate")).await;
    assert_eq!(act["active"], true);

    // Run and wait: the finished execution with its run data.
    let (_, done) = api
        .post_json(
            &format!("/workflows/{id}/run?wait=true"),
            &json!({"items": [{"n": 2}, {"n": 5}]}),
        )
        .await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(
        done["data"]["resultData"]["runData"]["Double"][0]["data"]["main"][0][1]["json"],
        json!({"d": 10})
    );

    // Run without waiting: an id at once, the execution stored when it ends.
    let (_, started) = api.post(&format!("/workflows/{id}/run")).await;
    let exec_id = started["executionId"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let execution = loop {
        let (_, e) = api.get(&format!("/executions/{exec_id}")).await;
        if e["status"] != "running" || Instant::now() > deadline {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(execution["status"], "success", "{execution}");
    assert!(
        execution.get("data").is_none(),
        "data only with includeData"
    );
    let (_, listed) = api
        .get(&format!(
            "/executions?workflowId={id}&status=success&limit=1"
        ))
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(listed["nextCursor"].is_string());
    let (status, _) = api.get("/executions?status=bogus").await;
    assert_eq!(status, 400);

    // Deletes and 404s.
    assert_eq!(api.delete(&format!("/executions/{exec_id}")).await.0, 200);
    assert_eq!(api.get(&format!("/executions/{exec_id}")).await.0, 404);
    assert_eq!(api.delete(&format!("/workflows/{id}")).await.0, 200);
    let (status, body) = api.get(&format!("/workflows/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], format!("workflow \"{id}\" not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_api_on_sqlite() {
    let (db, _dir) = testing::sqlite().await;
    story(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    postgres_tests_unset,
    ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
)]
async fn workflow_api_on_postgres() {
    let Some(db) = testing::postgres("workflow_api_on_postgres").await else {
        println!("skipped: no Postgres configured");
        return;
    };
    story(db).await;
}
