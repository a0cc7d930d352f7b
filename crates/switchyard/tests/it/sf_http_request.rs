//! The HTTP Request node with a Salesforce credential (n8n's `authentication:
//! predefinedCredentialType`), through the real server and the fake org over real HTTP: the
//! plugin signs the request, a relative URL or the instance URL reaches the org, a refused
//! token is replaced once, and a credential type no plugin signs is refused at save.

use crate::common;

use crate::common::{Api, Backend, TestEnv, TestServer, KEY_A};
use salesforce_fake::FakeOrg;
use serde_json::{json, Value};

const KEY: &str = "http-consumer-key";
const SECRET: &str = "http-consumer-secret";
const TYPE: &str = "salesforceClientCredentialsApi";

common::on_both_backends!(
    http_request_reaches_the_org_signed_by_the_plugin,
    an_unsigned_credential_type_is_refused_at_save
);

struct Setup {
    _env: TestEnv,
    server: TestServer,
    org: FakeOrg,
    api: Api,
    credential: String,
}

async fn setup(backend: Backend, test: &str) -> Option<Setup> {
    let env = TestEnv::new(backend, test).await?;
    let key = env.api_key(KEY_A);
    let settings = env.settings_for_fakes();
    let server = TestServer::start(settings).await;
    let api = server.api(&key);
    let org = common::client_credentials_org(KEY, SECRET).await;
    let credential = api.client_credentials("Acme", &org, KEY, SECRET).await;
    Some(Setup {
        _env: env,
        server,
        org,
        api,
        credential,
    })
}

/// A workflow: manual trigger -> one HTTP Request node per URL, each signed with `credential`
/// of `credential_type`.
fn workflow(credential_type: &str, credential: &str, urls: &[&str]) -> Value {
    let mut nodes = vec![
        json!({"name": "Start", "type": "n8n-nodes-base.manualTrigger",
                                "typeVersion": 1, "parameters": {}}),
    ];
    let mut targets = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let name = format!("Call {i}");
        nodes.push(json!({
            "name": name, "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
            "parameters": {"method": "GET", "url": url, "authentication": "predefinedCredentialType",
                           "nodeCredentialType": credential_type, "options": {}},
            "credentials": {credential_type: {"id": credential, "name": "Acme"}}
        }));
        targets.push(json!({"node": name, "type": "main", "index": 0}));
    }
    json!({"name": "signed calls", "nodes": nodes,
           "connections": {"Start": {"main": [targets]}}})
}

impl Setup {
    /// Saves `workflow`, runs it and waits: the execution.
    async fn run(&self, workflow: &Value) -> Value {
        let (status, stored) = self.api.post_json("/api/v1/workflows", workflow).await;
        assert_eq!(status, 200, "{stored}");
        let run = format!(
            "/api/v1/workflows/{}/run?wait=true",
            stored["id"].as_str().unwrap()
        );
        let (status, execution) = self.api.post(&run).await;
        assert_eq!(status, 200, "{execution}");
        execution
    }

    /// The access token the plugin stored (encrypted) for the credential.
    async fn stored_token(&self) -> String {
        let stored = self
            .server
            .state
            .credentials
            .get(&self.credential)
            .await
            .unwrap();
        stored
            .token_data
            .expect("token data")
            .get_str("access_token")
            .expect("an access token")
            .to_owned()
    }

    fn data_calls(&self) -> Vec<salesforce_fake::RecordedRequest> {
        self.org
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/services/data/"))
            .collect()
    }
}

fn output(execution: &Value, node: &str) -> Value {
    execution["data"]["resultData"]["runData"][node][0]["data"]["main"][0][0]["json"].clone()
}

async fn http_request_reaches_the_org_signed_by_the_plugin(backend: Backend) {
    let Some(s) = setup(backend, "sf_http_request_signed").await else {
        return;
    };
    let id = s
        .org
        .insert("Account", json!({"Name": "Signed Inc."}))
        .unwrap();
    let relative = format!("/services/data/v64.0/sobjects/Account/{id}");
    let absolute = format!("{}{relative}", s.org.base_url());
    let wf = workflow(TYPE, &s.credential, &[&relative, &absolute]);

    let execution = s.run(&wf).await;
    assert_eq!(execution["status"], "success", "{execution}");
    for node in ["Call 0", "Call 1"] {
        let out = output(&execution, node);
        assert_eq!(out["Name"], "Signed Inc.", "{node}: {out}");
        assert_eq!(out["Id"], id.as_str(), "{node}: {out}");
    }
    let calls = s.data_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.iter().all(|c| c.path == relative));
    let token = s.stored_token().await;
    let bearer = format!("Bearer {token}");
    assert!(calls.iter().all(|c| c.authorization_is(&bearer)));
    assert_eq!(s.org.counter("POST /services/oauth2/token"), 1);
    assert!(
        !execution.to_string().contains(&token),
        "the token stays out of the execution"
    );

    // The org revokes the token: the first call gets 401, one new sign-in, one resend.
    s.org.revoke_all_tokens();
    s.org.clear_requests();
    let execution = s.run(&workflow(TYPE, &s.credential, &[&relative])).await;
    assert_eq!(execution["status"], "success", "{execution}");
    assert_eq!(output(&execution, "Call 0")["Name"], "Signed Inc.");
    let calls = s.data_calls();
    assert_eq!(calls.len(), 2, "the refused call and its resend: {calls:?}");
    assert!(calls[0].authorization_is(&bearer));
    let renewed = s.stored_token().await;
    assert_ne!(renewed, token, "a new token");
    assert!(calls[1].authorization_is(&format!("Bearer {renewed}")));
    assert_eq!(s.org.counter("POST /services/oauth2/token"), 2);

    // An absolute URL elsewhere never gets the token.
    s.org.clear_requests();
    let execution = s
        .run(&workflow(
            TYPE,
            &s.credential,
            &["http://127.0.0.1:9/services/data/v64.0/limits"],
        ))
        .await;
    assert_eq!(execution["status"], "error", "{execution}");
    let message = execution["data"]["resultData"]["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("not on the credential's Salesforce instance"),
        "{execution}"
    );
    assert!(s.data_calls().is_empty());
    s.server.stop().await;
}

async fn an_unsigned_credential_type_is_refused_at_save(backend: Backend) {
    let Some(s) = setup(backend, "sf_http_request_refused").await else {
        return;
    };
    let wf = workflow(
        "slackApi",
        &s.credential,
        &["https://slack.com/api/auth.test"],
    );
    let (status, body) = s.api.post_json("/api/v1/workflows", &wf).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    for part in [
        "Call 0",
        "nodeCredentialType",
        "slackApi",
        "salesforceJwtApi",
    ] {
        assert!(message.contains(part), "{part} missing from {message}");
    }
    let (_, list) = s.api.get("/api/v1/workflows").await;
    assert_eq!(list["data"], json!([]), "nothing stored");
    s.server.stop().await;
}
