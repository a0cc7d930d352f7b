//! Triggers of active workflows through the real server: a schedule activated over the API
//! produces `trigger` executions until deactivated; triggers that cannot start are refused on
//! activation; a polling trigger's state is saved only after its execution is stored, survives
//! a restart, and a failed poll is visible and keeps the state.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{eventually, Answer, Api, Backend, TestEnv, TestServer, KEY_A};
use async_trait::async_trait;
use node_api::{
    ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError, PollMode, PollingTrigger,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

common::on_both_backends!(
    schedule_runs_while_active,
    triggers_that_cannot_start_are_refused,
    polling_delivers_each_record_once,
    shutdown_lets_trigger_executions_finish
);

/// The workflow's executions, newest first.
async fn executions(api: &Api, id: &str) -> Vec<Value> {
    let (status, list) = api
        .get(&format!("/api/v1/executions?workflowId={id}&limit=250"))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().unwrap().clone()
}

async fn execution(api: &Api, id: &str) -> Value {
    let (status, execution) = api
        .get(&format!("/api/v1/executions/{id}?includeData=true"))
        .await;
    assert_eq!(status, StatusCode::OK, "{execution}");
    execution
}

async fn create(api: &Api, workflow: &Value) -> String {
    let (status, created) = api.post_json("/api/v1/workflows", workflow).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn post(api: &Api, path: &str) -> Answer {
    api.post(path).await
}

/// Creates and activates a workflow whose schedule fires every second: a clock in the
/// server's own trigger runtime. A test that must show something does *not* happen waits for
/// this clock to tick instead of sleeping, so a slow machine slows both alike.
async fn start_clock(api: &Api) -> String {
    let id = create(api, &every_second("tick", "UTC")).await;
    let (status, body) = post(api, &format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

/// Waits until the clock `clock` has started `ticks` more executions than now.
async fn wait_ticks(api: &Api, clock: &str, ticks: usize) {
    let from = executions(api, clock).await.len();
    eventually("the clock workflow's ticks", 60, || async {
        (executions(api, clock).await.len() >= from + ticks).then_some(())
    })
    .await;
}

fn every_second(value: &str, timezone: &str) -> Value {
    json!({
        "name": "ticker",
        "settings": {"executionOrder": "v1", "timezone": timezone},
        "nodes": [
            {"name": "Every second", "type": "n8n-nodes-base.scheduleTrigger", "typeVersion": 1.2,
             "parameters": {"rule": {"interval": [{"field": "seconds", "secondsInterval": 1}]}}},
            {"name": "Note", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                "assignments": {"assignments": [
                    {"id": "a", "name": "value", "value": value, "type": "string"},
                    {"id": "b", "name": "active", "value": "={{ $workflow.active }}", "type": "boolean"},
                    {"id": "c", "name": "zone", "value": "={{ $json.Timezone }}", "type": "string"}
                ]}}}
        ],
        "connections": {"Every second": {"main": [[{"node": "Note", "type": "main", "index": 0}]]}}
    })
}

async fn schedule_runs_while_active(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "schedule_runs_while_active").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let mut settings = env.settings(KEY_A, None);
    // The server's zone, n8n's way; workflows without their own zone use it.
    settings.generic_timezone = Some("Asia/Kolkata".into());
    let server = TestServer::start(settings).await;
    let api = server.api(&key);
    let id = create(&api, &every_second("first", "Asia/Tokyo")).await;
    assert!(
        executions(&api, &id).await.is_empty(),
        "an inactive workflow's schedule does not run"
    );

    let (status, body) = post(&api, &format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], true);
    let done = eventually("two finished trigger executions", 15, || async {
        let list = executions(&api, &id).await;
        let finished: Vec<Value> = list
            .into_iter()
            .filter(|e| e["status"] == "success")
            .collect();
        (finished.len() >= 2).then_some(finished)
    })
    .await;
    for e in &done {
        assert_eq!(e["mode"], "trigger", "{e}");
    }
    let one = execution(&api, done[0]["id"].as_str().unwrap()).await;
    let run_data = &one["data"]["resultData"]["runData"];
    let fired = &run_data["Every second"][0]["data"]["main"][0][0]["json"];
    assert_eq!(fired["Timezone"], "Asia/Tokyo (UTC+09:00)", "{fired}");
    assert!(
        fired["timestamp"].as_str().unwrap().ends_with("+09:00"),
        "{fired}"
    );
    for field in [
        "Readable date",
        "Day of week",
        "Year",
        "Month",
        "Hour",
        "Second",
    ] {
        assert!(fired[field].is_string(), "{field} missing from {fired}");
    }
    let out = &run_data["Note"][0]["data"]["main"][0][0]["json"];
    assert_eq!(
        out,
        &json!({"value": "first", "active": true, "zone": "Asia/Tokyo (UTC+09:00)"})
    );

    // Replacing the active workflow restarts its schedule with the new definition.
    let (status, body) = api
        .put_json(
            &format!("/api/v1/workflows/{id}"),
            &every_second("second", "DEFAULT"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("an execution of the new definition", 15, || async {
        for e in executions(&api, &id).await {
            if e["status"] != "success" {
                continue;
            }
            let full = execution(&api, e["id"].as_str().unwrap()).await;
            let out =
                &full["data"]["resultData"]["runData"]["Note"][0]["data"]["main"][0][0]["json"];
            if out["value"] == "second" {
                assert_eq!(out["zone"], "Asia/Kolkata (UTC+05:30)", "{out}");
                return Some(());
            }
        }
        None
    })
    .await;

    let clock = start_clock(&api).await;
    let (status, body) = post(&api, &format!("/api/v1/workflows/{id}/deactivate")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    // Once deactivation answered, no execution starts: the count (running ones included)
    // stays while the clock workflow fires three more times.
    let count = executions(&api, &id).await.len();
    wait_ticks(&api, &clock, 3).await;
    let after = executions(&api, &id).await;
    assert_eq!(after.len(), count, "no execution starts after deactivation");
    eventually(
        "the executions started before deactivation to finish",
        30,
        || async {
            let list = executions(&api, &id).await;
            list.iter().all(|e| e["status"] == "success").then_some(())
        },
    )
    .await;
    server.stop().await;
}

async fn triggers_that_cannot_start_are_refused(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "triggers_that_cannot_start_are_refused").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = server.api(&key);

    let mut bad_cron = every_second("x", "UTC");
    bad_cron["nodes"][0]["parameters"] =
        json!({"rule": {"interval": [{"field": "cronExpression", "expression": "every tuesday"}]}});
    let id = create(&api, &bad_cron).await;
    let (status, body) = post(&api, &format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("node \"Every second\""), "{message}");
    assert!(
        message.contains("Parameter \"rule.interval[0].expression\": invalid cron expression"),
        "{message}"
    );
    let (_, stored) = api.get(&format!("/api/v1/workflows/{id}")).await;
    assert_eq!(
        stored["active"], false,
        "a refused activation stays inactive"
    );

    let id = create(&api, &every_second("x", "Mars/Olympus_Mons")).await;
    let (status, body) = post(&api, &format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(
            "node \"Every second\": Parameter \"settings.timezone\": unknown time zone \"Mars/Olympus_Mons\""
        ),
        "{message}"
    );

    // An active workflow replaced by one whose trigger cannot start: refused, nothing changes.
    let good = every_second("kept", "UTC");
    let id = create(&api, &good).await;
    let (status, _) = post(&api, &format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::OK);
    let mut worse = good.clone();
    worse["nodes"][0]["parameters"]["rule"]["interval"][0]["secondsInterval"] = json!(90);
    let (status, refused) = api
        .put_json(&format!("/api/v1/workflows/{id}"), &worse)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("Parameter \"rule.interval[0].secondsInterval\": expected a number from 1 to 59, got 90"),
        "{message}"
    );
    let (_, stored) = api.get(&format!("/api/v1/workflows/{id}")).await;
    assert_eq!(stored["active"], true);
    assert_eq!(
        stored["nodes"][0]["parameters"]["rule"]["interval"][0]["secondsInterval"],
        1
    );

    // Deleting an active workflow stops its schedule: nothing of it runs while the clock
    // workflow fires three times.
    let clock = start_clock(&api).await;
    eventually("an execution of the active workflow", 30, || async {
        (!executions(&api, &id).await.is_empty()).then_some(())
    })
    .await;
    let (status, _) = api.delete(&format!("/api/v1/workflows/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let count = executions(&api, &id).await.len();
    wait_ticks(&api, &clock, 3).await;
    assert_eq!(executions(&api, &id).await.len(), count);
    server.stop().await;
}

/// A record source the test controls, shared by every instance of the test trigger (a
/// restarted server gets a new registry over the same source).
#[derive(Default)]
struct Source {
    records: Mutex<Vec<i64>>,
    failing: AtomicBool,
    /// Polls finished.
    polls: AtomicUsize,
    /// Polls begun.
    started: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    delay_ms: AtomicUsize,
    /// While set, the `Done` node of an execution waits.
    hold: AtomicBool,
}

/// `test.hold`: passes its items on, waiting first while the source says hold.
struct Hold {
    description: NodeDescription,
    source: Arc<Source>,
}

#[async_trait]
impl Node for Hold {
    fn description(&self) -> &NodeDescription {
        &self.description
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        while self.source.hold.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(vec![input])
    }
}

/// `test.recordTrigger`: returns the records after the `lastId` in its state.
struct RecordTrigger {
    description: NodeDescription,
    source: Arc<Source>,
}

#[async_trait]
impl PollingTrigger for RecordTrigger {
    fn description(&self) -> &NodeDescription {
        &self.description
    }

    async fn poll(
        &self,
        ctx: &dyn ExecuteContext,
        state: &mut Value,
        mode: PollMode,
    ) -> Result<Option<Vec<Item>>, NodeError> {
        assert_eq!(mode, PollMode::Trigger);
        self.source.started.fetch_add(1, Ordering::SeqCst);
        let label = ctx.parameters(0)?.get("label").cloned();
        let now = self.source.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.source.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = self.source.delay_ms.load(Ordering::SeqCst) as u64;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        self.source.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.source.polls.fetch_add(1, Ordering::SeqCst);
        let last = state.get("lastId").and_then(Value::as_i64).unwrap_or(0);
        if self.source.failing.load(Ordering::SeqCst) {
            // A trigger may have moved its cursor before failing: the engine must not keep that.
            state["lastId"] = json!(last + 100);
            return Err(NodeError::operation("source unavailable"));
        }
        let new: Vec<i64> = self
            .source
            .records
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|r| *r > last)
            .collect();
        let Some(max) = new.iter().max().copied() else {
            state["checked"] = json!(true);
            return Ok(None);
        };
        state["lastId"] = json!(max);
        Ok(Some(
            new.into_iter()
                .map(|id| {
                    let mut json = JsonObject::new();
                    json.insert("id".into(), id.into());
                    json.insert("label".into(), label.clone().unwrap_or(Value::Null));
                    Item::new(json)
                })
                .collect(),
        ))
    }
}

fn registry(source: &Arc<Source>) -> Vec<Arc<dyn node_api::Plugin>> {
    let mut description = NodeDescription::new("test.recordTrigger", "Record Trigger", &[1.0]);
    description.inputs = 0;
    description.trigger = true;
    common::with_test_nodes(
        vec![Arc::new(Hold {
            description: NodeDescription::new("test.hold", "Hold", &[1.0]),
            source: source.clone(),
        })],
        vec![Arc::new(RecordTrigger {
            description,
            source: source.clone(),
        })],
    )
}

fn polling_workflow() -> Value {
    json!({
        "name": "records",
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "New record", "type": "test.recordTrigger", "typeVersion": 1,
             "parameters": {"label": "={{ $workflow.name }}",
                            "pollTimes": {"item": [{"mode": "custom", "cronExpression": "* * * * * *"}]}}},
            {"name": "Done", "type": "test.hold", "typeVersion": 1, "parameters": {}}
        ],
        "connections": {"New record": {"main": [[{"node": "Done", "type": "main", "index": 0}]]}}
    })
}

/// The ids the `Done` node received in execution `e`.
async fn delivered(api: &Api, e: &Value) -> Vec<i64> {
    let full = execution(api, e["id"].as_str().unwrap()).await;
    full["data"]["resultData"]["runData"]["Done"][0]["data"]["main"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["json"]["id"].as_i64().unwrap())
        .collect()
}

async fn polling_delivers_each_record_once(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "polling_delivers_each_record_once").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let source = Arc::new(Source::default());
    *source.records.lock().unwrap() = vec![1, 2, 3];
    // Each poll takes longer than the one-second poll interval: polls must not overlap.
    source.delay_ms.store(1300, Ordering::SeqCst);
    let server = TestServer::start_with_plugins(env.settings(KEY_A, None), registry(&source)).await;
    let store = server.state.workflows.store.clone();
    let api = server.api(&key);
    let id = create(&api, &polling_workflow()).await;
    let (status, body) = post(&api, &format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Items -> execution stored -> state saved.
    let first = eventually("the first polled execution", 15, || async {
        executions(&api, &id)
            .await
            .into_iter()
            .find(|e| e["status"] == "success")
    })
    .await;
    assert_eq!(first["mode"], "trigger");
    assert_eq!(delivered(&api, &first).await, vec![1, 2, 3]);
    let full = execution(&api, first["id"].as_str().unwrap()).await;
    assert_eq!(
        full["data"]["resultData"]["runData"]["New record"][0]["data"]["main"][0][0]["json"],
        json!({"id": 1, "label": "records"}),
        "the trigger's parameters resolve expressions"
    );
    let state = eventually("the saved state", 10, || async {
        store.trigger_state(&id, "New record").await.unwrap()
    })
    .await;
    assert_eq!(state["lastId"], 3);
    // Nothing new: polls go on, the state advances, no execution is made.
    let polls = source.polls.load(Ordering::SeqCst);
    eventually("two more polls", 15, || async {
        (source.polls.load(Ordering::SeqCst) >= polls + 2).then_some(())
    })
    .await;
    assert_eq!(executions(&api, &id).await.len(), 1);
    let state = store
        .trigger_state(&id, "New record")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, json!({"lastId": 3, "checked": true}));
    assert_eq!(
        source.max_in_flight.load(Ordering::SeqCst),
        1,
        "one poll at a time"
    );
    source.delay_ms.store(0, Ordering::SeqCst);

    // A failed poll is a visible failed execution, and the state stays.
    source.records.lock().unwrap().push(4);
    source.failing.store(true, Ordering::SeqCst);
    let failed = eventually("a failed poll execution", 15, || async {
        executions(&api, &id)
            .await
            .into_iter()
            .find(|e| e["status"] == "error")
    })
    .await;
    assert_eq!(failed["mode"], "trigger");
    assert_eq!(
        failed["error"]["message"],
        "polling trigger \"New record\" failed: source unavailable"
    );
    let state = store
        .trigger_state(&id, "New record")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state["lastId"], 3, "a failed poll keeps the old state");
    source.failing.store(false, Ordering::SeqCst);
    let second = eventually("the execution of record 4", 15, || async {
        let list = executions(&api, &id).await;
        let ok: Vec<Value> = list
            .into_iter()
            .filter(|e| e["status"] == "success")
            .collect();
        (ok.len() == 2).then(|| ok[0].clone())
    })
    .await;
    assert_eq!(delivered(&api, &second).await, vec![4]);
    eventually("the state after record 4", 10, || async {
        let s = store.trigger_state(&id, "New record").await.unwrap()?;
        (s["lastId"] == 4).then_some(())
    })
    .await;

    // An execution that cannot be stored (its row is gone when it ends) keeps the old state:
    // the next poll delivers the same record again.
    source.hold.store(true, Ordering::SeqCst);
    source.records.lock().unwrap().push(5);
    let running = eventually("an execution holding record 5", 15, || async {
        executions(&api, &id)
            .await
            .into_iter()
            .find(|e| e["status"] == "running")
    })
    .await;
    store
        .delete_execution(running["id"].as_str().unwrap())
        .await
        .unwrap();
    source.hold.store(false, Ordering::SeqCst);
    let again = eventually("record 5 delivered again", 15, || async {
        let list = executions(&api, &id).await;
        let ok: Vec<Value> = list
            .into_iter()
            .filter(|e| e["status"] == "success")
            .collect();
        (ok.len() == 3).then(|| ok[0].clone())
    })
    .await;
    assert_ne!(again["id"], running["id"]);
    assert_eq!(delivered(&api, &again).await, vec![5]);
    eventually("the state after record 5", 10, || async {
        let s = store.trigger_state(&id, "New record").await.unwrap()?;
        (s["lastId"] == 5).then_some(())
    })
    .await;

    // A restart keeps the state and resumes: record 6 only, nothing repeated.
    server.stop().await;
    source.records.lock().unwrap().push(6);
    let server = TestServer::start_with_plugins(env.settings(KEY_A, None), registry(&source)).await;
    let api = server.api(&key);
    let store = server.state.workflows.store.clone();
    let third = eventually(
        "the execution of record 6 after the restart",
        15,
        || async {
            let list = executions(&api, &id).await;
            let ok: Vec<Value> = list
                .into_iter()
                .filter(|e| e["status"] == "success")
                .collect();
            (ok.len() == 4).then(|| ok[0].clone())
        },
    )
    .await;
    assert_eq!(delivered(&api, &third).await, vec![6]);
    let state = eventually("the state after record 6", 10, || async {
        let s = store.trigger_state(&id, "New record").await.unwrap()?;
        (s["lastId"] == 6).then_some(s)
    })
    .await;
    assert_eq!(state["lastId"], 6);

    // Deactivation stops polling. A poll already under way when deactivation answered may
    // still finish; after it none starts, while the clock workflow fires three times.
    let clock = start_clock(&api).await;
    let (status, _) = post(&api, &format!("/api/v1/workflows/{id}/deactivate")).await;
    assert_eq!(status, StatusCode::OK);
    let begun = source.started.load(Ordering::SeqCst);
    source.records.lock().unwrap().push(7);
    eventually("the poll under way to finish", 30, || async {
        (source.in_flight.load(Ordering::SeqCst) == 0).then_some(())
    })
    .await;
    wait_ticks(&api, &clock, 1).await;
    let started = source.started.load(Ordering::SeqCst);
    assert!(
        started <= begun + 1,
        "{} polls began after deactivation answered",
        started - begun
    );
    wait_ticks(&api, &clock, 3).await;
    assert_eq!(
        source.started.load(Ordering::SeqCst),
        started,
        "no poll after deactivation"
    );
    assert_eq!(
        executions(&api, &id)
            .await
            .iter()
            .filter(|e| e["status"] == "success")
            .count(),
        4
    );
    server.stop().await;
}

async fn shutdown_lets_trigger_executions_finish(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "shutdown_lets_trigger_executions_finish").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let source = Arc::new(Source::default());
    *source.records.lock().unwrap() = vec![1];
    source.hold.store(true, Ordering::SeqCst);
    let server = TestServer::start_with_plugins(env.settings(KEY_A, None), registry(&source)).await;
    let api = server.api(&key);
    let id = create(&api, &polling_workflow()).await;
    let (status, _) = post(&api, &format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, StatusCode::OK);
    let running = eventually("a running trigger execution", 15, || async {
        executions(&api, &id)
            .await
            .into_iter()
            .find(|e| e["status"] == "running")
    })
    .await;

    // Shutdown waits for the execution under way instead of abandoning it. The order proves
    // it, not a clock: shutdown has begun (the triggers are closed) while the execution is
    // held; it is released; shutdown ends by closing the database, and what the next start
    // reads is the execution stored as a success, so its end was written before that.
    let polls = source.started.load(Ordering::SeqCst);
    let triggers = server.state.workflows.clone();
    let stopping = tokio::spawn(server.stop());
    eventually("shutdown to close the triggers", 30, || async {
        (!triggers.triggers.is_running(&id)).then_some(())
    })
    .await;
    assert!(
        !stopping.is_finished(),
        "shutdown ended while an execution it started was still held"
    );
    let held = triggers
        .store
        .get_execution(running["id"].as_str().unwrap(), false)
        .await
        .unwrap();
    assert_eq!(held.status, "running", "the execution is still under way");
    source.hold.store(false, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(60), stopping)
        .await
        .expect("shutdown ends once the execution is released")
        .unwrap();
    assert_eq!(
        source.started.load(Ordering::SeqCst),
        polls,
        "no poll after shutdown began"
    );

    // What the next start finds: the execution finished and stored, its state saved.
    let state = engine::app::open(env.settings(KEY_A, None), switchyard::builtin())
        .await
        .unwrap();
    let store = &state.workflows.store;
    let stored = store
        .get_execution(running["id"].as_str().unwrap(), false)
        .await
        .unwrap();
    assert_eq!(stored.status, "success");
    assert_eq!(
        store
            .trigger_state(&id, "New record")
            .await
            .unwrap()
            .unwrap()["lastId"],
        1
    );
    state.db.close().await;
}
