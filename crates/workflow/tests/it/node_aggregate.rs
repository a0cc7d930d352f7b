//! Aggregate (v1) through the executor: individual fields (renamed, dotted, merged lists,
//! missing values) and all item data (included and excluded fields), exact shapes.

use serde_json::{json, Value};
use workflow::validate;

use super::node_flows::{failure, full, node, run, trigger, workflow};

async fn aggregate(params: Value, input: Value) -> workflow::ExecutionResult {
    run(
        workflow(
            json!([trigger(), node("Aggregate", "aggregate", 1.0, params, 0)]),
            &[("Trigger", 0, "Aggregate", 0)],
        ),
        input,
    )
    .await
}

fn people() -> Value {
    json!([
        {"name": "ada", "tags": ["a", "b"], "address": {"city": "Paris"}},
        {"name": "bob", "tags": ["c", null], "address": {"city": null}},
        {"tags": [], "address": {}}
    ])
}

fn all_paired() -> Value {
    json!([{"item": 0}, {"item": 1}, {"item": 2}])
}

#[tokio::test]
async fn individual_fields_become_lists_in_one_item_paired_with_every_item() {
    let r = aggregate(
        json!({"fieldsToAggregate": {"fieldToAggregate": [
            {"fieldToAggregate": "name"},
            {"fieldToAggregate": "address.city"},
            {"fieldToAggregate": "tags", "renameField": true, "outputFieldName": "allTags"}
        ]}, "options": {}}),
        people(),
    )
    .await;
    // Missing and null values are left out, nulls inside lists too; a dotted field is named
    // after its last part.
    assert_eq!(
        full(&r, "Aggregate", 0),
        json!([{"json": {
            "name": ["ada", "bob"],
            "city": ["Paris"],
            "allTags": [["a", "b"], ["c"], []]
        }, "pairedItem": all_paired()}])
    );
}

#[tokio::test]
async fn merge_lists_flattens_and_keep_missing_keeps_nulls() {
    let r = aggregate(
        json!({"fieldsToAggregate": {"fieldToAggregate": [{"fieldToAggregate": "tags"}]},
               "options": {"mergeLists": true}}),
        people(),
    )
    .await;
    assert_eq!(
        full(&r, "Aggregate", 0)[0]["json"],
        json!({"tags": ["a", "b", "c"]})
    );
    let r = aggregate(
        json!({"fieldsToAggregate": {"fieldToAggregate": [
            {"fieldToAggregate": "name"}, {"fieldToAggregate": "tags"}]},
               "options": {"keepMissing": true, "mergeLists": true}}),
        people(),
    )
    .await;
    assert_eq!(
        full(&r, "Aggregate", 0)[0]["json"],
        json!({"name": ["ada", "bob", null], "tags": ["a", "b", "c", null]})
    );
    // With dot notation off, a dotted name is one key, and an output name with dots is one
    // key too.
    let r = aggregate(
        json!({"fieldsToAggregate": {"fieldToAggregate": [
            {"fieldToAggregate": "address.city", "renameField": true, "outputFieldName": "out.city"}]},
               "options": {"disableDotNotation": true}}),
        json!([{"address.city": "Rome"}, {"address": {"city": "Oslo"}}]),
    )
    .await;
    assert_eq!(
        full(&r, "Aggregate", 0)[0]["json"],
        json!({"out.city": ["Rome"]})
    );
    let r = aggregate(
        json!({"fieldsToAggregate": {"fieldToAggregate": [
            {"fieldToAggregate": "name", "renameField": true, "outputFieldName": "out.names"}]}}),
        json!([{"name": "ada"}]),
    )
    .await;
    assert_eq!(
        full(&r, "Aggregate", 0)[0]["json"],
        json!({"out": {"names": ["ada"]}})
    );
}

#[tokio::test]
async fn all_item_data_goes_into_one_list_with_chosen_fields() {
    let input = json!([{"id": 1, "secret": "s"}, {"id": 2, "secret": "t"}, {"secret": "only"}]);
    let r = aggregate(json!({"aggregate": "aggregateAllItemData"}), input.clone()).await;
    assert_eq!(
        full(&r, "Aggregate", 0),
        json!([{"json": {"data": [{"id": 1, "secret": "s"}, {"id": 2, "secret": "t"}, {"secret": "only"}]},
                "pairedItem": all_paired()}])
    );
    // Excluding: an item left empty is dropped, and so is its pairing.
    let r = aggregate(
        json!({"aggregate": "aggregateAllItemData", "destinationFieldName": "rows",
               "include": "allFieldsExcept", "fieldsToExclude": "secret"}),
        input.clone(),
    )
    .await;
    assert_eq!(
        full(&r, "Aggregate", 0),
        json!([{"json": {"rows": [{"id": 1}, {"id": 2}]}, "pairedItem": [{"item": 0}, {"item": 1}]}])
    );
    let r = aggregate(
        json!({"aggregate": "aggregateAllItemData", "include": "specifiedFields",
               "fieldsToInclude": "secret, id"}),
        input,
    )
    .await;
    assert_eq!(
        full(&r, "Aggregate", 0)[0]["json"],
        json!({"data": [{"id": 1, "secret": "s"}, {"id": 2, "secret": "t"}, {"secret": "only"}]})
    );
}

#[tokio::test]
async fn no_fields_or_a_name_used_twice_is_an_error_and_binaries_are_refused_at_save() {
    let r = aggregate(
        json!({"fieldsToAggregate": {"fieldToAggregate": []}}),
        people(),
    )
    .await;
    assert_eq!(failure(&r), "No fields specified");
    let r = aggregate(
        json!({"fieldsToAggregate": {"fieldToAggregate": [
            {"fieldToAggregate": "name"},
            {"fieldToAggregate": "tags", "renameField": true, "outputFieldName": "name"}]}}),
        people(),
    )
    .await;
    assert_eq!(
        failure(&r),
        "The 'name' output field is used more than once"
    );

    let wf = workflow(
        json!([
            trigger(),
            node(
                "Aggregate",
                "aggregate",
                1.0,
                json!({"aggregate": "aggregateAllItemData", "options": {"includeBinaries": true}}),
                0
            )
        ]),
        &[("Trigger", 0, "Aggregate", 0)],
    );
    let err = validate(&wf, &core_nodes::registry(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node \"Aggregate\": Parameter \"options.includeBinaries\" has an unknown value true (accepted: false)"),
        "{err}"
    );
}
