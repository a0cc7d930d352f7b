//! Pinned data (`pinData`) is for editing only, as in n8n: a manual run uses it in place of
//! the pinned node, while production runs ignore it and run the real nodes, both a call of
//! the production webhook and a fire of an active schedule, through the real server.

use crate::common;

use std::time::Duration;

use crate::common::{Api, Backend, TestEnv, TestServer, KEY_A};
use reqwest::StatusCode;
use serde_json::{json, Value};

common::on_both_backends!(
    pinned_data_is_ignored_by_production_webhook_calls,
    pinned_data_is_ignored_by_schedule_fires
);

/// `trigger` -> `Source` (a Set node reading `live`), both with pinned output.
fn pinned(trigger: Value, live: &str) -> Value {
    json!({
        "name": "pinned",
        "settings": {"executionOrder": "v1"},
        "nodes": [
            trigger,
            {"name": "Source", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                "assignments": {"assignments": [
                    {"id": "a", "name": "live", "value": live, "type": "string"}]}}}
        ],
        "connections": {"Trigger": {"main": [[{"node": "Source", "type": "main", "index": 0}]]}},
        "pinData": {
            "Trigger": [{"json": {"pinnedTrigger": true}}],
            "Source": [{"json": {"pinned": 1}}]
        }
    })
}

struct Setup {
    _env: TestEnv,
    server: TestServer,
    api: Api,
}

async fn setup(backend: Backend, test: &str) -> Option<Setup> {
    let env = TestEnv::new(backend, test).await?;
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = server.api(&key);
    Some(Setup {
        _env: env,
        server,
        api,
    })
}

impl Setup {
    async fn create(&self, workflow: &Value) -> String {
        let (status, stored) = self.api.post_json("/api/v1/workflows", workflow).await;
        assert_eq!(status, StatusCode::OK, "{stored}");
        assert!(
            stored["pinData"]["Source"].is_array(),
            "the pinned data is stored: {stored}"
        );
        stored["id"].as_str().unwrap().to_owned()
    }

    async fn post(&self, path: &str) -> Value {
        let (status, body) = self.api.post(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// A manual run's output of `Source`: the pinned item, which shows the server reads the
    /// pin data (so its absence below is the production runs ignoring it).
    async fn manual_source_output(&self, id: &str) -> Value {
        let run = self
            .post(&format!("/api/v1/workflows/{id}/run?wait=true"))
            .await;
        assert_eq!(run["status"], "success", "{run}");
        run["data"]["resultData"]["runData"]["Source"][0]["data"]["main"][0][0]["json"].clone()
    }

    async fn executions(&self, id: &str) -> Vec<Value> {
        let (status, list) = self
            .api
            .get(&format!(
                "/api/v1/executions?workflowId={id}&includeData=true"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["data"].as_array().unwrap().clone()
    }
}

async fn pinned_data_is_ignored_by_production_webhook_calls(backend: Backend) {
    let Some(s) = setup(backend, "pinned_webhook").await else {
        return;
    };
    let id = s
        .create(&pinned(
            json!({"name": "Trigger", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                   "parameters": {"httpMethod": "POST", "path": "pinned", "responseMode": "lastNode",
                                  "options": {}}}),
            "={{ 'live ' + $json.body.v }}",
        ))
        .await;
    assert_eq!(s.manual_source_output(&id).await, json!({"pinned": 1}));

    s.post(&format!("/api/v1/workflows/{id}/activate")).await;
    let (status, body) = s
        .server
        .anonymous()
        .post_json("/webhook/pinned", &json!({"v": 7}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"live": "live 7"}),
        "the webhook's own request and the real Source node, not the pinned items"
    );
    let mut stored = Vec::new();
    for _ in 0..1500 {
        stored = s
            .executions(&id)
            .await
            .into_iter()
            .filter(|e| e["mode"] == "webhook" && e["status"] == "success")
            .collect();
        if !stored.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run_data =
        &stored.first().expect("the webhook execution is stored")["data"]["resultData"]["runData"];
    assert_eq!(
        run_data["Trigger"][0]["data"]["main"][0][0]["json"]["body"],
        json!({"v": 7}),
        "{run_data}"
    );
    s.server.stop().await;
}

async fn pinned_data_is_ignored_by_schedule_fires(backend: Backend) {
    let Some(s) = setup(backend, "pinned_schedule").await else {
        return;
    };
    let id = s
        .create(&pinned(
            json!({"name": "Trigger", "type": "n8n-nodes-base.scheduleTrigger", "typeVersion": 1.2,
                   "parameters": {"rule": {"interval": [{"field": "seconds", "secondsInterval": 1}]}}}),
            "={{ 'fired in ' + $json.Timezone }}",
        ))
        .await;
    assert_eq!(s.manual_source_output(&id).await, json!({"pinned": 1}));

    s.post(&format!("/api/v1/workflows/{id}/activate")).await;
    let mut fired = None;
    for _ in 0..1500 {
        fired = s
            .executions(&id)
            .await
            .into_iter()
            .find(|e| e["mode"] == "trigger" && e["status"] == "success");
        if fired.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.post(&format!("/api/v1/workflows/{id}/deactivate")).await;
    let fired = fired.expect("a schedule fire within 30 s");
    let run_data = &fired["data"]["resultData"]["runData"];
    assert_eq!(
        run_data["Source"][0]["data"]["main"][0][0]["json"],
        json!({"live": "fired in UTC (UTC+00:00)"}),
        "{run_data}"
    );
    assert!(
        run_data["Trigger"][0]["data"]["main"][0][0]["json"]["timestamp"].is_string(),
        "the schedule's own item, not the pinned one: {run_data}"
    );
    s.server.stop().await;
}
