//! `POST /api/v1/credentials/{id}/test` through the real server against the fake org.

use crate::common;

use crate::common::{Backend, TestEnv, TestServer, KEY_A};
use serde_json::json;

const KEY: &str = "test-consumer-key";
const SECRET: &str = "test-consumer-secret";

common::on_both_backends!(credential_test_reports_ok_and_the_step_to_fix);

async fn credential_test_reports_ok_and_the_step_to_fix(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "sf_credential_test").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let settings = env.settings_for_fakes();
    let server = TestServer::start(settings).await;
    let api = server.api(&key);
    let org = common::client_credentials_org(KEY, SECRET).await;

    let id = api.client_credentials("cc", &org, KEY, SECRET).await;
    let test = |id: String| {
        let api = &api;
        async move {
            let (status, body) = api.post(&format!("/api/v1/credentials/{id}/test")).await;
            (status.as_u16(), body)
        }
    };
    assert_eq!(test(id.clone()).await, (200, json!({"status": "OK"})));

    // The operator pastes a wrong secret: the next test uses it at once.
    let (status, body) = api
        .patch_json(
            &format!("/api/v1/credentials/{id}"),
            &json!({"data": {"clientSecret": "a-wrong-secret"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = test(id.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "Error");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("check the Client Secret"), "{message}");
    assert!(
        !message.contains("a-wrong-secret") && !message.contains(SECRET),
        "{message}"
    );

    let (_, created) = api
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "o", "type": "salesforceOAuth2Api",
                    "data": {"environment": "production", "clientId": KEY, "clientSecret": SECRET,
                             "myDomainUrl": org.base_url()}}),
        )
        .await;
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
