//! Cost per execution: evaluating one expression (fast path and JavaScript path), running a
//! 5-node workflow over 100 items, and the Code node against a Set node doing the same work
//! over 10,000 items (issue 13: at most 3x), and per call.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use node_api::{ExecutionMode, Item};
use serde_json::json;
use workflow::expr::{Scope, Template};
use workflow::run::ExprData;
use workflow::{CancelHandle, RunRequest, Workflow};

fn data() -> Arc<ExprData> {
    let item = Item::from_value(json!({"a": {"b": 7}, "name": "ada", "score": 3})).unwrap();
    Arc::new(ExprData {
        node_name: "Bench".into(),
        input: Arc::new(vec![item]),
        ..ExprData::default()
    })
}

fn expressions(c: &mut Criterion) {
    let d = data();
    let scope = Scope {
        data: &d,
        item_index: 0,
    };
    let fast = Template::parse("={{ $json.a.b }}").unwrap();
    let js = Template::parse("={{ $json.score + 1 }}").unwrap();
    assert_eq!(fast.evaluate(&scope).unwrap(), json!(7));
    assert_eq!(js.evaluate(&scope).unwrap(), json!(4));
    c.bench_function("expression fast path {{ $json.a.b }}", |b| {
        b.iter(|| fast.evaluate(&scope).unwrap())
    });
    c.bench_function("expression js path {{ $json.score + 1 }}", |b| {
        b.iter(|| js.evaluate(&scope).unwrap())
    });

    // The same evaluations where the server runs them: inside a task on a worker thread of a
    // multi-thread runtime, where a slow JavaScript evaluation must not hold the worker.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Both workers evaluating at once (a loaded server): per evaluation on each worker. Work
    // a worker hands to other threads competes with the other worker here.
    let both = Arc::new(js.clone());
    c.bench_function("expression js path on both runtime workers at once", |b| {
        b.iter_custom(|iters| {
            let started = std::time::Instant::now();
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let (d, t) = (d.clone(), both.clone());
                    rt.spawn(async move {
                        let scope = Scope {
                            data: &d,
                            item_index: 0,
                        };
                        for _ in 0..iters {
                            std::hint::black_box(t.evaluate(&scope).unwrap());
                        }
                    })
                })
                .collect();
            for t in tasks {
                rt.block_on(t).unwrap();
            }
            started.elapsed()
        })
    });
    for (name, template) in [
        ("expression fast path on a runtime worker", fast),
        ("expression js path on a runtime worker", js),
    ] {
        let template = Arc::new(template);
        c.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (d, t) = (d.clone(), template.clone());
                rt.block_on(rt.spawn(async move {
                    let scope = Scope {
                        data: &d,
                        item_index: 0,
                    };
                    let started = std::time::Instant::now();
                    for _ in 0..iters {
                        std::hint::black_box(t.evaluate(&scope).unwrap());
                    }
                    started.elapsed()
                }))
                .unwrap()
            })
        });
    }
}

fn five_node_workflow() -> Arc<Workflow> {
    let wf = json!({
        "id": "bench", "name": "bench",
        "nodes": [
            {"name": "Trigger", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"name": "Compute", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [200, 0], "parameters": {
                "assignments": {"assignments": [
                    {"id": "1", "name": "double", "value": "={{ $json.n * 2 }}", "type": "number"},
                    {"id": "2", "name": "label", "value": "=item-{{ $json.name }}", "type": "string"}
                ]}, "includeOtherFields": true, "options": {}}},
            {"name": "If", "type": "n8n-nodes-base.if", "typeVersion": 2.2, "position": [400, 0], "parameters": {
                "conditions": {"options": {"caseSensitive": true, "typeValidation": "strict"},
                    "conditions": [{"leftValue": "={{ $json.double }}", "rightValue": 100,
                                    "operator": {"type": "number", "operation": "gt"}}],
                    "combinator": "and"}}},
            {"name": "Tag", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [600, -100], "parameters": {
                "assignments": {"assignments": [{"id": "1", "name": "big", "value": true, "type": "boolean"}]},
                "includeOtherFields": true, "options": {}}},
            {"name": "Done", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [800, 0], "parameters": {}}
        ],
        "connections": {
            "Trigger": {"main": [[{"node": "Compute", "type": "main", "index": 0}]]},
            "Compute": {"main": [[{"node": "If", "type": "main", "index": 0}]]},
            "If": {"main": [[{"node": "Tag", "type": "main", "index": 0}], [{"node": "Done", "type": "main", "index": 0}]]},
            "Tag": {"main": [[{"node": "Done", "type": "main", "index": 0}]]}
        },
        "settings": {"executionOrder": "v1"}
    });
    Arc::new(Workflow::from_value(wf).unwrap())
}

fn workflow_run(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let executor = core_nodes::executor();
    let wf = five_node_workflow();
    let items: Vec<Item> = (0..100)
        .map(|n| Item::from_value(json!({"n": n, "name": format!("n{n}")})).unwrap())
        .collect();
    let run = || {
        executor.run(RunRequest {
            workflow: wf.clone(),
            execution_id: "bench".into(),
            mode: ExecutionMode::Trigger,
            start_node: None,
            items: items.clone(),
            cancel: CancelHandle::new(),
            respond_early: None,
        })
    };
    let r = rt.block_on(run()).unwrap();
    assert_eq!(r.status, workflow::ExecutionStatus::Success);
    c.bench_function("5-node workflow over 100 items", |b| {
        b.to_async(&rt).iter(|| async { run().await.unwrap() })
    });
}

/// Trigger -> `node`, the node named `Node`.
fn two_nodes(node: serde_json::Value) -> Arc<Workflow> {
    let mut node = node;
    node["name"] = json!("Node");
    node["position"] = json!([200, 0]);
    Arc::new(
        Workflow::from_value(json!({
            "id": "bench", "name": "bench",
            "nodes": [
                {"name": "Trigger", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
                node
            ],
            "connections": {"Trigger": {"main": [[{"node": "Node", "type": "main", "index": 0}]]}},
            "settings": {"executionOrder": "v1"}
        }))
        .unwrap(),
    )
}

/// The same change to every item, by a Set node (one assignment on the fast path, one in
/// JavaScript) and by a Code node over all items at once.
fn code_against_set(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let executor = core_nodes::executor();
    let set = two_nodes(
        json!({"type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
        "assignments": {"assignments": [
            {"id": "1", "name": "double", "value": "={{ $json.n * 2 }}", "type": "number"},
            {"id": "2", "name": "copy", "value": "={{ $json.name }}", "type": "string"}
        ]}, "includeOtherFields": true, "options": {}}}),
    );
    let code = two_nodes(
        json!({"type": "n8n-nodes-base.code", "typeVersion": 2, "parameters": {
        "mode": "runOnceForAllItems", "language": "javaScript",
        "jsCode": "return $input.all().map(i => ({ json: { ...i.json, double: i.json.n * 2, copy: i.json.name } }));"}}),
    );
    let noop =
        two_nodes(json!({"type": "n8n-nodes-base.noOp", "typeVersion": 1, "parameters": {}}));
    let passthrough = two_nodes(
        json!({"type": "n8n-nodes-base.code", "typeVersion": 2, "parameters": {
        "mode": "runOnceForAllItems", "jsCode": "return $input.all();"}}),
    );
    let many: Vec<Item> = (0..10_000)
        .map(|n| Item::from_value(json!({"n": n, "name": format!("n{n}")})).unwrap())
        .collect();
    let one = vec![Item::from_value(json!({"n": 1, "name": "n1"})).unwrap()];
    let run = |wf: &Arc<Workflow>, items: &Vec<Item>| {
        executor.run(RunRequest {
            workflow: wf.clone(),
            execution_id: "bench".into(),
            mode: ExecutionMode::Trigger,
            start_node: None,
            items: items.clone(),
            cancel: CancelHandle::new(),
            respond_early: None,
        })
    };
    for wf in [&set, &code] {
        let r = rt.block_on(run(wf, &many)).unwrap();
        assert_eq!(
            r.status,
            workflow::ExecutionStatus::Success,
            "{:?}",
            r.error
        );
        assert_eq!(r.last_node_output()[9_999].json["double"], json!(19_998));
    }
    let mut group = c.benchmark_group("10,000 items");
    group.sample_size(10);
    group.bench_function("Set node (2 assignments)", |b| {
        b.to_async(&rt)
            .iter(|| async { run(&set, &many).await.unwrap() })
    });
    group.bench_function("Code node, all items at once", |b| {
        b.to_async(&rt)
            .iter(|| async { run(&code, &many).await.unwrap() })
    });
    group.finish();
    c.bench_function("per call: trigger -> NoOp, 1 item", |b| {
        b.to_async(&rt)
            .iter(|| async { run(&noop, &one).await.unwrap() })
    });
    c.bench_function(
        "per call: trigger -> Code (return $input.all()), 1 item",
        |b| {
            b.to_async(&rt)
                .iter(|| async { run(&passthrough, &one).await.unwrap() })
        },
    );
}

criterion_group!(benches, expressions, workflow_run, code_against_set);
criterion_main!(benches);
