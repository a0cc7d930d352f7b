//! Rename Keys (v1) through the executor: plain and nested renames, and regular expressions
//! with case and depth options.

use serde_json::{json, Value};

use super::node_flows::{assert_ok, full, node, output, run, trigger, workflow};

async fn rename(params: Value, input: Value) -> workflow::ExecutionResult {
    run(
        workflow(
            json!([trigger(), node("Rename", "renameKeys", 1.0, params, 0)]),
            &[("Trigger", 0, "Rename", 0)],
        ),
        input,
    )
    .await
}

#[tokio::test]
async fn keys_are_renamed_at_any_depth_and_the_new_key_goes_last() {
    let r = rename(
        json!({"keys": {"key": [
            {"currentKey": "name", "newKey": "fullName"},
            {"currentKey": "address.city", "newKey": "city"},
            {"currentKey": "id", "newKey": "ids.primary"},
            {"currentKey": "missing", "newKey": "other"},
            {"currentKey": "", "newKey": "ignored"}
        ]}}),
        json!([{"id": 7, "name": "ada", "address": {"city": "Paris", "zip": "75"}, "age": 36}]),
    )
    .await;
    assert_ok(&r);
    assert_eq!(
        full(&r, "Rename", 0),
        json!([{"json": {"address": {"zip": "75"}, "age": 36, "fullName": "ada", "city": "Paris",
                         "ids": {"primary": 7}},
                "pairedItem": {"item": 0}}])
    );
    // Renames read the item as it came: they do not chain.
    let r = rename(
        json!({"keys": {"key": [
            {"currentKey": "a", "newKey": "b"},
            {"currentKey": "b", "newKey": "c"}
        ]}}),
        json!([{"a": 1, "b": 2}]),
    )
    .await;
    assert_eq!(output(&r, "Rename", 0), json!([{"c": 2}]));
}

#[tokio::test]
async fn regular_expressions_rename_matching_keys_with_captures_case_and_depth() {
    let input = json!([{"First_Name": "ada", "first_seen": 1, "nested": {"first_level": {"first_deep": true}}}]);
    let r = rename(
        json!({"additionalOptions": {"regexReplacement": {"replacements": [
            {"searchRegex": "^first_(\\w+)", "replaceRegex": "initial_$1", "options": {}}
        ]}}}),
        input.clone(),
    )
    .await;
    assert_eq!(
        output(&r, "Rename", 0),
        json!([{"First_Name": "ada", "nested": {"initial_level": {"initial_deep": true}}, "initial_seen": 1}])
    );
    let r = rename(
        json!({"additionalOptions": {"regexReplacement": {"replacements": [
            {"searchRegex": "^first_", "replaceRegex": "x_", "options": {"caseInsensitive": true, "depth": 0}}
        ]}}}),
        input,
    )
    .await;
    assert_eq!(
        output(&r, "Rename", 0),
        json!([{"nested": {"first_level": {"first_deep": true}}, "x_Name": "ada", "x_seen": 1}])
    );
}
