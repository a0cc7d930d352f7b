//! Expressions that run until the time limit must not stall the server: with more looping
//! executions than runtime worker threads, `/healthz` and other webhooks still answer while
//! the loops run, and each loop ends as an error naming its node and parameter.

#[allow(unused_macros, unused_imports)] // `on_both_backends!` is written out here.
use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{Api, Backend, TestEnv, TestServer, KEY_A};
use async_trait::async_trait;
use node_api::{ExecuteContext, Item, Node, NodeDescription, NodeError};
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
    #[cfg_attr(
        postgres_tests_unset,
        ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
    )]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn looping_expressions_do_not_stall_the_server() {
        super::looping_expressions_do_not_stall_the_server(super::Backend::Postgres).await
    }
}

/// Looping calls started at once: twice the runtime's worker threads.
const LOOPS: usize = 4;

/// The expression time limit here: the loops start together (see [`Gate`]), and the limit
/// only has to outlast the answers to `/healthz` and one webhook on a loaded machine.
const LIMIT_MS: u64 = 3000;

/// `test.gate`: counts the executions that reached it, then holds each until the test opens
/// the gate, so every looping execution is running before the first loop starts.
struct Gate {
    description: NodeDescription,
    reached: Arc<AtomicUsize>,
    open: tokio::sync::watch::Receiver<bool>,
}

#[async_trait]
impl Node for Gate {
    fn description(&self) -> &NodeDescription {
        &self.description
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        self.reached.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.clone();
        open.wait_for(|open| *open)
            .await
            .map_err(|_| NodeError::operation("the gate was dropped"))?;
        Ok(vec![input])
    }
}

/// Webhook -> (Gate when `gated`) -> Compute, whose one assignment is `value`.
fn hook_workflow(name: &str, path: &str, value: &str, gated: bool) -> Value {
    let mut nodes = vec![
        json!({"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0],
               "parameters": {"httpMethod": "POST", "path": path, "responseMode": "lastNode", "options": {}}}),
        json!({"name": "Compute", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [400, 0],
               "parameters": {"assignments": {"assignments": [
                  {"id": "a", "name": "out", "value": value, "type": "number"}]}, "options": {}}}),
    ];
    let connections = if gated {
        nodes.push(
            json!({"name": "Gate", "type": "test.gate", "typeVersion": 1,
                          "position": [200, 0], "parameters": {}}),
        );
        json!({"Webhook": {"main": [[{"node": "Gate", "type": "main", "index": 0}]]},
               "Gate": {"main": [[{"node": "Compute", "type": "main", "index": 0}]]}})
    } else {
        json!({"Webhook": {"main": [[{"node": "Compute", "type": "main", "index": 0}]]}})
    };
    json!({"name": name, "settings": {"executionOrder": "v1"}, "nodes": nodes, "connections": connections})
}

/// Waits (every 20 ms, at most 60 s) until `check` holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn create(api: &Api, wf: &Value) -> String {
    let (status, created) = api.post_json("/api/v1/workflows", wf).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn executions(api: &Api, query: &str) -> Vec<Value> {
    let (_, list) = api.get(&format!("/api/v1/executions?{query}")).await;
    list["data"].as_array().cloned().unwrap_or_default()
}

async fn looping_expressions_do_not_stall_the_server(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "looping_expressions_do_not_stall_the_server").await
    else {
        return;
    };
    let key = env.api_key(KEY_A);
    let reached = Arc::new(AtomicUsize::new(0));
    let (open, open_rx) = tokio::sync::watch::channel(false);
    let gate = Gate {
        description: NodeDescription::new("test.gate", "Gate", &[1.0]),
        reached: reached.clone(),
        open: open_rx,
    };
    let mut settings = env.settings(KEY_A, None);
    settings.expression_time_limit_ms = LIMIT_MS;
    let server = TestServer::start_with_plugins(
        settings,
        common::with_test_nodes(vec![Arc::new(gate)], vec![]),
    )
    .await;
    let api = server.api(&key);
    let loop_id = create(
        &api,
        &hook_workflow("loop", "loop", "={{ (() => { for (;;) {} })() }}", true),
    )
    .await;
    let double_id = create(
        &api,
        &hook_workflow("double", "double", "={{ $json.body.n * 2 }}", false),
    )
    .await;
    // Production webhooks: a test webhook answers only one call once armed.
    for id in [&loop_id, &double_id] {
        let (status, body) = api.post(&format!("/api/v1/workflows/{id}/activate")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let hooks = server.anonymous();
    let loops: Vec<_> = (0..LOOPS)
        .map(|_| {
            let hooks = hooks.clone();
            tokio::spawn(async move { hooks.post_json("/webhook/loop", &json!({})).await })
        })
        .collect();
    let any_finished = |loops: &[tokio::task::JoinHandle<_>]| loops.iter().any(|l| l.is_finished());

    // Every looping execution has started (its row says running) and waits at the gate ...
    until("every looping execution at the gate", || async {
        reached.load(Ordering::SeqCst) == LOOPS
    })
    .await;
    until("every looping execution stored as running", || async {
        let running = executions(&api, &format!("workflowId={loop_id}&status=running")).await;
        running.len() == LOOPS
    })
    .await;
    // ... then all loop at once, and while they do the server answers a health check and a
    // normal webhook.
    open.send(true).unwrap();
    let (health, _) = hooks.get_text("/healthz").await;
    assert_eq!(health, StatusCode::OK);
    let (status, body) = hooks.post_json("/webhook/double", &json!({"n": 21})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"out": 42}));
    assert!(
        !any_finished(&loops),
        "a looping call finished before /healthz and the other webhook answered"
    );

    for l in loops {
        let (status, body) = l.await.unwrap();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    }
    // The answer can come before the execution's row is finished; wait for all of them.
    let failed_query = format!("workflowId={loop_id}&status=error");
    until("every looping execution stored as failed", || async {
        executions(&api, &failed_query).await.len() == LOOPS
    })
    .await;
    let failed = executions(&api, &failed_query).await;
    assert_eq!(failed.len(), LOOPS, "{failed:?}");
    for e in failed {
        assert_eq!(e["error"]["node"], "Compute", "{e}");
        assert_eq!(
            e["error"]["message"],
            "expression in node \"Compute\", parameter \"assignments.assignments[0].value\": \
             expression took longer than 3000 ms and was stopped",
            "{e}"
        );
    }
    server.stop().await;
}
