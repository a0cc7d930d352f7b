//! Summarize (v1, v1.1) through the executor: every aggregation, splits in separate items and
//! in a single item, key types per version, empty values, exact shapes and pairing.

use serde_json::{json, Value};

use super::node_flows::{failure, full, node, run, trigger, workflow};

async fn summarize(version: f64, params: Value, input: Value) -> workflow::ExecutionResult {
    run(
        workflow(
            json!([
                trigger(),
                node("Summarize", "summarize", version, params, 0)
            ]),
            &[("Trigger", 0, "Summarize", 0)],
        ),
        input,
    )
    .await
}

fn orders() -> Value {
    json!([
        {"cat": "a", "n": 1, "user": "x"},
        {"cat": "b", "n": 2, "user": "y"},
        {"cat": "a", "n": 3, "user": "x"},
        {"cat": "a", "n": "7", "user": ""}
    ])
}

fn every_aggregation() -> Value {
    json!({"values": [
        {"aggregation": "count", "field": "n"},
        {"aggregation": "sum", "field": "n"},
        {"aggregation": "average", "field": "n"},
        {"aggregation": "min", "field": "n"},
        {"aggregation": "max", "field": "user"},
        {"aggregation": "countUnique", "field": "user"},
        {"aggregation": "append", "field": "user"},
        {"aggregation": "concatenate", "field": "user", "separateBy": ", "}
    ]})
}

#[tokio::test]
async fn every_aggregation_over_all_items_in_one_item() {
    let r = summarize(
        1.1,
        json!({"fieldsToSummarize": every_aggregation()}),
        orders(),
    )
    .await;
    // Sum and average take numbers only ("7" is text); min compares as JavaScript does (the
    // text "7" against numbers); empty values are left out unless asked for.
    assert_eq!(
        full(&r, "Summarize", 0),
        json!([{"json": {
            "count_n": 4,
            "sum_n": 6,
            "average_n": 2,
            "min_n": 1,
            "max_user": "y",
            "unique_count_user": 2,
            "appended_user": ["x", "y", "x"],
            "concatenated_user": "x, y, x"
        }, "pairedItem": [{"item": 0}, {"item": 1}, {"item": 2}, {"item": 3}]}])
    );
    // Empty values included, a custom separator.
    let r = summarize(
        1.1,
        json!({"fieldsToSummarize": {"values": [
            {"aggregation": "count", "field": "user", "includeEmpty": true},
            {"aggregation": "countUnique", "field": "user", "includeEmpty": true},
            {"aggregation": "append", "field": "user", "includeEmpty": true},
            {"aggregation": "concatenate", "field": "user", "includeEmpty": true,
             "separateBy": "other", "customSeparator": " | "}
        ]}}),
        orders(),
    )
    .await;
    assert_eq!(
        full(&r, "Summarize", 0)[0]["json"],
        json!({"count_user": 4, "unique_count_user": 3, "appended_user": ["x", "y", "x", ""],
               "concatenated_user": "x | y | x | "})
    );
}

#[tokio::test]
async fn split_by_a_field_gives_one_item_per_value_after_the_results() {
    let r = summarize(
        1.1,
        json!({"fieldsToSummarize": {"values": [{"aggregation": "sum", "field": "n"},
                                                {"aggregation": "count", "field": "user"}]},
               "fieldsToSplitBy": "cat"}),
        orders(),
    )
    .await;
    assert_eq!(
        full(&r, "Summarize", 0),
        json!([
            {"json": {"sum_n": 4, "count_user": 2, "cat": "a"},
             "pairedItem": [{"item": 0}, {"item": 2}, {"item": 3}]},
            {"json": {"sum_n": 2, "count_user": 1, "cat": "b"}, "pairedItem": {"item": 1}}
        ])
    );
    // Two split fields: the inner one is written first.
    let r = summarize(
        1.1,
        json!({"fieldsToSummarize": {"values": [{"aggregation": "count", "field": "n"}]},
               "fieldsToSplitBy": "cat, user"}),
        orders(),
    )
    .await;
    assert_eq!(
        full(&r, "Summarize", 0)
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["json"].clone())
            .collect::<Vec<_>>(),
        [
            json!({"count_n": 2, "user": "x", "cat": "a"}),
            json!({"count_n": 1, "user": "", "cat": "a"}),
            json!({"count_n": 1, "user": "y", "cat": "b"})
        ]
    );
}

#[tokio::test]
async fn all_splits_in_a_single_item_nest_the_results_under_the_values() {
    let r = summarize(
        1.1,
        json!({"fieldsToSummarize": {"values": [{"aggregation": "sum", "field": "n"}]},
               "fieldsToSplitBy": "n", "options": {"outputFormat": "singleItem"}}),
        json!([{"n": 10}, {"n": 2}, {"n": 10}, {"m": 1}]),
    )
    .await;
    // Keys are text, index-like ones first in numeric order, as JavaScript orders them.
    assert_eq!(
        full(&r, "Summarize", 0),
        json!([{"json": {"2": {"sum_n": 2}, "10": {"sum_n": 20}, "undefined": {"sum_n": 0}},
                "pairedItem": [{"item": 0}, {"item": 1}, {"item": 2}, {"item": 3}]}])
    );
}

#[tokio::test]
async fn split_values_keep_their_type_from_1_1_and_were_text_in_1() {
    let params = json!({"fieldsToSummarize": {"values": [{"aggregation": "count", "field": "x"}]},
                        "fieldsToSplitBy": "n"});
    let input = json!([{"n": 1, "x": 1}, {"x": 2}, {"n": "1", "x": 3}]);
    let r = summarize(1.1, params.clone(), input.clone()).await;
    let jsons: Vec<Value> = full(&r, "Summarize", 0)
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["json"].clone())
        .collect();
    // 1 and "1" differ; an undefined value writes no field.
    assert_eq!(
        jsons,
        [
            json!({"count_x": 1, "n": 1}),
            json!({"count_x": 1}),
            json!({"count_x": 1, "n": "1"})
        ]
    );
    let r = summarize(1.0, params, input).await;
    let jsons: Vec<Value> = full(&r, "Summarize", 0)
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["json"].clone())
        .collect();
    assert_eq!(
        jsons,
        [
            json!({"count_x": 2, "n": "1"}),
            json!({"count_x": 1, "n": "undefined"})
        ]
    );
    // Ignoring items without a value to split by.
    let r = summarize(
        1.1,
        json!({"fieldsToSummarize": {"values": [{"aggregation": "count", "field": "x"}]},
               "fieldsToSplitBy": "n", "options": {"skipEmptySplitFields": true}}),
        json!([{"n": 0, "x": 1}, {"x": 2}, {"n": "", "x": 3}]),
    )
    .await;
    assert_eq!(
        full(&r, "Summarize", 0),
        json!([{"json": {"count_x": 1, "n": 0}, "pairedItem": {"item": 0}}])
    );
}

#[tokio::test]
async fn a_field_in_no_item_fails_in_1_unless_told_to_continue() {
    let params =
        json!({"fieldsToSummarize": {"values": [{"aggregation": "sum", "field": "missing"}]}});
    let r = summarize(1.0, params.clone(), orders()).await;
    assert_eq!(
        failure(&r),
        "The field 'missing' does not exist in any items"
    );
    let mut go_on = params.clone();
    go_on["options"] = json!({"continueIfFieldNotFound": true});
    let r = summarize(1.0, go_on, orders()).await;
    assert_eq!(
        full(&r, "Summarize", 0)[0]["json"],
        json!({"sum_missing": 0})
    );
    let r = summarize(1.1, params, orders()).await;
    assert_eq!(
        full(&r, "Summarize", 0)[0]["json"],
        json!({"sum_missing": 0})
    );
    let r = summarize(
        1.1,
        json!({"fieldsToSummarize": {"values": [{"aggregation": "count", "field": ""}]}}),
        orders(),
    )
    .await;
    assert_eq!(
        failure(&r),
        "You need to add at least one aggregation to 'Fields to Summarize' with non empty 'Field'"
    );
}
