//! Sort (v1: simple, random, code) and Limit (v1) through the executor: order, pairing kept
//! from the input, errors, and what is refused at save.

use serde_json::{json, Value};
use workflow::validate;

use super::node_flows::{assert_ok, failure, full, node, output, run, set, trigger, workflow};

/// Trigger -> Tag (a Set, so items are paired 1:1) -> `node` named `N`.
async fn after_tag(ty: &str, params: Value, input: Value) -> workflow::ExecutionResult {
    run(
        workflow(
            json!([
                trigger(),
                set("Tag", &[("t", "x")], 0),
                node("N", ty, 1.0, params, 0)
            ]),
            &[("Trigger", 0, "Tag", 0), ("Tag", 0, "N", 0)],
        ),
        input,
    )
    .await
}

fn people() -> Value {
    json!([
        {"name": "bob", "age": 30, "meta": {"rank": 2}},
        {"name": "Ada", "age": 30, "meta": {"rank": 1}},
        {"name": "cy", "age": 25, "meta": {"rank": 3}}
    ])
}

fn sort_by(fields: Value) -> Value {
    json!({"type": "simple", "sortFieldsUi": {"sortField": fields}})
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["json"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn simple_sort_by_fields_ascending_and_descending_keeping_each_items_pairing() {
    let r = after_tag(
        "sort",
        sort_by(json!([{"fieldName": "age", "order": "descending"}, {"fieldName": "name"}])),
        people(),
    )
    .await;
    assert_ok(&r);
    // Text compares lower-cased; ties on age go to the next field.
    let out = full(&r, "N", 0);
    assert_eq!(names(&out), ["Ada", "bob", "cy"]);
    // Each item keeps the pairing it came with (to the Tag item it was).
    assert_eq!(out[0]["pairedItem"], json!({"item": 1}));
    assert_eq!(out[2]["pairedItem"], json!({"item": 2}));

    let r = after_tag(
        "sort",
        sort_by(json!([{"fieldName": "meta.rank"}])),
        people(),
    )
    .await;
    assert_eq!(names(&full(&r, "N", 0)), ["Ada", "bob", "cy"]);
    let r = after_tag(
        "sort",
        json!({"type": "simple", "sortFieldsUi": {"sortField": [{"fieldName": "meta.rank"}]},
               "options": {"disableDotNotation": true}}),
        people(),
    )
    .await;
    assert_eq!(
        failure(&r),
        "Couldn't find the field 'meta.rank' in the input data"
    );
    let e = r.error.as_ref().unwrap().node_error.as_ref().unwrap();
    assert!(e
        .description
        .as_deref()
        .unwrap()
        .contains("disable dot notation"));
    let r = after_tag("sort", sort_by(json!([])), people()).await;
    assert_eq!(
        failure(&r),
        "No sorting specified. Please add a field to sort by"
    );
}

#[tokio::test]
async fn mixed_types_sort_as_lodash_compares_them_without_failing() {
    let r = after_tag(
        "sort",
        sort_by(json!([{"fieldName": "v"}])),
        json!([{"v": "10"}, {"v": 9}, {"v": null}, {"v": "abc"}, {"v": 2}]),
    )
    .await;
    assert_ok(&r);
    assert_eq!(output(&r, "N", 0).as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn random_keeps_every_item_and_code_sorts_with_a_comparator_in_the_sandbox() {
    let r = after_tag("sort", json!({"type": "random"}), people()).await;
    let mut got = names(&full(&r, "N", 0));
    got.sort();
    assert_eq!(got, ["Ada", "bob", "cy"]);

    // n8n's default comparator assigns a name it never declares.
    let code = "fieldName = 'age';\nif (a.json[fieldName] < b.json[fieldName]) {\nreturn -1;\n}\n\
                if (a.json[fieldName] > b.json[fieldName]) {\nreturn 1;\n}\nreturn 0;";
    let r = after_tag("sort", json!({"type": "code", "code": code}), people()).await;
    assert_ok(&r);
    let out = full(&r, "N", 0);
    assert_eq!(names(&out), ["cy", "bob", "Ada"]);
    assert_eq!(out[0]["pairedItem"], json!({"item": 2}));
    let r = after_tag(
        "sort",
        json!({"type": "code", "code": "a.json.age - b.json.age"}),
        people(),
    )
    .await;
    assert_eq!(
        failure(&r),
        "Sort code doesn't return. Please add a 'return' statement to your code"
    );
}

#[tokio::test]
async fn limit_keeps_the_first_or_last_items() {
    let input = json!([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]);
    let r = after_tag("limit", json!({"maxItems": 2}), input.clone()).await;
    assert_eq!(
        full(&r, "N", 0),
        json!([{"json": {"n": 1, "t": "x"}, "pairedItem": {"item": 0}},
               {"json": {"n": 2, "t": "x"}, "pairedItem": {"item": 1}}])
    );
    let r = after_tag(
        "limit",
        json!({"maxItems": 2, "keep": "lastItems"}),
        input.clone(),
    )
    .await;
    assert_eq!(
        full(&r, "N", 0),
        json!([{"json": {"n": 3, "t": "x"}, "pairedItem": {"item": 2}},
               {"json": {"n": 4, "t": "x"}, "pairedItem": {"item": 3}}])
    );
    let r = after_tag("limit", json!({}), input.clone()).await;
    assert_eq!(output(&r, "N", 0), json!([{"n": 1, "t": "x"}]));
    let r = after_tag("limit", json!({"maxItems": 10}), input).await;
    assert_eq!(output(&r, "N", 0).as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn unknown_values_are_refused_at_save() {
    let registry = core_nodes::registry();
    for (ty, params, want) in [
        (
            "limit",
            json!({"maxItems": 0}),
            "Parameter \"maxItems\" must be a number of at least 1, got 0",
        ),
        (
            "limit",
            json!({"keep": "middleItems"}),
            "Parameter \"keep\" has an unknown value \"middleItems\"",
        ),
        (
            "sort",
            json!({"type": "alphabetical"}),
            "Parameter \"type\" has an unknown value \"alphabetical\"",
        ),
        (
            "sort",
            json!({"sortFieldsUi": {"sortField": [{"fieldName": "a", "order": "up"}]}}),
            "Parameter \"sortFieldsUi.sortField.order\" has an unknown value \"up\"",
        ),
    ] {
        let wf = workflow(
            json!([trigger(), node("N", ty, 1.0, params, 0)]),
            &[("Trigger", 0, "N", 0)],
        );
        let err = validate(&wf, &registry, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
}
