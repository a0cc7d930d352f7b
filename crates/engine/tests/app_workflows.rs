//! Workflows through the assembled server: behind the API key, validated against the real
//! credential store, run with the store's credentials.

mod common;

use common::{client, Backend, TestEnv, TestServer, KEY_A};
use reqwest::StatusCode;
use serde_json::{json, Value};

common::on_both_backends!(
    workflows_need_a_key_and_run,
    nodes_get_typed_credentials_by_id_or_name
);

fn workflow() -> Value {
    json!({
        "name": "double",
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
            {"name": "Double", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                "assignments": {"assignments": [{"id": "a", "name": "d", "value": "={{ $json.n * 2 }}", "type": "number"}]}}},
            {"name": "Call", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "parameters": {}}
        ],
        "connections": {
            "Start": {"main": [[{"node": "Double", "type": "main", "index": 0}]]},
            "Double": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}
        }
    })
}

async fn workflows_need_a_key_and_run(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "workflows_need_a_key_and_run").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let http = client(&key);

    for path in ["/api/v1/workflows", "/api/v1/executions"] {
        let anonymous = reqwest::Client::new()
            .get(server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let anonymous = reqwest::Client::new()
        .post(server.url("/api/v1/workflows"))
        .json(&workflow())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // A node that takes no credentials refuses a credential reference, naming the node.
    let mut with_credential = workflow();
    with_credential["nodes"][2]["credentials"] =
        json!({"salesforceOAuth2Api": {"id": "x", "name": "Salesforce"}});
    let res = http
        .post(server.url("/api/v1/workflows"))
        .json(&with_credential)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let message = res.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("\"Call\""), "{message}");

    let res = http
        .post(server.url("/api/v1/workflows"))
        .json(&workflow())
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

    let done: Value = http
        .post(server.url(&format!("/api/v1/workflows/{id}/run?wait=true")))
        .json(&json!({"items": [{"n": 21}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(
        done["data"]["resultData"]["runData"]["Call"][0]["data"]["main"][0][0]["json"],
        json!({"d": 42})
    );

    let list: Value = http
        .get(server.url(&format!("/api/v1/executions?workflowId={id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    server.stop().await;
}

async fn nodes_get_typed_credentials_by_id_or_name(backend: Backend) {
    use credentials::{Actor, NewCredential};
    use engine::node_credentials::StoreCredentials;
    use node_api::{CredentialProvider, CredentialRef};
    use secrecy::ExposeSecret;
    use workflow::CredentialLookup;

    let Some(env) = TestEnv::new(backend, "nodes_get_typed_credentials_by_id_or_name").await else {
        return;
    };
    let state = engine::app::open(env.settings(KEY_A, None)).await.unwrap();
    let data =
        json!({"environment": "sandbox", "clientId": "3MVG9-id", "clientSecret": "node-secret-1"});
    let new = NewCredential {
        id: Some("sf1".into()),
        name: "Salesforce".into(),
        type_name: "salesforceOAuth2Api".into(),
        data,
    };
    state.credentials.create(new, &Actor::Cli).await.unwrap();
    let bridge = StoreCredentials::new(state.credentials.clone());

    let by_id = CredentialRef {
        id: Some("sf1".into()),
        name: "renamed".into(),
    };
    let by_name = CredentialRef {
        id: Some("id-from-n8n".into()),
        name: "Salesforce".into(),
    };
    let missing = CredentialRef {
        id: Some("nope".into()),
        name: "Nope".into(),
    };
    assert_eq!(
        bridge.credential_type(&by_id).await.as_deref(),
        Some("salesforceOAuth2Api")
    );
    assert_eq!(
        bridge.credential_type(&by_name).await.as_deref(),
        Some("salesforceOAuth2Api")
    );
    assert_eq!(bridge.credential_type(&missing).await, None);

    // Nodes read the store itself, through the provider trait it implements.
    let provider: &dyn CredentialProvider = &state.credentials;
    let cred = provider.get(&by_name, "salesforceOAuth2Api").await.unwrap();
    assert_eq!(cred.id(), "sf1");
    assert_eq!(cred.string("clientId").unwrap(), "3MVG9-id");
    assert_eq!(
        cred.secret("clientSecret").unwrap().expose_secret(),
        "node-secret-1"
    );
    assert!(
        cred.string("clientSecret").is_err(),
        "a secret field is only readable as a secret"
    );
    assert!(!format!("{cred:?}").contains("node-secret-1"));

    let wrong = provider.get(&by_id, "salesforceJwtApi").await.unwrap_err();
    assert!(wrong.to_string().contains("salesforceJwtApi"), "{wrong}");
    assert!(provider.get(&missing, "salesforceOAuth2Api").await.is_err());
    assert_eq!(
        provider
            .resolve(&by_name, "salesforceOAuth2Api")
            .await
            .unwrap(),
        "sf1"
    );

    provider
        .set_token_data("sf1", Some(json!({"access_token": "at-1"})))
        .await
        .unwrap();
    let stored = state.credentials.get("sf1").await.unwrap();
    assert_eq!(stored.token_data.unwrap().expose()["access_token"], "at-1");
    let cred = provider.get(&by_id, "salesforceOAuth2Api").await.unwrap();
    assert!(cred.token_data().unwrap().expose_secret().contains("at-1"));
    let by_id_raw = provider.by_id("sf1").await.unwrap();
    assert_eq!(
        by_id_raw.token_data.unwrap().get_str("access_token"),
        Some("at-1")
    );
    assert!(!format!("{:?}", provider.by_id("sf1").await.unwrap()).contains("node-secret-1"));
    state.db.close().await;
}
