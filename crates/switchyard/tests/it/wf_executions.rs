//! Executions through the assembled server: n8n's saving policy (environment and workflow
//! settings), pruning, stopping a running execution, deleting a workflow with its
//! executions, unique ordering under concurrent starts, and the production webhook index
//! following workflow changes. Each story runs on SQLite and Postgres.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use crate::common::{Answer, Api, Backend, TestEnv, TestServer, KEY_A};
use engine::config::Settings;
use reqwest::StatusCode;
use serde_json::{json, Value};

common::on_both_backends!(
    saving_policy_follows_settings_and_workflow_overrides,
    pruning_keeps_running_and_the_newest_finished,
    stop_cancels_a_running_execution,
    deleting_a_workflow_deletes_its_executions,
    concurrent_starts_page_without_gaps_or_repeats,
    webhook_index_follows_workflow_changes,
    a_failing_write_fails_alone,
    a_caller_hanging_up_does_not_leave_the_execution_running,
    an_answered_webhook_call_is_a_stored_execution,
    stop_stops_a_node_working_through_items,
    a_list_reads_run_data_only_when_asked,
    a_failed_production_execution_starts_its_error_workflow,
    execute_workflow_runs_the_child_and_returns_its_output,
    a_waiting_execution_survives_a_restart_and_resumes_on_time,
    a_webhook_call_resumes_a_waiting_execution,
);

struct Harness {
    env: TestEnv,
    server: TestServer,
    key: String,
    /// The API of `server`, with `key`.
    api: Api,
}

impl Harness {
    async fn start(backend: Backend, test: &str, adjust: impl Fn(&mut Settings)) -> Option<Self> {
        let env = TestEnv::new(backend, test).await?;
        let key = env.api_key(KEY_A);
        let mut settings = env.settings(KEY_A, None);
        adjust(&mut settings);
        let server = TestServer::start(settings).await;
        let api = server.api(&key);
        Some(Self {
            env,
            server,
            key,
            api,
        })
    }

    /// Stops the server and starts a new one over the same database.
    async fn restart(self, adjust: impl Fn(&mut Settings)) -> Self {
        self.server.stop().await;
        let mut settings = self.env.settings(KEY_A, None);
        adjust(&mut settings);
        let server = TestServer::start(settings).await;
        let api = server.api(&self.key);
        Self {
            server,
            api,
            ..self
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    async fn create(&self, workflow: Value, active: bool) -> String {
        let (status, body) = self.api.post_json("/api/v1/workflows", &workflow).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        if active {
            self.set_active(&id, true).await;
        }
        id
    }

    async fn set_active(&self, id: &str, active: bool) {
        let verb = if active { "activate" } else { "deactivate" };
        let (status, _) = self
            .api
            .post(&format!("/api/v1/workflows/{id}/{verb}"))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    /// Runs `id` manually and returns the answer of `?wait=true`.
    async fn run_waiting(&self, id: &str) -> Value {
        let (status, done) = self
            .api
            .post_json(&format!("/api/v1/workflows/{id}/run?wait=true"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        done
    }

    async fn executions(&self, query: &str) -> Value {
        let (status, list) = self.api.get(&format!("/api/v1/executions?{query}")).await;
        assert_eq!(status, StatusCode::OK);
        list
    }

    async fn execution_status(&self, id: &str) -> StatusCode {
        self.api.get(&format!("/api/v1/executions/{id}")).await.0
    }

    /// Waits until no execution runs in the server any more (webhook executions are
    /// recorded after the answer goes out; an execution leaves the running set only once
    /// its end is stored) and none of workflow `id` is stored as running, then returns its
    /// executions.
    async fn settled(&self, id: &str) -> Vec<Value> {
        for _ in 0..2400 {
            if self.server.state.workflows.store.running_count() > 0 {
                tokio::time::sleep(Duration::from_millis(25)).await;
                continue;
            }
            let list = self.executions(&format!("workflowId={id}")).await;
            let data = list["data"].as_array().unwrap().clone();
            if data.iter().all(|e| e["status"] != "running") {
                return data;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("executions of {id} still running");
    }

    /// Calls the production webhook `path` with `{"n": 1}`, without an API key.
    async fn hook(&self, path: &str) -> Answer {
        self.server
            .anonymous()
            .post_json(&format!("/webhook/{path}"), &json!({"n": 1}))
            .await
    }
}

/// Webhook -> Set (or Stop and Error when `fail`), answering with the last node.
fn hook_workflow(name: &str, path: &str, fail: bool, settings: Value) -> Value {
    let second = if fail {
        json!({"name": "Second", "type": "n8n-nodes-base.stopAndError", "typeVersion": 1,
               "parameters": {"errorMessage": "refused"}})
    } else {
        json!({"name": "Second", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
            "assignments": {"assignments": [{"id": "a", "name": "m", "value": "={{ $json.body.n * 2 }}", "type": "number"}]}}})
    };
    let mut settings = settings;
    settings["executionOrder"] = json!("v1");
    json!({
        "name": name,
        "settings": settings,
        "nodes": [
            {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
             "parameters": {"httpMethod": "POST", "path": path, "responseMode": "lastNode", "options": {}}},
            second
        ],
        "connections": {"Webhook": {"main": [[{"node": "Second", "type": "main", "index": 0}]]}}
    })
}

/// Manual Trigger -> Set.
fn manual_workflow(name: &str, settings: Value) -> Value {
    let mut settings = settings;
    settings["executionOrder"] = json!("v1");
    json!({
        "name": name,
        "settings": settings,
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
            {"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                "assignments": {"assignments": [{"id": "a", "name": "ok", "value": true, "type": "boolean"}]}}}
        ],
        "connections": {"Start": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}}
    })
}

async fn saving_policy_follows_settings_and_workflow_overrides(backend: Backend) {
    let Some(h) = Harness::start(backend, "saving_policy", |s| {
        s.executions.save_on_success = false;
        s.executions.save_manual = false;
    })
    .await
    else {
        return;
    };

    // EXECUTIONS_DATA_SAVE_ON_SUCCESS=none: a successful webhook execution is not kept ...
    let plain = h
        .create(hook_workflow("plain", "plain", false, json!({})), true)
        .await;
    let (status, body) = h.hook("plain").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["m"], 2);
    assert_eq!(h.settled(&plain).await, Vec::<Value>::new());

    // ... unless the workflow says "all".
    let keep = h
        .create(
            hook_workflow(
                "keep",
                "keep",
                false,
                json!({"saveDataSuccessExecution": "all"}),
            ),
            true,
        )
        .await;
    assert_eq!(h.hook("keep").await.0, StatusCode::OK);
    let kept = h.settled(&keep).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["status"], "success");
    assert_eq!(kept[0]["mode"], "webhook");

    // Failures are kept by default (EXECUTIONS_DATA_SAVE_ON_ERROR=all) ...
    let failing = h
        .create(hook_workflow("failing", "failing", true, json!({})), true)
        .await;
    assert_eq!(h.hook("failing").await.0, StatusCode::INTERNAL_SERVER_ERROR);
    let failed = h.settled(&failing).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["status"], "error");

    // ... and dropped when the workflow says "none"; "DEFAULT" defers to the environment.
    let quiet = h
        .create(
            hook_workflow(
                "quiet",
                "quiet",
                true,
                json!({"saveDataErrorExecution": "none", "saveDataSuccessExecution": "DEFAULT"}),
            ),
            true,
        )
        .await;
    assert_eq!(h.hook("quiet").await.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(h.settled(&quiet).await, Vec::<Value>::new());

    // EXECUTIONS_DATA_SAVE_MANUAL_EXECUTIONS=false: the caller still gets the outcome, but
    // nothing is stored; a workflow's saveManualExecutions: true keeps its runs.
    let manual = h.create(manual_workflow("manual", json!({})), false).await;
    let answer = h.run_waiting(&manual).await;
    assert_eq!(answer["status"], "success");
    assert_eq!(
        answer["data"]["resultData"]["runData"]["Set"][0]["data"]["main"][0][0]["json"],
        json!({"ok": true})
    );
    let id = answer["id"].as_str().unwrap();
    assert_eq!(h.execution_status(id).await, StatusCode::NOT_FOUND);
    assert_eq!(h.settled(&manual).await, Vec::<Value>::new());

    let saved_manual = h
        .create(
            manual_workflow("saved manual", json!({"saveManualExecutions": true})),
            false,
        )
        .await;
    let answer = h.run_waiting(&saved_manual).await;
    let id = answer["id"].as_str().unwrap();
    assert_eq!(h.execution_status(id).await, StatusCode::OK);
    let listed = h.settled(&saved_manual).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["mode"], "manual");
    h.server.stop().await;
}

async fn pruning_keeps_running_and_the_newest_finished(backend: Backend) {
    let Some(h) = Harness::start(backend, "pruning", |s| s.executions.prune = false).await else {
        return;
    };
    let wf = h.create(manual_workflow("pruned", json!({})), false).await;
    // The oldest execution is one still running: pruning never touches it.
    let store = &h.server.state.workflows.store;
    store
        .start_execution("still-running", &wf, "trigger")
        .await
        .unwrap();
    // It belongs to another server, alive on another host (the restart below would
    // otherwise rightly mark it crashed: its own server stopped). Its heartbeat stays fresh
    // however long the stop below drains.
    let db = h.server.state.db.pool();
    sqlx::query(
        "INSERT INTO processes (id, host, pid, started_at, heartbeat_at) \
         VALUES ('neighbour', 'elsewhere', 1, '2026-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z')",
    )
    .execute(db)
    .await
    .unwrap();
    sqlx::query("UPDATE executions SET process_id = 'neighbour' WHERE id = 'still-running'")
        .execute(db)
        .await
        .unwrap();
    let mut finished = Vec::new();
    for _ in 0..4 {
        let answer = h.run_waiting(&wf).await;
        finished.push(answer["id"].as_str().unwrap().to_owned());
    }
    // The newest finished one stopped long ago: old enough to go by age.
    sqlx::query("UPDATE executions SET stopped_at = '2020-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(&finished[3])
        .execute(h.server.state.db.pool())
        .await
        .unwrap();

    // Pruning runs when the server starts: one hour maximum age, two finished at most.
    let h = h
        .restart(|s| {
            s.executions.max_age_hours = 1;
            s.executions.prune_max_count = 2;
        })
        .await;
    let mut ids = Vec::new();
    for _ in 0..2400 {
        let list = h.executions(&format!("workflowId={wf}")).await;
        ids = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>();
        if ids.len() <= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Newest first: the two newest that were not aged out, then the running one.
    assert_eq!(
        ids,
        vec![
            finished[2].clone(),
            finished[1].clone(),
            "still-running".to_owned()
        ]
    );
    h.server.stop().await;
}

/// A server that accepts connections and never answers: a node calling it waits.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

async fn stop_cancels_a_running_execution(backend: Backend) {
    let Some(h) = Harness::start(backend, "stop_execution", |_| {}).await else {
        return;
    };
    let (slow, silent) = silent_server().await;
    let wf = h
        .create(
            json!({
                "name": "waits", "settings": {"executionOrder": "v1"},
                "nodes": [
                    {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
                    {"name": "Call", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
                     "parameters": {"method": "GET", "url": slow}}
                ],
                "connections": {"Start": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}}
            }),
            false,
        )
        .await;
    let (status, started) = h.api.post(&format!("/api/v1/workflows/{wf}/run")).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let id = started["executionId"].as_str().unwrap().to_owned();
    let (_, running) = h.api.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(running["status"], "running");

    let stop = format!("/api/v1/executions/{id}/stop");
    let (status, stopped) = h.api.post(&stop).await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["id"], id.as_str());
    assert_eq!(stopped["status"], "canceled");
    assert!(stopped["stoppedAt"].is_string(), "{stopped}");

    let (_, stored) = h
        .api
        .get(&format!("/api/v1/executions/{id}?includeData=true"))
        .await;
    assert_eq!(stored["status"], "canceled");
    assert_eq!(stored["finished"], false);
    // The node never finished, so it recorded no output.
    assert!(
        stored["data"]["resultData"]["runData"]
            .get("Call")
            .is_none(),
        "{stored}"
    );

    // Finished already: 409 naming the status. Unknown: 404.
    let (status, refused) = h.api.post(&stop).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("not running") && message.contains("canceled"),
        "{message}"
    );
    let (status, _) = h
        .api
        .post("/api/v1/executions/no-such-execution/stop")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    silent.abort();
    h.server.stop().await;
}

async fn deleting_a_workflow_deletes_its_executions(backend: Backend) {
    let Some(h) = Harness::start(backend, "delete_cascade", |_| {}).await else {
        return;
    };
    let gone = h.create(manual_workflow("gone", json!({})), false).await;
    let kept = h.create(manual_workflow("kept", json!({})), false).await;
    let first = h.run_waiting(&gone).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.run_waiting(&gone).await;
    let other = h.run_waiting(&kept).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, _) = h.api.delete(&format!("/api/v1/workflows/{gone}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.execution_status(&first).await, StatusCode::NOT_FOUND);
    assert_eq!(
        h.executions(&format!("workflowId={gone}")).await["data"],
        json!([])
    );
    let all = h.executions("").await;
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![other.as_str()]);
    h.server.stop().await;
}

async fn concurrent_starts_page_without_gaps_or_repeats(backend: Backend) {
    let Some(h) = Harness::start(backend, "concurrent_starts", |_| {}).await else {
        return;
    };
    let wf = h.create(manual_workflow("busy", json!({})), false).await;
    let runs = (0..24).map(|_| {
        let api = h.api.clone();
        let path = format!("/api/v1/workflows/{wf}/run");
        async move {
            let (status, started) = api.post(&path).await;
            assert_eq!(status, StatusCode::OK);
            started["executionId"].as_str().unwrap().to_owned()
        }
    });
    let started: HashSet<String> = futures::future::join_all(runs).await.into_iter().collect();
    assert_eq!(started.len(), 24);

    // Pages of 5 with the cursor: every execution exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("workflowId={wf}&limit=5&cursor={c}"),
            None => format!("workflowId={wf}&limit=5"),
        };
        let page = h.executions(&query).await;
        for e in page["data"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 24, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), started);
    h.server.stop().await;
}

async fn webhook_index_follows_workflow_changes(backend: Backend) {
    let Some(h) = Harness::start(backend, "webhook_index", |_| {}).await else {
        return;
    };
    // Active before the first webhook call: the index is filled from the database.
    let wf = h
        .create(hook_workflow("moving", "first", false, json!({})), true)
        .await;
    assert_eq!(h.hook("first").await.0, StatusCode::OK);

    // Moved to another path: the old one stops answering at once.
    let (status, _) = h
        .api
        .put_json(
            &format!("/api/v1/workflows/{wf}"),
            &hook_workflow("moving", "second", false, json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.hook("first").await.0, StatusCode::NOT_FOUND);
    let (status, body) = h.hook("second").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["m"], 2);

    h.set_active(&wf, false).await;
    assert_eq!(h.hook("second").await.0, StatusCode::NOT_FOUND);
    h.set_active(&wf, true).await;
    assert_eq!(h.hook("second").await.0, StatusCode::OK);

    // A new server finds the active workflow again.
    let h = h.restart(|_| {}).await;
    assert_eq!(h.hook("second").await.0, StatusCode::OK);
    // A new workflow is inactive until activated.
    let later = h
        .create(hook_workflow("later", "later", false, json!({})), false)
        .await;
    assert_eq!(h.hook("later").await.0, StatusCode::NOT_FOUND);
    h.set_active(&later, true).await;
    assert_eq!(h.hook("later").await.0, StatusCode::OK);

    let (status, _) = h.api.delete(&format!("/api/v1/workflows/{wf}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.hook("second").await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.hook("later").await.0, StatusCode::OK);
    h.server.stop().await;
}

/// Execution rows are written in groups; one bad write (a duplicate id) must fail on its
/// own and leave the writes queued beside it stored.
async fn a_failing_write_fails_alone(backend: Backend) {
    let Some(h) = Harness::start(backend, "failing_write", |_| {}).await else {
        return;
    };
    let wf = h.create(manual_workflow("grouped", json!({})), false).await;
    let store = h.server.state.workflows.store.clone();
    let ids = ["w1", "w2", "w3", "w2", "w4", "w5", "w6", "w7"];
    let starts = ids.iter().map(|id| {
        let store = store.clone();
        let wf = wf.clone();
        async move { store.start_execution(id, &wf, "trigger").await.is_ok() }
    });
    let outcomes = futures::future::join_all(starts).await;
    assert_eq!(
        outcomes.iter().filter(|ok| !**ok).count(),
        1,
        "{outcomes:?}"
    );
    let listed = h.executions(&format!("workflowId={wf}")).await;
    let mut stored: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, ["w1", "w2", "w3", "w4", "w5", "w6", "w7"]);
    h.server.stop().await;
}

async fn a_caller_hanging_up_does_not_leave_the_execution_running(backend: Backend) {
    let Some(h) = Harness::start(backend, "hang_up", |_| {}).await else {
        return;
    };
    // The answer comes after a node that takes 400 ms; the caller gives up after 50 ms.
    let mut workflow = hook_workflow("slow", "slow", false, json!({}));
    workflow["nodes"][1]["parameters"]["assignments"]["assignments"][0]["value"] = json!(
        "={{ (() => { const t = Date.now(); while (Date.now() - t < 400) {} return 1; })() }}"
    );
    let wf = h.create(workflow, true).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(h.url("/webhook/slow"))
        .json(&json!({"n": 1}))
        .send()
        .await;
    assert!(gave_up.is_err(), "the call should time out");
    let recorded = h.settled(&wf).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["status"], "success");
    h.server.stop().await;
}

#[test]
fn bad_executions_settings_stop_the_start_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("start")
        .env_clear()
        .env("SWITCHYARD_DATA_DIR", dir.path())
        .env("SWITCHYARD_ENCRYPTION_KEY", KEY_A)
        .env("SWITCHYARD_LISTEN", "127.0.0.1:0")
        .env("EXECUTIONS_DATA_PRUNE_MAX_COUNT", "lots")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("EXECUTIONS_DATA_PRUNE_MAX_COUNT") && stderr.contains("lots"),
        "{stderr}"
    );
    // Nothing was started: no database file was created.
    assert!(!dir.path().join("switchyard.db").exists());
}

/// A Webhook answering `mode` -> a Set node that loops `ms` milliseconds.
fn slow_hook_workflow(path: &str, mode: &str, ms: u64) -> Value {
    json!({
        "name": format!("slow {mode}"), "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
             "parameters": {"httpMethod": "POST", "path": path, "responseMode": mode, "options": {}}},
            {"name": "Slow", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                "assignments": {"assignments": [{"id": "a", "name": "waited", "type": "number",
                    "value": format!("={{{{ (() => {{ const t = Date.now(); while (Date.now() - t < {ms}) {{}} return {ms}; }})() }}}}")}]}}}
        ],
        "connections": {"Webhook": {"main": [[{"node": "Slow", "type": "main", "index": 0}]]}}
    })
}

/// A caller told 2xx finds its execution stored with its outcome at once: the answer of
/// `onReceived` (n8n answers before the run) and `lastNode` waits for the end to be stored.
async fn an_answered_webhook_call_is_a_stored_execution(backend: Backend) {
    let Some(h) = Harness::start(backend, "answer_means_stored", |_| {}).await else {
        return;
    };
    for mode in ["onReceived", "lastNode"] {
        let path = format!("stored-{mode}");
        let wf = h.create(slow_hook_workflow(&path, mode, 300), true).await;
        let (status, _) = h.hook(&path).await;
        assert_eq!(status, StatusCode::OK, "{mode}");
        // Read straight after the answer, with no waiting: it must be there, finished.
        let list = h
            .executions(&format!("workflowId={wf}&includeData=true"))
            .await;
        let data = list["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{mode}: {list}");
        assert_eq!(data[0]["status"], "success", "{mode}: {list}");
        assert!(data[0]["stoppedAt"].is_string(), "{mode}: {list}");
    }
    h.server.stop().await;
}

/// A 3 s outage of the database while an execution ends: its end is written once the
/// database is back (not left `running` for good), and the caller gets its answer then.
/// Postgres only: connections to the test database are refused and cut for the outage.
#[cfg_attr(
    postgres_tests_unset,
    ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
)]
#[tokio::test(flavor = "multi_thread")]
async fn a_final_write_during_a_database_outage_is_retried() {
    let Some(h) = Harness::start(Backend::Postgres, "outage_retry", |_| {}).await else {
        return;
    };
    // The workflow's HTTP call is answered only when the test says: the run ends inside the
    // outage, whatever the machine's speed.
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gate_url = format!("http://{}/gate", listener.local_addr().unwrap());
    let gate = axum::Router::new().route(
        "/gate",
        axum::routing::get({
            let release = release.clone();
            move || async move {
                release.notified().await;
                axum::Json(json!({"released": true}))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, gate).await.unwrap() });
    let wf = h
        .create(
            json!({
                "name": "outage", "settings": {"executionOrder": "v1"},
                "nodes": [
                    {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                     "parameters": {"httpMethod": "POST", "path": "outage", "responseMode": "lastNode", "options": {}}},
                    {"name": "Call", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
                     "parameters": {"method": "GET", "url": gate_url}}
                ],
                "connections": {"Webhook": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}}
            }),
            true,
        )
        .await;
    let call = tokio::spawn({
        let anonymous = h.server.anonymous();
        async move { anonymous.post_json("/webhook/outage", &json!({})).await }
    });
    // Wait until the execution's `running` row is stored, then take the database away.
    let started = std::time::Instant::now();
    while h.executions(&format!("workflowId={wf}")).await["data"][0]["status"] != "running" {
        assert!(started.elapsed() < Duration::from_secs(60), "never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let database = h.env.database_url.rsplit('/').next().unwrap().to_owned();
    let admin_url = std::env::var("SWITCHYARD_TEST_POSTGRES_URL").unwrap();
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let outage = |allow: bool| format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS {allow}");
    sqlx::query(&outage(false)).execute(&admin).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&database)
        .execute(&admin)
        .await
        .unwrap();
    // The run ends during the outage; its end cannot be written yet.
    release.notify_one();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!call.is_finished(), "answered before the end was stored");
    assert_eq!(h.server.state.workflows.store.running_count(), 1);
    sqlx::query(&outage(true)).execute(&admin).await.unwrap();

    let (status, body) = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("answered once the database is back")
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"released": true}));
    let list = h.executions(&format!("workflowId={wf}")).await;
    assert_eq!(list["data"][0]["status"], "success", "{list}");
    assert_eq!(h.server.state.workflows.store.running_count(), 0);
    h.server.stop().await;
}

/// `stop` on a node working through items (4,000 items at 5 ms each: 20 s of work) stops it
/// at its next item: the answer comes long before the work would end, as `canceled`. The
/// items come from an HTTP call to the test, so the stop is sent once the slow node runs.
async fn stop_stops_a_node_working_through_items(backend: Backend) {
    let Some(h) = Harness::start(backend, "stop_between_items", |_| {}).await else {
        return;
    };
    let reached = std::sync::Arc::new(tokio::sync::Notify::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let items_url = format!("http://{}/items", listener.local_addr().unwrap());
    let items = axum::Router::new().route(
        "/items",
        axum::routing::get({
            let reached = reached.clone();
            move || async move {
                reached.notify_one();
                axum::Json((0..4000).map(|n| json!({ "n": n })).collect::<Vec<_>>())
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, items).await.unwrap() });
    let wf = h
        .create(
            json!({
                "name": "many items", "settings": {"executionOrder": "v1"},
                "nodes": [
                    {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
                    {"name": "Items", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
                     "parameters": {"method": "GET", "url": items_url}},
                    {"name": "Each", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                        "assignments": {"assignments": [{"id": "a", "name": "w", "type": "number",
                            "value": "={{ (() => { const t = Date.now(); while (Date.now() - t < 5) {} return $json.n; })() }}"}]}}}
                ],
                "connections": {
                    "Start": {"main": [[{"node": "Items", "type": "main", "index": 0}]]},
                    "Items": {"main": [[{"node": "Each", "type": "main", "index": 0}]]}
                }
            }),
            false,
        )
        .await;
    let (status, started) = h.api.post(&format!("/api/v1/workflows/{wf}/run")).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let id = started["executionId"].as_str().unwrap().to_owned();
    tokio::time::timeout(Duration::from_secs(60), reached.notified())
        .await
        .expect("the items were fetched");
    // Into the slow node's 20 s (an earlier stop would end the HTTP call instead, which
    // stops too: this margin only makes sure the test is about the items loop).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = std::time::Instant::now();
    let (status, stopped) = h.api.post(&format!("/api/v1/executions/{id}/stop")).await;
    let took = asked.elapsed();
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["status"], "canceled", "{stopped}");
    assert!(
        took < Duration::from_secs(8),
        "stop answered after {took:?}, as if the node had not stopped"
    );
    h.server.stop().await;
}

/// Listing executions returns metadata only (the data column is not even read); with
/// `includeData=true` each listed execution carries its run data.
async fn a_list_reads_run_data_only_when_asked(backend: Backend) {
    let Some(h) = Harness::start(backend, "list_metadata", |_| {}).await else {
        return;
    };
    let wf = h.create(manual_workflow("listed", json!({})), false).await;
    for _ in 0..3 {
        h.run_waiting(&wf).await;
    }
    let plain = h.executions(&format!("workflowId={wf}")).await;
    let plain = plain["data"].as_array().unwrap();
    assert_eq!(plain.len(), 3);
    for e in plain {
        assert_eq!(e["status"], "success", "{e}");
        assert!(e.get("data").is_none_or(Value::is_null), "no run data: {e}");
    }
    let full = h
        .executions(&format!("workflowId={wf}&includeData=true&limit=2"))
        .await;
    let items = full["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for e in items {
        assert!(
            e["data"]["resultData"]["runData"]["Set"].is_array(),
            "run data when asked: {e}"
        );
    }
    assert!(full["nextCursor"].is_string(), "{full}");
    h.server.stop().await;
}
/// Error Trigger -> No Op, named `name`; `extra` nodes and connections are added.
fn error_workflow(name: &str) -> Value {
    json!({
        "name": name,
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "On error", "type": "n8n-nodes-base.errorTrigger", "typeVersion": 1, "parameters": {}},
            {"name": "Seen", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "parameters": {}}
        ],
        "connections": {"On error": {"main": [[{"node": "Seen", "type": "main", "index": 0}]]}}
    })
}

impl Harness {
    /// Waits (bounded) until workflow `id` has `n` finished executions, and returns them
    /// with their data.
    async fn finished(&self, id: &str, n: usize) -> Vec<Value> {
        for _ in 0..2400 {
            let list = self
                .executions(&format!("workflowId={id}&includeData=true"))
                .await;
            let data = list["data"].as_array().unwrap().clone();
            if data.len() >= n && data.iter().all(|e| e["status"] != "running") {
                return data;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("workflow {id} never had {n} finished executions");
    }
}

async fn a_failed_production_execution_starts_its_error_workflow(backend: Backend) {
    let Some(h) = Harness::start(backend, "error_workflow", |_| {}).await else {
        return;
    };
    let handler = h.create(error_workflow("Handler"), false).await;
    let failing = h
        .create(
            hook_workflow("Failing", "fails", true, json!({"errorWorkflow": handler})),
            true,
        )
        .await;
    let (status, _) = h.hook("fails").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let failed = h.settled(&failing).await;
    assert_eq!(failed.len(), 1);
    let handled = h.finished(&handler, 1).await;
    assert_eq!(handled.len(), 1);
    assert_eq!(handled[0]["mode"], "error", "{}", handled[0]);
    assert_eq!(handled[0]["status"], "success", "{}", handled[0]);
    let (_, one) = h
        .api
        .get(&format!(
            "/api/v1/executions/{}?includeData=true",
            handled[0]["id"].as_str().unwrap()
        ))
        .await;
    let item = &one["data"]["resultData"]["runData"]["Seen"][0]["data"]["main"][0][0]["json"];
    assert!(item.is_object(), "{one}");
    assert_eq!(item["execution"]["id"], failed[0]["id"], "{item}");
    assert_eq!(item["execution"]["error"]["message"], "refused", "{item}");
    assert_eq!(item["execution"]["lastNodeExecuted"], "Second", "{item}");
    assert_eq!(item["execution"]["mode"], "webhook", "{item}");
    assert_eq!(item["workflow"], json!({"id": failing, "name": "Failing"}));

    // A manual run that fails starts no error workflow (n8n: production executions only);
    // `wait=true` answers once the end is stored, when an error workflow would have started.
    let mut manual = hook_workflow(
        "Manual",
        "manual-fails",
        true,
        json!({"errorWorkflow": handler}),
    );
    manual["nodes"][0] = json!({"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}});
    manual["connections"] =
        json!({"Start": {"main": [[{"node": "Second", "type": "main", "index": 0}]]}});
    let manual = h.create(manual, false).await;
    assert_eq!(h.run_waiting(&manual).await["status"], "error");
    // Without the setting, a failing workflow holding an Error Trigger handles its own error.
    let mut own = hook_workflow("Own", "own-fails", true, json!({}));
    own["nodes"].as_array_mut().unwrap().extend([
        json!({"name": "On error", "type": "n8n-nodes-base.errorTrigger", "typeVersion": 1, "parameters": {}}),
        json!({"name": "Seen", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "parameters": {}}),
    ]);
    own["connections"]["On error"] =
        json!({"main": [[{"node": "Seen", "type": "main", "index": 0}]]});
    let own = h.create(own, true).await;
    h.hook("own-fails").await;
    let runs = h.finished(&own, 2).await;
    let modes: HashSet<String> = runs
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["mode"].as_str().unwrap(),
                e["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        modes,
        HashSet::from(["webhook/error".to_string(), "error/success".to_string()])
    );
    assert_eq!(
        h.executions(&format!("workflowId={handler}")).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    h.server.stop().await;
}

/// Execute Workflow Trigger -> Set `d = n * 2` (or Stop and Error when `fail`).
fn child_workflow(fail: bool) -> Value {
    let work = if fail {
        json!({"name": "Work", "type": "n8n-nodes-base.stopAndError", "typeVersion": 1,
               "parameters": {"errorMessage": "child refused"}})
    } else {
        json!({"name": "Work", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
            "assignments": {"assignments": [{"id": "a", "name": "d", "value": "={{ $json.n * 2 }}", "type": "number"}]},
            "includeOtherFields": true, "options": {}}})
    };
    json!({
        "name": "Child",
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Called", "type": "n8n-nodes-base.executeWorkflowTrigger", "typeVersion": 1.1,
             "parameters": {"inputSource": "passthrough"}},
            work
        ],
        "connections": {"Called": {"main": [[{"node": "Work", "type": "main", "index": 0}]]}}
    })
}

/// Manual Trigger (and an Execute Workflow Trigger) -> Execute Workflow with `params`.
fn parent_workflow(params: Value, version: f64) -> Value {
    json!({
        "name": "Parent",
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
            {"name": "Called", "type": "n8n-nodes-base.executeWorkflowTrigger", "typeVersion": 1,
             "parameters": {}},
            {"name": "Call", "type": "n8n-nodes-base.executeWorkflow", "typeVersion": version,
             "parameters": params}
        ],
        "connections": {
            "Start": {"main": [[{"node": "Call", "type": "main", "index": 0}]]},
            "Called": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}
        }
    })
}

async fn execute_workflow_runs_the_child_and_returns_its_output(backend: Backend) {
    let Some(h) = Harness::start(backend, "execute_workflow", |s| s.max_workflow_depth = 3).await
    else {
        return;
    };
    let child = h.create(child_workflow(false), false).await;
    let run = |id: String| {
        let api = h.api.clone();
        let path = format!("/api/v1/workflows/{id}/run?wait=true");
        async move {
            api.post_json(&path, &json!({"items": [{"n": 1}, {"n": 2}]}))
                .await
                .1
        }
    };
    let call_output =
        |done: &Value| done["data"]["resultData"]["runData"]["Call"][0]["data"]["main"][0].clone();
    // v1.2 with n8n's resource locator, all items at once.
    let once = h
        .create(
            parent_workflow(
                json!({"workflowId": {"__rl": true, "value": child, "mode": "id"}, "options": {}}),
                1.2,
            ),
            false,
        )
        .await;
    let done = run(once).await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(
        call_output(&done),
        json!([{"json": {"n": 1, "d": 2}, "pairedItem": {"item": 0}},
               {"json": {"n": 2, "d": 4}, "pairedItem": {"item": 1}}])
    );
    assert_eq!(h.finished(&child, 1).await[0]["mode"], "integrated");

    // v1 with the id as a string, once per item.
    let each = h
        .create(
            parent_workflow(json!({"workflowId": child, "mode": "each"}), 1.0),
            false,
        )
        .await;
    let done = run(each).await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(
        call_output(&done),
        json!([{"json": {"n": 1, "d": 2}, "pairedItem": {"item": 0}},
               {"json": {"n": 2, "d": 4}, "pairedItem": {"item": 1}}])
    );
    h.finished(&child, 3).await;

    // Not waiting: the input goes on, the child still runs.
    let detached = h
        .create(
            parent_workflow(
                json!({"workflowId": child, "options": {"waitForSubWorkflow": false}}),
                1.1,
            ),
            false,
        )
        .await;
    let done = run(detached).await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(call_output(&done)[1]["json"], json!({"n": 2}));
    let children = h.finished(&child, 4).await;
    assert!(children.iter().all(|e| e["status"] == "success"));

    // A failing child fails the parent with the child's error.
    let failing = h.create(child_workflow(true), false).await;
    let parent = h
        .create(parent_workflow(json!({"workflowId": failing}), 1.0), false)
        .await;
    let done = run(parent).await;
    assert_eq!(done["status"], "error");
    assert_eq!(
        done["data"]["resultData"]["error"]["message"], "child refused",
        "{done}"
    );

    // A workflow calling itself stops at the depth setting (3 here).
    let recursive = h
        .create(
            parent_workflow(json!({"workflowId": "={{ $workflow.id }}"}), 1.0),
            false,
        )
        .await;
    let done = run(recursive.clone()).await;
    assert_eq!(done["status"], "error");
    let message = done["data"]["resultData"]["error"]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("would run 4 calls deep, more than the 3 allowed"),
        "{message}"
    );
    // The top execution and the three nested ones, all failed.
    let nested = h.finished(&recursive, 4).await;
    assert_eq!(nested.len(), 4);

    // Saving refuses what this build cannot run, naming node, parameter and value.
    let (status, refused) = h
        .api
        .post_json(
            "/api/v1/workflows",
            &parent_workflow(json!({"source": "url", "workflowId": child}), 1.0),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = refused["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("\"Call\"")
            && message.contains("Parameter \"source\" has an unknown value \"url\""),
        "{message}"
    );
    h.server.stop().await;
}

async fn a_waiting_execution_survives_a_restart_and_resumes_on_time(backend: Backend) {
    let no_sleeping = |s: &mut Settings| s.wait_in_process_secs = 0;
    let Some(h) = Harness::start(backend, "wait_durable", no_sleeping).await else {
        return;
    };
    let wf = h
        .create(
            json!({
                "name": "Waits",
                "settings": {"executionOrder": "v1"},
                "nodes": [
                    {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
                    {"name": "Wait", "type": "n8n-nodes-base.wait", "typeVersion": 1.1,
                     "parameters": {"amount": 4, "unit": "seconds"}},
                    {"name": "After", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                        "assignments": {"assignments": [
                            {"id": "a", "name": "started", "value": "={{ $('Start').item.json.n }}", "type": "number"}]},
                        "options": {}}}
                ],
                "connections": {
                    "Start": {"main": [[{"node": "Wait", "type": "main", "index": 0}]]},
                    "Wait": {"main": [[{"node": "After", "type": "main", "index": 0}]]}
                }
            }),
            false,
        )
        .await;
    let began = std::time::Instant::now();
    let (_, done) = h
        .api
        .post_json(
            &format!("/api/v1/workflows/{wf}/run?wait=true"),
            &json!({"items": [{"n": 7}]}),
        )
        .await;
    assert_eq!(done["status"], "waiting", "{done}");
    let id = done["id"].as_str().unwrap().to_owned();

    // Stopped while it waits: the row stays waiting, with when to resume.
    h.server.stop().await;
    let state = engine::app::open(h.env.settings(KEY_A, None), switchyard::builtin())
        .await
        .unwrap();
    let (status, till): (String, Option<String>) =
        sqlx::query_as("SELECT status, wait_till FROM executions WHERE id = $1")
            .bind(&id)
            .fetch_one(state.db.pool())
            .await
            .unwrap();
    assert_eq!(status, "waiting");
    assert!(till.is_some());
    state.db.close().await;

    let mut settings = h.env.settings(KEY_A, None);
    no_sleeping(&mut settings);
    let server = TestServer::start(settings).await;
    let api = server.api(&h.key);
    let h = Harness { server, api, ..h };
    let mut finished = Value::Null;
    for _ in 0..1200 {
        let (_, e) = h
            .api
            .get(&format!("/api/v1/executions/{id}?includeData=true"))
            .await;
        if e["status"] == "success" || e["status"] == "error" {
            finished = e;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(finished["status"], "success", "{finished}");
    assert!(began.elapsed() >= Duration::from_secs(4), "resumed early");
    let run_data = &finished["data"]["resultData"]["runData"];
    assert_eq!(run_data["Wait"].as_array().unwrap().len(), 1);
    assert_eq!(
        run_data["After"][0]["data"]["main"][0][0]["json"],
        json!({"started": 7})
    );
    h.server.stop().await;
}

async fn a_webhook_call_resumes_a_waiting_execution(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "wait_webhook").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start_public(env.settings(KEY_A, None)).await;
    let api = server.api(&key);
    let h = Harness {
        env,
        server,
        key,
        api,
    };
    let wf = h
        .create(
            json!({
                "name": "Asks",
                "settings": {"executionOrder": "v1"},
                "nodes": [
                    {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
                    {"name": "Ask", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                        "assignments": {"assignments": [
                            {"id": "a", "name": "url", "value": "={{ $execution.resumeUrl }}", "type": "string"}]},
                        "options": {}}},
                    {"name": "Wait", "type": "n8n-nodes-base.wait", "typeVersion": 1.1,
                     "parameters": {"resume": "webhook", "httpMethod": "POST", "options": {}}},
                    {"name": "After", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                        "assignments": {"assignments": [
                            {"id": "a", "name": "answer", "value": "={{ $json.body.answer }}", "type": "number"},
                            {"id": "b", "name": "asked", "value": "={{ $('Ask').item.json.url }}", "type": "string"}]},
                        "options": {}}}
                ],
                "connections": {
                    "Start": {"main": [[{"node": "Ask", "type": "main", "index": 0}]]},
                    "Ask": {"main": [[{"node": "Wait", "type": "main", "index": 0}]]},
                    "Wait": {"main": [[{"node": "After", "type": "main", "index": 0}]]}
                }
            }),
            false,
        )
        .await;
    let done = h.run_waiting(&wf).await;
    assert_eq!(done["status"], "waiting", "{done}");
    let id = done["id"].as_str().unwrap().to_owned();
    let resume = format!("/webhook-waiting/{id}");
    let resume_url = h.url(&resume);
    let anonymous = h.server.anonymous();

    // Another method is not what the node waits for.
    let (wrong, _) = anonymous.get(&resume).await;
    assert_eq!(wrong, StatusCode::NOT_FOUND);
    let (status, body) = anonymous.post_json(&resume, &json!({"answer": 42})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Answered once the end is stored: read at once.
    let (_, e) = h
        .api
        .get(&format!("/api/v1/executions/{id}?includeData=true"))
        .await;
    assert_eq!(e["status"], "success", "{e}");
    assert_eq!(
        e["data"]["resultData"]["runData"]["After"][0]["data"]["main"][0][0]["json"],
        json!({"answer": 42, "asked": resume_url})
    );
    // It resumes once.
    let (again, _) = anonymous.post_json(&resume, &json!({"answer": 1})).await;
    assert_eq!(again, StatusCode::NOT_FOUND);
    h.server.stop().await;
}
