//! The Wait node through the executor: a short wait sleeps in the execution; a longer one
//! stops it as waiting with where to resume, and resuming runs the rest with everything
//! that ran before still visible to expressions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use node_api::ExecutionMode;
use serde_json::{json, Value};
use workflow::{CancelHandle, ExecutionStatus, Executor, RunRequest, Workflow};

use super::node_flows::{assert_ok, items, node, output, runs, set, trigger, workflow};

fn waiting_workflow(params: Value) -> Arc<Workflow> {
    workflow(
        json!([
            trigger(),
            set("Before", &[("tag", "={{ 'n' + $json.n }}")], 0),
            node("Wait", "wait", 1.1, params, 0),
            set("After", &[("from", "={{ $('Before').item.json.tag }}")], 0),
        ]),
        &[
            ("Trigger", 0, "Before", 0),
            ("Before", 0, "Wait", 0),
            ("Wait", 0, "After", 0),
        ],
    )
}

fn request(wf: Arc<Workflow>, input: Value) -> RunRequest {
    RunRequest {
        workflow: wf,
        execution_id: "exec-wait".into(),
        mode: ExecutionMode::Trigger,
        start_node: None,
        items: items(input),
        cancel: CancelHandle::new(),
        respond_early: None,
    }
}

#[tokio::test]
async fn a_short_wait_sleeps_in_the_execution() {
    let wf = waiting_workflow(json!({"amount": 0.3, "unit": "seconds"}));
    let began = Instant::now();
    let r = core_nodes::executor()
        .run(request(wf, json!([{"n": 1}])))
        .await
        .unwrap();
    assert_ok(&r);
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        output(&r, "After", 0),
        json!([{"n": 1, "tag": "n1", "from": "n1"}])
    );
}

#[tokio::test]
async fn a_long_wait_stops_the_execution_and_resuming_runs_the_rest() {
    let executor = Executor::new(
        Arc::new(core_nodes::registry()),
        reqwest::Client::new(),
        Arc::new(workflow::NoCredentials),
    )
    .with_wait_in_process(Duration::ZERO);
    let wf = waiting_workflow(json!({"amount": 2, "unit": "hours"}));
    let before = chrono::Utc::now();
    let r = executor
        .run(request(wf.clone(), json!([{"n": 1}, {"n": 2}])))
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Waiting, "{:?}", r.error);
    let state = r.resume.clone().unwrap();
    assert_eq!(state.wait_node, "Wait");
    let waited = state.wait_till - before;
    assert!(waited >= chrono::Duration::hours(2) && waited < chrono::Duration::minutes(121));
    assert!(runs(&r, "Wait").is_empty(), "recorded when it resumes");
    assert!(runs(&r, "After").is_empty());
    // The state survives a trip through JSON (it is stored in the database).
    let state = serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();

    let done = executor
        .resume(request(wf, json!([])), state, 0)
        .await
        .unwrap();
    assert_ok(&done);
    assert_eq!(
        output(&done, "After", 0),
        json!([{"n": 1, "tag": "n1", "from": "n1"}, {"n": 2, "tag": "n2", "from": "n2"}])
    );
    assert_eq!(runs(&done, "Wait").len(), 1);
    assert_eq!(runs(&done, "Before").len(), 1);
}

#[tokio::test]
async fn a_date_in_the_past_goes_on_at_once_and_form_resume_is_refused_at_save() {
    let wf = waiting_workflow(json!({"resume": "specificTime", "dateTime": "2020-01-01T00:00:00"}));
    let r = core_nodes::executor()
        .run(request(wf, json!([{"n": 1}])))
        .await
        .unwrap();
    assert_ok(&r);
    for (params, expected) in [
        (
            json!({"resume": "form"}),
            "Parameter \"resume\" has an unknown value \"form\"",
        ),
        (
            json!({"resume": "webhook", "incomingAuthentication": "basicAuth"}),
            "Parameter \"incomingAuthentication\" has an unknown value \"basicAuth\"",
        ),
        (
            json!({"resume": "webhook", "options": {"ipWhitelist": "10.0.0.1"}}),
            "Parameter \"options.ipWhitelist\" is not supported",
        ),
    ] {
        let err = workflow::validate(&waiting_workflow(params), &core_nodes::registry(), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("Wait") && err.contains(expected), "{err}");
    }
}

#[tokio::test]
async fn a_webhook_wait_lasts_until_its_limit_or_for_ever() {
    let executor = core_nodes::executor();
    let limited = waiting_workflow(json!({"resume": "webhook", "limitWaitTime": true,
                                          "resumeAmount": 10, "resumeUnit": "minutes"}));
    let before = chrono::Utc::now();
    let r = executor
        .run(request(limited, json!([{"n": 1}])))
        .await
        .unwrap();
    // Stored whatever the in-process limit: the call may come to another process.
    assert_eq!(r.status, ExecutionStatus::Waiting, "{:?}", r.error);
    let till = r.resume.unwrap().wait_till - before;
    assert!(till >= chrono::Duration::minutes(10) && till < chrono::Duration::minutes(11));

    let unlimited = waiting_workflow(json!({"resume": "webhook", "httpMethod": "POST"}));
    let r = executor
        .run(request(unlimited, json!([{"n": 1}])))
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Waiting);
    assert_eq!(
        r.resume.unwrap().wait_till.to_rfc3339(),
        "3000-01-01T00:00:00+00:00"
    );
}
