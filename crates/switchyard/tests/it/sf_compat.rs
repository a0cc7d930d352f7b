//! n8n's own Salesforce workflows (`../shared/compat/n8n-salesforce`) through the real server:
//! each workflow is imported unchanged through the HTTP API (real SQLite, and Postgres when configured), its credentials
//! created through the API (the OAuth2 one connected through the real connect flow, the JWT
//! one signing in), and run; the fake org, over real HTTP, answers from
//! `expected-requests.json`. The org must receive exactly those requests, and each No Op
//! node must output its `pinData`. The pin data is taken out before the import: a manual run
//! serves pinned nodes from it, and the point is that the Salesforce nodes produce it.

use crate::common;

use std::path::{Path, PathBuf};

use crate::common::{Backend, TestEnv, TestServer, KEY_A};
use reqwest::redirect::Policy;
use salesforce_fake::{FakeOrg, RecordedRequest};
use serde_json::{json, Value};

const KEY: &str = "compat-consumer-key";
const SECRET: &str = "compat-consumer-secret";
const USER: &str = "user@example.com";
const CALLBACK: &str = "/rest/oauth2-credential/callback";

/// n8n's test registers a reply for this request, but no node of the workflow makes it
/// (the workflow has only a getAll node): it cannot be received.
const REPLY_NO_NODE_USES: (&str, &str, &str) = ("users.workflow.json", "GET", "/sobjects/user/id1");

/// The suite's folder; `None` (said on stderr) when it is absent outside CI. In CI its
/// absence fails the test: the suite must run there.
fn compat_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/n8n-salesforce");
    if dir.join("expected-requests.json").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: the Salesforce compatibility suite must run in CI",
        dir.display()
    );
    eprintln!(
        "skipped: {} is absent (n8n's Salesforce compatibility workflows)",
        dir.display()
    );
    None
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// JSON text with object keys sorted: bodies compare as JSON, whatever their key order.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let sorted: std::collections::BTreeMap<&String, String> =
                o.iter().map(|(k, v)| (k, canonical(v))).collect();
            let parts: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}:{v}", Value::String((*k).clone())))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// A comparable form of a request: method, path below the API version, SOQL, JSON body.
fn key(method: &str, path: &str, soql: Option<String>, body: Option<Value>) -> String {
    let soql = soql.map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
    canonical(&json!({"method": method, "path": path, "soql": soql, "body": body}))
}

/// The path below `/services/data/vXX.X`.
fn short_path(path: &str) -> String {
    let rest = path.strip_prefix("/services/data/").unwrap_or(path);
    rest.find('/').map_or(rest, |i| &rest[i..]).to_owned()
}

fn data_requests(org: &FakeOrg) -> Vec<RecordedRequest> {
    org.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/services/data/"))
        .collect()
}

/// A private key (PEM) and its self-signed certificate.
fn keypair() -> (String, String) {
    let key = testkit::RsaKey::generate();
    (key.private_pem(), key.self_signed_certificate("sf-compat"))
}

/// The credential ids the workflows name, so that they import unchanged.
fn credential_ids(dir: &Path) -> (String, String) {
    let mut oauth2 = None;
    let mut jwt = None;
    for entry in std::fs::read_dir(dir.join("workflows")).unwrap() {
        let workflow = read(&entry.unwrap().path());
        for node in workflow["nodes"].as_array().unwrap() {
            let creds = &node["credentials"];
            if let Some(id) = creds["salesforceOAuth2Api"]["id"].as_str() {
                oauth2 = Some(id.to_owned());
            }
            if let Some(id) = creds["salesforceJwtApi"]["id"].as_str() {
                jwt = Some(id.to_owned());
            }
        }
    }
    (
        oauth2.expect("an OAuth2 credential"),
        jwt.expect("a JWT one"),
    )
}

common::on_both_backends!(n8n_salesforce_workflows_run_through_the_server_as_in_n8n);

async fn n8n_salesforce_workflows_run_through_the_server_as_in_n8n(backend: Backend) {
    let Some(dir) = compat_dir() else {
        return;
    };
    let Some(env) = TestEnv::new(backend, "sf_compat").await else {
        return;
    };
    let api_key = env.api_key(KEY_A);
    let settings = env.settings_for_fakes();
    let server = TestServer::start_public(settings).await;
    let api = server.api(&api_key);
    let (private_pem, certificate_pem) = keypair();
    let org = FakeOrg::builder()
        .consumer_key(KEY)
        .consumer_secret(SECRET)
        .certificate_pem(&certificate_pem)
        .auto_approve(true)
        .authorize_as(USER)
        .callback_url(&server.url(CALLBACK))
        .start()
        .await
        .unwrap();

    // The credentials, with the ids the workflows name; the OAuth2 one connected the way a
    // person connects it (authorize URL -> the org approves -> our callback).
    let (oauth2_id, jwt_id) = credential_ids(&dir);
    for (id, type_name, data) in [
        (
            &oauth2_id,
            "salesforceOAuth2Api",
            json!({"environment": "production", "clientId": KEY, "clientSecret": SECRET,
                   "myDomainUrl": org.base_url()}),
        ),
        (
            &jwt_id,
            "salesforceJwtApi",
            json!({"environment": "production", "clientId": KEY, "username": USER,
                   "privateKey": private_pem, "myDomainUrl": org.base_url()}),
        ),
    ] {
        let (status, body) = api
            .post_json(
                "/api/v1/credentials",
                &json!({"id": id, "name": type_name, "type": type_name, "data": data}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], id.as_str());
    }
    let (status, auth) = api
        .get(&format!("/rest/oauth2-credential/auth?id={oauth2_id}"))
        .await;
    assert_eq!(status, 200, "{auth}");
    let browser = reqwest::Client::builder()
        .redirect(Policy::limited(5))
        .build()
        .unwrap();
    let page = browser
        .get(auth["data"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the callback page after approval");

    let expected = read(&dir.join("expected-requests.json"));
    let workflows = expected["workflows"].as_object().unwrap();
    assert_eq!(
        workflows.len(),
        6,
        "every compatibility workflow is exercised"
    );
    for (file, requests) in workflows {
        org.clear_scripts();
        org.clear_requests();
        let scripted = org
            .script_workflow(&dir.join("expected-requests.json"), file)
            .unwrap();
        assert_eq!(scripted, requests.as_array().unwrap().len());

        let mut workflow = read(&dir.join("workflows").join(file));
        let pins = workflow
            .as_object_mut()
            .unwrap()
            .remove("pinData")
            .expect("the workflow pins its expected outputs");
        let (status, stored) = api.post_json("/api/v1/workflows", &workflow).await;
        assert_eq!(status, 200, "{file}: import answered {stored}");
        let run = format!(
            "/api/v1/workflows/{}/run?wait=true",
            stored["id"].as_str().unwrap()
        );
        let (status, execution) = api.post(&run).await;
        assert_eq!(
            (status.as_u16(), execution["status"].as_str()),
            (200, Some("success")),
            "{file}: {execution}"
        );

        let run_data = &execution["data"]["resultData"]["runData"];
        let pins = pins.as_object().unwrap();
        assert!(!pins.is_empty(), "{file} pins outputs");
        for (no_op, pinned) in pins {
            let pinned: Vec<Value> = pinned
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["json"].clone())
                .collect();
            let runs = run_data[no_op]
                .as_array()
                .unwrap_or_else(|| panic!("{file}: {no_op} did not run: {run_data}"));
            assert_eq!(runs.len(), 1, "{file}: {no_op} runs once");
            let output: Vec<Value> = runs[0]["data"]["main"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["json"].clone())
                .collect();
            assert_eq!(output, pinned, "{file}: output of {no_op}");
        }

        let mut want: Vec<String> = requests
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                (
                    file.as_str(),
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap(),
                ) != REPLY_NO_NODE_USES
            })
            .map(|r| {
                key(
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap(),
                    r["soql"].as_str().map(str::to_owned),
                    r.get("body").cloned(),
                )
            })
            .collect();
        let received = data_requests(&org);
        let mut got: Vec<String> = received
            .iter()
            .map(|r| {
                key(
                    &r.method,
                    &short_path(&r.path),
                    r.query_param("q"),
                    r.json(),
                )
            })
            .collect();
        // Parallel branches of the manual trigger: n8n's order is by position, the file's by
        // node; what matters is that each request arrives exactly once.
        got.sort();
        want.sort();
        assert_eq!(got, want, "{file}: the requests the org received");
        assert!(
            received.iter().all(|r| r
                .header("authorization")
                .is_some_and(|a| a.starts_with("Bearer "))),
            "{file}: every call is signed"
        );
    }
    // One sign-in each: the OAuth2 code exchange and the JWT bearer grant; tokens then served
    // from the cache for every later call.
    assert_eq!(org.counter("POST /services/oauth2/token"), 2);
    server.stop().await;
}
