//! `GET /metrics` after Salesforce calls through a stored credential, on the real server.

use crate::common;

use crate::common::{Backend, TestEnv, TestServer, KEY_A};
use serde_json::json;

const KEY: &str = "test-consumer-key";
const SECRET: &str = "test-consumer-secret";

common::on_both_backends!(metrics_show_api_usage_and_counters_per_credential);

async fn metrics_show_api_usage_and_counters_per_credential(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "sf_metrics").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let settings = env.settings_for_fakes();
    let server = TestServer::start(settings).await;
    let api = server.api(&key);
    let org = common::client_credentials_org(KEY, SECRET).await;
    org.set_daily_limit(15000);
    org.set_api_usage(1234);

    let id = api
        .client_credentials("Acme production", &org, KEY, SECRET)
        .await;

    // The credential test (sign-in + userinfo) through the API, then two runs of a workflow
    // whose Salesforce node makes one query each.
    let (_, tested) = api.post(&format!("/api/v1/credentials/{id}/test")).await;
    assert_eq!(tested, json!({"status": "OK"}));
    let workflow = json!({
        "name": "accounts",
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
            {"name": "Accounts", "type": "n8n-nodes-base.salesforce", "typeVersion": 1,
             "parameters": {"authentication": "clientCredentials", "resource": "account",
                            "operation": "getAll", "limit": 1},
             "credentials": {"salesforceClientCredentialsApi": {"id": id, "name": "Acme production"}}}
        ],
        "connections": {"Start": {"main": [[{"node": "Accounts", "type": "main", "index": 0}]]}}
    });
    let (status, stored) = api.post_json("/api/v1/workflows", &workflow).await;
    assert_eq!(status, 200, "{stored}");
    let run = format!(
        "/api/v1/workflows/{}/run?wait=true",
        stored["id"].as_str().unwrap()
    );
    for _ in 0..2 {
        let (status, execution) = api.post(&run).await;
        assert_eq!(
            (status.as_u16(), execution["status"].as_str()),
            (200, Some("success")),
            "{execution}"
        );
    }
    let (used, max) = org.api_usage();
    assert_eq!((used, max), (1236, 15000));

    // No API key: Prometheus scrapers don't send one.
    let res = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    let text = res.text().await.unwrap();
    for (name, value) in [
        ("switchyard_salesforce_api_requests_used", used),
        ("switchyard_salesforce_api_requests_max", max),
        ("switchyard_salesforce_api_calls_total", 3),
        ("switchyard_salesforce_sign_ins_total", 1),
        ("switchyard_salesforce_token_refreshes_total", 0),
    ] {
        let line = format!("{name}{{credential_id=\"{id}\"}} {value}");
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(!text.contains("Acme production"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(org.counter("POST /services/oauth2/token"), 1);
    server.stop().await;
}
