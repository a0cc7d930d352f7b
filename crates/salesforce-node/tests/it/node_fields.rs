//! The field check: names a user typed are looked up in the object's describe before the
//! first call; a typo fails with the nearest names; describes are cached per credential and
//! object, fetched again for a name they lack and dropped on `INVALID_FIELD`.

use serde_json::{json, Value};

use crate::common::{calls, empty_items, env, jsons};

const DESCRIBE: &str = "GET /services/data/{v}/sobjects/{object}/describe";

fn with_custom_field(field: &str, value: &str) -> Value {
    json!({"resource": "contact", "lastname": "Ng", "additionalFields": {
        "customFieldsUi": {"customFieldsValues": [{"fieldId": field, "value": value}]}}})
}

#[tokio::test]
async fn a_typo_fails_with_the_nearest_names_before_anything_is_written() {
    let env = env().await;
    let node = env.node();
    let e = env
        .ctx(with_custom_field("Departmnt", "Sales"))
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Field \"Departmnt\" does not exist on Contact (parameter \"additionalFields.customFieldsUi\"): did you mean Department?"
    );
    assert_eq!(
        (e.error_code.as_deref(), e.fields.clone(), e.item_index),
        (
            Some("INVALID_FIELD"),
            vec!["Departmnt".to_string()],
            Some(0)
        )
    );
    assert_eq!(
        calls(&env.data_requests()),
        [("GET".to_string(), "/sobjects/Contact/describe".to_string())]
    );
    assert_eq!(env.org.count("Contact"), 0);

    // With continue-on-fail only the items using the typo fail; one describe serves all.
    let out = env
        .ctx_per_item(vec![
            with_custom_field("Department", "Sales"),
            with_custom_field("Departmnt", "Sales"),
            with_custom_field("Title", "CTO"),
        ])
        .continue_on_fail()
        .run(&node, empty_items(3))
        .await
        .unwrap();
    let out = jsons(&out);
    assert_eq!(out[0]["success"], true);
    assert_eq!(out[1]["errorCode"], "INVALID_FIELD");
    assert_eq!(out[2]["success"], true);
    assert_eq!(env.org.count("Contact"), 2);
    // The typo is not in the cached describe, so it was fetched once more (the field might
    // be new) before the item was refused: one describe for the three items.
    assert_eq!(env.org.counter(DESCRIBE), 2);
    // Known names are served by the cache.
    env.ctx(with_custom_field("Department", "Ops"))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(env.org.counter(DESCRIBE), 2);
}

#[tokio::test]
async fn query_fields_and_condition_fields_are_checked_too() {
    let env = env().await;
    let node = env.node();
    let e = env
        .ctx(
            json!({"resource": "account", "operation": "getAll", "returnAll": true,
                    "options": {"fields": "Name,Industy"}}),
        )
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Field \"Industy\" does not exist on Account (parameter \"options.fields\"): did you mean Industry?"
    );
    let e = env
        .ctx(
            json!({"resource": "account", "operation": "getAll", "returnAll": true,
                    "options": {"conditionsUi": {"conditionValues": [
                        {"field": "AnualRevenue", "operation": ">", "value": 1}]}}}),
        )
        .json(&node, 1)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Field \"AnualRevenue\" does not exist on Account (parameter \"options.conditionsUi.field\"): did you mean AnnualRevenue?"
    );
    // A describe each (the second run's typo was not in the cached one), and no query.
    assert_eq!(
        calls(&env.data_requests()),
        vec![("GET".to_string(), "/sobjects/Account/describe".to_string()); 2]
    );
}

#[tokio::test]
async fn names_the_node_maps_itself_cost_no_describe() {
    let env = env().await;
    let node = env.node();
    env.ctx(json!({"resource": "account", "name": "Acme", "additionalFields": {"website": "https://a.example"}}))
        .json(&node, 1)
        .await
        .unwrap();
    env.ctx(json!({"resource": "account", "operation": "getAll", "returnAll": true}))
        .json(&node, 1)
        .await
        .unwrap();
    assert_eq!(env.org.counter(DESCRIBE), 0);
}

#[tokio::test]
async fn a_cached_describe_is_fetched_again_for_a_new_name_and_dropped_on_invalid_field() {
    let env = env().await;
    let node = env.node();
    env.org
        .insert("Account", json!({"Name": "Acme", "Industry": "Energy"}))
        .unwrap();
    let get_all = |fields: &str| {
        env.ctx(
            json!({"resource": "account", "operation": "getAll", "returnAll": true,
                       "options": {"fields": fields}}),
        )
    };
    // An old describe, from before Industry existed.
    env.org.script(
        "GET",
        "/sobjects/Account/describe",
        200,
        json!({"name": "Account", "fields": [{"name": "Id"}, {"name": "Name"}]}),
    );
    get_all("Name").json(&node, 1).await.unwrap();
    env.org.clear_scripts();
    // Industry is not in the cached describe: it is fetched again, and the name passes.
    let out = get_all("Name,Industry").json(&node, 1).await.unwrap();
    assert_eq!(out[0]["Industry"], "Energy");
    assert_eq!(env.org.counter(DESCRIBE), 2);
    // Cached now: no describe.
    get_all("Industry").json(&node, 1).await.unwrap();
    assert_eq!(env.org.counter(DESCRIBE), 2);

    // Salesforce refuses a field (it was deleted meanwhile): the describe is dropped.
    let q: String = url::form_urlencoded::byte_serialize(b"SELECT Industry FROM Account").collect();
    env.org.script(
        "GET",
        &format!("/query?q={q}"),
        400,
        json!([{"errorCode": "INVALID_FIELD", "message": "No such column 'Industry' on entity 'Account'."}]),
    );
    let e = get_all("Industry").json(&node, 1).await.unwrap_err();
    assert_eq!(e.error_code.as_deref(), Some("INVALID_FIELD"));
    assert_eq!(
        e.message,
        "Salesforce refused item 0 (INVALID_FIELD): No such column 'Industry' on entity 'Account'."
    );
    env.org.clear_scripts();
    get_all("Industry").json(&node, 1).await.unwrap();
    assert_eq!(env.org.counter(DESCRIBE), 3);
}
