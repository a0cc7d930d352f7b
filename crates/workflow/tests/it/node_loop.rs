//! Loop Over Items (`splitInBatches` v3) through the executor: batches, the done and loop
//! outputs, run data per run, the node's context, paired items across runs, `reset`, nested
//! loops, and loops that never end.

use serde_json::{json, Value};
use workflow::{validate, ExecutionStatus};

use super::node_flows::{
    assert_ok, failure, full, node, output, run, run_on, runs, set, trigger, workflow,
};

fn looper(name: &str, batch: Value, options: Value, y: i64) -> Value {
    node(
        name,
        "splitInBatches",
        3.0,
        json!({"batchSize": batch, "options": options}),
        y,
    )
}

fn seven() -> Value {
    json!([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}, {"n": 6}, {"n": 7}])
}

#[tokio::test]
async fn seven_items_in_batches_of_three_loop_three_times_then_are_done() {
    let wf = workflow(
        json!([
            trigger(),
            set("Before", &[("name", "={{ 'item' + $json.n }}")], 0),
            looper("Loop Over Items", json!(3), json!({}), 0),
            set(
                "Process",
                &[
                    ("before", "={{ $('Before').item.json.name }}"),
                    ("run", "={{ $runIndex }}"),
                    (
                        "batch",
                        "={{ $('Loop Over Items').context.currentRunIndex }}"
                    ),
                    ("last", "={{ $('Loop Over Items').context.noItemsLeft }}"),
                    (
                        "legacy",
                        "={{ $node['Loop Over Items'].context['noItemsLeft'] }}"
                    ),
                ],
                100,
            ),
            set("After", &[("done", "yes")], -100),
        ]),
        &[
            ("Trigger", 0, "Before", 0),
            ("Before", 0, "Loop Over Items", 0),
            ("Loop Over Items", 1, "Process", 0),
            ("Process", 0, "Loop Over Items", 0),
            ("Loop Over Items", 0, "After", 0),
        ],
    );
    let r = run(wf, seven()).await;
    assert_ok(&r);
    // Three loop runs, then the run that is done: four runs, with their sources.
    let loop_runs = runs(&r, "Loop Over Items");
    assert_eq!(loop_runs.len(), 4);
    let sizes: Vec<(usize, usize)> = loop_runs
        .iter()
        .map(|t| {
            let main = t["data"]["main"].as_array().unwrap();
            (
                main[0].as_array().unwrap().len(),
                main[1].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(sizes, [(0, 3), (0, 3), (0, 1), (7, 0)]);
    assert_eq!(
        loop_runs[0]["source"],
        json!([{"previousNode": "Before", "previousNodeOutput": 0, "previousNodeRun": 0}])
    );
    assert_eq!(
        loop_runs[2]["source"],
        json!([{"previousNode": "Process", "previousNodeOutput": 0, "previousNodeRun": 1}])
    );
    assert_eq!(runs(&r, "Process").len(), 3);
    assert_eq!(runs(&r, "After").len(), 1);

    // The first batch goes out as it came; later ones name the first run's source.
    let first = &loop_runs[0]["data"]["main"][1];
    assert_eq!(first[0]["pairedItem"], json!({"item": 0}));
    let second = &loop_runs[1]["data"]["main"][1];
    assert_eq!(
        second[0],
        json!({"json": {"n": 4, "name": "item4"}, "pairedItem": {"item": 3, "sourceOverwrite":
            {"previousNode": "Before", "previousNodeOutput": 0, "previousNodeRun": 0}}})
    );
    // Inside the loop, the context and the item before the loop are what n8n gives.
    let process: Vec<Value> = runs(&r, "Process")
        .iter()
        .flat_map(|t| t["data"]["main"][0].as_array().unwrap().clone())
        .map(|i| i["json"].clone())
        .collect();
    let fields: Vec<(String, String, String, String, String)> = process
        .iter()
        .map(|j| {
            let s = |k: &str| j[k].as_str().unwrap().to_string();
            (s("before"), s("run"), s("batch"), s("last"), s("legacy"))
        })
        .collect();
    let want = |name: &str, run: u32, last: bool| {
        (
            name.to_string(),
            run.to_string(),
            run.to_string(),
            last.to_string(),
            last.to_string(),
        )
    };
    assert_eq!(
        fields,
        [
            want("item1", 0, false),
            want("item2", 0, false),
            want("item3", 0, false),
            want("item4", 1, false),
            want("item5", 1, false),
            want("item6", 1, false),
            want("item7", 2, true),
        ]
    );
    // Done: everything the loop got back, paired with the run that got it back.
    let done = full(&r, "Loop Over Items", 0);
    assert_eq!(done.as_array().unwrap().len(), 7);
    assert_eq!(
        done[4]["pairedItem"],
        json!({"item": 1, "sourceOverwrite": {"previousNode": "Process", "previousNodeOutput": 0, "previousNodeRun": 1}})
    );
    assert_eq!(
        output(&r, "After", 0)[6],
        json!({"n": 7, "name": "item7", "before": "item7", "run": "2", "batch": "2",
               "last": "true", "legacy": "true", "done": "yes"})
    );
}

/// Trigger -> Loop (batch 2) -> Body -> Loop; Loop done -> Again, a Code node that sends three
/// new items back into the loop the first time only.
fn rerun(reset: Value) -> std::sync::Arc<workflow::Workflow> {
    workflow(
        json!([
            trigger(),
            looper("Loop", json!(2), json!({"reset": reset}), 0),
            set("Body", &[("seen", "yes")], 100),
            node(
                "Again",
                "code",
                2.0,
                json!({"mode": "runOnceForAllItems",
                       "jsCode": "return $runIndex === 0 ? [{json: {n: 'x'}}, {json: {n: 'y'}}, {json: {n: 'z'}}] : [];"}),
                -100
            ),
        ]),
        &[
            ("Trigger", 0, "Loop", 0),
            ("Loop", 1, "Body", 0),
            ("Body", 0, "Loop", 0),
            ("Loop", 0, "Again", 0),
            ("Again", 0, "Loop", 0),
        ],
    )
}

#[tokio::test]
async fn reset_treats_new_input_as_a_new_set_and_without_it_the_loop_just_collects() {
    // With reset (as an expression: only what comes from Again starts over), the new items
    // are looped over in their own batches and done holds only them.
    let r = run(
        rerun(json!("={{ $prevNode.name === 'Again' }}")),
        json!([{"n": 1}, {"n": 2}, {"n": 3}]),
    )
    .await;
    assert_ok(&r);
    let loop_runs = runs(&r, "Loop");
    let done_sizes: Vec<usize> = loop_runs
        .iter()
        .map(|t| t["data"]["main"][0].as_array().unwrap().len())
        .collect();
    // 3 items: [1,2] [3] done(3); then x,y,z: [x,y] [z] done(3).
    assert_eq!(done_sizes, [0, 0, 3, 0, 0, 3]);
    assert_eq!(
        output(&r, "Loop", 0),
        json!([{"n": "x", "seen": "yes"}, {"n": "y", "seen": "yes"}, {"n": "z", "seen": "yes"}])
    );
    assert_eq!(runs(&r, "Body").len(), 4);

    // Without reset the loop has nothing left to hand out: it adds what came in to what it
    // collected and is done again at once, as n8n does.
    let r = run(rerun(json!(false)), json!([{"n": 1}, {"n": 2}, {"n": 3}])).await;
    assert_ok(&r);
    let loop_runs = runs(&r, "Loop");
    assert_eq!(loop_runs.len(), 4);
    assert_eq!(runs(&r, "Body").len(), 2);
    assert_eq!(
        output(&r, "Loop", 0),
        json!([{"n": 1, "seen": "yes"}, {"n": 2, "seen": "yes"}, {"n": 3, "seen": "yes"},
               {"n": "x"}, {"n": "y"}, {"n": "z"}])
    );
}

#[tokio::test]
async fn nested_loops_with_a_set_inside_run_every_inner_batch_of_every_outer_batch() {
    let wf = workflow(
        json!([
            trigger(),
            looper("Outer", json!(2), json!({}), 0),
            set("Prepare", &[("outerRun", "={{ $runIndex }}")], 100),
            looper(
                "Inner",
                json!(1),
                json!({"reset": "={{ $prevNode.name === 'Prepare' }}"}),
                100
            ),
            set(
                "Inner body",
                &[(
                    "seen",
                    "={{ $json.g + '/' + $('Inner').context.currentRunIndex }}"
                )],
                200
            ),
            set("All done", &[("finished", "yes")], -100),
        ]),
        &[
            ("Trigger", 0, "Outer", 0),
            ("Outer", 1, "Prepare", 0),
            ("Prepare", 0, "Inner", 0),
            ("Inner", 1, "Inner body", 0),
            ("Inner body", 0, "Inner", 0),
            ("Inner", 0, "Outer", 0),
            ("Outer", 0, "All done", 0),
        ],
    );
    let r = run(wf, json!([{"g": 1}, {"g": 2}, {"g": 3}, {"g": 4}])).await;
    assert_ok(&r);
    // Outer: two batches and done; Inner: per outer batch two items and done.
    assert_eq!(runs(&r, "Outer").len(), 3);
    assert_eq!(runs(&r, "Inner").len(), 6);
    assert_eq!(runs(&r, "Inner body").len(), 4);
    assert_eq!(runs(&r, "Prepare").len(), 2);
    assert_eq!(
        output(&r, "All done", 0),
        json!([
            {"g": 1, "outerRun": "0", "seen": "1/0", "finished": "yes"},
            {"g": 2, "outerRun": "0", "seen": "2/1", "finished": "yes"},
            {"g": 3, "outerRun": "1", "seen": "3/0", "finished": "yes"},
            {"g": 4, "outerRun": "1", "seen": "4/1", "finished": "yes"}
        ])
    );
    // The outer loop's done items are paired with the inner loop's done runs they came from.
    let done = full(&r, "Outer", 0);
    assert_eq!(
        done[3]["pairedItem"],
        json!({"item": 1, "sourceOverwrite": {"previousNode": "Inner", "previousNodeOutput": 0, "previousNodeRun": 5}})
    );
}

#[tokio::test]
async fn a_loop_that_never_ends_is_stopped_with_a_clear_message() {
    // Done fed straight back into the node.
    let wf = workflow(
        json!([trigger(), looper("Loop", json!(1), json!({}), 0)]),
        &[
            ("Trigger", 0, "Loop", 0),
            ("Loop", 0, "Loop", 0),
            ("Loop", 1, "Loop", 0),
        ],
    );
    let r = run(wf, json!([{"n": 1}])).await;
    assert_eq!(r.status, ExecutionStatus::Error);
    assert_eq!(
        failure(&r),
        "The \"done\" output of \"Loop\" is connected back to its own input: the loop would never end"
    );

    // Any cycle: each node runs at most the executor's limit of times.
    let wf = workflow(
        json!([
            trigger(),
            node("A", "noOp", 1.0, json!({}), 0),
            node("B", "noOp", 1.0, json!({}), 0),
        ]),
        &[("Trigger", 0, "A", 0), ("A", 0, "B", 0), ("B", 0, "A", 0)],
    );
    let executor = core_nodes::executor().with_max_node_runs(50);
    let r = run_on(&executor, wf, json!([{}])).await;
    assert_eq!(r.status, ExecutionStatus::Error);
    assert!(
        failure(&r).starts_with("node \"A\" ran 50 times in this execution"),
        "{}",
        failure(&r)
    );
    assert_eq!(runs(&r, "A").len(), 50);
}

#[tokio::test]
async fn a_batch_size_below_one_or_an_unknown_option_is_refused_at_save() {
    let registry = core_nodes::registry();
    for (params, want) in [
        (
            json!({"batchSize": 0}),
            "Parameter \"batchSize\" must be a number of at least 1, got 0",
        ),
        (
            json!({"batchSize": 2, "options": {"resetAfter": true}}),
            "Parameter \"options.resetAfter\" is not supported",
        ),
    ] {
        let wf = workflow(
            json!([trigger(), node("Loop", "splitInBatches", 3.0, params, 0)]),
            &[("Trigger", 0, "Loop", 0)],
        );
        let err = validate(&wf, &registry, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
}
