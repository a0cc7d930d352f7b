//! The Code node (`n8n-nodes-base.code` v1, v2) through the executor: both modes, the n8n
//! variables, what may be returned, errors naming the line, limits, and Python refused.

use serde_json::{json, Value};
use workflow::{validate, ExecutionStatus};

use super::node_flows::{assert_ok, failure, full, node, output, run, set, trigger, workflow};

fn code(name: &str, mode: &str, js: &str, y: i64) -> Value {
    node(
        name,
        "code",
        2.0,
        json!({"mode": mode, "language": "javaScript", "jsCode": js}),
        y,
    )
}

fn all(js: &str) -> Value {
    code("Code", "runOnceForAllItems", js, 0)
}

fn each(js: &str) -> Value {
    code("Code", "runOnceForEachItem", js, 0)
}

/// Trigger -> Code, run over `input`.
async fn run_code(node: Value, input: Value) -> workflow::ExecutionResult {
    run(
        workflow(json!([trigger(), node]), &[("Trigger", 0, "Code", 0)]),
        input,
    )
    .await
}

#[tokio::test]
async fn all_items_changes_the_input_items_in_place_and_keeps_their_pairing() {
    let r = run_code(
        all("for (const item of $input.all()) {\n  item.json.double = item.json.n * 2;\n}\nreturn $input.all();"),
        json!([{"n": 1}, {"n": 2}, {"n": 3}]),
    )
    .await;
    assert_ok(&r);
    // The trigger's items are paired with the run's items, and the Code node hands the same
    // items on with that pairing, as n8n does.
    assert_eq!(
        full(&r, "Code", 0),
        json!([
            {"json": {"n": 1, "double": 2}, "pairedItem": {"item": 0}},
            {"json": {"n": 2, "double": 4}, "pairedItem": {"item": 1}},
            {"json": {"n": 3, "double": 6}, "pairedItem": {"item": 2}}
        ])
    );
}

#[tokio::test]
async fn all_items_accepts_plain_objects_one_object_or_null() {
    // Plain objects are wrapped in `json`; as many items as came in pair by position.
    let r = run_code(
        all("return items.map((i, n) => ({ name: i.json.name.toUpperCase(), n }));"),
        json!([{"name": "ada"}, {"name": "bob"}]),
    )
    .await;
    assert_eq!(
        full(&r, "Code", 0),
        json!([
            {"json": {"name": "ADA", "n": 0}, "pairedItem": {"item": 0}},
            {"json": {"name": "BOB", "n": 1}, "pairedItem": {"item": 1}}
        ])
    );
    // One object from several items: n8n cannot tell where it came from, so it is unpaired.
    let r = run_code(
        all("return { count: $input.all().length, first: $input.first().json.n, last: $input.last().json.n };"),
        json!([{"n": 1}, {"n": 2}, {"n": 3}]),
    )
    .await;
    assert_eq!(
        full(&r, "Code", 0),
        json!([{"json": {"count": 3, "first": 1, "last": 3}}])
    );
    // From one item everything comes from that item.
    let r = run_code(all("return [{json: {a: 1}}, {json: {a: 2}}];"), json!([{}])).await;
    assert_eq!(
        full(&r, "Code", 0),
        json!([{"json": {"a": 1}, "pairedItem": {"item": 0}}, {"json": {"a": 2}, "pairedItem": {"item": 0}}])
    );
    let r = run_code(all("return null;"), json!([{}])).await;
    assert_ok(&r);
    assert_eq!(output(&r, "Code", 0), json!([]));
    // `$json` is the first item's in this mode; `pairedItem` given by the code is kept.
    let r = run_code(
        all("return [{json: {x: $json.x}, pairedItem: {item: 1}}];"),
        json!([{"x": "first"}, {"x": "second"}]),
    )
    .await;
    assert_eq!(
        full(&r, "Code", 0),
        json!([{"json": {"x": "first"}, "pairedItem": {"item": 1}}])
    );
}

#[tokio::test]
async fn each_item_runs_once_per_item_paired_with_it_and_skips_null() {
    let r = run_code(
        each("if ($json.skip) return null;\n$input.item.json.seen = $itemIndex;\nreturn $input.item;"),
        json!([{"a": 1}, {"a": 2, "skip": true}, {"a": 3}]),
    )
    .await;
    assert_ok(&r);
    assert_eq!(
        full(&r, "Code", 0),
        json!([
            {"json": {"a": 1, "seen": 0}, "pairedItem": {"item": 0}},
            {"json": {"a": 3, "seen": 2}, "pairedItem": {"item": 2}}
        ])
    );
    // A plain object is the item's json; `item` is the item.
    let r = run_code(
        each("return { upper: item.json.name.toUpperCase() };"),
        json!([{"name": "ada"}, {"name": "bob"}]),
    )
    .await;
    assert_eq!(
        full(&r, "Code", 0),
        json!([
            {"json": {"upper": "ADA"}, "pairedItem": {"item": 0}},
            {"json": {"upper": "BOB"}, "pairedItem": {"item": 1}}
        ])
    );
}

#[tokio::test]
async fn other_nodes_the_workflow_and_the_execution_are_reachable() {
    let wf = workflow(
        json!([
            trigger(),
            set("Prepare", &[("tag", "={{ 'T' + $json.n }}")], 0),
            code(
                "Code",
                "runOnceForEachItem",
                "return {\n  paired: $('Prepare').item.json.tag,\n  legacy: $node['Prepare'].json.tag,\n  \
                 count: $('Prepare').all().length,\n  first: $('Trigger').first().json.n,\n  \
                 executed: $('Prepare').isExecuted,\n  workflow: $workflow.id + '/' + $workflow.name,\n  \
                 execution: $execution.id,\n  prev: $prevNode.name,\n  run: $runIndex\n};",
                0,
            ),
        ]),
        &[("Trigger", 0, "Prepare", 0), ("Prepare", 0, "Code", 0)],
    );
    let r = run(wf, json!([{"n": 1}, {"n": 2}])).await;
    assert_ok(&r);
    assert_eq!(
        output(&r, "Code", 0),
        json!([
            {"paired": "T1", "legacy": "T1", "count": 2, "first": 1, "executed": true,
             "workflow": "wf-test/test workflow", "execution": "exec-1", "prev": "Prepare", "run": 0},
            {"paired": "T2", "legacy": "T2", "count": 2, "first": 1, "executed": true,
             "workflow": "wf-test/test workflow", "execution": "exec-1", "prev": "Prepare", "run": 0}
        ])
    );
}

#[tokio::test]
async fn dates_are_luxon_like_in_the_workflow_time_zone() {
    let js = "const d = DateTime.fromISO('2024-03-30T12:00:00', { zone: 'Europe/Berlin' });\n\
              const now = $now;\n\
              return {\n\
                iso: d.toISO(),\n\
                plusDay: d.plus({ days: 1 }).toISO(),\n\
                minus: d.minus(2, 'hours').toFormat('HH:mm'),\n\
                start: d.startOf('month').toISODate(),\n\
                end: d.endOf('year').toFormat('yyyy-MM-dd HH:mm:ss.SSS'),\n\
                utc: d.setZone('UTC').toISO(),\n\
                parts: [d.year, d.month, d.day, d.hour, d.minute, d.second, d.weekday],\n\
                diff: DateTime.fromISO('2024-04-02T00:00:00Z').diff(DateTime.fromISO('2024-03-31T12:00:00Z'), 'days').days,\n\
                millis: DateTime.fromMillis(0).toMillis(),\n\
                jsDate: d.toJSDate().toISOString(),\n\
                nowZone: now.zoneName,\n\
                todayMidnight: $today.hour + $today.minute + $today.second,\n\
                fresh: Math.abs(DateTime.now().toMillis() - Date.now()) < 5000,\n\
                asJson: JSON.parse(JSON.stringify({ d })).d\n\
              };";
    let wf = super::node_flows::workflow_with_settings(
        json!([trigger(), all(js)]),
        &[("Trigger", 0, "Code", 0)],
        json!({"executionOrder": "v1", "timezone": "America/New_York"}),
    );
    let r = run(wf, json!([{}])).await;
    assert_ok(&r);
    assert_eq!(
        output(&r, "Code", 0),
        json!([{
            "iso": "2024-03-30T12:00:00.000+01:00",
            "plusDay": "2024-03-31T12:00:00.000+02:00",
            "minus": "10:00",
            "start": "2024-03-01",
            "end": "2024-12-31 23:59:59.999",
            "utc": "2024-03-30T11:00:00.000Z",
            "parts": [2024, 3, 30, 12, 0, 0, 6],
            "diff": 1.5,
            "millis": 0,
            "jsDate": "2024-03-30T11:00:00.000Z",
            "nowZone": "America/New_York",
            "todayMidnight": 0,
            "fresh": true,
            "asJson": "2024-03-30T12:00:00.000+01:00"
        }])
    );
}

#[tokio::test]
async fn console_log_goes_to_the_execution_log_with_the_execution_and_node() {
    let captured = testkit::LogCapture::this_thread(tracing::Level::INFO);
    // Other tests on other threads may have met the log call first, with no subscriber.
    tracing::callsite::rebuild_interest_cache();
    let r = run_code(
        all("console.log('hello', 42, { a: [1] });\nreturn [];"),
        json!([{}]),
    )
    .await;
    assert_ok(&r);
    let log = captured.text();
    let line = log
        .lines()
        .find(|l| l.contains("console.log"))
        .unwrap_or_else(|| panic!("no console.log line in: {log}"));
    assert!(
        line.contains(r#"console.log: hello 42 {"a":[1]}"#),
        "{line}"
    );
    assert!(line.contains("execution_id=exec-1"), "{line}");
    assert!(line.contains("node=Code"), "{line}");
}

#[tokio::test]
async fn await_works_and_console_log_does_not_change_the_output() {
    let r = run_code(
        all("console.log('items:', $input.all().length, { a: 1 });\nconst v = await Promise.resolve(41);\nreturn [{ json: { v: v + 1 } }];"),
        json!([{}]),
    )
    .await;
    assert_ok(&r);
    assert_eq!(output(&r, "Code", 0), json!([{"v": 42}]));
}

#[tokio::test]
async fn a_thrown_error_names_its_line_and_its_type() {
    let r = run_code(
        all("const a = 1;\nconst b = 2;\nthrow new Error('boom');"),
        json!([{}]),
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Error);
    assert_eq!(failure(&r), "boom [line 3]");
    let e = r.error.as_ref().unwrap().node_error.as_ref().unwrap();
    assert_eq!(e.description, None);
    assert_eq!(r.error.as_ref().unwrap().node.as_deref(), Some("Code"));

    // A TypeError in per-item mode: V8's words, the line and the item, the type as the
    // description, as n8n shows it.
    let r = run_code(
        each("const x = $json.missing;\nreturn { v: x.deep };"),
        json!([{"missing": {"deep": 1}}, {}]),
    )
    .await;
    assert_eq!(
        failure(&r),
        "Cannot read properties of undefined (reading 'deep') [line 2, for item 1]"
    );
    let e = r.error.as_ref().unwrap().node_error.as_ref().unwrap();
    assert_eq!(e.description.as_deref(), Some("TypeError"));
    assert_eq!(e.item_index, Some(1));

    // An error thrown from a function the code defines still names the user's line.
    let r = run_code(
        all("function check(v) {\n  if (!v) {\n    throw new RangeError('no value');\n  }\n}\ncheck(0);\nreturn [];"),
        json!([{}]),
    )
    .await;
    assert_eq!(failure(&r), "no value [line 3]");

    // Code that does not parse names the line too.
    let r = run_code(all("const a = 1;\nconst = 2;\nreturn [];"), json!([{}])).await;
    assert!(failure(&r).ends_with("[line 2]"), "{}", failure(&r));
    let e = r.error.as_ref().unwrap().node_error.as_ref().unwrap();
    assert_eq!(e.description.as_deref(), Some("SyntaxError"));

    // An undeclared variable: n8n's wording.
    let r = run_code(each("return { v: items.length };"), json!([{}])).await;
    assert_eq!(failure(&r), "items is not defined [line 1, for item 0]");
}

#[tokio::test]
async fn returns_n8n_refuses_are_refused_with_n8ns_words() {
    let cases = [
        (all("return 'text';"), "Code doesn't return items properly"),
        (
            all("return [{json: {a: 1}, extra: true}];"),
            "Invalid output format [item 0]",
        ),
        (
            all("return [{json: 'not an object'}];"),
            "A 'json' property isn't an object [item 0]",
        ),
        (
            each("return [{a: 1}];"),
            "Code doesn't return a single object [item 0]",
        ),
        (each("return 5;"), "Code doesn't return an object [item 0]"),
        (
            each("return $input.first();"),
            "Can't use .first() here [line 1, for item 0]",
        ),
    ];
    for (node, want) in cases {
        let r = run_code(node, json!([{"a": 1}])).await;
        assert_eq!(r.status, ExecutionStatus::Error);
        assert_eq!(failure(&r), want);
    }
}

#[tokio::test]
async fn continue_on_fail_turns_errors_into_error_items() {
    let mut failing = each("if ($json.bad) throw new Error('bad item');\nreturn $json;");
    failing["onError"] = json!("continueRegularOutput");
    let r = run_code(failing, json!([{"ok": 1}, {"bad": true}, {"ok": 3}])).await;
    assert_ok(&r);
    assert_eq!(
        full(&r, "Code", 0),
        json!([
            {"json": {"ok": 1}, "pairedItem": {"item": 0}},
            {"json": {"error": "bad item [line 1, for item 1]"}, "pairedItem": {"item": 1}},
            {"json": {"ok": 3}, "pairedItem": {"item": 2}}
        ])
    );
    let mut failing = all("throw new Error('whole run');");
    failing["onError"] = json!("continueRegularOutput");
    let r = run_code(failing, json!([{}])).await;
    assert_ok(&r);
    assert_eq!(
        output(&r, "Code", 0),
        json!([{"error": "whole run [line 1]"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_code_node_is_stopped_by_the_time_limit() {
    let started = std::time::Instant::now();
    let r = run_code(all("let n = 0;\nwhile (true) { n++; }"), json!([{}])).await;
    assert_eq!(r.status, ExecutionStatus::Error);
    assert!(
        failure(&r).starts_with("The code took longer than"),
        "{}",
        failure(&r)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // The sandbox is usable afterwards, and the stopped code left nothing behind.
    let r = run_code(all("return [{json: {ok: true}}];"), json!([{}])).await;
    assert_eq!(output(&r, "Code", 0), json!([{"ok": true}]));
}

#[tokio::test]
async fn the_sandbox_has_no_host_access() {
    let r = run_code(
        all("return [{json: {req: typeof require, proc: typeof process, fetch: typeof fetch, std: typeof std}}];"),
        json!([{}]),
    )
    .await;
    assert_eq!(
        output(&r, "Code", 0),
        json!([{"req": "undefined", "proc": "undefined", "fetch": "undefined", "std": "undefined"}])
    );
    // Globals cannot be changed for later runs.
    let _ = run_code(
        all("Array.prototype.leak = 1; globalThis.leak = 1; return [];"),
        json!([{}]),
    )
    .await;
    let r = run_code(
        all("return [{json: {proto: [].leak === undefined, global: typeof leak}}];"),
        json!([{}]),
    )
    .await;
    assert_eq!(
        output(&r, "Code", 0),
        json!([{"proto": true, "global": "undefined"}])
    );
}

#[tokio::test]
async fn version_one_runs_javascript_too() {
    let mut v1 = node(
        "Code",
        "code",
        1.0,
        json!({"jsCode": "return $input.all().map(i => ({json: {v: i.json.v + 1}}));"}),
        0,
    );
    v1["typeVersion"] = json!(1);
    let r = run_code(v1, json!([{"v": 1}])).await;
    assert_eq!(output(&r, "Code", 0), json!([{"v": 2}]));
}

#[tokio::test]
async fn python_is_refused_at_save_naming_node_and_parameter() {
    let wf = workflow(
        json!([
            trigger(),
            node(
                "Py",
                "code",
                2.0,
                json!({"language": "python", "pythonCode": "return _input.all()"}),
                0
            )
        ]),
        &[("Trigger", 0, "Py", 0)],
    );
    let err = validate(&wf, &core_nodes::registry(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node \"Py\": Parameter \"language\" is \"python\""),
        "{err}"
    );
    assert!(err.contains("pythonCode"), "{err}");
    // An unknown mode is refused too.
    let wf = workflow(
        json!([
            trigger(),
            code("C", "runOnceForEverything", "return [];", 0)
        ]),
        &[("Trigger", 0, "C", 0)],
    );
    let err = validate(&wf, &core_nodes::registry(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Parameter \"mode\" has an unknown value \"runOnceForEverything\""),
        "{err}"
    );
}
