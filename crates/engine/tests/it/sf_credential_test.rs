//! `POST /api/v1/credentials/{id}/test` through the real server against the fake org.

use crate::common;

use crate::common::{client, Backend, TestEnv, TestServer, KEY_A};
use salesforce_fake::FakeOrg;
use serde_json::{json, Value};

const KEY: &str = "test-consumer-key";
const SECRET: &str = "test-consumer-secret";

common::on_both_backends!(credential_test_reports_ok_and_the_step_to_fix);

async fn credential_test_reports_ok_and_the_step_to_fix(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "sf_credential_test").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let mut settings = env.settings(KEY_A, None);
    settings.allow_insecure_hosts = true;
    let server = TestServer::start(settings).await;
    let http = client(&key);
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .client_credentials_user("user@example.com")
        .start()
        .await
        .unwrap();

    let created: Value = http
        .post(server.url("/api/v1/credentials"))
        .json(
            &json!({"name": "cc", "type": "salesforceClientCredentialsApi",
                      "data": {"url": org.base_url(), "clientId": KEY, "clientSecret": SECRET}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("an id").to_owned();
    let test = |id: String| {
        let (http, url) = (
            http.clone(),
            server.url(&format!("/api/v1/credentials/{id}/test")),
        );
        async move {
            let res = http.post(url).send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    assert_eq!(test(id.clone()).await, (200, json!({"status": "OK"})));

    // The operator pastes a wrong secret: the next test uses it at once.
    let res = http
        .patch(server.url(&format!("/api/v1/credentials/{id}")))
        .json(&json!({"data": {"clientSecret": "a-wrong-secret"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = test(id.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "Error");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("check the Client Secret"), "{message}");
    assert!(
        !message.contains("a-wrong-secret") && !message.contains(SECRET),
        "{message}"
    );

    let created: Value = http
        .post(server.url("/api/v1/credentials"))
        .json(&json!({"name": "o", "type": "salesforceOAuth2Api",
                      "data": {"environment": "production", "clientId": KEY, "clientSecret": SECRET, "myDomainUrl": org.base_url()}}))
        .send().await.unwrap().json().await.unwrap();
    let (_, body) = test(created["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(body["status"], "Error");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("connect it first"),
        "{body}"
    );

    assert_eq!(test("nosuchcredential".into()).await.0, 404);
    server.stop().await;
}
