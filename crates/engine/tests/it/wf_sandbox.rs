//! Expressions that run until the time limit must not stall the server: with more looping
//! executions than runtime worker threads, `/healthz` and other webhooks still answer while
//! the loops run, and each loop ends as an error naming its node and parameter.

#[allow(unused_macros, unused_imports)] // `on_both_backends!` is written out here.
use crate::common;

use std::time::Duration;

use crate::common::{client, Backend, TestEnv, TestServer, KEY_A};
use reqwest::StatusCode;
use serde_json::{json, Value};

// Written out instead of `on_both_backends!` to pin the runtime to two worker threads, the
// number the loops must outnumber, whatever the machine running the tests has.
mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn looping_expressions_do_not_stall_the_server() {
        super::looping_expressions_do_not_stall_the_server(super::Backend::Sqlite).await
    }
}
mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn looping_expressions_do_not_stall_the_server() {
        super::looping_expressions_do_not_stall_the_server(super::Backend::Postgres).await
    }
}

/// Looping calls started at once: twice the runtime's worker threads.
const LOOPS: usize = 4;

fn hook_workflow(name: &str, path: &str, value: &str) -> Value {
    json!({
        "name": name,
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0],
             "parameters": {"httpMethod": "POST", "path": path, "responseMode": "lastNode", "options": {}}},
            {"name": "Compute", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [200, 0],
             "parameters": {"assignments": {"assignments": [
                {"id": "a", "name": "out", "value": value, "type": "number"}]}, "options": {}}}
        ],
        "connections": {"Webhook": {"main": [[{"node": "Compute", "type": "main", "index": 0}]]}}
    })
}

async fn create(api: &reqwest::Client, server: &TestServer, wf: &Value) -> String {
    let res = api
        .post(server.url("/api/v1/workflows"))
        .json(wf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn executions(api: &reqwest::Client, server: &TestServer, query: &str) -> Vec<Value> {
    let list: Value = api
        .get(server.url(&format!("/api/v1/executions?{query}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"].as_array().cloned().unwrap_or_default()
}

async fn looping_expressions_do_not_stall_the_server(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "looping_expressions_do_not_stall_the_server").await
    else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = client(&key);
    let loop_id = create(
        &api,
        &server,
        &hook_workflow("loop", "loop", "={{ (() => { for (;;) {} })() }}"),
    )
    .await;
    let double_id = create(
        &api,
        &server,
        &hook_workflow("double", "double", "={{ $json.body.n * 2 }}"),
    )
    .await;
    // Production webhooks: a test webhook answers only one call once armed.
    for id in [&loop_id, &double_id] {
        let res = api
            .post(server.url(&format!("/api/v1/workflows/{id}/activate")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    let hooks = reqwest::Client::new();
    let loops: Vec<_> = (0..LOOPS)
        .map(|_| {
            let (hooks, url) = (hooks.clone(), server.url("/webhook/loop"));
            tokio::spawn(async move { hooks.post(url).json(&json!({})).send().await })
        })
        .collect();
    let any_finished = |loops: &[tokio::task::JoinHandle<_>]| loops.iter().any(|l| l.is_finished());

    // Every looping execution has started (its row says running) ...
    loop {
        let running = executions(
            &api,
            &server,
            &format!("workflowId={loop_id}&status=running"),
        )
        .await;
        if running.len() == LOOPS {
            break;
        }
        assert!(
            !any_finished(&loops),
            "a looping call finished before all {LOOPS} were seen running: the server stalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ... and while they still run, the server answers a health check and a normal webhook.
    let health = hooks.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let res = hooks
        .post(server.url("/webhook/double"))
        .json(&json!({"n": 21}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"out": 42}));
    assert!(
        !any_finished(&loops),
        "a looping call finished before /healthz and the other webhook answered"
    );

    for l in loops {
        let res = l.await.unwrap().unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    // The answer can come before the execution's row is finished; wait for all of them.
    let mut failed = Vec::new();
    for _ in 0..1000 {
        failed = executions(&api, &server, &format!("workflowId={loop_id}&status=error")).await;
        if failed.len() == LOOPS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(failed.len(), LOOPS, "{failed:?}");
    for e in failed {
        assert_eq!(e["error"]["node"], "Compute", "{e}");
        assert_eq!(
            e["error"]["message"],
            "expression in node \"Compute\", parameter \"assignments.assignments[0].value\": \
             expression took longer than 1000 ms and was stopped",
            "{e}"
        );
    }
    server.stop().await;
}
