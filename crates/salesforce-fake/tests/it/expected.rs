//! Exact fixtures: a list of expected calls (n8n's compat suite format)
//! served as canned replies, then checked against what was received.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

fn steps() -> Value {
    json!([
        {"method": "POST", "path": "/sobjects/account", "body": {"Name": "Test Account"},
         "reply": {"json": {"id": "id1", "success": true, "errors": []}}},
        {"method": "GET", "path": "/query", "soql": "SELECT id,name,type,LastModifiedDate FROM Account",
         "authorization": "Bearer CACHEDTOKEN",
         "reply": {"fixture": "fixtures/accounts.json", "wrap": "records"}},
        {"method": "PATCH", "path": "/sobjects/account/id1", "body": {"Website": "https://foo.bar.baz"},
         "reply": {"status": 204}},
        {"method": "PATCH", "path": "/sobjects/account/Id/id1", "body": {"Name": "x"},
         "reply": {"json": {"id": "id1", "created": false, "success": true, "errors": []}}},
        {"method": "DELETE", "path": "/sobjects/account/id1", "reply": {"status": 204}},
    ])
}

fn fixture_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    std::fs::write(
        dir.path().join("fixtures/accounts.json"),
        json!([{"attributes": {"type": "Account", "url": "/services/data/v59.0/sobjects/Account/id1"}, "Id": "id1", "Name": "Account 1"}]).to_string(),
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn steps_are_served_as_scripted_and_verified_in_order() {
    let org = builder().start().await.unwrap();
    let dir = fixture_dir();
    assert_eq!(org.script_steps(&steps(), dir.path()).unwrap(), 5);
    // A cached token from a workflow's credential, as n8n's tests send it.
    let api = Api {
        base: org.base_url().into(),
        token: "CACHEDTOKEN".into(),
        client: http(),
    };
    let v59 = "/services/data/v59.0";
    let r = api
        .post(
            &format!("{v59}/sobjects/account"),
            json!({"Name": "Test Account"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["id"], "id1");
    let r = api
        .query("SELECT id,name,type,LastModifiedDate\n  FROM Account")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalSize"], 1);
    assert_eq!(r.body["done"], true);
    assert_eq!(r.body["records"][0]["Name"], "Account 1");
    let r = api
        .patch(
            &format!("{v59}/sobjects/account/id1"),
            json!({"Website": "https://foo.bar.baz"}),
        )
        .await;
    assert_eq!((r.status, r.body), (StatusCode::NO_CONTENT, Value::Null));
    let r = api
        .patch(
            &format!("{v59}/sobjects/account/Id/id1"),
            json!({"Name": "x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["created"].clone()),
        (StatusCode::OK, json!(false))
    );
    let r = api.delete(&format!("{v59}/sobjects/account/id1")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(org.verify_steps(&steps()), Vec::<String>::new());
    assert_eq!(
        org.requests()[1].query_param("q").unwrap(),
        "SELECT id,name,type,LastModifiedDate\n  FROM Account"
    );
}

#[tokio::test]
async fn differences_from_the_steps_are_listed() {
    let org = builder().start().await.unwrap();
    let dir = fixture_dir();
    org.script_steps(&steps(), dir.path()).unwrap();
    let api = Api {
        base: org.base_url().into(),
        token: "OTHERTOKEN".into(),
        client: http(),
    };
    api.post("/sobjects/account", json!({"Name": "Wrong"}))
        .await;
    api.query("SELECT id FROM Account").await;
    let diffs = org.verify_steps(&steps());
    assert_eq!(diffs.len(), 6, "{diffs:#?}");
    assert!(
        diffs[0].starts_with("step 0: expected body {\"Name\":\"Test Account\"}"),
        "{}",
        diffs[0]
    );
    assert!(diffs[1].contains("expected SOQL"), "{}", diffs[1]);
    assert!(
        diffs[2].contains("Authorization") && !diffs[2].contains("OTHERTOKEN"),
        "{}",
        diffs[2]
    );
    assert_eq!(
        diffs[3],
        "step 2: expected PATCH /sobjects/account/id1, but no call was received"
    );

    // Bad steps name the step and what was wrong.
    let err = org
        .script_steps(
            &json!([{"method": "GET", "path": "/x", "reply": {"fixture": "nope.json"}}]),
            dir.path(),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("steps[0]") && err.to_string().contains("nope.json"),
        "{err}"
    );
}

#[tokio::test]
async fn steps_can_be_scripted_over_http() {
    let org = builder().start().await.unwrap();
    let c = http();
    let res = c
        .post(format!("{}/__fake/scripts", org.base_url()))
        .json(&json!({"method": "GET", "path": "/sobjects/user/id1", "reply": {"json": {"Id": "id1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let api = Api {
        base: org.base_url().into(),
        token: "T".into(),
        client: http(),
    };
    assert_eq!(api.get("/sobjects/user/id1").await.body["Id"], "id1");
    let res = c
        .delete(format!("{}/__fake/scripts", org.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/sobjects/user/id1").await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Every workflow of n8n's compat suite loads as it is, when the shared
/// folder is beside the repository (it is on developer machines and in CI).
#[tokio::test]
async fn the_n8n_compat_suite_file_loads_as_it_is() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/compat/n8n-salesforce/expected-requests.json");
    let Ok(raw) = std::fs::read_to_string(&file) else {
        println!("skipping: {} is not there", file.display());
        return;
    };
    let doc: Value = serde_json::from_str(&raw).unwrap();
    let workflows = doc["workflows"].as_object().unwrap();
    assert!(!workflows.is_empty());
    for (name, steps) in workflows {
        let org = builder().start().await.unwrap();
        let n = org.script_workflow(&file, name).unwrap();
        assert_eq!(n, steps.as_array().unwrap().len(), "{name}");
    }
}
