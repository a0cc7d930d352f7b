//! Workflows through the assembled server: behind the API key, validated against the real
//! credential store, run with the store's credentials.

use crate::common;

use crate::common::{Backend, FullAnswer, TestEnv, TestServer, KEY_A};
use reqwest::Method;
use reqwest::StatusCode;
use serde_json::{json, Value};

common::on_both_backends!(
    workflows_need_a_key_and_run,
    nodes_get_typed_credentials_by_id_or_name,
    every_error_is_json_naming_what_to_fix,
    workflows_list_filters_and_refuses_bogus_cursors,
    nul_bytes_and_bad_ids_are_refused_alike_on_both_backends
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
    let api = server.api(&key);
    let anonymous = server.anonymous();

    for path in ["/api/v1/workflows", "/api/v1/executions"] {
        let (status, _) = anonymous.get(path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, _) = anonymous.post_json("/api/v1/workflows", &workflow()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A node that takes no credentials refuses a credential reference, naming the node.
    let mut with_credential = workflow();
    with_credential["nodes"][2]["credentials"] =
        json!({"salesforceOAuth2Api": {"id": "x", "name": "Salesforce"}});
    let (status, refused) = api.post_json("/api/v1/workflows", &with_credential).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("\"Call\""), "{message}");

    let (status, created) = api.post_json("/api/v1/workflows", &workflow()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap();

    let (_, done) = api
        .post_json(
            &format!("/api/v1/workflows/{id}/run?wait=true"),
            &json!({"items": [{"n": 21}]}),
        )
        .await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(
        done["data"]["resultData"]["runData"]["Call"][0]["data"]["main"][0][0]["json"],
        json!({"d": 42})
    );

    let (_, list) = api
        .get(&format!("/api/v1/executions?workflowId={id}"))
        .await;
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
    let state = engine::app::open(env.settings(KEY_A, None), switchyard::builtin())
        .await
        .unwrap();
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

/// The status and the message of `answer`, whose body must be `{"message": text}`.
fn json_error((status, headers, body): FullAnswer) -> (StatusCode, String) {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{status}: content type {content_type:?}, body {body}"
    );
    let message = body["message"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    (status, message.to_owned())
}

async fn every_error_is_json_naming_what_to_fix(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "every_error_is_json_naming_what_to_fix").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = server.api(&key);
    let anonymous = server.anonymous();

    let (status, message) = json_error(anonymous.get_with_headers("/api/v1/workflows").await);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(message, "'X-N8N-API-KEY' header required");
    let (status, message) = json_error(
        anonymous
            .with_header("X-N8N-API-KEY", "sy_wrong")
            .get_with_headers("/api/v1/workflows")
            .await,
    );
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );

    let (status, message) = json_error(api.get_with_headers("/no/such/route").await);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message.contains("GET /no/such/route"), "{message}");
    let (status, message) = json_error(api.call(Method::PATCH, "/api/v1/workflows", None).await);
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        message.contains("PATCH is not allowed on /api/v1/workflows"),
        "{message}"
    );
    let (status, message) = json_error(api.get_with_headers("/api/v1/workflows?limit=many").await);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("limit"), "{message}");
    let (status, message) = json_error(
        api.get_with_headers("/api/v1/executions?includeData=perhaps")
            .await,
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("includeData"), "{message}");
    let (status, message) = json_error(api.get_with_headers("/api/v1/credentials?limit=0").await);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("limit"), "{message}");
    server.stop().await;
}

async fn workflows_list_filters_and_refuses_bogus_cursors(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "workflows_list_filters_and_refuses_bogus_cursors").await
    else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = server.api(&key);
    let mut ids = Vec::new();
    for (name, tags) in [
        ("alpha", json!([{"name": "sales"}, {"name": "eu"}])),
        ("beta", json!(["sales"])),
        ("alpha", json!([])),
    ] {
        let mut wf = workflow();
        wf["name"] = json!(name);
        wf["tags"] = tags;
        let (status, body) = api.post_json("/api/v1/workflows", &wf).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, _) = api
        .post(&format!("/api/v1/workflows/{}/activate", ids[1]))
        .await;
    assert_eq!(status, StatusCode::OK);

    let names = |body: &Value| -> Vec<String> {
        let mut ids: Vec<String> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    for (query, expected) in [
        ("active=true", vec![ids[1].clone()]),
        ("active=false", sorted(vec![ids[0].clone(), ids[2].clone()])),
        ("name=alpha", sorted(vec![ids[0].clone(), ids[2].clone()])),
        ("tags=sales", sorted(vec![ids[0].clone(), ids[1].clone()])),
        ("tags=sales,eu", vec![ids[0].clone()]),
        ("name=alpha&tags=sales", vec![ids[0].clone()]),
        ("name=gamma", vec![]),
    ] {
        let (status, body) = api.get(&format!("/api/v1/workflows?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(names(&body), expected, "{query}");
    }

    // Pages of one, filtered by tag, walk every match once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/v1/workflows?tags=sales&limit=1&cursor={c}"),
            None => "/api/v1/workflows?tags=sales&limit=1".to_owned(),
        };
        let (status, body) = api.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(names(&body));
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, sorted(vec![ids[0].clone(), ids[1].clone()]));

    for bogus in ["bogus", &ids[0]] {
        let (status, message) = json_error(
            api.get_with_headers(&format!("/api/v1/workflows?cursor={bogus}"))
                .await,
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bogus}");
        assert!(message.contains("cursor"), "{message}");
    }
    server.stop().await;
}

async fn nul_bytes_and_bad_ids_are_refused_alike_on_both_backends(backend: Backend) {
    let Some(env) = TestEnv::new(
        backend,
        "nul_bytes_and_bad_ids_are_refused_alike_on_both_backends",
    )
    .await
    else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = server.api(&key);
    let body = json!({"name": "n"});
    for (method, path, field) in [
        ("GET", "/api/v1/workflows/a%00b", "id"),
        ("PUT", "/api/v1/workflows/a%00b", "id"),
        ("DELETE", "/api/v1/workflows/a%00b", "id"),
        ("POST", "/api/v1/workflows/a%00b/activate", "id"),
        ("POST", "/api/v1/workflows/a%00b/deactivate", "id"),
        ("POST", "/api/v1/workflows/a%00b/run", "id"),
        ("GET", "/api/v1/executions/a%00b", "id"),
        ("DELETE", "/api/v1/executions/a%00b", "id"),
        ("POST", "/api/v1/executions/a%00b/stop", "id"),
        ("GET", "/api/v1/credentials/a%00b", "id"),
        ("PATCH", "/api/v1/credentials/a%00b", "id"),
        ("DELETE", "/api/v1/credentials/a%00b", "id"),
        ("POST", "/api/v1/credentials/a%00b/test", "id"),
        ("GET", "/api/v1/credentials/schema/a%00b", "type"),
        ("GET", "/api/v1/executions?workflowId=a%00b", "workflowId"),
        ("GET", "/api/v1/workflows?name=a%00b", "name"),
    ] {
        let method: reqwest::Method = method.parse().unwrap();
        let (status, message) = json_error(api.call(method.clone(), path, Some(&body)).await);
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {path}: {message}"
        );
        assert!(
            message.contains(field) && message.contains("NUL"),
            "{method} {path}: {message}"
        );
    }

    let mut named = workflow();
    named["name"] = json!("a\u{0}b");
    let (status, message) = json_error(
        api.call(Method::POST, "/api/v1/workflows", Some(&named))
            .await,
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message.contains("name") && message.contains("NUL"),
        "{message}"
    );
    for bad in ["a\u{0}b", "../etc", "x".repeat(65).as_str(), "a b"] {
        let mut with_id = workflow();
        with_id["id"] = json!(bad);
        let (status, message) = json_error(
            api.call(Method::POST, "/api/v1/workflows", Some(&with_id))
                .await,
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert!(message.contains("id"), "{message}");
    }
    let (status, message) = json_error(
        api.call(
            Method::POST,
            "/api/v1/credentials",
            Some(&json!({"name": "a\u{0}b", "type": "httpBasicAuth", "data": {"user": "u", "password": "p"}})),
        )
        .await,
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("name"), "{message}");
    let (_, listed) = api.get("/api/v1/workflows").await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");
    let (_, listed) = api.get("/api/v1/credentials").await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");

    // A client-chosen id that is taken answers 409 and leaves the first workflow alone.
    let mut first = workflow();
    first["id"] = json!("Chosen-Id_1");
    let (status, body) = api.post_json("/api/v1/workflows", &first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "Chosen-Id_1");
    let mut second = workflow();
    second["id"] = json!("Chosen-Id_1");
    second["name"] = json!("intruder");
    let (status, message) = json_error(
        api.call(Method::POST, "/api/v1/workflows", Some(&second))
            .await,
    );
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("Chosen-Id_1"), "{message}");
    let (_, stored) = api.get("/api/v1/workflows/Chosen-Id_1").await;
    assert_eq!(stored["name"], "double");
    server.stop().await;
}
