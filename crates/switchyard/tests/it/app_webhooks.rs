//! Webhooks through the assembled server: test calls run any saved workflow, production
//! calls only active ones, every call is stored as an execution, oversized bodies get 413.

use crate::common;

use std::time::Duration;

use crate::common::{Answer, Api, Backend, TestEnv, TestServer, KEY_A};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

common::on_both_backends!(
    webhooks_run_saved_and_active_workflows,
    webhook_authentication_is_checked_before_anything_runs,
    one_active_workflow_owns_a_path_even_under_concurrent_activations,
    dynamic_paths_reach_the_node_as_params,
    respond_to_webhook_cannot_forge_the_framing,
    paths_of_workflows_active_before_the_upgrade_are_claimed_on_start,
    forwarded_addresses_count_only_through_the_configured_proxies,
);

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
    let Some((_env, server, api)) = start(backend, "webhooks_run_saved_and_active_workflows").await
    else {
        return;
    };
    let (status, created) = api.post_json("/api/v1/workflows", &orders_workflow()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let hooks = server.anonymous();
    let order = json!({"qty": 3, "price": 2.5});

    // Not active: production does not answer, a test call runs the saved workflow.
    let (status, body) = hooks.post_json("/webhook/orders", &order).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let message = body["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("POST orders") && message.contains("not registered"),
        "{message}"
    );
    // A test webhook answers only once armed, and only one call.
    let (status, _) = hooks
        .post_json("/webhook-test/orders?who=ann", &order)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not armed");
    let (status, _) = hooks
        .post(&format!("/api/v1/workflows/{id}/test-webhook"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "arming needs a key");
    let (status, armed) = api
        .post(&format!("/api/v1/workflows/{id}/test-webhook"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        armed["webhooks"],
        json!([{"method": "POST", "path": "orders"}])
    );
    let (status, body) = hooks
        .post_json("/webhook-test/orders?who=ann", &order)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"total": 7.5, "who": "ann"}));
    let (status, _) = hooks
        .post_json("/webhook-test/orders?who=ann", &order)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "one call per arming");

    let (status, _) = api.post(&format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = hooks.post_json("/webhook/orders?who=bo", &order).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"total": 7.5, "who": "bo"}));
    let (status, _) = hooks.get("/webhook/orders").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the node listens on POST only"
    );

    // Both calls are stored, with their modes.
    let mut modes = Vec::new();
    for _ in 0..600 {
        let (_, list) = api
            .get(&format!("/api/v1/executions?workflowId={id}"))
            .await;
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
    let (status, _) = hooks.post_raw("/webhook/orders", "text/plain", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = hooks
        .post_raw("/webhook/orders", "application/json", "{oops")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("not valid JSON"));
    server.stop().await;
}

/// A server and its API client.
async fn start(backend: Backend, test: &str) -> Option<(TestEnv, TestServer, Api)> {
    let env = TestEnv::new(backend, test).await?;
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = server.api(&key);
    Some((env, server, api))
}

/// A workflow whose Webhook node answers with the item it was given.
fn echo(name: &str, path: &str, parameters: Value, credentials: Value) -> Value {
    let mut params =
        json!({"httpMethod": "POST", "path": path, "responseMode": "lastNode", "options": {}});
    for (k, v) in parameters.as_object().unwrap() {
        params[k] = v.clone();
    }
    let mut hook = json!({"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                          "parameters": params});
    if !credentials.is_null() {
        hook["credentials"] = credentials;
    }
    json!({"name": name, "nodes": [hook], "connections": {}})
}

async fn save(api: &Api, wf: &Value) -> Answer {
    api.post_json("/api/v1/workflows", wf).await
}

async fn activate(api: &Api, id: &str) -> Answer {
    api.post(&format!("/api/v1/workflows/{id}/activate")).await
}

async fn saved_active(api: &Api, wf: &Value) -> String {
    let (status, body) = save(api, wf).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = activate(api, &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

async fn credential(api: &Api, body: Value) -> Value {
    let (status, made) = api.post_json("/api/v1/credentials", &body).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    json!({"id": made["id"], "name": made["name"]})
}

async fn execution_count(api: &Api, id: &str) -> usize {
    let (_, list) = api
        .get(&format!("/api/v1/executions?workflowId={id}"))
        .await;
    list["data"].as_array().unwrap().len()
}

async fn webhook_authentication_is_checked_before_anything_runs(backend: Backend) {
    let Some((_env, server, api)) = start(
        backend,
        "webhook_authentication_is_checked_before_anything_runs",
    )
    .await
    else {
        return;
    };
    let hooks = server.anonymous();

    // Refused at save, naming the node: no credential, an unknown one, an unknown mode, a bad list.
    for (wf, expected) in [
        (
            echo(
                "a",
                "a",
                json!({"authentication": "basicAuth"}),
                Value::Null,
            ),
            "httpBasicAuth",
        ),
        (
            echo(
                "a",
                "a",
                json!({"authentication": "headerAuth"}),
                json!({"httpHeaderAuth": {"id": "nope", "name": "gone"}}),
            ),
            "does not exist",
        ),
        (
            echo("a", "a", json!({"authentication": "oAuth2"}), Value::Null),
            "authentication",
        ),
        (
            echo(
                "a",
                "a",
                json!({"options": {"ipWhitelist": "10.0.0.0/33"}}),
                Value::Null,
            ),
            "ipWhitelist",
        ),
    ] {
        let (status, body) = save(&api, &wf).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{wf}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("Hook") && message.contains(expected),
            "{message}"
        );
    }

    let basic = credential(
        &api,
        json!({"name": "basic", "type": "httpBasicAuth",
        "data": {"user": "ann", "password": "s3cret"}}),
    )
    .await;
    let header = credential(
        &api,
        json!({"name": "header", "type": "httpHeaderAuth",
        "data": {"name": "X-Hook-Token", "value": "t0ken"}}),
    )
    .await;
    let jwt = credential(
        &api,
        json!({"name": "jwt", "type": "jwtAuth",
        "data": {"keyType": "passphrase", "secret": "passphrase-1", "algorithm": "HS256"}}),
    )
    .await;
    let key = testkit::RsaKey::generate();
    let pem = key.private_pem();
    let rsa = credential(
        &api,
        json!({"name": "jwt-rsa", "type": "jwtAuth",
        "data": {"keyType": "pemKey", "publicKey": key.public_pem(), "algorithm": "RS256"}}),
    )
    .await;
    // A jwtAuth credential needs the field its key type uses.
    let (status, body) = api
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "half", "type": "jwtAuth", "data": {"keyType": "pemKey"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("publicKey"), "{body}");

    // One active workflow a way of checking, its path named after it.
    let mut ids = Vec::new();
    for (name, parameters, credentials) in [
        (
            "basic",
            json!({"authentication": "basicAuth"}),
            json!({"httpBasicAuth": basic}),
        ),
        (
            "header",
            json!({"authentication": "headerAuth"}),
            json!({"httpHeaderAuth": header}),
        ),
        (
            "jwt",
            json!({"authentication": "jwtAuth"}),
            json!({"jwtAuth": jwt}),
        ),
        (
            "rsa",
            json!({"authentication": "jwtAuth"}),
            json!({"jwtAuth": rsa}),
        ),
        (
            "closed",
            json!({"options": {"ipWhitelist": "10.0.0.0/8, 192.168.1.7"}}),
            Value::Null,
        ),
        (
            "open",
            json!({"options": {"ipWhitelist": "10.0.0.0/8, 127.0.0.0/8, ::1"}}),
            Value::Null,
        ),
    ] {
        ids.push(saved_active(&api, &echo(name, name, parameters, credentials)).await);
    }
    let [basic_id, header_id, jwt_id, rsa_id, closed_id, open_id]: [String; 6] =
        ids.try_into().unwrap();

    let hs = |secret: &str, claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let rs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"sub": "rsa-user"}),
        &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let expired = hs("passphrase-1", json!({"sub": "x", "exp": 1_000_000}));
    let post = |path: &str| {
        hooks
            .request(Method::POST, &format!("/webhook/{path}"))
            .json(&json!({"n": 1}))
    };

    let refused = [
        (post("basic"), StatusCode::UNAUTHORIZED),
        (
            post("basic").basic_auth("ann", Some("wrong")),
            StatusCode::FORBIDDEN,
        ),
        (
            post("basic").basic_auth("bob", Some("s3cret")),
            StatusCode::FORBIDDEN,
        ),
        (post("header"), StatusCode::FORBIDDEN),
        (
            post("header").header("X-Hook-Token", "t0ken-not"),
            StatusCode::FORBIDDEN,
        ),
        (post("jwt"), StatusCode::UNAUTHORIZED),
        (
            post("jwt").bearer_auth(hs("other-secret", json!({"sub": "x"}))),
            StatusCode::FORBIDDEN,
        ),
        (post("jwt").bearer_auth(&expired), StatusCode::FORBIDDEN),
        (post("jwt").bearer_auth(&rs), StatusCode::FORBIDDEN),
        (
            post("rsa").bearer_auth(hs("passphrase-1", json!({"sub": "x"}))),
            StatusCode::FORBIDDEN,
        ),
        (post("closed"), StatusCode::FORBIDDEN),
    ];
    for (request, expected) in refused {
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), expected);
        if expected == StatusCode::UNAUTHORIZED && res.url().path().ends_with("basic") {
            assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"Webhook\"");
        }
        let body: Value = res.json().await.unwrap();
        assert!(body["message"].is_string(), "{body}");
    }
    for id in [&basic_id, &header_id, &jwt_id, &rsa_id, &closed_id] {
        assert_eq!(execution_count(&api, id).await, 0, "nothing ran for {id}");
    }

    let ok = |request: reqwest::RequestBuilder| async move {
        let (status, item) = common::answer(request).await;
        assert_eq!(status, StatusCode::OK, "{item}");
        item
    };
    ok(post("basic").basic_auth("ann", Some("s3cret"))).await;
    ok(post("header").header("X-Hook-Token", "t0ken")).await;
    let item = ok(post("jwt").bearer_auth(hs("passphrase-1", json!({"sub": "ann"})))).await;
    assert_eq!(item["jwtPayload"], json!({"sub": "ann"}));
    let item = ok(post("rsa").bearer_auth(&rs)).await;
    assert_eq!(item["jwtPayload"]["sub"], "rsa-user");
    ok(post("open")).await;
    assert_eq!(execution_count(&api, &open_id).await, 1);

    // A credential deleted after saving leaves the webhook closed, not open.
    let (status, _) = api
        .delete(&format!(
            "/api/v1/credentials/{}",
            header["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = common::answer(post("header").header("X-Hook-Token", "t0ken")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body["message"].as_str().unwrap().contains("Hook"), "{body}");
    assert_eq!(
        execution_count(&api, &header_id).await,
        1,
        "only the accepted call ran"
    );

    // Test webhooks are checked the same way.
    let (status, _) = api
        .post(&format!("/api/v1/workflows/{basic_id}/test-webhook"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = hooks.post("/webhook-test/basic").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

async fn one_active_workflow_owns_a_path_even_under_concurrent_activations(backend: Backend) {
    let Some((_env, server, api)) = start(
        backend,
        "one_active_workflow_owns_a_path_even_under_concurrent_activations",
    )
    .await
    else {
        return;
    };
    let hooks = server.anonymous();
    let live = saved_active(&api, &echo("live", "orders", json!({}), Value::Null)).await;

    // A newcomer choosing a lower id cannot take over the live path.
    let mut intruder = echo("intruder", "/orders/", json!({}), Value::Null);
    intruder["id"] = json!("0000");
    let (status, body) = save(&api, &intruder).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = activate(&api, "0000").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("live") && message.contains(&live),
        "{message}"
    );
    let (_, stored) = api.get("/api/v1/workflows/0000").await;
    assert_eq!(stored["active"], false);
    let (status, _) = hooks.post("/webhook/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(execution_count(&api, &live).await, 1);
    assert_eq!(execution_count(&api, "0000").await, 0);

    // Updating an active workflow onto a taken path is refused and changes nothing.
    let other = saved_active(&api, &echo("other", "other", json!({}), Value::Null)).await;
    let (status, _) = api
        .put_json(
            &format!("/api/v1/workflows/{other}"),
            &echo("other", "orders", json!({}), Value::Null),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, stored) = api.get(&format!("/api/v1/workflows/{other}")).await;
    assert_eq!(stored["nodes"][0]["parameters"]["path"], "other");

    // `user/:id` and `user/:name` are one route.
    saved_active(&api, &echo("users", "user/:id", json!({}), Value::Null)).await;
    let (_, body) = save(&api, &echo("names", "user/:name", json!({}), Value::Null)).await;
    let (status, _) = activate(&api, body["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Two activations racing for a free path: exactly one wins.
    let mut ids = Vec::new();
    for name in ["first", "second"] {
        let (_, body) = save(&api, &echo(name, "race", json!({}), Value::Null)).await;
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (a, b) = tokio::join!(activate(&api, &ids[0]), activate(&api, &ids[1]));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );

    // Deactivating frees the path.
    let winner = if a.0 == StatusCode::OK {
        &ids[0]
    } else {
        &ids[1]
    };
    let loser = if a.0 == StatusCode::OK {
        &ids[1]
    } else {
        &ids[0]
    };
    let (status, _) = api
        .post(&format!("/api/v1/workflows/{winner}/deactivate"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(activate(&api, loser).await.0, StatusCode::OK);
    server.stop().await;
}

async fn dynamic_paths_reach_the_node_as_params(backend: Backend) {
    let Some((_env, server, api)) = start(backend, "dynamic_paths_reach_the_node_as_params").await
    else {
        return;
    };
    let hooks = server.anonymous();
    saved_active(
        &api,
        &echo("orders", "user/:id/orders/:order", json!({}), Value::Null),
    )
    .await;
    saved_active(
        &api,
        &echo("me", "user/me/orders/latest", json!({}), Value::Null),
    )
    .await;
    let (status, item) = hooks.post("/webhook/user/42/orders/A-7").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(item["params"], json!({"id": "42", "order": "A-7"}));
    let (_, item) = hooks.post("/webhook/user/me/orders/latest").await;
    assert_eq!(item["params"], json!({}), "the static path wins");
    let (status, _) = hooks.post("/webhook/user/42/orders").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

fn responding(headers: Value, code: Value) -> Value {
    json!({
        "name": "respond",
        "nodes": [
            {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
             "parameters": {"httpMethod": "POST", "path": "reply", "responseMode": "responseNode", "options": {}}},
            {"name": "Reply", "type": "n8n-nodes-base.respondToWebhook", "typeVersion": 1.1,
             "parameters": {"respondWith": "text", "responseBody": "ok-body-0123456789",
                            "options": {"responseCode": code, "responseHeaders": {"entries": headers}}}}
        ],
        "connections": {"Hook": {"main": [[{"node": "Reply", "type": "main", "index": 0}]]}}
    })
}

async fn respond_to_webhook_cannot_forge_the_framing(backend: Backend) {
    let Some((_env, server, api)) =
        start(backend, "respond_to_webhook_cannot_forge_the_framing").await
    else {
        return;
    };
    for code in [100, 199, 600, 99] {
        let (status, body) = save(&api, &responding(json!([]), json!(code))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{code}");
        assert!(
            body["message"].as_str().unwrap().contains("Reply"),
            "{body}"
        );
    }
    let id = saved_active(
        &api,
        &responding(
            json!([
                {"name": "Content-Length", "value": "2"},
                {"name": "Transfer-Encoding", "value": "chunked"},
                {"name": "Connection", "value": "close"},
                {"name": "X-Kept", "value": "yes"}
            ]),
            json!(201),
        ),
    )
    .await;

    // On a raw keep-alive connection: one response, framed by the server, then nothing.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request =
        format!("POST /webhook/reply HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut chunk)).await;
        match read {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => raw.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => panic!("{e}"),
            // Quiet after a complete answer: the connection stays open for the next request.
            Err(_) if String::from_utf8_lossy(&raw).contains("ok-body-0123456789") => break,
            Err(_) => assert!(std::time::Instant::now() < deadline, "no answer"),
        }
    }
    let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 201"), "{text}");
    assert_eq!(text.matches("http/1.1").count(), 1, "{text}");
    assert!(text.contains("content-length: 18\r\n"), "{text}");
    assert!(
        !text.contains("transfer-encoding") && !text.contains("connection: close"),
        "{text}"
    );
    assert!(text.contains("x-kept: yes"), "{text}");
    assert!(text.ends_with("ok-body-0123456789"), "{text}");

    // The dropped headers are named in the execution.
    let mut data = Value::Null;
    for _ in 0..600 {
        let (_, list) = api
            .get(&format!("/api/v1/executions?workflowId={id}"))
            .await;
        if let Some(e) = list["data"].as_array().and_then(|l| l.first()) {
            if e["status"] == "success" {
                let eid = e["id"].as_str().unwrap();
                data = api
                    .get(&format!("/api/v1/executions/{eid}?includeData=true"))
                    .await
                    .1;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hints = &data["data"]["resultData"]["runData"]["Reply"][0]["hints"];
    let hints = hints.to_string().to_ascii_lowercase();
    assert!(
        hints.contains("content-length")
            && hints.contains("transfer-encoding")
            && hints.contains("warning"),
        "{data}"
    );
    server.stop().await;
}

async fn paths_of_workflows_active_before_the_upgrade_are_claimed_on_start(backend: Backend) {
    let Some(env) = TestEnv::new(
        backend,
        "paths_of_workflows_active_before_the_upgrade_are_claimed_on_start",
    )
    .await
    else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = server.api(&key);
    let live = saved_active(&api, &echo("live", "orders", json!({}), Value::Null)).await;
    let (_, body) = save(&api, &echo("newcomer", "orders", json!({}), Value::Null)).await;
    let newcomer = body["id"].as_str().unwrap().to_owned();
    server.stop().await;

    // As a database written before paths were claimed: the live workflow holds no row.
    let db = db::Db::connect(&env.database_url).await.unwrap();
    sqlx::query("DELETE FROM webhook_paths")
        .execute(db.pool())
        .await
        .unwrap();
    db.close().await;

    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = server.api(&key);
    let (status, body) = activate(&api, &newcomer).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains(&live), "{body}");
    let (status, _) = server.anonymous().post("/webhook/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(execution_count(&api, &live).await, 1);
    server.stop().await;
}

async fn forwarded_addresses_count_only_through_the_configured_proxies(backend: Backend) {
    let Some(env) = TestEnv::new(
        backend,
        "forwarded_addresses_count_only_through_the_configured_proxies",
    )
    .await
    else {
        return;
    };
    let key = env.api_key(KEY_A);
    let office = echo(
        "office",
        "office",
        json!({"options": {"ipWhitelist": "10.0.0.0/8"}}),
        Value::Null,
    );

    // Default: the header is anyone's to send, so it is not read.
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    saved_active(&server.api(&key), &office).await;
    let call = |server: &TestServer, forwarded: &str| {
        let hooks = server.anonymous().with_header("X-Forwarded-For", forwarded);
        async move { hooks.post("/webhook/office").await.0 }
    };
    assert_eq!(call(&server, "10.1.2.3").await, StatusCode::FORBIDDEN);
    server.stop().await;

    // One proxy in front: the entry it appended is the client; earlier ones are the caller's.
    let mut settings = env.settings(KEY_A, None);
    settings.proxy_hops = 1;
    let server = TestServer::start(settings).await;
    assert_eq!(call(&server, "10.1.2.3").await, StatusCode::OK);
    assert_eq!(
        call(&server, "10.1.2.3, 203.0.113.9").await,
        StatusCode::FORBIDDEN,
        "a forged first entry does not count"
    );
    let (status, _) = server.anonymous().post("/webhook/office").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "no header: the peer, 127.0.0.1"
    );
    server.stop().await;
}

/// An HTTP endpoint (its URL) that holds each GET until released: `arrived` is notified as
/// a call comes in, and each permit added to `release` lets one call answer.
async fn hold_endpoint() -> (
    String,
    std::sync::Arc<tokio::sync::Notify>,
    std::sync::Arc<tokio::sync::Semaphore>,
) {
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
    (hold_url, arrived, release)
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
    let api = server.api(&key);

    // An endpoint that holds each call until released.
    let (hold_url, arrived, release) = hold_endpoint().await;
    let (status, created) = api
        .post_json("/api/v1/workflows", &json!({
            "name": "gated", "settings": {"executionOrder": "v1"},
            "nodes": [
                {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                 "parameters": {"httpMethod": "POST", "path": "gated", "responseMode": "lastNode", "options": {}}},
                {"name": "Hold", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
                 "parameters": {"method": "GET", "url": hold_url}}
            ],
            "connections": {"Webhook": {"main": [[{"node": "Hold", "type": "main", "index": 0}]]}}
        }))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = api.post(&format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::OK);

    let hooks = server.anonymous();
    let call = || {
        let req = hooks
            .request(Method::POST, "/webhook/gated")
            .json(&json!({}));
        tokio::spawn(common::answer_with_headers(req))
    };
    let first = call();
    tokio::time::timeout(Duration::from_secs(30), arrived.notified())
        .await
        .expect("the first call runs");
    let second = call();
    // The second waits in the queue.
    let metrics = || async { hooks.get_text("/metrics").await.1 };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !metrics()
        .await
        .contains("switchyard_webhook_calls_waiting 1")
    {
        assert!(std::time::Instant::now() < deadline, "{}", metrics().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, headers, message) = call().await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert!(
        message["message"]
            .as_str()
            .unwrap()
            .contains("SWITCHYARD_WEBHOOK_QUEUE"),
        "{message}"
    );

    release.add_permits(2);
    for (status, _, body) in [first.await.unwrap(), second.await.unwrap()] {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, listed) = api
        .get(&format!("/api/v1/executions?workflowId={id}"))
        .await;
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

/// A `responseNode` webhook answers mid-run; its execution keeps its gate slot until it ends,
/// so SWITCHYARD_WEBHOOK_CONCURRENCY bounds executions (and the items they hold), not answers.
#[tokio::test(flavor = "multi_thread")]
async fn a_response_node_execution_keeps_its_webhook_slot_after_answering() {
    let env = TestEnv::new(Backend::Sqlite, "webhook_gate_respond")
        .await
        .unwrap();
    let key = env.api_key(KEY_A);
    let mut settings = env.settings(KEY_A, None);
    settings.webhook_concurrency = 1;
    settings.webhook_queue = 0;
    let server = TestServer::start(settings).await;
    let api = server.api(&key);

    // An endpoint that holds each call until released, reached after the answer.
    let (hold_url, arrived, release) = hold_endpoint().await;
    let (status, created) = api
        .post_json("/api/v1/workflows", &json!({
            "name": "answers early", "settings": {"executionOrder": "v1"},
            "nodes": [
                {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                 "parameters": {"httpMethod": "POST", "path": "early", "responseMode": "responseNode", "options": {}}},
                {"name": "Respond", "type": "n8n-nodes-base.respondToWebhook", "typeVersion": 1.1,
                 "parameters": {"respondWith": "text", "responseBody": "early", "options": {}}},
                {"name": "Hold", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
                 "parameters": {"method": "GET", "url": hold_url}}
            ],
            "connections": {
                "Webhook": {"main": [[{"node": "Respond", "type": "main", "index": 0}]]},
                "Respond": {"main": [[{"node": "Hold", "type": "main", "index": 0}]]}
            }
        }))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = api.post(&format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::OK);
    let hooks = server.anonymous();
    let call = || async {
        hooks
            .request(Method::POST, "/webhook/early")
            .json(&json!({}))
            .send()
            .await
            .unwrap()
    };

    let first = call().await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.text().await.unwrap(), "early");
    tokio::time::timeout(Duration::from_secs(30), arrived.notified())
        .await
        .expect("the first execution goes on after its answer");
    // Answered, still running: it holds the only slot, and the queue takes none.
    let second = call().await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Once it ends, the slot is free again.
    release.add_permits(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let third = loop {
        let res = call().await;
        if res.status() != StatusCode::SERVICE_UNAVAILABLE {
            break res;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(third.status(), StatusCode::OK);
    release.add_permits(1);
    server.stop().await;
}
