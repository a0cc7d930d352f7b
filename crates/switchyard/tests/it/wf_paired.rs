//! `$('X')` and `$node["X"]` read the output of X that leads to the node evaluating them, as
//! n8n's `WorkflowDataProxy` does: `.item` follows `pairedItem` back along the recorded sources
//! (through the `input` index of multi-input nodes such as Merge), while `.first()`, `.last()`,
//! `.all()` and `$node["X"].json` read the output `Workflow.getNodeConnectionIndexes` finds: a
//! breadth-first search back from the current node, first connection from X met.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use workflow::ExecutionStatus;

use crate::flows::{node, output, run, trigger, workflow};

/// An If node (v2.2) keeping items whose `n` is at least `min` on its true output.
fn if_at_least(name: &str, min: i64, y: i64) -> Value {
    node(
        name,
        "if",
        2.2,
        json!({"conditions": {
            "options": {"caseSensitive": true, "typeValidation": "strict"},
            "conditions": [{"leftValue": "={{ $json.n }}", "rightValue": min,
                            "operator": {"type": "number", "operation": "gte"}}],
            "combinator": "and"}}),
        y,
    )
}

/// A Set node (v3.4) that keeps the input fields and adds string fields from expressions.
fn set(name: &str, fields: &[(&str, String)], y: i64) -> Value {
    let list: Vec<Value> = fields
        .iter()
        .enumerate()
        .map(|(i, (k, v))| json!({"id": format!("a{i}"), "name": k, "value": v, "type": "string"}))
        .collect();
    node(
        name,
        "set",
        3.4,
        json!({"assignments": {"assignments": list}, "includeOtherFields": true, "options": {}}),
        y,
    )
}

const NS: &str = ".map(i => i.json.n).join(',')";

/// `$('If')` read from a node downstream of the If's true or false output.
fn if_fields(node: &str, tag: &str) -> Vec<(&'static str, String)> {
    vec![
        ("item", format!("={{{{ $('{node}').item.json.n }}}}")),
        ("all", format!("={{{{ $('{node}').all(){NS} }}}}")),
        ("first", format!("={{{{ $('{node}').first().json.n }}}}")),
        ("last", format!("={{{{ $('{node}').last().json.n }}}}")),
        ("legacy", format!("={{{{ $node[\"{node}\"].json.n }}}}")),
        // An explicit branch index still wins, as n8n's `all(branchIndex)`.
        ("trueBranch", format!("={{{{ $('{node}').all(0){NS} }}}}")),
        ("falseBranch", format!("={{{{ $('{node}').all(1){NS} }}}}")),
        ("tag", tag.to_string()),
    ]
}

#[tokio::test]
async fn the_false_branch_of_an_if_reads_the_if_false_output() {
    let wf = workflow(
        json!([
            trigger(),
            if_at_least("If", 3, 0),
            set("Big", &if_fields("If", "big"), -100),
            set("Small", &if_fields("If", "small"), 100),
        ]),
        &[
            ("Trigger", 0, "If", 0),
            ("If", 0, "Big", 0),
            ("If", 1, "Small", 0),
        ],
    );
    let r = run(wf, json!([{"n": 1}, {"n": 3}, {"n": 2}, {"n": 5}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(
        output(&r, "Small", 0),
        json!([
            {"n": 1, "item": "1", "all": "1,2", "first": "1", "last": "2", "legacy": "1",
             "trueBranch": "3,5", "falseBranch": "1,2", "tag": "small"},
            {"n": 2, "item": "2", "all": "1,2", "first": "1", "last": "2", "legacy": "2",
             "trueBranch": "3,5", "falseBranch": "1,2", "tag": "small"},
        ])
    );
    assert_eq!(
        output(&r, "Big", 0),
        json!([
            {"n": 3, "item": "3", "all": "3,5", "first": "3", "last": "5", "legacy": "3",
             "trueBranch": "3,5", "falseBranch": "1,2", "tag": "big"},
            {"n": 5, "item": "5", "all": "3,5", "first": "3", "last": "5", "legacy": "5",
             "trueBranch": "3,5", "falseBranch": "1,2", "tag": "big"},
        ])
    );
}

#[tokio::test]
async fn an_if_chain_two_levels_deep_reads_each_if_on_the_path() {
    // Low is If1 false -> If2 false; Mid is If1 false -> If2 true; High is If1 true.
    let low = vec![
        ("if1All", format!("={{{{ $('If1').all(){NS} }}}}")),
        ("if1Item", "={{ $('If1').item.json.n }}".to_string()),
        // `$node` takes the item at the same index, not the paired one.
        ("if1Legacy", "={{ $node[\"If1\"].json.n }}".to_string()),
        ("if2All", format!("={{{{ $('If2').all(){NS} }}}}")),
        ("trigger", "={{ $('Trigger').item.json.n }}".to_string()),
    ];
    let wf = workflow(
        json!([
            trigger(),
            if_at_least("If1", 10, 0),
            if_at_least("If2", 5, 100),
            set(
                "High",
                &[("if1All", format!("={{{{ $('If1').all(){NS} }}}}"))],
                -100
            ),
            set("Mid", &low, 50),
            set("Low", &low, 200),
        ]),
        &[
            ("Trigger", 0, "If1", 0),
            ("If1", 0, "High", 0),
            ("If1", 1, "If2", 0),
            ("If2", 0, "Mid", 0),
            ("If2", 1, "Low", 0),
        ],
    );
    let r = run(
        wf,
        json!([{"n": 1}, {"n": 12}, {"n": 6}, {"n": 3}, {"n": 15}, {"n": 7}]),
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(
        output(&r, "High", 0),
        json!([{"n": 12, "if1All": "12,15"}, {"n": 15, "if1All": "12,15"}])
    );
    assert_eq!(
        output(&r, "Mid", 0),
        json!([
            {"n": 6, "if1All": "1,6,3,7", "if1Item": "6", "if1Legacy": "1", "if2All": "6,7", "trigger": "6"},
            {"n": 7, "if1All": "1,6,3,7", "if1Item": "7", "if1Legacy": "6", "if2All": "6,7", "trigger": "7"},
        ])
    );
    assert_eq!(
        output(&r, "Low", 0),
        json!([
            {"n": 1, "if1All": "1,6,3,7", "if1Item": "1", "if1Legacy": "1", "if2All": "1,3", "trigger": "1"},
            {"n": 3, "if1All": "1,6,3,7", "if1Item": "3", "if1Legacy": "6", "if2All": "1,3", "trigger": "3"},
        ])
    );
}

#[tokio::test]
async fn after_a_merge_item_follows_paired_input_1_and_all_reads_the_first_connection_found() {
    // Big (If true) feeds Merge input 0, Small (If false) feeds input 1. `.item` follows each
    // item's pairedItem (input 0 or 1) back to the If output it came from. `.all()` has no item
    // to follow: as n8n, it reads the output of the first connection from If that a
    // breadth-first search back from After meets: Merge input 0 -> Big -> If output 0.
    let after = vec![
        ("ifItem", "={{ $('If').item.json.n }}".to_string()),
        ("smallTag", "={{ $('Small').isExecuted }}".to_string()),
        ("ifAll", format!("={{{{ $('If').all(){NS} }}}}")),
        ("smallAll", format!("={{{{ $('Small').all(){NS} }}}}")),
    ];
    let wf = workflow(
        json!([
            trigger(),
            if_at_least("If", 3, 0),
            set("Big", &[("size", "big".to_string())], -100),
            set("Small", &[("size", "small".to_string())], 100),
            node("Merge", "merge", 3.2, json!({}), 0),
            set("After", &after, 0),
        ]),
        &[
            ("Trigger", 0, "If", 0),
            ("If", 0, "Big", 0),
            ("If", 1, "Small", 0),
            ("Big", 0, "Merge", 0),
            ("Small", 0, "Merge", 1),
            ("Merge", 0, "After", 0),
        ],
    );
    let r = run(wf, json!([{"n": 1}, {"n": 3}, {"n": 2}, {"n": 5}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(
        output(&r, "After", 0),
        json!([
            {"n": 3, "size": "big", "ifItem": "3", "smallTag": "true", "ifAll": "3,5", "smallAll": "1,2"},
            {"n": 5, "size": "big", "ifItem": "5", "smallTag": "true", "ifAll": "3,5", "smallAll": "1,2"},
            {"n": 1, "size": "small", "ifItem": "1", "smallTag": "true", "ifAll": "3,5", "smallAll": "1,2"},
            {"n": 2, "size": "small", "ifItem": "2", "smallTag": "true", "ifAll": "3,5", "smallAll": "1,2"},
        ])
    );

    // `$node["If"]` reads the item at the same index of that same output 0, so the Merge's
    // third item has nothing there: n8n's error, naming the node and the counts.
    let wf = workflow(
        json!([
            trigger(),
            if_at_least("If", 3, 0),
            set("Big", &[("size", "big".to_string())], -100),
            set("Small", &[("size", "small".to_string())], 100),
            node("Merge", "merge", 3.2, json!({}), 0),
            set(
                "After",
                &[("legacy", "={{ $node[\"If\"].json.n }}".to_string())],
                0
            ),
        ]),
        &[
            ("Trigger", 0, "If", 0),
            ("If", 0, "Big", 0),
            ("If", 1, "Small", 0),
            ("Big", 0, "Merge", 0),
            ("Small", 0, "Merge", 1),
            ("Merge", 0, "After", 0),
        ],
    );
    let r = run(wf, json!([{"n": 1}, {"n": 3}, {"n": 2}, {"n": 5}])).await;
    assert_eq!(r.status, ExecutionStatus::Error);
    let err = r.error.as_ref().expect("an error").message.clone();
    assert!(
        err.contains("\"If\" node has 2 item(s) but you're trying to access item 2"),
        "{err}"
    );
    assert!(r.output_of("After", 0).is_none());
}

#[tokio::test]
async fn a_node_fed_by_both_outputs_reads_the_lowest_output_for_all_and_its_own_for_item() {
    // Both outputs of If go into input 0 of Both, which runs once per branch. n8n's search
    // meets If's output 0 first, so `.all()` reads the true branch even in the run fed by the
    // false branch; `.item` follows the recorded source and reads the false branch there.
    let wf = workflow(
        json!([
            trigger(),
            if_at_least("If", 3, 0),
            set("Both", &if_fields("If", "both"), 0),
        ]),
        &[
            ("Trigger", 0, "If", 0),
            ("If", 0, "Both", 0),
            ("If", 1, "Both", 0),
        ],
    );
    let r = run(wf, json!([{"n": 1}, {"n": 3}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    let runs = &r.data_json()["resultData"]["runData"]["Both"];
    let jsons = |run: &Value| -> Value {
        Value::Array(
            run["data"]["main"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["json"].clone())
                .collect(),
        )
    };
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(
        jsons(&runs[0]),
        json!([{"n": 3, "item": "3", "all": "3", "first": "3", "last": "3", "legacy": "3",
                "trueBranch": "3", "falseBranch": "1", "tag": "both"}])
    );
    assert_eq!(runs[1]["source"][0]["previousNodeOutput"], 1);
    assert_eq!(
        jsons(&runs[1]),
        json!([{"n": 1, "item": "1", "all": "3", "first": "3", "last": "3", "legacy": "3",
                "trueBranch": "3", "falseBranch": "1", "tag": "both"}])
    );
}

/// A real HTTP server on port 0: `/thing?id=N` answers 200 `{"found": N}` for even N and 404
/// for odd N.
async fn things_server() -> String {
    async fn thing(
        Query(q): Query<serde_json::Map<String, Value>>,
    ) -> Result<Json<Value>, (StatusCode, &'static str)> {
        let id: i64 = q["id"].as_str().unwrap().parse().unwrap();
        if id % 2 == 0 {
            Ok(Json(json!({"found": id})))
        } else {
            Err((StatusCode::NOT_FOUND, "no such thing"))
        }
    }
    let app = Router::new().route("/thing", get(thing));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn a_node_on_the_error_output_reads_the_error_output() {
    let url = things_server().await;
    let mut call = node(
        "Call",
        "httpRequest",
        4.2,
        json!({"url": format!("={{{{ '{url}/thing?id=' + $json.id }}}}"), "options": {}}),
        0,
    );
    call["onError"] = json!("continueErrorOutput");
    let fields = |tag: &str| {
        vec![
            (
                "callAll",
                "={{ JSON.stringify($('Call').all().map(i => i.json)) }}".to_string(),
            ),
            (
                "callItem",
                "={{ JSON.stringify($('Call').item.json) }}".to_string(),
            ),
            (
                "callLegacy",
                "={{ JSON.stringify($node[\"Call\"].json) }}".to_string(),
            ),
            ("id", "={{ $('Trigger').item.json.id }}".to_string()),
            ("tag", tag.to_string()),
        ]
    };
    let wf = workflow(
        json!([
            trigger(),
            call,
            set("Found", &fields("found"), -100),
            set("Failed", &fields("failed"), 100),
        ]),
        &[
            ("Trigger", 0, "Call", 0),
            ("Call", 0, "Found", 0),
            ("Call", 1, "Failed", 0),
        ],
    );
    let r = run(wf, json!([{"id": 1}, {"id": 2}, {"id": 3}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    // The HTTP Request node's error item for a 404, on Call's error output (output 1).
    let error = json!({"error": "The resource you are requesting could not be found",
                       "description": "no such thing", "httpCode": "404"});
    assert_eq!(output(&r, "Call", 1), json!([error, error]));
    assert_eq!(
        output(&r, "Found", 0),
        json!([{"found": 2, "callAll": "[{\"found\":2}]", "callItem": "{\"found\":2}",
                "callLegacy": "{\"found\":2}", "id": "2", "tag": "found"}])
    );
    // Downstream of the error output, `$('Call')` reads output 1; `.item` leads back to the
    // Trigger items that failed (ids 1 and 3).
    let one = error.to_string();
    let both = json!([error, error]).to_string();
    let failed = |id: &str| {
        let mut o = error.as_object().unwrap().clone();
        for (k, v) in [
            ("callAll", both.as_str()),
            ("callItem", one.as_str()),
            ("callLegacy", one.as_str()),
            ("id", id),
            ("tag", "failed"),
        ] {
            o.insert(k.into(), json!(v));
        }
        Value::Object(o)
    };
    assert_eq!(output(&r, "Failed", 0), json!([failed("1"), failed("3")]));
}

#[tokio::test]
async fn referring_to_a_node_that_does_not_lead_here_is_clear() {
    // Side runs before Use but is not upstream of it: `$('Side').all()` reads its output 0 (n8n
    // answers 0 when no connection is found), `$node["Side"]` asks to connect the nodes, and a
    // branch the node does not have is named.
    let ok = workflow(
        json!([
            trigger(),
            set("Side", &[("side", "yes".to_string())], -100),
            set(
                "Use",
                &[("sides", "={{ $('Side').all().length }}".to_string())],
                100
            ),
        ]),
        &[("Trigger", 0, "Side", 0), ("Trigger", 0, "Use", 0)],
    );
    let r = run(ok, json!([{"n": 1}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(output(&r, "Use", 0), json!([{"n": 1, "sides": "1"}]));

    for (expr, message) in [
        (
            "={{ $node[\"Side\"].json.side }}",
            "connect \\\"Use\\\" to \\\"Side\\\"",
        ),
        (
            "={{ $('Side').all(3).length }}",
            "Node \\\"Side\\\" has no branch with index 3.",
        ),
    ] {
        let wf = workflow(
            json!([
                trigger(),
                set("Side", &[("side", "yes".to_string())], -100),
                set("Use", &[("x", expr.to_string())], 100),
            ]),
            &[("Trigger", 0, "Side", 0), ("Trigger", 0, "Use", 0)],
        );
        let r = run(wf, json!([{"n": 1}])).await;
        assert_eq!(r.status, ExecutionStatus::Error);
        let err = serde_json::to_string(&r.error).unwrap();
        assert!(err.contains(message), "{err}");
        assert!(r.output_of("Use", 0).is_none());
    }
}

#[tokio::test]
async fn an_item_combined_from_several_items_follows_each_and_rejects_a_real_ambiguity() {
    // Merge combining by position pairs each item with input 0 and input 1. `$('B').item` is
    // found through input 1 only; `$('Trigger').item` through both, to the same item.
    let after = vec![
        ("a", "={{ $('A').item.json.a }}".to_string()),
        ("b", "={{ $('B').item.json.b }}".to_string()),
        ("i", "={{ $('Trigger').item.json.i }}".to_string()),
    ];
    let wf = workflow(
        json!([
            trigger(),
            set("A", &[("a", "={{ 'a' + $json.i }}".to_string())], -100),
            set("B", &[("b", "={{ 'b' + $json.i }}".to_string())], 100),
            node(
                "ByPosition",
                "merge",
                3.2,
                json!({"mode": "combine", "combineBy": "combineByPosition"}),
                0
            ),
            set("After", &after, 0),
        ]),
        &[
            ("Trigger", 0, "A", 0),
            ("Trigger", 0, "B", 0),
            ("A", 0, "ByPosition", 0),
            ("B", 0, "ByPosition", 1),
            ("ByPosition", 0, "After", 0),
        ],
    );
    let r = run(wf, json!([{"i": 1}, {"i": 2}])).await;
    assert_eq!(r.status, ExecutionStatus::Success, "{:?}", r.error);
    assert_eq!(
        output(&r, "After", 0),
        json!([{"i": "1", "a": "a1", "b": "b1"}, {"i": "2", "a": "a2", "b": "b2"}])
    );

    // Pairing the If's true and false branches by position makes an item from two different
    // Trigger items: `.item` cannot choose, as in n8n.
    let wf = workflow(
        json!([
            trigger(),
            {"name": "If", "type": "n8n-nodes-base.if", "typeVersion": 2.2, "position": [0, 0],
             "parameters": {"conditions": {"conditions": [{"leftValue": "={{ $json.i }}",
                "rightValue": 2, "operator": {"type": "number", "operation": "gte"}}]}}},
            node("ByPosition", "merge", 3.2,
                 json!({"mode": "combine", "combineBy": "combineByPosition"}), 0),
            set("After", &[("i", "={{ $('Trigger').item.json.i }}".to_string())], 0),
        ]),
        &[
            ("Trigger", 0, "If", 0),
            ("If", 0, "ByPosition", 0),
            ("If", 1, "ByPosition", 1),
            ("ByPosition", 0, "After", 0),
        ],
    );
    let r = run(wf, json!([{"i": 1}, {"i": 2}])).await;
    assert_eq!(r.status, ExecutionStatus::Error);
    let err = r.error.as_ref().expect("an error").message.clone();
    assert!(
        err.contains("Multiple matching items for expression [item 0]"),
        "{err}"
    );
    assert!(r.output_of("After", 0).is_none());
}
