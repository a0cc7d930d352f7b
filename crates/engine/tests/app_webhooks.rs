//! Webhooks through the assembled server: test calls run any saved workflow, production
//! calls only active ones, every call is stored as an execution, oversized bodies get 413.

mod common;

use std::time::Duration;

use common::{client, Backend, TestEnv, TestServer, KEY_A};
use reqwest::StatusCode;
use serde_json::{json, Value};

common::on_both_backends!(webhooks_run_saved_and_active_workflows);

fn orders_workflow() -> Value {
    json!({
        "name": "orders",
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
             "parameters": {"httpMethod": "POST", "path": "orders", "responseMode": "lastNode", "options": {}}},
            {"name": "Total", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                "assignments": {"assignments": [
                    {"id": "a", "name": "total", "value": "={{ $json.body.qty * $json.body.price }}", "type": "number"},
                    {"id": "b", "name": "who", "value": "={{ $json.query.who }}", "type": "string"}
                ]}}}
        ],
        "connections": {"Webhook": {"main": [[{"node": "Total", "type": "main", "index": 0}]]}}
    })
}

async fn webhooks_run_saved_and_active_workflows(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "webhooks_run_saved_and_active_workflows").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = client(&key);
    let res = api
        .post(server.url("/api/v1/workflows"))
        .json(&orders_workflow())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hooks = reqwest::Client::new();
    let order = json!({"qty": 3, "price": 2.5});

    // Not active: production does not answer, a test call runs the saved workflow.
    let res = hooks
        .post(server.url("/webhook/orders"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let message = res.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("POST orders") && message.contains("not registered"),
        "{message}"
    );
    // A test webhook answers only once armed, and only one call.
    let res = hooks
        .post(server.url("/webhook-test/orders?who=ann"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "not armed");
    let res = hooks
        .post(server.url(&format!("/api/v1/workflows/{id}/test-webhook")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "arming needs a key");
    let res = api
        .post(server.url(&format!("/api/v1/workflows/{id}/test-webhook")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let armed: Value = res.json().await.unwrap();
    assert_eq!(
        armed["webhooks"],
        json!([{"method": "POST", "path": "orders"}])
    );
    let res = hooks
        .post(server.url("/webhook-test/orders?who=ann"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"total": 7.5, "who": "ann"})
    );
    let res = hooks
        .post(server.url("/webhook-test/orders?who=ann"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "one call per arming");

    let res = api
        .post(server.url(&format!("/api/v1/workflows/{id}/activate")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = hooks
        .post(server.url("/webhook/orders?who=bo"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"total": 7.5, "who": "bo"})
    );
    let res = hooks
        .get(server.url("/webhook/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "the node listens on POST only"
    );

    // Both calls are stored, with their modes.
    let mut modes = Vec::new();
    for _ in 0..100 {
        let list: Value = api
            .get(server.url(&format!("/api/v1/executions?workflowId={id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rows = list["data"].as_array().unwrap().clone();
        if rows.len() == 2 && rows.iter().all(|r| r["status"] == "success") {
            modes = rows
                .iter()
                .map(|r| r["mode"].as_str().unwrap().to_owned())
                .collect();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    modes.sort();
    assert_eq!(modes, ["manual", "webhook"]);

    // A 50 MB body is refused under the 16 MiB default limit.
    let huge = vec![b'a'; 50 * 1024 * 1024];
    let res = hooks
        .post(server.url("/webhook/orders"))
        .header("content-type", "text/plain")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let res = hooks
        .post(server.url("/webhook/orders"))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    server.stop().await;
}
