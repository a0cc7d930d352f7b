//! The web console's pages with 500 workflows and 10,000 executions stored (the issue's
//! target: every page under 50 ms of server time). Each iteration is one GET through the
//! real server on loopback, signed in, body read to the end: the figure includes the HTTP
//! round trip, so it is an upper bound of the server's time.
//!
//! Run with `cargo bench -p switchyard --bench console`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use engine::app;
use engine::config::Settings;
use node_api::ExecutionMode;
use serde_json::{json, Value};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const WORKFLOWS: usize = 500;
const EXECUTIONS: usize = 10_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn workflow(i: usize) -> Value {
    json!({
        "name": format!("Bench workflow {i:03}"),
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 200],
             "parameters": {"path": format!("bench-{i}"), "httpMethod": "POST"}},
            {"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [240, 100], "parameters": {
                "assignments": {"assignments": [
                    {"id": "a", "name": "n", "value": "={{ 21 * 2 }}", "type": "number"},
                    {"id": "b", "name": "text", "value": "some text a record would carry", "type": "string"}]}}},
            {"name": "Done", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [480, 100], "parameters": {}}
        ],
        "connections": {
            "Start": {"main": [[{"node": "Set", "type": "main", "index": 0}]]},
            "Hook": {"main": [[{"node": "Set", "type": "main", "index": 0}]]},
            "Set": {"main": [[{"node": "Done", "type": "main", "index": 0}]]}
        }
    })
}

/// The value of cookie `name` among `Set-Cookie` headers.
fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';')
                .next()?
                .strip_prefix(&format!("{name}="))
                .map(str::to_owned)
        })
}

fn csrf(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

fn pages(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::with_data_dir(dir.path());
    settings.set_keys(Some(KEY), None);
    let (base, state, workflow_id, execution_id) = rt.block_on(async {
        let state = app::open(settings, switchyard::builtin()).await.unwrap();
        let svc = state.workflows.clone();
        let mut ids = Vec::new();
        for i in 0..WORKFLOWS {
            let wf = svc.parse_and_validate(workflow(i)).await.unwrap();
            ids.push(svc.store.create(wf).await.unwrap().id);
        }
        // Executions of 20 of them, run for real (so each has its run data), 100 at a time.
        let mut done = 0;
        while done < EXECUTIONS {
            let mut running = Vec::new();
            for j in 0..100.min(EXECUTIONS - done) {
                let id = ids[(done + j) % 20].clone();
                let stored = svc.store.get(&id).await.unwrap();
                running.push(
                    svc.runner
                        .start(engine::runner::ExecutionRequest {
                            workflow_id: id,
                            workflow: std::sync::Arc::new(stored.workflow),
                            mode: ExecutionMode::Manual,
                            start_node: None,
                            items: Vec::new(),
                            respond: None,
                        })
                        .await
                        .unwrap(),
                );
            }
            for e in running {
                assert!(e.wait().await.stored.unwrap());
            }
            done += 100;
        }
        let (latest, _) = svc
            .store
            .list_executions(&engine::store::ExecutionFilter {
                limit: Some(1),
                ..Default::default()
            })
            .await
            .unwrap();
        engine::console::create_owner(
            &state.db,
            "bench@example.com",
            "Bench",
            "bench password 123",
        )
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(app::serve(
            state.clone(),
            listener,
            std::future::pending::<()>(),
        ));
        (base, state, ids[0].clone(), latest[0].id.clone())
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = rt.block_on(async {
        let res = http.get(format!("{base}/signin")).send().await.unwrap();
        let pre = cookie(&res, "sy_presession").unwrap();
        let token = csrf(&res.text().await.unwrap());
        let res = http
            .post(format!("{base}/signin"))
            .header(reqwest::header::COOKIE, format!("sy_presession={pre}"))
            .form(&[
                ("csrf", token.as_str()),
                ("email", "bench@example.com"),
                ("password", "bench password 123"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        cookie(&res, "sy_session").unwrap()
    });
    let stored: i64 = rt
        .block_on(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM executions")
                .fetch_one(state.db.pool()),
        )
        .unwrap();
    assert_eq!(stored, EXECUTIONS as i64);

    let mut group = c.benchmark_group("console");
    group.measurement_time(Duration::from_secs(4));
    group.warm_up_time(Duration::from_secs(1));
    for (name, path) in [
        ("workflows", "/workflows".to_owned()),
        ("workflow", format!("/workflows/{workflow_id}")),
        ("import", "/workflows/import".to_owned()),
        ("executions", "/executions".to_owned()),
        (
            "executions_filtered",
            format!("/executions?workflow={workflow_id}&status=success"),
        ),
        ("execution", format!("/executions/{execution_id}")),
        ("credentials", "/credentials".to_owned()),
        ("operators", "/operators".to_owned()),
    ] {
        let url = format!("{base}{path}");
        let cookie = format!("sy_session={session}");
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let res = http
                    .get(&url)
                    .header(reqwest::header::COOKIE, &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.bytes().await.unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pages);
criterion_main!(benches);
