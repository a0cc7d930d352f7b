//! The workflow and execution routes over a real server on port 0 and a real database.

use std::sync::Arc;

use db::testing;
use db::Db;
use engine::api::workflows::router;
use engine::store::WorkflowStore;
use engine::workflows::WorkflowService;
use serde_json::{json, Value};
use workflow::Executor;

async fn serve(db: Db) -> String {
    let svc = Arc::new(WorkflowService::new(
        WorkflowStore::new(db),
        Executor::with_core_nodes(),
        None,
        Default::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(svc)).await.unwrap() });
    base
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
    let base = serve(db).await;
    let http = reqwest::Client::new();

    // Bad input: 400 naming what is wrong; nothing stored.
    let r = http
        .post(format!("{base}/workflows"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .starts_with("request body:"));
    let mut bad = doubling();
    bad["nodes"][1]["type"] = json!("n8n-nodes-base.nope");
    let r = http
        .post(format!("{base}/workflows"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "invalid workflow: node \"Double\": unknown node type \"n8n-nodes-base.nope\""
    );
    let list: Value = http
        .get(format!("{base}/workflows"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));

    // Create, read, replace, activate.
    let created: Value = http
        .post(format!("{base}/workflows"))
        .json(&doubling())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        (created["name"].clone(), created["active"].clone()),
        (json!("double"), json!(false))
    );
    let got: Value = http
        .get(format!("{base}/workflows/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["nodes"], created["nodes"]);
    let mut renamed = doubling();
    renamed["name"] = json!("double it");
    let put: Value = http
        .put(format!("{base}/workflows/{id}"))
        .json(&renamed)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(put["name"], "double it");
    let act: Value = http
        .post(format!("{base}/workflows/{id}/activate"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(act["active"], true);

    // Run and wait: the finished execution with its run data.
    let done: Value = http
        .post(format!("{base}/workflows/{id}/run?wait=true"))
        .json(&json!({"items": [{"n": 2}, {"n": 5}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(
        done["data"]["resultData"]["runData"]["Double"][0]["data"]["main"][0][1]["json"],
        json!({"d": 10})
    );

    // Run without waiting: an id at once, the execution stored when it ends.
    let started: Value = http
        .post(format!("{base}/workflows/{id}/run"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let exec_id = started["executionId"].as_str().unwrap().to_string();
    let mut status = Value::Null;
    for _ in 0..1500 {
        let e: Value = http
            .get(format!("{base}/executions/{exec_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        status = e["status"].clone();
        if status != "running" {
            assert!(e.get("data").is_none(), "data only with includeData");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "success");
    let listed: Value = http
        .get(format!(
            "{base}/executions?workflowId={id}&status=success&limit=1"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(listed["nextCursor"].is_string());
    let r = http
        .get(format!("{base}/executions?status=bogus"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Deletes and 404s.
    assert_eq!(
        http.delete(format!("{base}/executions/{exec_id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/executions/{exec_id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        http.delete(format!("{base}/workflows/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = http
        .get(format!("{base}/workflows/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        format!("workflow \"{id}\" not found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_api_on_sqlite() {
    let (db, _dir) = testing::sqlite().await;
    story(db).await;
}

#[cfg_attr(
    postgres_tests_unset,
    ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_api_on_postgres() {
    let Some(db) = testing::postgres("workflow_api_on_postgres").await else {
        println!("skipped: no Postgres configured");
        return;
    };
    story(db).await;
}
