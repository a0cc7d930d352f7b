//! The `switchyard` binary: API keys, key rotation (killed part-way and re-run), export and
//! import, start-up refusals, graceful shutdown, and secrets kept out of every log line.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{last_line, Api, Backend, TestEnv, TestServer, KEY_A, KEY_B};
use credentials::EncryptionKey;
use credentials::{Actor, NewCredential};
use serde_json::{json, Value};

common::on_both_backends!(
    api_key_is_printed_once_and_stored_hashed,
    api_keys_are_listed_and_revoked_keys_stop_working_at_once,
    rotation_killed_part_way_then_rerun_loses_nothing,
    rotation_interrupted_with_ctrl_c_then_rerun_loses_nothing,
    export_then_import_round_trips_in_n8n_format,
    start_refuses_a_key_ring_without_the_stored_key,
    start_serves_health_and_stops_gracefully_on_sigterm,
    in_flight_requests_finish_on_sigterm,
    workflows_import_and_export_in_n8n_format,
    no_secret_reaches_any_log_line,
    a_second_server_leaves_a_live_servers_executions_alone,
    an_import_over_an_active_workflow_reaches_the_running_server,
    import_credentials_skips_unknown_types_only_when_asked,
);

pub(crate) fn key_id(hex: &str) -> String {
    EncryptionKey::parse(hex).expect("test key").id().to_owned()
}

pub(crate) async fn count_under(env: &TestEnv, key: &str) -> i64 {
    let db = db::Db::connect(&env.database_url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM credentials WHERE data_key_id = $1")
        .bind(key_id(key))
        .fetch_one(db.pool())
        .await
        .unwrap();
    db.close().await;
    n
}

/// After a rotation stopped part-way: every credential row is under KEY_A or KEY_B, read in
/// one statement. A batch whose COMMIT had left when the process stopped may still land on
/// Postgres a moment later, moving its rows from one key to the other at once, so two
/// separate counts could straddle it.
async fn every_row_under_a_or_b(env: &TestEnv, total: i64) {
    let db = db::Db::connect(&env.database_url).await.unwrap();
    let by_key: Vec<(String, i64)> =
        sqlx::query_as("SELECT data_key_id, COUNT(*) FROM credentials GROUP BY data_key_id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    db.close().await;
    assert!(
        by_key
            .iter()
            .all(|(k, _)| *k == key_id(KEY_A) || *k == key_id(KEY_B)),
        "{by_key:?}"
    );
    assert_eq!(
        by_key.iter().map(|(_, n)| n).sum::<i64>(),
        total,
        "every row is under one key or the other: {by_key:?}"
    );
}

/// The report of a re-run after a rotation stopped part-way: it moved some rows and found
/// the others done, and together they are all `total`.
fn rerun_finished_the_rest(report: &str, total: i64) {
    let number_after = |prefix: &str| -> i64 {
        let at = report
            .find(prefix)
            .unwrap_or_else(|| panic!("{prefix}: {report}"))
            + prefix.len();
        report[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a number after {prefix}: {report}"))
    };
    let moved = number_after("Re-encrypted ");
    let already = number_after("(");
    assert!(
        already > 0 && moved > 0 && already + moved == total,
        "stopped part-way, finished by the re-run: {report}"
    );
}

async fn api_key_is_printed_once_and_stored_hashed(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "api_key_is_printed_once_and_stored_hashed").await else {
        return;
    };
    let out = env.switchyard(KEY_A, None, &["api-key", "create", "--name", "ci bot"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = last_line(&out.stdout);
    assert!(
        key.starts_with("sy_") && key.len() > 40,
        "the key alone on the last line: {key:?}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&key),
        "the key is not logged"
    );

    let db = db::Db::connect(&env.database_url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, key_hash FROM api_keys")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "ci bot");
    assert_ne!(rows[0].1, key, "only a hash is stored");
    assert!(!rows[0].1.contains(&key[3..]));
    db.close().await;

    let empty = env.switchyard(KEY_A, None, &["api-key", "create", "--name", " "]);
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("--name"));
}

async fn api_keys_are_listed_and_revoked_keys_stop_working_at_once(backend: Backend) {
    let Some(env) = TestEnv::new(
        backend,
        "api_keys_are_listed_and_revoked_keys_stop_working_at_once",
    )
    .await
    else {
        return;
    };
    let created = |name: &str| {
        let out = env.switchyard(KEY_A, None, &["api-key", "create", "--name", name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        last_line(&out.stdout)
    };
    let ops = created("ops");
    let ci = created("ci");
    let twin = created("ci");
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let status = |key: String| {
        let api = server.api(&key);
        async move { api.get("/api/v1/workflows").await.0.as_u16() }
    };
    assert_eq!(status(ops.clone()).await, 200);
    assert_eq!(status(ci.clone()).await, 200);
    // A credential change, so the audit log has a row.
    let (made_status, made) = server
        .api(&ops)
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "hook auth", "type": "httpHeaderAuth",
                    "data": {"name": "X-Token", "value": "t0ken-value"}}),
        )
        .await;
    assert_eq!(made_status, 200, "{made}");

    // The list names every key with its id and dates, never the key; use is noted.
    let deadline = Instant::now() + Duration::from_secs(5);
    let listing = loop {
        let out = env.switchyard(KEY_A, None, &["api-key", "list"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ops_line = text
            .lines()
            .find(|l| l.starts_with("ops\t"))
            .unwrap()
            .to_owned();
        if !ops_line.ends_with("never") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for key in [&ops, &ci, &twin] {
        assert!(!listing.contains(key.as_str()), "no key in the list");
    }
    let rows: Vec<Vec<&str>> = listing
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 3, "{listing}");
    let ops_row = rows.iter().find(|r| r[0] == "ops").unwrap();
    assert!(ops_row[2].ends_with('Z'), "created: {listing}");
    assert!(ops_row[3].ends_with('Z'), "last used is noted: {listing}");
    assert!(
        rows.iter().any(|r| r[0] == "ci" && r[3] == "never"),
        "{listing}"
    );

    // A name two keys share is refused; by id it works.
    let shared = env.switchyard(KEY_A, None, &["api-key", "revoke", "ci"]);
    assert!(!shared.status.success());
    assert!(String::from_utf8_lossy(&shared.stderr).contains("by id"));
    let revoked = env.switchyard(KEY_A, None, &["api-key", "revoke", "ops"]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );

    // The running server refuses the revoked key within a second; the others still work.
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let code = status(ops.clone()).await;
        if code == 401 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the revoked key still answers {code}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status(ci.clone()).await, 200);
    let unknown = env.switchyard(KEY_A, None, &["api-key", "revoke", "nobody"]);
    assert!(!unknown.status.success());

    // The audit log reads from the command line, naming the key that made the change.
    let audit = env.switchyard(KEY_A, None, &["audit"]);
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    let text = String::from_utf8_lossy(&audit.stdout);
    let line = text.lines().next().unwrap_or_default();
    assert!(
        line.contains(":ops") && line.contains("created") && line.contains("hook auth"),
        "{text}"
    );
    assert!(!text.contains("t0ken-value"));
    server.stop().await;
}

async fn rotation_killed_part_way_then_rerun_loses_nothing(backend: Backend) {
    let Some(env) =
        TestEnv::new(backend, "rotation_killed_part_way_then_rerun_loses_nothing").await
    else {
        return;
    };
    let total = 1000;
    {
        let state = engine::app::open(env.settings(KEY_A, None), switchyard::builtin())
            .await
            .unwrap();
        for i in 0..total {
            let data = json!({"environment": "production", "clientId": format!("client-{i}"), "clientSecret": format!("secret-{i}")});
            let new = NewCredential {
                id: Some(format!("cred{i:04}")),
                name: format!("c{i}"),
                type_name: "salesforceOAuth2Api".into(),
                data,
            };
            state.credentials.create(new, &Actor::Cli).await.unwrap();
        }
        state
            .credentials
            .set_token_data(
                "cred0007",
                Some(
                    json!({"access_token": "tok-7", "instance_url": "https://x.my.salesforce.com"}),
                ),
            )
            .await
            .unwrap();
        state.db.close().await;
    }

    // Rotate gently, and kill the process once some batches have committed.
    let mut child = env
        .command(
            KEY_B,
            Some(KEY_A),
            &["rotate-key", "--batch-size", "10", "--pause-ms", "25"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let moved = count_under(&env, KEY_B).await;
        if moved >= 50 {
            break;
        }
        assert!(Instant::now() < deadline, "rotation made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "rotation finished before it could be killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    every_row_under_a_or_b(&env, total).await;

    let out = env.switchyard(KEY_B, Some(KEY_A), &["rotate-key", "--batch-size", "100"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rerun_finished_the_rest(&String::from_utf8_lossy(&out.stdout), total);

    // With the new key alone, everything reads back.
    let state = engine::app::open(env.settings(KEY_B, None), switchyard::builtin())
        .await
        .expect("starts with the new key alone");
    let all = state.credentials.list().await.unwrap();
    assert_eq!(all.len(), total as usize);
    for i in [0, 7, 499, 999] {
        let cred = state.credentials.get(&format!("cred{i:04}")).await.unwrap();
        assert_eq!(cred.data.expose()["clientSecret"], format!("secret-{i}"));
    }
    let token = state
        .credentials
        .get("cred0007")
        .await
        .unwrap()
        .token_data
        .expect("token data kept");
    assert_eq!(token.expose()["access_token"], "tok-7");
    state.db.close().await;

    let again = env.switchyard(KEY_B, None, &["rotate-key"]);
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("Re-encrypted 0 "),
        "a re-run has nothing left to do"
    );
}

/// `rotate-key` interrupted with Ctrl-C (SIGINT) part-way: every credential still reads
/// with the new key and the old one as previous, and a re-run finishes the job.
async fn rotation_interrupted_with_ctrl_c_then_rerun_loses_nothing(backend: Backend) {
    let Some(env) = TestEnv::new(
        backend,
        "rotation_interrupted_with_ctrl_c_then_rerun_loses_nothing",
    )
    .await
    else {
        return;
    };
    let total: i64 = 600;
    {
        let state = engine::app::open(env.settings(KEY_A, None), switchyard::builtin())
            .await
            .unwrap();
        for i in 0..total {
            let new = NewCredential {
                id: Some(format!("cred{i:04}")),
                name: format!("c{i}"),
                type_name: "salesforceOAuth2Api".into(),
                data: json!({"environment": "production", "clientId": format!("client-{i}"),
                             "clientSecret": format!("secret-{i}")}),
            };
            state.credentials.create(new, &Actor::Cli).await.unwrap();
        }
        state.db.close().await;
    }

    let mut child = env
        .command(
            KEY_B,
            Some(KEY_A),
            &["rotate-key", "--batch-size", "10", "--pause-ms", "25"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_under(&env, KEY_B).await < 50 {
        assert!(Instant::now() < deadline, "rotation made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "rotation finished before it could be interrupted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let interrupt = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("rotation interrupted (Ctrl-C)"), "{stderr}");
    every_row_under_a_or_b(&env, total).await;

    // Every credential reads, wherever the interruption left it.
    {
        let state = engine::app::open(env.settings(KEY_B, Some(KEY_A)), switchyard::builtin())
            .await
            .unwrap();
        for i in 0..total {
            let cred = state.credentials.get(&format!("cred{i:04}")).await.unwrap();
            assert_eq!(cred.data.expose()["clientSecret"], format!("secret-{i}"));
        }
        state.db.close().await;
    }

    let out = env.switchyard(KEY_B, Some(KEY_A), &["rotate-key"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The re-run moves what the interrupted one left, and found the rest done: the
    // interruption was part-way, and together they account for every row.
    rerun_finished_the_rest(&String::from_utf8_lossy(&out.stdout), total);
    assert_eq!(count_under(&env, KEY_B).await, total);
    let state = engine::app::open(env.settings(KEY_B, None), switchyard::builtin())
        .await
        .expect("starts with the new key alone");
    assert_eq!(
        state.credentials.list().await.unwrap().len(),
        total as usize
    );
    for i in [0, 299, 599] {
        let cred = state.credentials.get(&format!("cred{i:04}")).await.unwrap();
        assert_eq!(cred.data.expose()["clientSecret"], format!("secret-{i}"));
    }
    state.db.close().await;
}

async fn export_then_import_round_trips_in_n8n_format(backend: Backend) {
    let Some(source) = TestEnv::new(backend, "export_then_import_round_trips_in_n8n_format").await
    else {
        return;
    };
    let pem = common::test_private_key();
    {
        let state = engine::app::open(source.settings(KEY_A, None), switchyard::builtin())
            .await
            .unwrap();
        let jwt = json!({"environment": "sandbox", "clientId": "jwt-client", "username": "u@example.com", "privateKey": pem});
        state
            .credentials
            .create(
                NewCredential {
                    id: Some("jwt1".into()),
                    name: "JWT".into(),
                    type_name: "salesforceJwtApi".into(),
                    data: jwt,
                },
                &Actor::Cli,
            )
            .await
            .unwrap();
        let oauth = json!({"environment": "production", "clientId": "o-client", "clientSecret": "o-secret"});
        state
            .credentials
            .create(
                NewCredential {
                    id: Some("oauth1".into()),
                    name: "OAuth".into(),
                    type_name: "salesforceOAuth2Api".into(),
                    data: oauth,
                },
                &Actor::Cli,
            )
            .await
            .unwrap();
        state.credentials.set_token_data("oauth1", Some(json!({"access_token": "at", "refresh_token": "rt", "instance_url": "https://acme.my.salesforce.com"}))).await.unwrap();
        state.db.close().await;
    }
    let file = source.path().join("export.json");
    let out = source.switchyard(
        KEY_A,
        None,
        &[
            "export",
            "credentials",
            "--decrypted",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let exported: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let items = exported.as_array().expect("an array, as n8n writes");
    assert_eq!(items.len(), 2);
    let oauth = items.iter().find(|i| i["id"] == "oauth1").unwrap();
    assert_eq!(oauth["type"], "salesforceOAuth2Api");
    assert_eq!(oauth["data"]["clientSecret"], "o-secret");
    assert_eq!(oauth["data"]["oauthTokenData"]["refresh_token"], "rt");

    // Into another installation, with another key.
    let target = TestEnv::new(
        backend,
        "export_then_import_round_trips_in_n8n_format_target",
    )
    .await
    .unwrap();
    let out = target.switchyard(
        KEY_B,
        None,
        &["import", "credentials", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 created"));
    let state = engine::app::open(target.settings(KEY_B, None), switchyard::builtin())
        .await
        .unwrap();
    let jwt = state.credentials.get("jwt1").await.unwrap();
    assert_eq!(jwt.meta.name, "JWT");
    assert_eq!(
        jwt.data.expose()["privateKey"].as_str().unwrap().trim(),
        pem.trim()
    );
    let oauth = state.credentials.get("oauth1").await.unwrap();
    assert_eq!(oauth.token_data.unwrap().expose()["refresh_token"], "rt");
    state.db.close().await;

    // A file with one bad item stores nothing.
    let bad = json!([
        {"id": "ok2", "name": "fine", "type": "salesforceOAuth2Api", "data": {"clientId": "a", "clientSecret": "b"}},
        {"id": "bad2", "name": "broken", "type": "salesforceOAuth2Api", "data": {"environment": "prod", "clientId": "a", "clientSecret": "b"}}
    ]);
    let bad_file = target.path().join("bad.json");
    std::fs::write(&bad_file, serde_json::to_vec(&bad).unwrap()).unwrap();
    let out = target.switchyard(
        KEY_B,
        None,
        &["import", "credentials", bad_file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad2") && err.contains("environment"), "{err}");
    let state = engine::app::open(target.settings(KEY_B, None), switchyard::builtin())
        .await
        .unwrap();
    assert_eq!(
        state.credentials.list().await.unwrap().len(),
        2,
        "nothing from the bad file was stored"
    );
    state.db.close().await;

    let not_json = target.path().join("not.json");
    std::fs::write(&not_json, "{\"id\": 1}").unwrap();
    let out = target.switchyard(
        KEY_B,
        None,
        &["import", "credentials", not_json.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("n8n's credential export format"));
}

async fn start_refuses_a_key_ring_without_the_stored_key(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "start_refuses_a_key_ring_without_the_stored_key").await
    else {
        return;
    };
    {
        let state = engine::app::open(env.settings(KEY_A, None), switchyard::builtin())
            .await
            .unwrap();
        let data = json!({"clientId": "a", "clientSecret": "b"});
        state
            .credentials
            .create(
                NewCredential {
                    id: None,
                    name: "x".into(),
                    type_name: "salesforceOAuth2Api".into(),
                    data,
                },
                &Actor::Cli,
            )
            .await
            .unwrap();
        state.db.close().await;
    }
    let out = env
        .command(KEY_B, None, &["start"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success(), "start with the wrong key must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&key_id(KEY_A)),
        "names the missing key id: {err}"
    );
    assert!(err.contains("SWITCHYARD_PREVIOUS_ENCRYPTION_KEYS"), "{err}");
    assert!(
        !err.contains(KEY_A) && !err.contains(KEY_B),
        "never the key itself"
    );

    let malformed = env.switchyard("not-a-key", None, &["start"]);
    assert!(!malformed.status.success());
    let err = String::from_utf8_lossy(&malformed.stderr);
    assert!(
        err.contains("64 hex") && !err.contains("not-a-key"),
        "{err}"
    );

    // With the old key in the previous list it starts (and rotation can then run).
    let (mut child, logs) = spawn_server(&env, KEY_B, Some(KEY_A), "info");
    let base = wait_ready(&mut child, &logs);
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    terminate(child);
}

async fn start_serves_health_and_stops_gracefully_on_sigterm(backend: Backend) {
    let Some(env) = TestEnv::new(
        backend,
        "start_serves_health_and_stops_gracefully_on_sigterm",
    )
    .await
    else {
        return;
    };
    let (mut child, logs) = spawn_server(&env, KEY_A, None, "info");
    let base = wait_ready(&mut child, &logs);
    let res = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
    let status = terminate(child);
    assert!(status.success(), "exits 0 on SIGTERM: {status:?}");
    let text = all_read(&logs).join("\n");
    assert!(
        text.contains("shutting down") && text.contains("stopped"),
        "{text}"
    );
}

async fn in_flight_requests_finish_on_sigterm(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "in_flight_requests_finish_on_sigterm").await else {
        return;
    };
    // An upstream that answers only when the test says, so the webhook below is still
    // running at SIGTERM and after the server logged that it is shutting down.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}/slow", upstream.local_addr().unwrap());
    let reached = Arc::new(tokio::sync::Notify::new());
    let reached_upstream = reached.clone();
    let (release, released) = tokio::sync::watch::channel(false);
    let slow = axum::Router::new().route(
        "/slow",
        axum::routing::get(move || {
            let mut released = released.clone();
            let reached = reached_upstream.clone();
            async move {
                reached.notify_one();
                let _ = released.wait_for(|r| *r).await;
                axum::Json(json!({"late": true}))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(upstream, slow).await });

    let api_key = env.api_key(KEY_A);
    let (mut child, logs) = spawn_server(&env, KEY_A, None, "info");
    let base = wait_ready(&mut child, &logs);
    let api = Api::keyed(&base, &api_key);
    let workflow = json!({
        "name": "slow", "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
             "parameters": {"httpMethod": "GET", "path": "slow", "responseMode": "lastNode", "options": {}}},
            {"name": "Fetch", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
             "parameters": {"method": "GET", "url": slow_url, "options": {}}}
        ],
        "connections": {"Webhook": {"main": [[{"node": "Fetch", "type": "main", "index": 0}]]}}
    });
    let (status, created) = api.post_json("/api/v1/workflows", &workflow).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, body) = api.post(&format!("/api/v1/workflows/{id}/activate")).await;
    assert_eq!(status, 200, "{body}");

    let hooks = Api::new(&base, reqwest::Client::new());
    let pending = tokio::spawn(async move { hooks.get("/webhook/slow").await });
    // SIGTERM only once the execution is inside its slow call.
    tokio::time::timeout(Duration::from_secs(30), reached.notified())
        .await
        .expect("the webhook ran");
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("shutting down"))
    {
        assert!(Instant::now() < deadline, "no shutdown after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !pending.is_finished(),
        "the in-flight call ended before its upstream answered"
    );
    release.send(true).unwrap();
    // The typed client panics if the request is cut, failing the join.
    let (status, body) = pending
        .await
        .expect("the in-flight request is answered, not cut");
    assert_eq!(status, 200);
    assert_eq!(body, json!({"late": true}));
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    let refused = reqwest::get(format!("{base}/healthz")).await;
    assert!(refused.is_err(), "nothing listens after the stop");
}

async fn workflows_import_and_export_in_n8n_format(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "workflows_import_and_export_in_n8n_format").await else {
        return;
    };
    let node = |name: &str| json!({"name": name, "type": "n8n-nodes-base.noOp", "typeVersion": 1, "parameters": {}, "position": [0, 0]});
    let flow = |id: &str, name: &str| {
        json!({"id": id, "name": name, "nodes": [node("Start")], "connections": {}, "settings": {"executionOrder": "v1"},
               "pinData": {}, "meta": {"instanceId": "n8n-instance"}, "tags": []})
    };
    let file = env.path().join("workflows.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&json!([flow("wfA", "first"), flow("wfB", "second")])).unwrap(),
    )
    .unwrap();
    let out = env.switchyard(KEY_A, None, &["import", "workflow", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 created, 0 updated"));

    // Importing again updates by id; a bad workflow in the file stores nothing.
    let mut renamed = flow("wfA", "first, renamed");
    renamed["nodes"][0]["name"] = json!("Begin");
    let mut broken = flow("wfC", "broken");
    broken["nodes"][0]["type"] = json!("n8n-nodes-base.noSuchNode");
    std::fs::write(
        &file,
        serde_json::to_vec(&json!([renamed.clone(), broken])).unwrap(),
    )
    .unwrap();
    let out = env.switchyard(KEY_A, None, &["import", "workflow", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing was imported")
            && err.contains("broken")
            && err.contains("noSuchNode"),
        "{err}"
    );
    std::fs::write(&file, serde_json::to_vec(&renamed).unwrap()).unwrap();
    let out = env.switchyard(KEY_A, None, &["import", "workflow", file.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 created, 1 updated"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = env.switchyard(KEY_A, None, &["export", "workflow", "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: Value = serde_json::from_slice(&out.stdout).expect("a JSON array on stdout");
    let exported = exported.as_array().unwrap();
    assert_eq!(exported.len(), 2, "wfC was never stored");
    let a = exported.iter().find(|w| w["id"] == "wfA").unwrap();
    assert_eq!(a["name"], "first, renamed");
    assert_eq!(a["nodes"][0]["name"], "Begin");
    assert_eq!(
        a["meta"],
        json!({"instanceId": "n8n-instance"}),
        "fields we do not use round-trip unchanged"
    );
    assert_eq!(a["active"], false);

    let one = env.path().join("one.json");
    let out = env.switchyard(
        KEY_A,
        None,
        &[
            "export",
            "workflow",
            "--id",
            "wfB",
            "--output",
            one.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let exported: Value = serde_json::from_slice(&std::fs::read(&one).unwrap()).unwrap();
    assert_eq!(exported.as_array().unwrap().len(), 1);
    assert_eq!(exported[0]["name"], "second");
    let missing = env.switchyard(KEY_A, None, &["export", "workflow", "--id", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope"));
}

async fn no_secret_reaches_any_log_line(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "no_secret_reaches_any_log_line").await else {
        return;
    };
    let pem = common::test_private_key();
    let api_key = env.api_key(KEY_A);
    let mut captured = Vec::<String>::new();

    let (mut child, logs) = spawn_server(&env, KEY_A, None, "debug");
    let base = wait_ready(&mut child, &logs);
    let api = Api::keyed(&base, &api_key);
    let (status, created) = api
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "JWT", "type": "salesforceJwtApi",
                    "data": {"clientId": "c", "username": "u@example.com", "privateKey": pem}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let jwt_id = created["id"].as_str().unwrap().to_owned();
    let (_, created) = api
        .post_json(
            "/api/v1/credentials",
            &json!({"name": "OAuth", "type": "salesforceOAuth2Api",
                    "data": {"clientId": "c", "clientSecret": "oauth-secret-4f1d"}}),
        )
        .await;
    let oauth_id = created["id"].as_str().unwrap().to_owned();
    api.get(&format!("/api/v1/credentials/{jwt_id}")).await;
    let (status, body) = api
        .patch_json(
            &format!("/api/v1/credentials/{oauth_id}"),
            &json!({"data": {"clientSecret": "oauth-secret-9a2c"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A rejected secret is not logged either.
    api.post_json(
        "/api/v1/credentials",
        &json!({"name": "bad", "type": "salesforceJwtApi",
                "data": {"clientId": "c", "username": "u", "privateKey": "bad-key-7c3e"}}),
    )
    .await;
    assert_eq!(terminate(child).code(), Some(0));
    captured.extend(all_read(&logs));

    for args in [
        vec!["rotate-key"],
        vec![
            "export",
            "credentials",
            "--decrypted",
            "--output",
            env.path().join("e.json").to_str().unwrap(),
        ],
    ] {
        let out = env
            .command(KEY_B, Some(KEY_A), &args)
            .env("SWITCHYARD_LOG", "debug")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        captured.push(String::from_utf8_lossy(&out.stdout).into_owned());
        captured.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let all = captured.join("\n");
    assert!(all.contains("DEBUG"), "debug logging was on");
    let body_line = pem.lines().nth(3).unwrap().to_owned();
    for secret in [
        body_line.as_str(),
        "oauth-secret-4f1d",
        "oauth-secret-9a2c",
        "bad-key-7c3e",
        KEY_A,
        KEY_B,
        api_key.as_str(),
    ] {
        assert!(!all.contains(secret), "a secret reached the logs: {secret}");
    }
}

/// A Postgres server that comes up after Switchyard (a compose stack starts both together):
/// the first connection is retried until it answers. Here the server's port opens 12 s after
/// the command starts (a proxy to the test server), past the pool's own 10 s connect
/// timeout; with a wait of 0 the command fails instead.
#[cfg_attr(
    postgres_tests_unset,
    ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
)]
#[tokio::test(flavor = "multi_thread")]
async fn the_first_database_connection_is_retried_while_postgres_starts() {
    let Some(env) = TestEnv::new(Backend::Postgres, "connect_retry").await else {
        return;
    };
    let real: url::Url = env.database_url.parse().unwrap();
    let upstream = format!(
        "{}:{}",
        real.host_str().unwrap(),
        real.port().unwrap_or(5432)
    );
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut late = real.clone();
    late.set_port(Some(port)).unwrap();

    let refused = env
        .command(KEY_A, None, &["api-key", "create", "--name", "early"])
        .env("DATABASE_URL", late.as_str())
        .env("SWITCHYARD_DATABASE_CONNECT_WAIT_SECS", "0")
        .output()
        .unwrap();
    assert!(!refused.status.success(), "nothing listens yet");

    let child = env
        .command(KEY_A, None, &["api-key", "create", "--name", "late"])
        .env("DATABASE_URL", late.as_str())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let proxy = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(last_line(&out.stdout).starts_with("sy_"), "a key was made");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("retrying"),
        "the wait is logged: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    proxy.abort();
}

/// `SWITCHYARD_EXPRESSION_TIME_LIMIT_MS` reaches the sandbox of the real server: an
/// expression that loops for 3 s is stopped at 200 ms, and the execution says so.
#[tokio::test(flavor = "multi_thread")]
async fn the_expression_time_limit_is_a_setting() {
    let env = TestEnv::new(Backend::Sqlite, "expression_limit")
        .await
        .unwrap();
    let api_key = env.api_key(KEY_A);
    let (mut child, logs) = spawn_server_with(
        &env,
        KEY_A,
        None,
        "info",
        &[("SWITCHYARD_EXPRESSION_TIME_LIMIT_MS", "200")],
    );
    let base = wait_ready(&mut child, &logs);
    let api = Api::keyed(&base, &api_key);
    let workflow = json!({
        "name": "slow expression",
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
            {"name": "Slow", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "parameters": {
                "assignments": {"assignments": [{"id": "a", "name": "x", "type": "number",
                    "value": "={{ (() => { const t = Date.now(); while (Date.now() - t < 3000) {} return 1; })() }}"}]}}}
        ],
        "connections": {"Start": {"main": [[{"node": "Slow", "type": "main", "index": 0}]]}}
    });
    let (status, stored) = api.post_json("/api/v1/workflows", &workflow).await;
    assert_eq!(status, 200, "{stored}");
    let id = stored["id"].as_str().unwrap();
    let (status, execution) = api
        .post(&format!("/api/v1/workflows/{id}/run?wait=true"))
        .await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["status"], "error", "{execution}");
    let message = execution["error"].to_string();
    assert!(
        message.contains("longer than 200 ms"),
        "the configured limit is named: {message}"
    );
    assert!(terminate(child).success());
}

pub(crate) fn spawn_server(
    env: &TestEnv,
    key: &str,
    previous: Option<&str>,
    level: &str,
) -> (Child, Arc<Mutex<Vec<String>>>) {
    spawn_server_with(env, key, previous, level, &[])
}

/// [`spawn_server`] with more environment variables set.
pub(crate) fn spawn_server_with(
    env: &TestEnv,
    key: &str,
    previous: Option<&str>,
    level: &str,
    vars: &[(&str, &str)],
) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = env
        .command(key, previous, &["start"])
        .env("SWITCHYARD_LOG", level)
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let logs = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                logs.lock().unwrap().push(line);
            }
        });
    }
    (child, logs)
}

/// Waits for the "ready" line and returns the base URL it names.
pub(crate) fn wait_ready(child: &mut Child, logs: &Arc<Mutex<Vec<String>>>) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(line) = logs
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("Switchyard is ready"))
        {
            let address = line
                .split("address=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            return format!("http://{address}");
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "server exited with {status}: {}",
                logs.lock().unwrap().join("\n")
            );
        }
        assert!(
            Instant::now() < deadline,
            "server not ready: {}",
            logs.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every line the server wrote, once both streams are read to their end: the reader threads
/// hold the only other handles on `logs` and drop them at end of stream, which comes just
/// after the process exits. Waits at most 10 s (a grandchild holding the pipes open).
pub(crate) fn all_read(logs: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Arc::strong_count(logs) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    logs.lock().unwrap().clone()
}

/// Sends SIGTERM and waits for the exit.
pub(crate) fn terminate(mut child: Child) -> std::process::ExitStatus {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The data directory is 0700 and the SQLite files 0600 from the first start; loosened ones
/// are tightened on the next start, with a log line.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = root.path().join("data");
    let db_file = data.join("switchyard.db");
    let mut settings = engine::config::Settings::with_data_dir(&data);
    settings.set_keys(Some(KEY_A), None);
    settings.set_database_url(format!("sqlite://{}", db_file.display()));
    let server = TestServer::start(settings).await;
    assert_eq!(mode_of(&data), 0o700, "data directory");
    for suffix in ["", "-wal", "-shm"] {
        let file = data.join(format!("switchyard.db{suffix}"));
        assert!(
            file.exists(),
            "{} exists while the server runs",
            file.display()
        );
        assert_eq!(mode_of(&file), 0o600, "{}", file.display());
    }
    server.stop().await;

    // Someone loosens them; the next start tightens them and says so.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["api-key", "list"])
        .env_clear()
        .env("SWITCHYARD_DATA_DIR", &data)
        .env("SWITCHYARD_ENCRYPTION_KEY", KEY_A)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("tightened file permissions"), "{logs}");
    assert_eq!(mode_of(&data), 0o700);
    assert_eq!(mode_of(&db_file), 0o600);
}

async fn execution_status(env: &TestEnv, id: &str) -> String {
    let db = db::Db::connect(&env.database_url).await.unwrap();
    let (status,): (String,) = sqlx::query_as("SELECT status FROM executions WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    db.close().await;
    status
}

/// A second server on the same database: on the first one's address it fails to bind
/// before touching anything; on its own address it serves beside it and leaves the first
/// one's running execution alone. Once the first is killed (`kill -9`), the second marks
/// that execution crashed at its next heartbeat.
async fn a_second_server_leaves_a_live_servers_executions_alone(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "second_server").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    // An endpoint that never answers keeps the first server's execution running.
    let reached = Arc::new(tokio::sync::Notify::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_url = format!("http://{}/hang", listener.local_addr().unwrap());
    let hang = axum::Router::new().route(
        "/hang",
        axum::routing::get({
            let reached = reached.clone();
            move || async move {
                reached.notify_one();
                std::future::pending::<()>().await;
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, hang).await.unwrap() });

    let (mut first, first_logs) = spawn_server(&env, KEY_A, None, "info");
    let first_url = wait_ready(&mut first, &first_logs);
    let api = Api::keyed(&first_url, &key);
    let (_, created) = api
        .post_json("/api/v1/workflows", &json!({
            "name": "hangs", "settings": {"executionOrder": "v1"},
            "nodes": [
                {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
                {"name": "Call", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
                 "parameters": {"method": "GET", "url": hang_url}}
            ],
            "connections": {"Start": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}}
        }))
        .await;
    let wf = created["id"].as_str().unwrap().to_owned();
    let (_, started) = api.post(&format!("/api/v1/workflows/{wf}/run")).await;
    let execution = started["executionId"].as_str().unwrap().to_owned();
    tokio::time::timeout(Duration::from_secs(30), reached.notified())
        .await
        .expect("the first server's execution reached the endpoint");
    assert_eq!(execution_status(&env, &execution).await, "running");

    // Same address: refused at bind, and the running execution is untouched.
    let address = first_url.trim_start_matches("http://").to_owned();
    let clash = env
        .command(KEY_A, None, &["start"])
        .env("SWITCHYARD_LISTEN", &address)
        .output()
        .unwrap();
    assert!(
        !clash.status.success(),
        "a second server on a taken address fails"
    );
    assert!(
        String::from_utf8_lossy(&clash.stderr).contains("cannot listen"),
        "{}",
        String::from_utf8_lossy(&clash.stderr)
    );
    assert_eq!(execution_status(&env, &execution).await, "running");

    // Its own address: it serves beside the first and leaves its execution alone.
    let (mut second, second_logs) = spawn_server(&env, KEY_A, None, "info");
    let second_url = wait_ready(&mut second, &second_logs);
    assert_eq!(
        reqwest::get(format!("{second_url}/readyz"))
            .await
            .unwrap()
            .status(),
        reqwest::StatusCode::OK
    );
    assert_eq!(execution_status(&env, &execution).await, "running");

    // The first one dies: the second notices at a heartbeat.
    first.kill().unwrap();
    first.wait().unwrap();
    let deadline = Instant::now() + engine::store::HEARTBEAT_EVERY * 3;
    loop {
        let status = execution_status(&env, &execution).await;
        if status == "crashed" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after the first server died: {}",
            second_logs.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(terminate(second).code(), Some(0));
}

/// `switchyard import workflow` over an active workflow, run beside a live server: the
/// server serves the new definition on its new path within seconds, and the old path no
/// longer answers.
async fn an_import_over_an_active_workflow_reaches_the_running_server(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "import_reaches_server").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let flow = |path: &str| {
        json!({"id": "wfLive", "name": "live", "settings": {"executionOrder": "v1"},
               "nodes": [{"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                          "parameters": {"httpMethod": "GET", "path": path, "options": {}}}],
               "connections": {}})
    };
    let (mut server, logs) = spawn_server(&env, KEY_A, None, "info");
    let base = wait_ready(&mut server, &logs);
    let api = Api::keyed(&base, &key);
    let (status, body) = api.post_json("/api/v1/workflows", &flow("before")).await;
    assert!(status.is_success(), "{body}");
    let (status, body) = api.post("/api/v1/workflows/wfLive/activate").await;
    assert!(status.is_success(), "{body}");
    let hooks = Api::new(&base, reqwest::Client::new());
    let status = |path: &'static str| {
        let hooks = hooks.clone();
        async move { hooks.get(&format!("/webhook/{path}")).await.0 }
    };
    assert_eq!(status("before").await, reqwest::StatusCode::OK);
    assert_eq!(status("after").await, reqwest::StatusCode::NOT_FOUND);

    let file = env.path().join("live.json");
    std::fs::write(&file, serde_json::to_vec(&flow("after")).unwrap()).unwrap();
    let out = env.switchyard(KEY_A, None, &["import", "workflow", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while status("after").await != reqwest::StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the server still does not serve the imported path: {}",
            logs.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status("before").await,
        reqwest::StatusCode::NOT_FOUND,
        "the old path is gone with the old definition"
    );
    assert_eq!(terminate(server).code(), Some(0));
}
async fn import_credentials_skips_unknown_types_only_when_asked(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "import_skip_unknown").await else {
        return;
    };
    // A real n8n export mixes integrations this build has and ones it does not.
    let export = json!([
        {"id": "h1", "name": "Service key", "type": "httpHeaderAuth",
         "data": {"name": "X-API-Key", "value": "k-123"}},
        {"id": "s1", "name": "Team Slack", "type": "slackApi",
         "data": {"accessToken": "xoxb-secret-token"}},
        {"id": "g1", "name": "Mail", "type": "gmailOAuth2",
         "data": {"clientId": "a", "clientSecret": "b"}}
    ]);
    let file = env.path().join("n8n-export.json");
    std::fs::write(&file, serde_json::to_vec(&export).unwrap()).unwrap();

    let out = env.switchyard(
        KEY_A,
        None,
        &["import", "credentials", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--skip-unknown"), "{err}");
    assert!(
        err.contains("\"Team Slack\"") && err.contains("\"slackApi\""),
        "{err}"
    );
    assert!(
        err.contains("\"Mail\"") && err.contains("\"gmailOAuth2\""),
        "{err}"
    );
    assert!(!err.contains("xoxb-secret-token"), "{err}");
    let state = engine::app::open(env.settings(KEY_A, None), switchyard::builtin())
        .await
        .unwrap();
    assert!(
        state.credentials.list().await.unwrap().is_empty(),
        "nothing imported"
    );
    state.db.close().await;

    let out = env.switchyard(
        KEY_A,
        None,
        &[
            "import",
            "credentials",
            "--skip-unknown",
            file.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Imported credentials: 1 created, 0 updated."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Skipped 2 credential(s)")
            && stdout.contains("\"Team Slack\" (id \"s1\"), type \"slackApi\"")
            && stdout.contains("\"Mail\" (id \"g1\"), type \"gmailOAuth2\""),
        "{stdout}"
    );
    let state = engine::app::open(env.settings(KEY_A, None), switchyard::builtin())
        .await
        .unwrap();
    let stored = state.credentials.list().await.unwrap();
    assert_eq!(stored.len(), 1);
    let header = state.credentials.get("h1").await.unwrap();
    assert_eq!(header.data.expose()["value"], "k-123");
    state.db.close().await;
}
