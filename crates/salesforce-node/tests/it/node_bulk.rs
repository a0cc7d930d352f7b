//! Record writes above the bulk threshold: Bulk API 2.0 ingest jobs, polled to completion,
//! each row's result mapped back to its item.

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

fn s(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

#[tokio::test]
async fn creates_above_the_threshold_go_through_one_bulk_job() {
    let env = env().await;
    let node = env.bulk_node(100);
    let out = env
        .ctx_per_item(contacts(250, &[]))
        .run(&node, empty_items(250))
        .await
        .unwrap();
    assert_eq!(pairing(&out), (0..250).collect::<Vec<_>>());
    for (i, item) in out.iter().enumerate() {
        let keys: Vec<&str> = item.json.keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "success", "errors"]);
        let id = item.json["id"].as_str().unwrap();
        assert_eq!(
            env.org.record(id).unwrap()["LastName"],
            format!("Contact {i}")
        );
    }
    let requests = env.data_requests();
    let job = requests[0].clone();
    assert_eq!(
        job.json().unwrap(),
        json!({"object": "Contact", "operation": "insert", "contentType": "CSV", "lineEnding": "LF"})
    );
    let id = {
        let put = &requests[1];
        put.path.split('/').nth(6).unwrap().to_owned()
    };
    assert_eq!(
        calls(&requests),
        s(&[
            ("POST", "/jobs/ingest"),
            ("PUT", &format!("/jobs/ingest/{id}/batches")),
            ("PATCH", &format!("/jobs/ingest/{id}")),
            ("GET", &format!("/jobs/ingest/{id}")),
            ("GET", &format!("/jobs/ingest/{id}")),
            ("GET", &format!("/jobs/ingest/{id}/successfulResults")),
            ("GET", &format!("/jobs/ingest/{id}/failedResults")),
        ])
    );
    assert_eq!(requests[1].header("content-type"), Some("text/csv"));
    assert!(requests[1]
        .body
        .starts_with("LastName,Email\nContact 0,c0@example.com\n"));
    assert_eq!(
        requests[2].json().unwrap(),
        json!({"state": "UploadComplete"})
    );
}

#[tokio::test]
async fn a_refused_row_fails_only_its_item() {
    let env = env().await;
    let node = env.bulk_node(10);
    let out = env
        .ctx_per_item(contacts(20, &[7]))
        .continue_on_fail()
        .run(&node, empty_items(20))
        .await
        .unwrap();
    let out = jsons(&out);
    assert_eq!(out.len(), 20);
    assert!(out
        .iter()
        .enumerate()
        .all(|(i, o)| (i == 7) != (o["success"] == true)));
    assert_eq!(out[7]["errorCode"], "INVALID_EMAIL_ADDRESS");
    assert_eq!(out[7]["httpCode"], "400");
    assert_eq!(out[7]["fields"], json!(["Email"]));
    assert_eq!(env.org.count("Contact"), 19);

    // Without continue-on-fail the node fails naming the item; the job wrote the others.
    let e = env
        .ctx_per_item(contacts(20, &[3, 12]))
        .run(&node, empty_items(20))
        .await
        .unwrap_err();
    assert_eq!(e.item_index, Some(3));
    assert!(
        e.message
            .starts_with("Salesforce refused item 3 (INVALID_EMAIL_ADDRESS): "),
        "{}",
        e.message
    );
    assert_eq!(env.org.count("Contact"), 19 + 18);
}

#[tokio::test]
async fn upserts_updates_and_deletes_run_as_their_own_jobs() {
    let invoices = CustomObject::new("Invoice__c")
        .field(Field::text("Number__c", 20).external_id())
        .field(Field::number("Total__c"));
    let env = env_with(org_builder().custom_object(invoices)).await;
    let node = env.bulk_node(1);
    let existing = env
        .org
        .insert("Invoice__c", json!({"Name": "old", "Number__c": "INV-1"}))
        .unwrap();
    let upserts: Vec<Value> = ["INV-1", "INV-2", "INV-2"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"resource": "customObject", "operation": "upsert",
            "customObject": "Invoice__c", "externalId": "Number__c", "externalIdValue": n,
            "customFieldsUi": {"customFieldsValues": [{"fieldId": "Total__c", "value": i}]}})
        })
        .collect();
    let out = jsons(
        &env.ctx_per_item(upserts)
            .run(&node, empty_items(3))
            .await
            .unwrap(),
    );
    assert_eq!(
        out[0],
        json!({"id": existing, "success": true, "errors": [], "created": false})
    );
    assert_eq!(out[1]["created"], true);
    // The same external id twice in one job: the second row updates the first's record.
    assert_eq!(out[2]["id"], out[1]["id"]);
    let job = &env.data_requests()[1];
    assert_eq!(
        job.json().unwrap(),
        json!({"object": "Invoice__c", "operation": "upsert", "contentType": "CSV",
               "lineEnding": "LF", "externalIdFieldName": "Number__c"})
    );

    env.org.clear_requests();
    let ids = [existing.clone(), out[1]["id"].as_str().unwrap().to_owned()];
    let updates: Vec<Value> = ids
        .iter()
        .map(|id| json!({"resource": "customObject", "operation": "update", "customObject": "Invoice__c",
            "recordId": id, "customFieldsUi": {"customFieldsValues": [{"fieldId": "Total__c", "value": 99}]}}))
        .collect();
    let out = jsons(
        &env.ctx_per_item(updates)
            .run(&node, empty_items(2))
            .await
            .unwrap(),
    );
    assert_eq!(out, vec![json!({"success": true, "errors": []}); 2]);
    assert!(ids
        .iter()
        .all(|id| env.org.record(id).unwrap()["Total__c"] == 99.0));

    let deletes: Vec<Value> = ids
        .iter()
        .map(|id| json!({"resource": "customObject", "operation": "delete", "customObject": "Invoice__c", "recordId": id}))
        .collect();
    let out = jsons(
        &env.ctx_per_item(deletes)
            .run(&node, empty_items(2))
            .await
            .unwrap(),
    );
    assert_eq!(out, vec![json!({"success": true, "errors": []}); 2]);
    assert!(ids
        .iter()
        .all(|id| env.org.record(id).unwrap()["IsDeleted"] == true));
    let jobs: Vec<Value> = env
        .data_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.json().unwrap()["operation"].clone())
        .collect();
    assert_eq!(jobs, [json!("update"), json!("delete")]);
}

#[tokio::test]
async fn a_job_that_fails_as_a_whole_fails_every_item_it_carried() {
    let env = env().await;
    let node = env.bulk_node(2);
    // The fake's Lead has no Jigsaw field: Salesforce fails the file, writing no row.
    let params = json!({"resource": "lead", "company": "C", "lastname": "L",
                        "additionalFields": {"jigsaw": "j"}});
    let out = jsons(
        &env.ctx(params)
            .continue_on_fail()
            .run(&node, empty_items(3))
            .await
            .unwrap(),
    );
    assert_eq!(out.len(), 3);
    for o in &out {
        let error = o["error"].as_str().unwrap();
        assert!(
            error.contains("ended Failed without processing this record"),
            "{error}"
        );
        assert!(error.contains("Jigsaw"), "{error}");
    }
    assert_eq!(env.org.count("Lead"), 0);
}

#[tokio::test]
async fn the_threshold_itself_still_goes_through_collections() {
    let env = env().await;
    let node = env.bulk_node(3);
    env.ctx_per_item(contacts(3, &[]))
        .run(&node, empty_items(3))
        .await
        .unwrap();
    env.ctx_per_item(contacts(4, &[]))
        .run(&node, empty_items(4))
        .await
        .unwrap();
    let posts: Vec<String> = calls(&env.data_requests())
        .into_iter()
        .filter(|(m, _)| m == "POST")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(posts, ["/composite/sobjects", "/jobs/ingest"]);
    assert_eq!(env.org.count("Contact"), 7);
}

#[tokio::test]
async fn ten_thousand_items_at_the_default_threshold_take_fifty_collection_calls() {
    let env = env().await;
    let node = salesforce_node::SalesforceNode::new(env.client.clone());
    let started = std::time::Instant::now();
    let out = env
        .ctx_per_item(contacts(10_000, &[]))
        .run(&node, empty_items(10_000))
        .await
        .unwrap();
    println!(
        "10,000 contact creates (debug build): {:?}",
        started.elapsed()
    );
    assert_eq!(out.len(), 10_000);
    assert_eq!(env.org.count("Contact"), 10_000);
    let requests = env.data_requests();
    assert_eq!(requests.len(), 50);
    assert!(requests
        .iter()
        .all(|r| r.path.ends_with("/composite/sobjects")));
    // One sign-in besides: 51 calls to the org in all.
    assert_eq!(env.org.counter("POST /services/oauth2/token"), 1);
}
