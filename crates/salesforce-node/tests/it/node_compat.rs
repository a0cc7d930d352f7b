//! n8n's own Salesforce workflows (`../shared/compat/n8n-salesforce`): every Salesforce node
//! of each workflow runs against the fake org answering from `expected-requests.json`; the
//! org must receive exactly those requests, and each node must output its No Op's `pinData`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{self, calls, empty_items, env, jsons, keypair, short_path, USER};

fn compat_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/n8n-salesforce");
    dir.join("expected-requests.json").exists().then_some(dir)
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// n8n's test registers a reply for this request, but no node of the workflow makes it
/// (the workflow has only a getAll node): it cannot be received.
const REPLY_NO_NODE_USES: (&str, &str, &str) = ("users.workflow.json", "GET", "/sobjects/user/id1");

/// The reply the org gives, from an expected request's `reply`.
fn reply(dir: &Path, reply: &Value) -> (u16, Value) {
    if let Some(status) = reply.get("status") {
        return (status.as_u64().unwrap() as u16, Value::Null);
    }
    if let Some(body) = reply.get("json") {
        return (200, body.clone());
    }
    let fixture = read(&dir.join(reply["fixture"].as_str().unwrap()));
    match reply.get("wrap").and_then(Value::as_str) {
        Some("records") => {
            let n = fixture.as_array().map_or(0, Vec::len);
            (
                200,
                json!({"totalSize": n, "done": true, "records": fixture}),
            )
        }
        _ => (200, fixture),
    }
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

/// A comparable form of a request: method, path, SOQL or JSON body.
fn key(method: &str, path: &str, soql: Option<String>, body: Option<Value>) -> String {
    canonical(
        &json!({"method": method, "path": path, "soql": soql.map(|s| collapse(&s)), "body": body}),
    )
}

#[tokio::test]
async fn n8n_workflows_send_the_expected_requests_and_output_the_pinned_data() {
    let Some(dir) = compat_dir() else {
        assert!(
            !db::testing::in_ci(),
            "../shared/compat/n8n-salesforce is absent: the compatibility suite is required in CI"
        );
        println!("skipped: ../shared/compat/n8n-salesforce is absent (a fresh clone without the shared folder)");
        return;
    };
    let expected = read(&dir.join("expected-requests.json"));
    let workflows = expected["workflows"].as_object().unwrap();
    assert_eq!(
        workflows.len(),
        6,
        "every compatibility workflow is exercised"
    );
    let keys_dir = tempfile::tempdir().unwrap();
    for (file, requests) in workflows {
        let workflow = read(&dir.join("workflows").join(file));
        let mut env = env().await;
        env.connect_oauth2("ACCESSTOKEN").await;
        let (private_pem, _) = keypair(keys_dir.path());
        env.org.accept_token("CACHEDTOKEN", USER).unwrap();
        let jwt = json!({"environment": "production", "clientId": "connected-app-client-id",
                         "username": USER, "privateKey": private_pem});
        let cached = json!({"access_token": "CACHEDTOKEN", "instance_url": env.org.base_url()});
        env.add_credential("salesforceJwtApi", jwt, Some(cached))
            .await;

        let mut want = Vec::new();
        for r in requests.as_array().unwrap() {
            let (method, path) = (r["method"].as_str().unwrap(), r["path"].as_str().unwrap());
            let soql = r["soql"].as_str().map(str::to_owned);
            let target = match &soql {
                Some(q) => format!(
                    "{path}?q={}",
                    url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
                ),
                None => path.to_owned(),
            };
            let (status, body) = reply(&dir, &r["reply"]);
            env.org.script(method, &target, status, body);
            if (file.as_str(), method, path) != REPLY_NO_NODE_USES {
                want.push(key(method, path, soql, r.get("body").cloned()));
            }
        }

        let pins = workflow["pinData"].as_object().unwrap();
        let mut ran = 0;
        for node in workflow["nodes"].as_array().unwrap() {
            if node["type"] != "n8n-nodes-base.salesforce" {
                continue;
            }
            let name = node["name"].as_str().unwrap();
            let version = node["typeVersion"].as_f64().unwrap();
            let ctx = env.ctx_as_is(node["parameters"].clone()).version(version);
            let out = ctx
                .run(&env.node(), empty_items(1))
                .await
                .unwrap_or_else(|e| panic!("{file} {name}: {e:?}"));
            let no_op = workflow["connections"][name]["main"][0][0]["node"]
                .as_str()
                .unwrap();
            let pinned: Vec<Value> = pins[no_op]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["json"].clone())
                .collect();
            assert_eq!(jsons(&out), pinned, "{file}: output of {name}");
            assert!(common::pairing(&out).iter().all(|&i| i == 0));
            ran += 1;
        }
        assert!(ran > 0, "{file} has Salesforce nodes");

        let received = env.data_requests();
        let mut got: Vec<String> = received
            .iter()
            .map(|r| {
                let path = short_path(&r.path);
                let soql = r.query_param("q");
                let body = r.json();
                key(&r.method, &path, soql, body)
            })
            .collect();
        got.sort();
        want.sort();
        assert_eq!(
            got,
            want,
            "{file}: requests received ({:?})",
            calls(&received)
        );
        if file == "search-jwt.workflow.json" {
            assert!(received
                .iter()
                .all(|r| r.authorization_is("Bearer CACHEDTOKEN")));
        } else {
            assert!(received
                .iter()
                .all(|r| r.authorization_is("Bearer ACCESSTOKEN")));
        }
        // The cached tokens served: nobody signed in.
        assert_eq!(env.org.counter("POST /services/oauth2/token"), 0, "{file}");
    }
}
