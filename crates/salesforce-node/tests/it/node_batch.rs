//! Record writes over many items: sObject Collections, 200 records a call, results mapped
//! back to their items; a refused record fails only its own item.

use salesforce_fake::{CustomObject, Field};
use serde_json::{json, Value};

use crate::common::{calls, empty_items, env, env_with, jsons, org_builder, pairing};

fn contacts(n: usize, bad: &[usize]) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let email = if bad.contains(&i) {
                "not-an-email".to_owned()
            } else {
                format!("c{i}@example.com")
            };
            json!({"resource": "contact", "lastname": format!("Contact {i}"),
                   "additionalFields": {"email": email}})
        })
        .collect()
}

fn collection_calls(env: &crate::common::Env) -> Vec<(String, String)> {
    calls(&env.data_requests())
        .into_iter()
        .filter(|(_, p)| p.starts_with("/composite/sobjects"))
        .collect()
}

#[tokio::test]
async fn a_thousand_creates_go_out_as_five_collection_calls_in_item_order() {
    let env = env().await;
    let out = env
        .ctx_per_item(contacts(1_000, &[]))
        .run(&env.node(), empty_items(1_000))
        .await
        .unwrap();
    assert_eq!(out.len(), 1_000);
    assert_eq!(pairing(&out), (0..1_000).collect::<Vec<_>>());
    let requests = env.data_requests();
    assert_eq!(
        calls(&requests),
        vec![("POST".to_string(), "/composite/sobjects".to_string()); 5]
    );
    for r in &requests {
        let body = r.json().unwrap();
        assert_eq!(body["allOrNone"], false);
        assert_eq!(body["records"].as_array().unwrap().len(), 200);
        assert_eq!(body["records"][0]["attributes"], json!({"type": "Contact"}));
    }
    assert_eq!(env.org.count("Contact"), 1_000);
    // Each item carries the id of its own record.
    for (i, item) in out.iter().enumerate() {
        assert_eq!(item.json["success"], true);
        assert_eq!(item.json["errors"], json!([]));
        let id = item.json["id"].as_str().unwrap();
        assert_eq!(
            env.org.record(id).unwrap()["LastName"],
            format!("Contact {i}")
        );
    }
}

#[tokio::test]
async fn a_refused_record_fails_only_its_item_with_continue_on_fail() {
    let env = env().await;
    let out = env
        .ctx_per_item(contacts(5, &[2]))
        .continue_on_fail()
        .run(&env.node(), empty_items(5))
        .await
        .unwrap();
    assert_eq!(pairing(&out), [0, 1, 2, 3, 4]);
    let json = jsons(&out);
    for i in [0, 1, 3, 4] {
        assert_eq!(json[i]["success"], true, "{i}: {}", json[i]);
    }
    let failed = json[2].as_object().unwrap();
    let keys: Vec<&str> = failed.keys().map(String::as_str).collect();
    assert_eq!(keys, ["error", "httpCode", "errorCode", "fields"]);
    assert_eq!(failed["errorCode"], "INVALID_EMAIL_ADDRESS");
    assert_eq!(failed["httpCode"], "400");
    assert_eq!(failed["fields"], json!(["Email"]));
    assert!(
        failed["error"].as_str().unwrap().contains("not-an-email"),
        "{failed:?}"
    );
    assert_eq!(collection_calls(&env).len(), 1);
    assert_eq!(env.org.count("Contact"), 4);
}

#[tokio::test]
async fn without_continue_on_fail_a_refusal_names_the_item_and_stops_later_batches() {
    let env = env().await;
    // Item 250 is in the second batch of 200; the third batch is never sent.
    let e = env
        .ctx_per_item(contacts(450, &[250]))
        .run(&env.node(), empty_items(450))
        .await
        .unwrap_err();
    assert_eq!(e.item_index, Some(250));
    assert_eq!(e.error_code.as_deref(), Some("INVALID_EMAIL_ADDRESS"));
    assert!(
        e.message
            .starts_with("Salesforce refused item 250 (INVALID_EMAIL_ADDRESS): "),
        "{}",
        e.message
    );
    assert_eq!(collection_calls(&env).len(), 2);
    // allOrNone is false: the rest of the first two batches was written.
    assert_eq!(env.org.count("Contact"), 399);
}

#[tokio::test]
async fn a_bad_parameter_without_continue_on_fail_stops_the_node_before_any_write() {
    let env = env().await;
    let mut params = contacts(3, &[]);
    params[1]["lastname"] = json!("");
    let e = env
        .ctx_per_item(params.clone())
        .run(&env.node(), empty_items(3))
        .await
        .unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.item_index),
        ("Parameter \"lastname\" is required", Some(1))
    );
    assert!(env.data_requests().is_empty());
    // With continue-on-fail the other two are written together.
    let out = env
        .ctx_per_item(params)
        .continue_on_fail()
        .run(&env.node(), empty_items(3))
        .await
        .unwrap();
    assert_eq!(
        jsons(&out)[1],
        json!({"error": "Parameter \"lastname\" is required"})
    );
    assert_eq!(collection_calls(&env).len(), 1);
    assert_eq!(env.org.count("Contact"), 2);
}

#[tokio::test]
async fn updates_and_deletes_go_out_in_batches_too() {
    let env = env().await;
    let ids: Vec<String> = (0..300)
        .map(|i| {
            env.org
                .insert("Account", json!({"Name": format!("A{i}")}))
                .unwrap()
        })
        .collect();
    let params: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"resource": "account", "operation": "update", "accountId": id,
                         "updateFields": {"industry": "Energy"}})
        })
        .collect();
    let out = env
        .ctx_per_item(params)
        .run(&env.node(), empty_items(300))
        .await
        .unwrap();
    assert!(jsons(&out)
        .iter()
        .all(|j| *j == json!({"success": true, "errors": []})));
    assert_eq!(
        collection_calls(&env),
        vec![("PATCH".to_string(), "/composite/sobjects".to_string()); 2]
    );
    assert!(ids
        .iter()
        .all(|id| env.org.record(id).unwrap()["Industry"] == "Energy"));
    let first = env.data_requests()[0].json().unwrap();
    assert_eq!(
        first["records"][0],
        json!({"attributes": {"type": "Account"}, "id": ids[0], "Industry": "Energy"})
    );

    env.org.clear_requests();
    let mut params: Vec<Value> = ids[..3]
        .iter()
        .map(|id| json!({"resource": "account", "operation": "delete", "accountId": id}))
        .collect();
    params.push(json!({"resource": "account", "operation": "delete", "accountId": "nope"}));
    let out = env
        .ctx_per_item(params)
        .continue_on_fail()
        .run(&env.node(), empty_items(4))
        .await
        .unwrap();
    let json = jsons(&out);
    assert_eq!(
        json[..3],
        vec![json!({"success": true, "errors": []}); 3][..]
    );
    assert_eq!(json[3]["errorCode"], "MALFORMED_ID");
    let requests = env.data_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "DELETE");
    assert_eq!(
        requests[0].query_param("ids").unwrap(),
        format!("{},{},{},nope", ids[0], ids[1], ids[2])
    );
    assert_eq!(
        requests[0].query_param("allOrNone").as_deref(),
        Some("false")
    );
    assert!(ids[..3]
        .iter()
        .all(|id| env.org.record(id).unwrap()["IsDeleted"] == true));
}

#[tokio::test]
async fn upserts_go_out_by_external_id_and_say_which_were_created() {
    let invoices = CustomObject::new("Invoice__c")
        .field(Field::text("Number__c", 20).external_id())
        .field(Field::number("Total__c"));
    let env = env_with(org_builder().custom_object(invoices)).await;
    let existing = env
        .org
        .insert(
            "Invoice__c",
            json!({"Name": "old", "Number__c": "INV-1", "Total__c": 1}),
        )
        .unwrap();
    let params: Vec<Value> = ["INV-1", "INV-2", "INV-3"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"resource": "customObject", "operation": "upsert",
            "customObject": "Invoice__c", "externalId": "Number__c", "externalIdValue": n,
            "customFieldsUi": {"customFieldsValues": [{"fieldId": "Total__c", "value": i * 10}]}})
        })
        .collect();
    let out = jsons(
        &env.ctx_per_item(params)
            .run(&env.node(), empty_items(3))
            .await
            .unwrap(),
    );
    let created: Vec<&Value> = out.iter().map(|o| &o["created"]).collect();
    assert_eq!(created, [&json!(false), &json!(true), &json!(true)]);
    assert_eq!(out[0]["id"], json!(existing));
    assert_eq!(env.org.record(&existing).unwrap()["Total__c"], 0.0);
    let calls = calls(&env.data_requests());
    // The describe checks the custom field names once; then one upsert call.
    assert_eq!(
        calls,
        [
            (
                "GET".to_string(),
                "/sobjects/Invoice__c/describe".to_string()
            ),
            (
                "PATCH".to_string(),
                "/composite/sobjects/Invoice__c/Number__c".to_string()
            )
        ]
    );
    let body = env.data_requests()[1].json().unwrap();
    assert_eq!(
        body["records"][1],
        json!({"attributes": {"type": "Invoice__c"}, "Total__c": 10, "Number__c": "INV-2"})
    );
}

#[tokio::test]
async fn notes_comments_and_campaign_members_are_batched_like_creates() {
    let env = env().await;
    let accounts: Vec<String> = (0..3)
        .map(|i| {
            env.org
                .insert("Account", json!({"Name": format!("A{i}")}))
                .unwrap()
        })
        .collect();
    let params: Vec<Value> = accounts
        .iter()
        .map(|id| json!({"resource": "account", "operation": "addNote", "accountId": id, "title": "Hi"}))
        .collect();
    let out = jsons(
        &env.ctx_per_item(params)
            .run(&env.node(), empty_items(3))
            .await
            .unwrap(),
    );
    for (o, account) in out.iter().zip(&accounts) {
        let note = env.org.record(o["id"].as_str().unwrap()).unwrap();
        assert_eq!(note["ParentId"], json!(account));
    }
    assert_eq!(
        calls(&env.data_requests()),
        [("POST".to_string(), "/composite/sobjects".to_string())]
    );
    assert_eq!(
        env.data_requests()[0].json().unwrap()["records"][0]["attributes"],
        json!({"type": "Note"})
    );
}
