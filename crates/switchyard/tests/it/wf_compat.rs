//! The six n8n-core compatibility workflows from `/work/shared/compat/n8n-core/`: each runs
//! with the recorded request as the webhook input and must give n8n's exact answer.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use workflow::webhook::{find_webhook_node, run_webhook, WebhookRequest};
use workflow::{validate, Workflow};

fn compat_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/n8n-core");
    if dir.is_dir() {
        Some(dir)
    } else {
        assert!(
            !db::testing::in_ci(),
            "{} is absent: the n8n-core compatibility workflows are required in CI",
            dir.display()
        );
        println!(
            "skipped: {} is absent (n8n-core compat workflows)",
            dir.display()
        );
        None
    }
}

/// Replaces `headers` and `webhookUrl` in expected webhook items by the actual values after
/// checking they are present, as the compat README asks.
fn align_webhook_fields(expected: &mut Value, actual: &Value) {
    let (Value::Array(exp), Value::Array(act)) = (expected, actual) else {
        return;
    };
    for (e, a) in exp.iter_mut().zip(act) {
        for field in ["headers", "webhookUrl"] {
            if let (Some(e), Some(a)) = (e.as_object_mut(), a.as_object()) {
                if e.contains_key(field) {
                    let value = a
                        .get(field)
                        .unwrap_or_else(|| panic!("webhook field {field} missing from {a:?}"));
                    e.insert(field.to_string(), value.clone());
                }
            }
        }
    }
}

#[tokio::test]
async fn compat_workflows_answer_exactly_as_n8n() {
    let Some(dir) = compat_dir() else { return };
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected-responses.json")).unwrap(),
    )
    .unwrap();
    let executor = core_nodes::executor();
    let mut checked = 0;
    for (name, cases) in expected.as_object().unwrap() {
        let text = std::fs::read_to_string(dir.join(format!("{name}.workflow.json"))).unwrap();
        let workflow = Arc::new(Workflow::from_json(&text).unwrap());
        validate(&workflow, executor.registry(), None)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (n, case) in cases.as_array().unwrap().iter().enumerate() {
            let req = &case["request"];
            let method = req["method"].as_str().unwrap();
            let path = req["path"]
                .as_str()
                .unwrap()
                .trim_start_matches("/webhook/");
            let body = req["body"].clone();
            let request = WebhookRequest {
                method: method.into(),
                path: path.into(),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("host".into(), "127.0.0.1:5678".into()),
                ],
                query: Default::default(),
                body,
                base_url: "http://localhost:5678".into(),
                params: Default::default(),
                test: false,
            };
            let node = find_webhook_node(&workflow, method, path)
                .unwrap_or_else(|| panic!("{name}: no webhook for {method} {path}"))
                .name
                .clone();
            let outcome = run_webhook(
                &executor,
                workflow.clone(),
                &node,
                format!("{name}-{n}"),
                &request,
            )
            .await
            .unwrap();
            let want = &case["response"];
            let got = &outcome.response;
            assert_eq!(
                got.status,
                want["status"].as_u64().unwrap() as u16,
                "{name}[{n}] status; execution error: {:?}",
                outcome.execution.error
            );
            for (h, v) in want["headers"].as_object().unwrap() {
                let actual = got
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(h))
                    .map(|(_, v)| v.as_str());
                assert_eq!(actual, v.as_str(), "{name}[{n}] header {h}");
            }
            let body: Value =
                serde_json::from_slice(got.body.as_deref().unwrap_or(b"null")).unwrap();
            let mut want_body = want["body"].clone();
            align_webhook_fields(&mut want_body, &body);
            assert_eq!(body, want_body, "{name}[{n}] body");
            checked += 1;
        }
    }
    assert_eq!(checked, 7, "every recorded request was replayed");
}
