//! Oversized bodies: the client always reads the 413 (never a reset connection), on the API
//! and on webhooks, and nothing is stored.

mod common;

use common::{client, Backend, TestEnv, TestServer, KEY_A};
use reqwest::StatusCode;
use serde_json::Value;

common::on_both_backends!(oversized_bodies_get_a_readable_413);

async fn oversized_bodies_get_a_readable_413(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "oversized_bodies_get_a_readable_413").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = client(&key);

    // Four times the 1 MiB API limit, over and over: before the server read what it refused,
    // some of these answers were lost in a connection reset.
    let body = format!(
        r#"{{"name":"{}","type":"salesforceOAuth2Api","data":{{}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    for attempt in 0..20 {
        let res = api
            .post(server.url("/api/v1/credentials"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("attempt {attempt}: no answer: {e}"));
        assert_eq!(
            res.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "attempt {attempt}"
        );
        let answer: Value = res.json().await.expect("JSON error body");
        assert!(
            answer["message"].as_str().unwrap().contains("limit"),
            "{answer}"
        );
    }

    // Webhooks have their own, larger limit (16 MiB by default).
    let huge = vec![b'a'; 20 * 1024 * 1024];
    for attempt in 0..3 {
        let res = reqwest::Client::new()
            .post(server.url("/webhook/anything"))
            .body(huge.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("webhook attempt {attempt}: no answer: {e}"));
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    // Under the webhook limit but over the API's: not refused for size (no such webhook).
    let res = reqwest::Client::new()
        .post(server.url("/webhook/anything"))
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let list: Value = api
        .get(server.url("/api/v1/credentials"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{list}");
    server.stop().await;
}
