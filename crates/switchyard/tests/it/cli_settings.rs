//! Settings the README documents, each exercised end to end: set as an environment variable
//! of the real `switchyard` binary (or, for the prune interval, which is no setting, on the
//! real server in this process), with what a user sees checked: log lines, the executions
//! kept, the fire time zone, an execution's error.

use crate::common;

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cli::{all_read, spawn_server_with, terminate, wait_ready};
use crate::common::{Api, Backend, TestEnv, TestServer, KEY_A};
use salesforce_fake::FakeOrg;
use serde_json::{json, Value};

/// Waits (every 20 ms, at most 60 s) until `check` gives a value.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A running binary, its logs and an API client.
struct Binary {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    api: Api,
}

impl Binary {
    fn start(env: &TestEnv, api_key: &str, vars: &[(&str, &str)]) -> Self {
        let (mut child, logs) = spawn_server_with(env, KEY_A, None, "info", vars);
        let base = wait_ready(&mut child, &logs);
        Self {
            child,
            logs,
            api: Api::keyed(&base, api_key),
        }
    }

    async fn create(&self, workflow: &Value) -> String {
        let (status, stored) = self.api.post_json("/api/v1/workflows", workflow).await;
        assert_eq!(status, 200, "{stored}");
        stored["id"].as_str().unwrap().to_owned()
    }

    /// Runs workflow `id` by hand and returns the execution.
    async fn run(&self, id: &str) -> Value {
        let (status, execution) = self
            .api
            .post(&format!("/api/v1/workflows/{id}/run?wait=true"))
            .await;
        assert_eq!(status, 200, "{execution}");
        execution
    }

    async fn executions(&self, query: &str) -> Vec<Value> {
        let (status, list) = self.api.get(&format!("/api/v1/executions?{query}")).await;
        assert_eq!(status, 200, "{list}");
        list["data"].as_array().unwrap().clone()
    }

    fn stop(self) -> String {
        let status = terminate(self.child);
        assert!(status.success(), "exits 0 on SIGTERM: {status:?}");
        all_read(&self.logs).join("\n")
    }
}

// ---------------------------------------------------------------------------------------
// SWITCHYARD_LOG_FORMAT=json

/// Checks one stderr line is a JSON log record with tracing's fields; returns it.
fn json_record(line: &str) -> Value {
    let record: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
    assert!(record["timestamp"].is_string(), "{line}");
    assert!(
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
            .contains(&record["level"].as_str().unwrap_or("")),
        "{line}"
    );
    assert!(record["target"].is_string(), "{line}");
    assert!(record["fields"]["message"].is_string(), "{line}");
    record
}

/// With `SWITCHYARD_LOG_FORMAT=json` every line the binary writes to stderr is one JSON
/// object (timestamp, level, target, fields.message), from a command, from a server's
/// start, requests and stop, and from a command that fails.
#[tokio::test(flavor = "multi_thread")]
async fn json_log_format_writes_every_line_as_json() {
    let env = TestEnv::new(Backend::Sqlite, "json_logs").await.unwrap();
    let json = [("SWITCHYARD_LOG_FORMAT", "json")];

    // A command: the key alone on stdout, the logs on stderr as JSON.
    let out = env
        .command(KEY_A, None, &["api-key", "create", "--name", "json"])
        .envs(json)
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = common::last_line(&out.stdout);
    assert!(key.starts_with("sy_"), "{key}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr.lines().for_each(|l| {
        json_record(l);
    });

    // The server, its requests (debug, so each request logs too) and its stop.
    let (mut child, logs) =
        spawn_server_with(&env, KEY_A, None, "debug,sqlx=warn,hyper=info", &json);
    let deadline = Instant::now() + Duration::from_secs(30);
    let address = loop {
        let ready = logs.lock().unwrap().iter().find_map(|l| {
            let record: Value = serde_json::from_str(l).ok()?;
            (record["fields"]["message"] == "Switchyard is ready")
                .then(|| record["fields"]["address"].as_str().unwrap().to_owned())
        });
        if let Some(address) = ready {
            break address;
        }
        assert!(child.try_wait().unwrap().is_none(), "the server exited");
        assert!(
            Instant::now() < deadline,
            "{}",
            logs.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let api = Api::keyed(&format!("http://{address}"), &key);
    let (status, _) = api.get("/api/v1/workflows").await;
    assert_eq!(status, 200);
    let (status, _) = api.get("/api/v1/workflows/nope").await;
    assert_eq!(status, 404);
    assert!(terminate(child).success());
    let lines = all_read(&logs);
    let records: Vec<Value> = lines.iter().map(|l| json_record(l)).collect();
    let messages: Vec<&str> = records
        .iter()
        .map(|r| r["fields"]["message"].as_str().unwrap())
        .collect();
    for expected in ["Switchyard is ready", "stopped"] {
        assert!(messages.contains(&expected), "{expected}: {messages:?}");
    }
    assert!(
        records.iter().any(
            |r| r["span"]["name"] == "request" && r["span"]["path"] == "/api/v1/workflows/nope"
        ),
        "request lines carry their span: {lines:?}"
    );

    // A command that fails: its reason is a JSON line too.
    let out = env
        .command(KEY_A, None, &["start"])
        .envs(json)
        .env("SWITCHYARD_TIMEZONE", "Mars/Olympus_Mons")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = json_record(stderr.lines().last().expect("an error line"));
    assert_eq!(last["level"], "ERROR", "{stderr}");
    let message = last["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("SWITCHYARD_TIMEZONE") && message.contains("Mars/Olympus_Mons"),
        "{message}"
    );
    stderr.lines().for_each(|l| {
        json_record(l);
    });
}

// ---------------------------------------------------------------------------------------
// GENERIC_TIMEZONE

/// A schedule with no zone of its own, whose Set node reports the zone it fired in.
fn zoneless_schedule() -> Value {
    json!({
        "name": "zone", "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Every second", "type": "n8n-nodes-base.scheduleTrigger", "typeVersion": 1.2,
             "parameters": {"rule": {"interval": [{"field": "seconds", "secondsInterval": 1}]}}},
            {"name": "Zone", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                "assignments": {"assignments": [
                    {"id": "z", "name": "zone", "value": "={{ $json.Timezone }}", "type": "string"}]}}}
        ],
        "connections": {"Every second": {"main": [[{"node": "Zone", "type": "main", "index": 0}]]}}
    })
}

fn zone_of(execution: &Value) -> Value {
    execution["data"]["resultData"]["runData"]["Zone"][0]["data"]["main"][0][0]["json"]["zone"]
        .clone()
}

/// n8n's `GENERIC_TIMEZONE`, read from the environment when `SWITCHYARD_TIMEZONE` is not
/// set: schedules fire in it (by hand and when active); `SWITCHYARD_TIMEZONE` wins over it;
/// an unknown zone in it refuses to start, naming it.
#[tokio::test(flavor = "multi_thread")]
async fn generic_timezone_is_the_default_zone_unless_switchyard_timezone_is_set() {
    let env = TestEnv::new(Backend::Sqlite, "generic_timezone")
        .await
        .unwrap();
    let key = env.api_key(KEY_A);
    let server = Binary::start(&env, &key, &[("GENERIC_TIMEZONE", "Asia/Kolkata")]);
    let id = server.create(&zoneless_schedule()).await;
    let manual = server.run(&id).await;
    assert_eq!(zone_of(&manual), "Asia/Kolkata (UTC+05:30)", "{manual}");
    let (status, body) = server
        .api
        .post(&format!("/api/v1/workflows/{id}/activate"))
        .await;
    assert_eq!(status, 200, "{body}");
    let fired = eventually("a schedule fire", || async {
        let list = server
            .executions(&format!("workflowId={id}&includeData=true"))
            .await;
        list.into_iter()
            .find(|e| e["mode"] == "trigger" && e["status"] == "success")
    })
    .await;
    assert_eq!(zone_of(&fired), "Asia/Kolkata (UTC+05:30)", "{fired}");
    let (status, _) = server
        .api
        .post(&format!("/api/v1/workflows/{id}/deactivate"))
        .await;
    assert_eq!(status, 200);
    server.stop();

    let server = Binary::start(
        &env,
        &key,
        &[
            ("GENERIC_TIMEZONE", "Asia/Kolkata"),
            ("SWITCHYARD_TIMEZONE", "America/Chicago"),
        ],
    );
    let manual = server.run(&id).await;
    let zone = zone_of(&manual);
    assert!(
        zone.as_str().unwrap().starts_with("America/Chicago (UTC-0"),
        "{manual}"
    );
    server.stop();

    let out = env
        .command(KEY_A, None, &["start"])
        .env("GENERIC_TIMEZONE", "Mars/Olympus_Mons")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("GENERIC_TIMEZONE") && stderr.contains("Mars/Olympus_Mons"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// EXECUTIONS_DATA_PRUNE

fn manual_workflow() -> Value {
    json!({
        "name": "kept", "settings": {"executionOrder": "v1"},
        "nodes": [{"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1,
                   "parameters": {}}],
        "connections": {}
    })
}

/// The ids of workflow `id`'s executions in the database, however the server is.
async fn stored_ids(env: &TestEnv, id: &str) -> Vec<String> {
    let db = db::Db::connect(&env.database_url).await.unwrap();
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM executions WHERE workflow_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(db.pool())
            .await
            .unwrap();
    db.close().await;
    rows.into_iter().map(|(id,)| id).collect()
}

/// `EXECUTIONS_DATA_PRUNE=false`: a server started over executions that pruning would
/// delete (past `EXECUTIONS_DATA_PRUNE_MAX_COUNT=1`) keeps every one, through a run and a
/// stop; started again with pruning on, the same settings prune them at start.
#[tokio::test(flavor = "multi_thread")]
async fn prune_false_keeps_every_execution() {
    let env = TestEnv::new(Backend::Sqlite, "prune_false").await.unwrap();
    let key = env.api_key(KEY_A);
    let server = Binary::start(&env, &key, &[]);
    let id = server.create(&manual_workflow()).await;
    for _ in 0..3 {
        assert_eq!(server.run(&id).await["status"], "success");
    }
    server.stop();
    assert_eq!(stored_ids(&env, &id).await.len(), 3);

    let keep_one = [
        ("EXECUTIONS_DATA_PRUNE", "false"),
        ("EXECUTIONS_DATA_PRUNE_MAX_COUNT", "1"),
    ];
    let server = Binary::start(&env, &key, &keep_one);
    assert_eq!(server.run(&id).await["status"], "success");
    let listed = server.executions(&format!("workflowId={id}")).await;
    let logs = server.stop();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(stored_ids(&env, &id).await.len(), 4, "nothing pruned");
    assert!(!logs.contains("pruned old executions"), "{logs}");

    // The same count limit with pruning on (the default): pruned down to one at start.
    let server = Binary::start(&env, &key, &keep_one[1..]);
    eventually("the prune at start", || async {
        (server.executions(&format!("workflowId={id}")).await.len() == 1).then_some(())
    })
    .await;
    let logs = server.stop();
    assert!(logs.contains("pruned old executions"), "{logs}");
    assert_eq!(stored_ids(&env, &id).await.len(), 1);
}

/// Pruning runs again on every interval, not only at start: an execution that becomes old
/// while the server runs is pruned by the next round, twice in a row (the prune interval,
/// 15 minutes in production, is shortened here to a second).
#[tokio::test(flavor = "multi_thread")]
async fn pruning_repeats_on_its_interval() {
    let env = TestEnv::new(Backend::Sqlite, "prune_repeats")
        .await
        .unwrap();
    let key = env.api_key(KEY_A);
    let mut settings = env.settings(KEY_A, None);
    settings.executions.max_age_hours = 1;
    settings.executions.prune_every = Duration::from_secs(1);
    let server = TestServer::start(settings).await;
    let api = server.api(&key);
    let (status, stored) = api.post_json("/api/v1/workflows", &manual_workflow()).await;
    assert_eq!(status, 200, "{stored}");
    let wf = stored["id"].as_str().unwrap().to_owned();
    let run = || async {
        let (status, execution) = api
            .post(&format!("/api/v1/workflows/{wf}/run?wait=true"))
            .await;
        assert_eq!(status, 200, "{execution}");
        execution["id"].as_str().unwrap().to_owned()
    };
    let listed = || async {
        let (_, list) = api
            .get(&format!("/api/v1/executions?workflowId={wf}"))
            .await;
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let recent = run().await;
    // Two rounds: the first might be the prune at start, the second cannot be.
    for round in 0..2 {
        let old = run().await;
        sqlx::query("UPDATE executions SET stopped_at = '2020-01-01T00:00:00.000Z' WHERE id = $1")
            .bind(&old)
            .execute(server.state.db.pool())
            .await
            .unwrap();
        eventually(
            &format!("round {round}: the aged execution pruned"),
            || async { (!listed().await.contains(&old)).then_some(()) },
        )
        .await;
        assert_eq!(listed().await, vec![recent.clone()], "the recent one stays");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// SWITCHYARD_SALESFORCE_MAX_RETRY_WAIT_SECS and SWITCHYARD_SALESFORCE_TIMEOUT_SECS

const SF_KEY: &str = "settings-consumer-key";
const SF_SECRET: &str = "settings-consumer-secret";
const QUERY: &str = "GET /services/data/{v}/query";

async fn fake_org() -> FakeOrg {
    common::client_credentials_org(SF_KEY, SF_SECRET).await
}

/// Saves a client-credentials credential for `org` and a workflow reading one account with
/// it; returns the workflow's id.
async fn accounts_workflow(server: &Binary, org: &FakeOrg) -> String {
    let credential = server
        .api
        .client_credentials("Acme", org, SF_KEY, SF_SECRET)
        .await;
    server
        .create(&json!({
            "name": "accounts",
            "nodes": [
                {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
                {"name": "Accounts", "type": "n8n-nodes-base.salesforce", "typeVersion": 1,
                 "parameters": {"authentication": "clientCredentials", "resource": "account",
                                "operation": "getAll", "limit": 1},
                 "credentials": {"salesforceClientCredentialsApi": {"id": credential, "name": "Acme"}}}
            ],
            "connections": {"Start": {"main": [[{"node": "Accounts", "type": "main", "index": 0}]]}}
        }))
        .await
}

/// `SWITCHYARD_SALESFORCE_MAX_RETRY_WAIT_SECS` bounds the time spent waiting between the
/// retries of one call: at 0 an unavailable org (503) fails the execution after one request
/// instead of waiting to retry; with the default the same fault is retried and the run
/// succeeds. Counted at the fake org, no clock involved.
#[tokio::test(flavor = "multi_thread")]
async fn salesforce_max_retry_wait_bounds_the_retries() {
    let env = TestEnv::new(Backend::Sqlite, "sf_retry_wait")
        .await
        .unwrap();
    let key = env.api_key(KEY_A);
    let org = fake_org().await;
    let insecure = ("SWITCHYARD_ALLOW_INSECURE_HOSTS", "true");

    let server = Binary::start(
        &env,
        &key,
        &[insecure, ("SWITCHYARD_SALESFORCE_MAX_RETRY_WAIT_SECS", "0")],
    );
    let id = accounts_workflow(&server, &org).await;
    assert_eq!(server.run(&id).await["status"], "success", "signed in");
    let before = org.counter(QUERY);
    org.fail_next_calls(1);
    let failed = server.run(&id).await;
    assert_eq!(failed["status"], "error", "{failed}");
    let error = failed["error"].to_string();
    assert!(
        error.contains("SERVER_UNAVAILABLE") || error.contains("503"),
        "{failed}"
    );
    assert_eq!(org.counter(QUERY) - before, 1, "no retry without wait");
    server.stop();

    let server = Binary::start(&env, &key, &[insecure]);
    let before = org.counter(QUERY);
    org.fail_next_calls(1);
    let retried = server.run(&id).await;
    assert_eq!(retried["status"], "success", "{retried}");
    assert_eq!(org.counter(QUERY) - before, 2, "one retry with the default");
    server.stop();
}

/// `SWITCHYARD_SALESFORCE_TIMEOUT_SECS`: an org slower than the timeout (10 s of latency
/// against 1 s) fails the execution with a timeout; once the org is quick again the same
/// workflow succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn salesforce_timeout_fails_a_slow_call() {
    let env = TestEnv::new(Backend::Sqlite, "sf_timeout").await.unwrap();
    let key = env.api_key(KEY_A);
    let org = fake_org().await;
    let server = Binary::start(
        &env,
        &key,
        &[
            ("SWITCHYARD_ALLOW_INSECURE_HOSTS", "true"),
            ("SWITCHYARD_SALESFORCE_TIMEOUT_SECS", "1"),
            ("SWITCHYARD_SALESFORCE_MAX_ATTEMPTS", "1"),
        ],
    );
    let id = accounts_workflow(&server, &org).await;
    // Signed in while the org is quick; the token is then cached.
    assert_eq!(server.run(&id).await["status"], "success");
    org.set_latency(Duration::from_secs(10));
    let slow = server.run(&id).await;
    org.set_latency(Duration::ZERO);
    assert_eq!(slow["status"], "error", "{slow}");
    let error = slow["error"].to_string().to_lowercase();
    assert!(
        error.contains("timed out") || error.contains("timeout"),
        "{slow}"
    );
    assert_eq!(server.run(&id).await["status"], "success");
    server.stop();
}

// ---------------------------------------------------------------------------------------
// SWITCHYARD_DISABLE_UI

/// `SWITCHYARD_DISABLE_UI=true`: the console's pages answer 404 (JSON, like any unknown
/// path), while the API, a production webhook and health keep answering. Without it, the
/// same server greets a browser with the setup page.
#[tokio::test(flavor = "multi_thread")]
async fn disable_ui_serves_no_console_and_everything_else() {
    let env = TestEnv::new(Backend::Sqlite, "disable_ui").await.unwrap();
    let key = env.api_key(KEY_A);
    // A value that is neither `true` nor `false` stops the start, naming the variable.
    let refused = env
        .command(KEY_A, None, &["start"])
        .env("SWITCHYARD_DISABLE_UI", "yes")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("SWITCHYARD_DISABLE_UI must be `true` or `false`, got `yes`"),
        "{stderr}"
    );
    let server = Binary::start(&env, &key, &[("SWITCHYARD_DISABLE_UI", "true")]);
    for path in [
        "/",
        "/setup",
        "/signin",
        "/workflows",
        "/assets/console.css",
    ] {
        let (status, body) = server.api.get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["message"].is_string(), "{path}: a JSON error, {body}");
    }
    let hook = json!({
        "name": "Headless hook",
        "nodes": [{
            "id": "w", "name": "Webhook", "type": "n8n-nodes-base.webhook",
            "typeVersion": 2, "position": [0, 0],
            "parameters": {"httpMethod": "POST", "path": "headless"}
        }],
        "connections": {}
    });
    let id = server.create(&hook).await;
    let (status, body) = server
        .api
        .post(&format!("/api/v1/workflows/{id}/activate"))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .api
        .post_json("/webhook/headless", &json!({"x": 1}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.api.get("/healthz").await.0, 200);
    server.stop();

    let server = Binary::start(&env, &key, &[]);
    let (status, page) = server.api.get_text("/setup").await;
    assert_eq!(status, 200);
    assert!(page.contains("<form"), "{page}");
    server.stop();
}
