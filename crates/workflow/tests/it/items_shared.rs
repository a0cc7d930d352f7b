//! Items are shared along a run, not copied: a node that passes items on, the recorded run
//! data and the expression view all hold the same JSON objects; a node that changes an item
//! changes its own copy only (issue 12: memory per item).

use node_api::ItemJson;
use serde_json::json;

use super::node_flows::{assert_ok, node, output, run, set, trigger, workflow};

#[tokio::test]
async fn an_item_passed_on_unchanged_is_the_same_object_in_every_node_and_in_the_run_data() {
    let wf = workflow(
        json!([trigger(), node("Pass", "noOp", 1.0, json!({}), 0)]),
        &[("Trigger", 0, "Pass", 0)],
    );
    let r = run(wf, json!([{"a": 1}, {"a": 2}])).await;
    assert_ok(&r);
    let before = r.output_of("Trigger", 0).unwrap();
    let after = r.output_of("Pass", 0).unwrap();
    assert_eq!(after.len(), 2);
    for (b, a) in before.iter().zip(after) {
        assert!(ItemJson::ptr_eq(&b.json, &a.json), "item copied: {a:?}");
    }
    // The run data that is stored holds the very items expressions read, not a copy.
    for node in ["Trigger", "Pass"] {
        let recorded = &r.run_data[node][0].data.main[0];
        assert_eq!(recorded.as_ptr(), r.output_of(node, 0).unwrap().as_ptr());
    }
}

#[tokio::test]
async fn a_node_that_changes_an_item_changes_its_own_copy_only() {
    let wf = workflow(
        json!([trigger(), set("Set", &[("b", "={{ $json.a + 1 }}")], 0)]),
        &[("Trigger", 0, "Set", 0)],
    );
    let r = run(wf, json!([{"a": 1}])).await;
    assert_ok(&r);
    assert_eq!(output(&r, "Trigger", 0), json!([{"a": 1}]));
    assert_eq!(output(&r, "Set", 0), json!([{"a": 1, "b": "2"}]));
    let (before, after) = (
        r.output_of("Trigger", 0).unwrap(),
        r.output_of("Set", 0).unwrap(),
    );
    assert!(!ItemJson::ptr_eq(&before[0].json, &after[0].json));
}

/// Once the run data is stored, a caller lets every node's items go but the last node's
/// output: what is left still answers `last_node_output`, and the items of the other nodes
/// are freed (the last node's items are the only references left).
#[tokio::test]
async fn keeping_the_last_output_only_frees_the_other_nodes_items() {
    let wf = workflow(
        json!([trigger(), set("Set", &[("b", "={{ $json.a + 1 }}")], 0)]),
        &[("Trigger", 0, "Set", 0)],
    );
    let mut r = run(wf, json!([{"a": 1}, {"a": 2}])).await;
    assert_ok(&r);
    let answer = output(&r, "Set", 0);
    let trigger_item = r.output_of("Trigger", 0).unwrap()[0].json.clone();
    r.keep_last_output_only();
    assert!(r.run_data.is_empty());
    assert!(r.output_of("Trigger", 0).is_none());
    assert_eq!(output(&r, "Set", 0), answer);
    assert_eq!(r.last_node.as_deref(), Some("Set"));
    // The trigger's item is held by this test alone now: changing it changes it in place
    // (a shared item would be copied first, as the run above shows for Set).
    let mut alone = trigger_item;
    let at = &*alone as *const node_api::JsonObject;
    alone.insert("c".into(), json!(3));
    assert_eq!(
        &*alone as *const node_api::JsonObject, at,
        "the result still held it"
    );
}
