//! The Switch node (v3.x) through the executor: rules with fallback and all-matching, renamed
//! outputs, expression mode, outputs that follow the parameters (an error output after them,
//! connections to output 3), and what is refused at save.

use serde_json::{json, Value};
use workflow::{validate, ExecutionStatus};

use super::node_flows::{assert_ok, failure, full, node, output, run, set, trigger, workflow};

/// A rule: `$json.n` compared with `value` by number `operation`.
fn rule(operation: &str, value: i64) -> Value {
    json!({"conditions": {
        "options": {"caseSensitive": true, "leftValue": "", "typeValidation": "strict", "version": 2},
        "conditions": [{"leftValue": "={{ $json.n }}", "rightValue": value,
                        "operator": {"type": "number", "operation": operation}}],
        "combinator": "and"}})
}

/// A rule comparing `$json.s` with `value` by string `operation`.
fn text_rule(operation: &str, value: &str) -> Value {
    json!({"conditions": {
        "options": {"caseSensitive": true, "leftValue": "", "typeValidation": "strict", "version": 2},
        "conditions": [{"leftValue": "={{ $json.s }}", "rightValue": value,
                        "operator": {"type": "string", "operation": operation}}],
        "combinator": "and"}})
}

fn switch(version: f64, rules: Vec<Value>, options: Value) -> Value {
    node(
        "Switch",
        "switch",
        version,
        json!({"rules": {"values": rules}, "options": options}),
        0,
    )
}

/// Trigger -> Switch, run over `input`.
async fn route(sw: Value, input: Value) -> workflow::ExecutionResult {
    run(
        workflow(json!([trigger(), sw]), &[("Trigger", 0, "Switch", 0)]),
        input,
    )
    .await
}

fn numbers() -> Value {
    json!([{"n": 1}, {"n": 5}, {"n": 12}, {"n": 50}])
}

#[tokio::test]
async fn each_item_goes_to_the_first_rule_it_matches_paired_with_its_input() {
    let r = route(
        switch(
            3.2,
            vec![rule("lt", 10), rule("lt", 20), rule("gt", 0)],
            json!({}),
        ),
        numbers(),
    )
    .await;
    assert_ok(&r);
    assert_eq!(
        full(&r, "Switch", 0),
        json!([{"json": {"n": 1}, "pairedItem": {"item": 0}}, {"json": {"n": 5}, "pairedItem": {"item": 1}}])
    );
    assert_eq!(
        full(&r, "Switch", 1),
        json!([{"json": {"n": 12}, "pairedItem": {"item": 2}}])
    );
    assert_eq!(
        full(&r, "Switch", 2),
        json!([{"json": {"n": 50}, "pairedItem": {"item": 3}}])
    );
}

#[tokio::test]
async fn unmatched_items_are_dropped_sent_to_the_extra_output_or_to_a_rule_output() {
    let rules = || vec![rule("lt", 10), rule("equals", 12)];
    // No fallback (the default) and `none`: dropped.
    for options in [json!({}), json!({"fallbackOutput": "none"})] {
        let r = route(switch(3.2, rules(), options), numbers()).await;
        assert_eq!(output(&r, "Switch", 0), json!([{"n": 1}, {"n": 5}]));
        assert_eq!(output(&r, "Switch", 1), json!([{"n": 12}]));
        // Two rules, no extra output: two outputs.
        assert!(r.output_of("Switch", 2).is_none());
    }
    // `extra`: a third output, named by `renameFallbackOutput` in the editor only.
    let r = route(
        switch(
            3.2,
            rules(),
            json!({"fallbackOutput": "extra", "renameFallbackOutput": "Other"}),
        ),
        numbers(),
    )
    .await;
    assert_eq!(
        full(&r, "Switch", 2),
        json!([{"json": {"n": 50}, "pairedItem": {"item": 3}}])
    );
    // An index: the output of that rule.
    let r = route(
        switch(3.2, rules(), json!({"fallbackOutput": 1})),
        numbers(),
    )
    .await;
    assert_eq!(output(&r, "Switch", 1), json!([{"n": 12}, {"n": 50}]));
}

#[tokio::test]
async fn all_matching_outputs_sends_an_item_to_every_rule_it_matches() {
    let r = route(
        switch(
            3.2,
            vec![rule("lt", 10), rule("lt", 20), rule("gt", 100)],
            json!({"allMatchingOutputs": true, "fallbackOutput": "extra"}),
        ),
        numbers(),
    )
    .await;
    assert_eq!(
        full(&r, "Switch", 0),
        json!([{"json": {"n": 1}, "pairedItem": {"item": 0}}, {"json": {"n": 5}, "pairedItem": {"item": 1}}])
    );
    assert_eq!(
        full(&r, "Switch", 1),
        json!([
            {"json": {"n": 1}, "pairedItem": {"item": 0}},
            {"json": {"n": 5}, "pairedItem": {"item": 1}},
            {"json": {"n": 12}, "pairedItem": {"item": 2}}
        ])
    );
    assert_eq!(output(&r, "Switch", 2), json!([]));
    assert_eq!(output(&r, "Switch", 3), json!([{"n": 50}]));
}

#[tokio::test]
async fn ignore_case_and_loose_type_validation_are_the_nodes_settings() {
    let input = json!([{"s": "ADA"}, {"s": "bob"}]);
    let r = route(
        switch(3.2, vec![text_rule("equals", "ada")], json!({})),
        input.clone(),
    )
    .await;
    assert_eq!(output(&r, "Switch", 0), json!([]));
    let r = route(
        switch(
            3.2,
            vec![text_rule("equals", "ada")],
            json!({"ignoreCase": true}),
        ),
        input,
    )
    .await;
    assert_eq!(output(&r, "Switch", 0), json!([{"s": "ADA"}]));

    // A string where a number is expected: strict refuses with n8n's hint ...
    let r = route(
        switch(3.2, vec![rule("gt", 3)], json!({})),
        json!([{"n": "5"}]),
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Error);
    assert!(
        failure(&r).contains("Wrong type: '5' is a string but was expecting a number"),
        "{}",
        failure(&r)
    );
    let e = r.error.as_ref().unwrap().node_error.as_ref().unwrap();
    assert!(e
        .description
        .as_deref()
        .unwrap_or_default()
        .contains("Convert types where required"));
    // ... loose converts: a top-level parameter from 3.1, an option before.
    let mut loose = switch(3.2, vec![rule("gt", 3)], json!({}));
    loose["parameters"]["looseTypeValidation"] = json!(true);
    let r = route(loose, json!([{"n": "5"}])).await;
    assert_eq!(output(&r, "Switch", 0), json!([{"n": "5"}]));
    let r = route(
        switch(
            3.0,
            vec![rule("gt", 3)],
            json!({"looseTypeValidation": true}),
        ),
        json!([{"n": "5"}]),
    )
    .await;
    assert_eq!(output(&r, "Switch", 0), json!([{"n": "5"}]));
}

#[tokio::test]
async fn expression_mode_routes_to_the_output_the_expression_names() {
    let sw = node(
        "Switch",
        "switch",
        3.2,
        json!({"mode": "expression", "numberOutputs": 3, "output": "={{ $json.n % 3 }}"}),
        0,
    );
    let r = route(sw.clone(), json!([{"n": 3}, {"n": 4}, {"n": 5}, {"n": 6}])).await;
    assert_ok(&r);
    assert_eq!(
        full(&r, "Switch", 0),
        json!([{"json": {"n": 3}, "pairedItem": {"item": 0}}, {"json": {"n": 6}, "pairedItem": {"item": 3}}])
    );
    assert_eq!(output(&r, "Switch", 1), json!([{"n": 4}]));
    assert_eq!(output(&r, "Switch", 2), json!([{"n": 5}]));

    // n8n's words (and spelling) for an index past the outputs.
    let mut past = sw;
    past["parameters"]["output"] = json!("={{ 3 }}");
    let r = route(past.clone(), json!([{"n": 1}])).await;
    assert_eq!(failure(&r), "The ouput 3 is not allowed. ");
    let e = r.error.as_ref().unwrap().node_error.as_ref().unwrap();
    assert_eq!(
        e.description.as_deref(),
        Some("Output indexes are zero based, if you want to use the extra output use 2")
    );
    past["parameters"]["output"] = json!("={{ 7 }}");
    let r = route(past, json!([{"n": 1}])).await;
    assert_eq!(failure(&r), "The ouput 7 is not allowed");
    let e = r.error.as_ref().unwrap().node_error.as_ref().unwrap();
    assert_eq!(
        e.description.as_deref(),
        Some("It has to be between 0 and 2")
    );
}

#[tokio::test]
async fn a_connection_from_output_3_runs_and_the_error_output_comes_after_the_rules() {
    let mut sw = switch(
        3.2,
        vec![rule("lt", 10), rule("lt", 20), rule("lt", 30)],
        json!({"fallbackOutput": "extra"}),
    );
    sw["onError"] = json!("continueErrorOutput");
    let wf = workflow(
        json!([
            trigger(),
            sw,
            set("Small", &[("was", "small")], -200),
            set("Fallback", &[("was", "fallback")], 0),
            set("Failed", &[("was", "failed")], 200),
        ]),
        &[
            ("Trigger", 0, "Switch", 0),
            ("Switch", 0, "Small", 0),
            ("Switch", 3, "Fallback", 0),
            ("Switch", 4, "Failed", 0),
        ],
    );
    let r = run(wf, json!([{"n": 1}, {"n": 99}, {"n": "bad"}])).await;
    assert_ok(&r);
    assert_eq!(output(&r, "Small", 0), json!([{"n": 1, "was": "small"}]));
    assert_eq!(
        output(&r, "Fallback", 0),
        json!([{"n": 99, "was": "fallback"}])
    );
    assert_eq!(r.output_of("Switch", 4).map(<[_]>::len), Some(1));
    let failed = output(&r, "Failed", 0);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("Wrong type: 'bad' is a string"),
        "{failed}"
    );
    assert_eq!(failed[0]["was"], "failed");
}

#[tokio::test]
async fn what_switch_cannot_do_is_refused_at_save() {
    let registry = core_nodes::registry();
    let refused = |sw: Value| {
        let wf = workflow(json!([trigger(), sw]), &[("Trigger", 0, "Switch", 0)]);
        let registry = registry.clone();
        async move {
            validate(&wf, &registry, None)
                .await
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        }
    };
    let err = refused(switch(
        3.2,
        vec![rule("lt", 1)],
        json!({"fallbackOutput": 1}),
    ))
    .await;
    assert!(
        err.contains(
            "node \"Switch\": Parameter \"options.fallbackOutput\" has an unknown value 1"
        ),
        "{err}"
    );
    let err = refused(switch(3.2, vec![rule("lt", 1)], json!({"sendToAll": true}))).await;
    assert!(
        err.contains("Parameter \"options.sendToAll\" is not supported"),
        "{err}"
    );
    let mut odd = rule("lt", 1);
    odd["conditions"]["conditions"][0]["operator"] =
        json!({"type": "object", "operation": "equals"});
    let err = refused(switch(3.2, vec![odd], json!({}))).await;
    assert!(
        err.contains("Parameter \"rules.values[0].conditions.conditions[0].operator.operation\" has an unknown value \"equals\" for type object"),
        "{err}"
    );
    let err = refused(node("Switch", "switch", 3.2, json!({"mode": "random"}), 0)).await;
    assert!(
        err.contains("Parameter \"mode\" has an unknown value \"random\""),
        "{err}"
    );
    // What it can do is accepted.
    let ok = refused(switch(
        3.2,
        vec![rule("lt", 1), text_rule("regex", "^a")],
        json!({"fallbackOutput": "extra", "allMatchingOutputs": true, "ignoreCase": true}),
    ))
    .await;
    assert_eq!(ok, "");
}
