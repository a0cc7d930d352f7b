//! Workflows and executions stored on both backends: one story, run on SQLite and Postgres.

use std::sync::Arc;

use db::testing;
use db::Db;
use engine::store::{ExecutionFilter, StoreError, WorkflowStore};
use node_api::{ExecutionMode, Item};
use serde_json::json;
use workflow::{CancelHandle, RunRequest, Workflow};

fn sample(name: &str, fail: bool) -> Workflow {
    let second = if fail {
        json!({"name": "Boom", "type": "n8n-nodes-base.stopAndError", "typeVersion": 1, "parameters": {"errorMessage": "boom"}})
    } else {
        json!({"name": "Pass", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "parameters": {}})
    };
    let target = second["name"].clone();
    Workflow::from_value(json!({
        "name": name, "active": false, "tags": [{"name": "kept"}],
        "nodes": [{"name": "Trigger", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}}, second],
        "connections": {"Trigger": {"main": [[{"node": target, "type": "main", "index": 0}]]}}
    }))
    .unwrap()
}

async fn story(db: Db) {
    let store = WorkflowStore::new(db);
    // Create, read back unchanged (unknown fields included), list with a cursor.
    let a = store.create(sample("alpha", false)).await.unwrap();
    let b = store.create(sample("beta", true)).await.unwrap();
    let again = store.get(&a.id).await.unwrap();
    assert_eq!(again.workflow.extra["tags"], json!([{"name": "kept"}]));
    assert_eq!(again.workflow.name, "alpha");
    let (page, next) = store.list(Some(1), None).await.unwrap();
    assert_eq!(page.len(), 1);
    let (rest, end) = store.list(Some(1), next.as_deref()).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(page[0].id, rest[0].id);
    assert!(end.is_none());
    assert!(matches!(
        store.list(Some(0), None).await,
        Err(StoreError::InvalidInput { field: "limit", .. })
    ));

    // Update, activate, refuse a nameless workflow.
    let mut renamed = a.workflow.clone();
    renamed.name = "alpha 2".into();
    assert_eq!(
        store.update(&a.id, renamed).await.unwrap().workflow.name,
        "alpha 2"
    );
    assert!(store.set_active(&a.id, true).await.unwrap().active);
    let err = store.create(sample(" ", false)).await.unwrap_err();
    assert_eq!(err.to_string(), "name: is required");

    // Executions: run both workflows, store them, list and filter, crash recovery.
    let executor = core_nodes::executor();
    for (n, wf) in [(1, &a), (2, &b)] {
        let id = format!("{}-exec-{n}", wf.id);
        store.start_execution(&id, &wf.id, "manual").await.unwrap();
        let result = executor
            .run(RunRequest {
                workflow: Arc::new(wf.workflow.clone()),
                execution_id: id.clone(),
                mode: ExecutionMode::Manual,
                start_node: None,
                items: vec![Item::default()],
                cancel: CancelHandle::new(),
                respond_early: None,
            })
            .await
            .unwrap();
        store.finish_execution(&id, &result, true).await.unwrap();
    }
    let failed = store
        .get_execution(&format!("{}-exec-2", b.id), true)
        .await
        .unwrap();
    assert_eq!(
        (failed.status.as_str(), failed.workflow_id.as_str()),
        ("error", b.id.as_str())
    );
    assert_eq!(failed.error.unwrap()["node"], "Boom");
    assert_eq!(
        failed.data.unwrap()["resultData"]["runData"]["Boom"][0]["executionStatus"],
        "error"
    );
    let ok = store
        .get_execution(&format!("{}-exec-1", a.id), false)
        .await
        .unwrap();
    assert_eq!(ok.status, "success");
    assert!(ok.data.is_none());

    store
        .start_execution("left-running", &a.id, "trigger")
        .await
        .unwrap();
    assert_eq!(store.mark_crashed().await.unwrap(), 1);
    assert_eq!(
        store
            .get_execution("left-running", false)
            .await
            .unwrap()
            .status,
        "crashed"
    );

    let (all, next) = store
        .list_executions(&ExecutionFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>()[0],
        "left-running"
    );
    let (older, _) = store
        .list_executions(&ExecutionFilter {
            limit: Some(2),
            cursor: next,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    let (errors, _) = store
        .list_executions(&ExecutionFilter {
            status: Some("error".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(errors.len(), 1);
    let (of_a, _) = store
        .list_executions(&ExecutionFilter {
            workflow_id: Some(a.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(of_a.len(), 2);

    // Deletes, and 404-style errors for what is gone.
    store.delete_execution("left-running").await.unwrap();
    assert!(matches!(
        store.get_execution("left-running", false).await,
        Err(StoreError::NotFound { .. })
    ));
    store.delete(&b.id).await.unwrap();
    let err = store.get(&b.id).await.unwrap_err();
    assert_eq!(err.to_string(), format!("workflow \"{}\" not found", b.id));
}

#[tokio::test]
async fn workflows_and_executions_are_stored_on_sqlite() {
    let (db, _dir) = testing::sqlite().await;
    story(db).await;
}

#[cfg_attr(
    postgres_tests_unset,
    ignore = "set SWITCHYARD_TEST_POSTGRES_URL to run the Postgres tests"
)]
#[tokio::test]
async fn workflows_and_executions_are_stored_on_postgres() {
    let Some(db) = testing::postgres("workflows_and_executions_are_stored_on_postgres").await
    else {
        println!("skipped: no Postgres configured");
        return;
    };
    story(db).await;
}
