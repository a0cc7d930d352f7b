//! `Sforce-Limit-Info` above `SWITCHYARD_SALESFORCE_LIMIT_WARNING_PERCENT` of the org's daily
//! limit: one warning in the log per crossing (not per call) and the state on `/metrics`,
//! through the real server and the fake org over real HTTP.

use crate::common;

use crate::common::{Backend, TestEnv, TestServer, KEY_A};
use serde_json::json;

const KEY: &str = "limit-consumer-key";
const SECRET: &str = "limit-consumer-secret";
const WARNING: &str = "Salesforce API usage reached 80% of the org's daily limit";

common::on_both_backends!(api_usage_above_the_share_warns_once_per_crossing);

/// Warning lines logged for credential `id`.
fn warnings_for(id: &str) -> usize {
    let text = testkit::LogCapture::process().text();
    text.lines()
        .filter(|l| l.contains(WARNING) && l.contains(id) && l.contains("WARN"))
        .count()
}

/// The value of `name{credential_id="id"}` on `/metrics`.
async fn metric(server: &TestServer, name: &str, id: &str) -> Option<String> {
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("{name}{{credential_id=\"{id}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

async fn api_usage_above_the_share_warns_once_per_crossing(backend: Backend) {
    testkit::LogCapture::process();
    let Some(env) = TestEnv::new(backend, "sf_limit_warning").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let mut settings = env.settings_for_fakes();
    settings
        .plugins
        .set("SWITCHYARD_SALESFORCE_LIMIT_WARNING_PERCENT", "80");
    let server = TestServer::start(settings).await;
    let api = server.api(&key);
    let org = common::client_credentials_org(KEY, SECRET).await;
    org.set_daily_limit(1000);

    let id = api.client_credentials("Acme", &org, KEY, SECRET).await;
    let workflow = json!({
        "name": "accounts",
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
            {"name": "Accounts", "type": "n8n-nodes-base.salesforce", "typeVersion": 1,
             "parameters": {"authentication": "clientCredentials", "resource": "account",
                            "operation": "getAll", "limit": 1},
             "credentials": {"salesforceClientCredentialsApi": {"id": id, "name": "Acme"}}}
        ],
        "connections": {"Start": {"main": [[{"node": "Accounts", "type": "main", "index": 0}]]}}
    });
    let (status, stored) = api.post_json("/api/v1/workflows", &workflow).await;
    assert_eq!(status, 200, "{stored}");
    let run_path = format!(
        "/api/v1/workflows/{}/run?wait=true",
        stored["id"].as_str().unwrap()
    );
    let run = |usage: u64| {
        org.set_api_usage(usage);
        let (api, run_path) = (&api, &run_path);
        async move {
            let (status, execution) = api.post(run_path).await;
            assert_eq!(
                (status.as_u16(), execution["status"].as_str()),
                (200, Some("success")),
                "{execution}"
            );
        }
    };
    let state = |name: &'static str| metric(&server, name, &id);
    let above = "switchyard_salesforce_api_usage_above_warning";
    let total = "switchyard_salesforce_api_usage_warnings_total";

    // 70%: below the share.
    run(700).await;
    assert_eq!(state(above).await.as_deref(), Some("0"));
    assert_eq!(state(total).await.as_deref(), Some("0"));
    assert_eq!(warnings_for(&id), 0);

    // 85%: crosses it; a second run above it warns no more.
    run(850).await;
    assert_eq!(state(above).await.as_deref(), Some("1"));
    run(860).await;
    assert_eq!(warnings_for(&id), 1, "one warning per crossing");
    assert_eq!(state(total).await.as_deref(), Some("1"));

    // The usage falls (a new day), then crosses again: a second warning.
    run(100).await;
    assert_eq!(state(above).await.as_deref(), Some("0"));
    run(950).await;
    assert_eq!(warnings_for(&id), 2);
    assert_eq!(state(total).await.as_deref(), Some("2"));
    assert_eq!(state(above).await.as_deref(), Some("1"));
    server.stop().await;
}
