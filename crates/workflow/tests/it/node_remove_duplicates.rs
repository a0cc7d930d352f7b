//! Remove Duplicates (v1, v1.1, v2 `removeDuplicateInputItems`) through the executor: all
//! fields, all but some, selected fields, nested fields, the type checks, removing other
//! fields, and the operations refused at save.

use serde_json::{json, Value};
use workflow::validate;

use super::node_flows::{assert_ok, failure, full, node, output, run, trigger, workflow};

async fn dedupe(version: f64, params: Value, input: Value) -> workflow::ExecutionResult {
    run(
        workflow(
            json!([
                trigger(),
                node("Dedupe", "removeDuplicates", version, params, 0)
            ]),
            &[("Trigger", 0, "Dedupe", 0)],
        ),
        input,
    )
    .await
}

fn rows() -> Value {
    json!([
        {"id": 1, "email": "a@x", "meta": {"src": "web"}},
        {"id": 2, "email": "b@x", "meta": {"src": "web"}},
        {"id": 1, "email": "a@x", "meta": {"src": "web"}},
        {"id": 3, "email": "a@x", "meta": {"src": "app"}}
    ])
}

#[tokio::test]
async fn all_fields_keeps_the_first_of_equal_items_with_their_pairing() {
    for version in [1.0, 1.1, 2.0] {
        let r = dedupe(version, json!({}), rows()).await;
        assert_ok(&r);
        assert_eq!(
            full(&r, "Dedupe", 0),
            json!([
                {"json": {"id": 1, "email": "a@x", "meta": {"src": "web"}}, "pairedItem": {"item": 0}},
                {"json": {"id": 2, "email": "b@x", "meta": {"src": "web"}}, "pairedItem": {"item": 1}},
                {"json": {"id": 3, "email": "a@x", "meta": {"src": "app"}}, "pairedItem": {"item": 3}}
            ]),
            "v{version}"
        );
    }
    // 1 and 1.0 are the same number.
    let r = dedupe(2.0, json!({}), json!([{"v": 1}, {"v": 1.0}])).await;
    assert_eq!(output(&r, "Dedupe", 0), json!([{"v": 1}]));
}

#[tokio::test]
async fn comparing_selected_fields_or_all_but_some() {
    let r = dedupe(
        2.0,
        json!({"compare": "selectedFields", "fieldsToCompare": "email"}),
        rows(),
    )
    .await;
    assert_eq!(
        output(&r, "Dedupe", 0)
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].clone())
            .collect::<Vec<_>>(),
        [json!(1), json!(2)]
    );
    let r = dedupe(
        2.0,
        json!({"compare": "selectedFields", "fieldsToCompare": "meta.src"}),
        rows(),
    )
    .await;
    assert_eq!(output(&r, "Dedupe", 0).as_array().unwrap().len(), 2);
    let r = dedupe(
        2.0,
        json!({"compare": "allFieldsExcept", "fieldsToExclude": "id, meta.src"}),
        rows(),
    )
    .await;
    assert_eq!(
        output(&r, "Dedupe", 0),
        json!([{"id": 1, "email": "a@x", "meta": {"src": "web"}}, {"id": 2, "email": "b@x", "meta": {"src": "web"}}])
    );
    // Only the compared fields, nested ones in place; n8n pairs these by output position.
    let r = dedupe(
        2.0,
        json!({"compare": "selectedFields", "fieldsToCompare": "email, meta.src",
               "options": {"removeOtherFields": true}}),
        rows(),
    )
    .await;
    assert_eq!(
        full(&r, "Dedupe", 0),
        json!([
            {"json": {"email": "a@x", "meta": {"src": "web"}}, "pairedItem": {"item": 0}},
            {"json": {"email": "b@x", "meta": {"src": "web"}}, "pairedItem": {"item": 1}},
            {"json": {"email": "a@x", "meta": {"src": "app"}}, "pairedItem": {"item": 2}}
        ])
    );
}

#[tokio::test]
async fn missing_fields_and_changing_types_are_errors_as_in_n8n() {
    let r = dedupe(
        2.0,
        json!({"compare": "selectedFields", "fieldsToCompare": "nope"}),
        rows(),
    )
    .await;
    assert_eq!(failure(&r), "'nope' field is missing from some input items");
    let r = dedupe(
        2.0,
        json!({"compare": "selectedFields", "fieldsToCompare": "v"}),
        json!([{"v": 1}, {"v": "1"}]),
    )
    .await;
    assert_eq!(failure(&r), "'v' isn't always the same type");
    let e = r.error.as_ref().unwrap().node_error.as_ref().unwrap();
    assert_eq!(
        e.description.as_deref(),
        Some("The type of this field varies between items, in item [0] it's a number and in item [1] it's a string ")
    );
    // Null counts as missing a type from 1.1 on, not before.
    let input = json!([{"v": 1}, {"v": null}, {"v": 1}]);
    let r = dedupe(
        2.0,
        json!({"compare": "selectedFields", "fieldsToCompare": "v"}),
        input.clone(),
    )
    .await;
    assert_eq!(output(&r, "Dedupe", 0), json!([{"v": 1}, {"v": null}]));
    let r = dedupe(
        1.0,
        json!({"compare": "selectedFields", "fieldsToCompare": "v"}),
        input,
    )
    .await;
    assert_eq!(failure(&r), "'v' isn't always the same type");
    let r = dedupe(
        2.0,
        json!({"compare": "selectedFields", "fieldsToCompare": ""}),
        rows(),
    )
    .await;
    assert_eq!(
        failure(&r),
        "No fields specified. Please add a field to compare on"
    );
}

#[tokio::test]
async fn operations_that_remember_past_executions_are_refused_at_save() {
    let wf = workflow(
        json!([
            trigger(),
            node(
                "Dedupe",
                "removeDuplicates",
                2.0,
                json!({"operation": "removeItemsSeenInPreviousExecutions", "dedupeValue": "={{ $json.id }}"}),
                0
            )
        ]),
        &[("Trigger", 0, "Dedupe", 0)],
    );
    let err = validate(&wf, &core_nodes::registry(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node \"Dedupe\": Parameter \"operation\" has an unknown value \"removeItemsSeenInPreviousExecutions\" (accepted: removeDuplicateInputItems)"),
        "{err}"
    );
}
