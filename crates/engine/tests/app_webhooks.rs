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

/// Past the webhook concurrency and its queue, a call gets 503 with `Retry-After` at once
/// and no execution; the queued call runs once a slot frees. `/metrics` shows the engine's
/// counters (executions by mode, webhook answers by status) and the waiting gauge.
#[tokio::test(flavor = "multi_thread")]
async fn webhook_calls_past_the_queue_get_503_and_metrics_show_it() {
    let env = TestEnv::new(Backend::Sqlite, "webhook_gate").await.unwrap();
    let key = env.api_key(KEY_A);
    let mut settings = env.settings(KEY_A, None);
    settings.webhook_concurrency = 1;
    settings.webhook_queue = 1;
    let server = TestServer::start(settings).await;
    let api = client(&key);

    // An endpoint that holds each call until released.
    let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
    let release = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hold_url = format!("http://{}/hold", listener.local_addr().unwrap());
    let hold = axum::Router::new().route(
        "/hold",
        axum::routing::get({
            let (arrived, release) = (arrived.clone(), release.clone());
            move || async move {
                arrived.notify_one();
                release.acquire().await.unwrap().forget();
                axum::Json(json!({"held": true}))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, hold).await.unwrap() });
    let res = api
        .post(server.url("/api/v1/workflows"))
        .json(&json!({
            "name": "gated", "settings": {"executionOrder": "v1"},
            "nodes": [
                {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                 "parameters": {"httpMethod": "POST", "path": "gated", "responseMode": "lastNode", "options": {}}},
                {"name": "Hold", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
                 "parameters": {"method": "GET", "url": hold_url}}
            ],
            "connections": {"Webhook": {"main": [[{"node": "Hold", "type": "main", "index": 0}]]}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = api
        .post(server.url(&format!("/api/v1/workflows/{id}/activate")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let call = || {
        let req = reqwest::Client::new()
            .post(server.url("/webhook/gated"))
            .json(&json!({}));
        tokio::spawn(async move { req.send().await.unwrap() })
    };
    let first = call();
    tokio::time::timeout(Duration::from_secs(30), arrived.notified())
        .await
        .expect("the first call runs");
    let second = call();
    // The second waits in the queue.
    let metrics = || async {
        reqwest::get(server.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !metrics()
        .await
        .contains("switchyard_webhook_calls_waiting 1")
    {
        assert!(std::time::Instant::now() < deadline, "{}", metrics().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let third = call().await.unwrap();
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(third.headers()["retry-after"], "1");
    let message: Value = third.json().await.unwrap();
    assert!(
        message["message"]
            .as_str()
            .unwrap()
            .contains("SWITCHYARD_WEBHOOK_QUEUE"),
        "{message}"
    );

    release.add_permits(2);
    for answer in [first.await.unwrap(), second.await.unwrap()] {
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let listed: Value = api
        .get(server.url(&format!("/api/v1/executions?workflowId={id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        2,
        "the refused call left no execution"
    );

    let text = metrics().await;
    for line in [
        "switchyard_webhook_answers_total{status=\"503\"}",
        "switchyard_webhook_answers_total{status=\"200\"}",
        "switchyard_executions_started_total{mode=\"webhook\"}",
        "switchyard_executions_finished_total{",
        "switchyard_execution_duration_seconds_bucket{",
        "switchyard_open_connections ",
        "switchyard_execution_writer_queue ",
        "switchyard_db_pool_connections ",
    ] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
    server.stop().await;
}
