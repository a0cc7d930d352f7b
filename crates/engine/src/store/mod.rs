//! [`WorkflowStore`]: workflows and executions in the database (SQLite or Postgres through
//! `db::Db`), with portable SQL only.
//!
//! Every change to workflows and executions goes through the store, so it also keeps the
//! in-process view that must follow those changes: the executions running here (to stop
//! them) and the index of production webhooks. It applies n8n's saving policy and prunes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use db::Db;
use serde_json::Value;
use sqlx::Row;

use workflow::executor::{CancelHandle, ExecutionResult, ExecutionStatus};
use workflow::model::Workflow;

use crate::webhook_index::{WebhookIndex, WebhookTarget};
use workflow::webhook::{route_pattern, webhook_routes};
use writes::{Write, Writer};

mod processes;
mod writes;

pub use processes::{HEARTBEAT_EVERY, STALE_AFTER};

/// Which finished executions are kept, and for how long: n8n's `EXECUTIONS_DATA_*`
/// settings. Each workflow's `settings` may override the saving ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionPolicy {
    /// Keep failed (and cancelled) executions.
    pub save_on_error: bool,
    /// Keep successful executions.
    pub save_on_success: bool,
    /// Keep manual executions, whatever their outcome.
    pub save_manual: bool,
    /// Delete old finished executions in the background.
    pub prune: bool,
    /// Finished executions older than this many hours are pruned.
    pub max_age_hours: u64,
    /// At most this many finished executions are kept (oldest pruned first); 0 = no limit.
    pub prune_max_count: u64,
}

impl Default for ExecutionPolicy {
    /// n8n's defaults: keep everything, prune after 14 days or past 10,000 executions.
    fn default() -> Self {
        Self {
            save_on_error: true,
            save_on_success: true,
            save_manual: true,
            prune: true,
            max_age_hours: 336,
            prune_max_count: 10_000,
        }
    }
}

/// Errors of the workflow store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row with that id.
    #[error("{what} \"{id}\" not found")]
    NotFound {
        /// `workflow` or `execution`.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The input cannot be stored; names the field.
    #[error("{field}: {reason}")]
    InvalidInput {
        /// The offending field.
        field: &'static str,
        /// What was expected.
        reason: String,
    },
    /// The execution is not running in this process, so it cannot be stopped.
    #[error("execution \"{id}\" is not running (status: {status})")]
    NotRunning {
        /// The execution.
        id: String,
        /// Its stored status.
        status: String,
    },
    /// The write collides with a stored row (an id taken, a webhook path owned).
    #[error("{0}")]
    Conflict(String),
    /// The task recording an execution stopped before its end was stored.
    #[error("the execution stopped before its end was recorded")]
    Interrupted,
    /// The database failed (details stay in logs, not in API answers).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A workflow as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredWorkflow {
    /// Its id.
    pub id: String,
    /// Whether its triggers are active.
    pub active: bool,
    /// The workflow JSON (its `id` and `name` match the columns).
    pub workflow: Workflow,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 last update time.
    pub updated_at: String,
}

impl StoredWorkflow {
    /// The workflow in n8n's shape: its JSON with `id`, `active` and timestamps.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(&self.workflow).unwrap_or_default();
        if let Value::Object(o) = &mut v {
            o.insert("id".into(), self.id.clone().into());
            o.insert("active".into(), self.active.into());
            o.insert("createdAt".into(), self.created_at.clone().into());
            o.insert("updatedAt".into(), self.updated_at.clone().into());
        }
        v
    }
}

/// An execution as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredExecution {
    /// Its id.
    pub id: String,
    /// The workflow it ran.
    pub workflow_id: String,
    /// `manual`, `trigger`, `webhook`, `retry`.
    pub mode: String,
    /// `running`, `success`, `error`, `canceled`, `crashed`.
    pub status: String,
    /// Start time.
    pub started_at: String,
    /// Stop time, once finished.
    pub stopped_at: Option<String>,
    /// n8n's execution data, when asked for and saved.
    pub data: Option<Value>,
    /// The failure, when there was one.
    pub error: Option<Value>,
}

/// Filters for listing executions.
#[derive(Clone, Debug, Default)]
pub struct ExecutionFilter {
    /// Only this workflow's.
    pub workflow_id: Option<String>,
    /// Only with this status.
    pub status: Option<String>,
    /// At most this many (1..=250, default 100).
    pub limit: Option<u32>,
    /// Continue after this cursor (from a previous page).
    pub cursor: Option<String>,
    /// Return each execution's run data too (n8n's `includeData`); a page then stops early
    /// once [`LIST_DATA_BUDGET`] bytes of data are in it.
    pub include_data: bool,
}

/// Bytes of run data one page of an execution list holds at most when data is asked for
/// (the first execution always comes, whatever its size); the cursor continues the rest.
pub const LIST_DATA_BUDGET: usize = 16 * 1024 * 1024;
/// Filters for listing workflows, as n8n's public API takes them.
#[derive(Clone, Debug, Default)]
pub struct WorkflowFilter {
    /// Only active (or only inactive) workflows.
    pub active: Option<bool>,
    /// Only workflows with exactly this name.
    pub name: Option<String>,
    /// Only workflows whose name contains this text, ignoring case (on SQLite, the case of
    /// ASCII letters only): the console's search box.
    pub name_contains: Option<String>,
    /// Only workflows carrying every one of these tag names.
    pub tags: Vec<String>,
    /// At most this many (1..=250, default 100).
    pub limit: Option<u32>,
    /// Continue after this cursor (from a previous page).
    pub cursor: Option<String>,
}

const CURSOR_PREFIX: &str = "workflow:";

/// Cursors are opaque, so that a made-up one is refused rather than read as an id.
fn encode_cursor(id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{id}"))
}

fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(CURSOR_PREFIX).map(str::to_owned))
        .ok_or_else(|| StoreError::InvalidInput {
            field: "cursor",
            reason: "is not a cursor returned by this API".into(),
        })
}

/// Whether `workflow` carries every tag in `wanted` (n8n's tags are names or `{name}` objects).
fn has_tags(workflow: &Workflow, wanted: &[String]) -> bool {
    let names: Vec<&str> = workflow
        .extra
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str().or_else(|| t.get("name")?.as_str()))
                .collect()
        })
        .unwrap_or_default();
    wanted.iter().all(|w| names.contains(&w.as_str()))
}

/// Workflows and executions over the shared database handle.
#[derive(Clone, Debug)]
pub struct WorkflowStore {
    db: Db,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    settings: ExecutionPolicy,
    running: Mutex<HashMap<String, Running>>,
    webhooks: WebhookIndex,
    writer: Writer,
    /// This process's id in the `processes` table (migration 0007), written into every
    /// execution it starts.
    process_id: String,
}

/// An execution whose `running` row is queued, not yet known to be written.
#[derive(Debug)]
pub struct BegunExecution {
    /// Stops the run; hand it to the executor.
    pub cancel: CancelHandle,
    row: tokio::sync::oneshot::Receiver<Result<u64, sqlx::Error>>,
}

impl BegunExecution {
    /// Waits until the `running` row is written. A caller must not be told an execution
    /// happened before this: after a crash the row is what tells that it ran (`crashed`).
    pub async fn stored(self) -> Result<(), StoreError> {
        match self.row.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(sqlx::Error::WorkerCrashed.into()),
        }
    }
}

/// An execution running in this process: how to stop it, and a sender dropped once its
/// outcome is stored (which wakes whoever waits on a stop).
#[derive(Debug)]
struct Running {
    cancel: CancelHandle,
    stored: tokio::sync::watch::Sender<()>,
}

/// n8n's execution data (`{"resultData": {...}}`, as [`ExecutionResult::data_json`]) as text,
/// serialised straight from the run data rather than through a `Value` copy of every item:
/// what [`ExecutionStore::finish_execution_by_policy`] stores.
pub fn data_text(result: &ExecutionResult) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ResultData<'a> {
        run_data: &'a std::collections::BTreeMap<String, Vec<workflow::run::TaskData>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_node_executed: Option<&'a String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a workflow::executor::ExecutionFailure>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        result_data: ResultData<'a>,
    }
    let data = Data {
        result_data: ResultData {
            run_data: &result.run_data,
            last_node_executed: result.last_node.as_ref(),
            error: result.error.as_ref(),
        },
    };
    serde_json::to_string(&data).unwrap_or_else(|_| result.data_json().to_string())
}

/// Reads a per-workflow saving setting (`"all"`, `"none"`, `"DEFAULT"`, or a boolean).
fn workflow_setting(workflow: &Workflow, name: &str) -> Option<bool> {
    match workflow.settings.as_ref()?.extra.get(name)? {
        Value::String(s) if s == "all" => Some(true),
        Value::String(s) if s == "none" => Some(false),
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// A workflow name: required, and without NUL bytes, which Postgres cannot store.
fn check_name(name: &str) -> Result<(), StoreError> {
    let reason = if name.trim().is_empty() {
        "is required"
    } else if name.contains('\0') {
        "must not contain a NUL byte"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidInput {
        field: "name",
        reason: reason.into(),
    })
}

/// A client-chosen workflow id: it lands in URLs and logs, so only a plain alphabet.
fn check_id(id: String) -> Result<String, StoreError> {
    let ok = id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(id)
    } else {
        Err(StoreError::InvalidInput {
            field: "id",
            reason: "expected 1 to 64 letters, digits, '-' or '_'".into(),
        })
    }
}

/// The routes (method, pattern, node name) `workflow` owns while active; two of its own
/// Webhook nodes on one route are refused.
fn claimed_routes(workflow: &Workflow) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut routes: Vec<(String, String, String)> = Vec::new();
    for (method, path, node) in webhook_routes(workflow) {
        let pattern = route_pattern(&path);
        if let Some((_, _, other)) = routes
            .iter()
            .find(|(m, p, _)| *m == method && *p == pattern)
        {
            return Err(StoreError::Conflict(format!(
                "Webhook nodes \"{other}\" and \"{}\" both listen on {method} {path}; change one's path or method",
                node.name
            )));
        }
        routes.push((method, pattern, node.name.clone()));
    }
    Ok(routes)
}

/// Inserts `routes` for workflow `id`; returns the first route another workflow owns, after
/// which the transaction must be dropped (Postgres has aborted it).
async fn claim_routes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    routes: &[(String, String, String)],
) -> Result<Option<(String, String)>, StoreError> {
    sqlx::query("DELETE FROM webhook_paths WHERE workflow_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for (method, path, node) in routes {
        let done = sqlx::query(
            "INSERT INTO webhook_paths (method, path, workflow_id, node_name) VALUES ($1, $2, $3, $4)",
        )
        .bind(method)
        .bind(path)
        .bind(id)
        .bind(node)
        .execute(&mut **tx)
        .await;
        match done {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(Some((method.clone(), path.clone())))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

fn now() -> String {
    stamp(chrono::Utc::now())
}

/// How times are stored: RFC 3339 UTC with milliseconds, so text order is time order.
fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn state_till(result: &ExecutionResult) -> chrono::DateTime<chrono::Utc> {
    result
        .resume
        .as_ref()
        .map_or_else(chrono::Utc::now, |s| s.wait_till)
}

fn limit_of(limit: Option<u32>) -> Result<i64, StoreError> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=250).contains(&n) => Ok(i64::from(n)),
        Some(n) => Err(StoreError::InvalidInput {
            field: "limit",
            reason: format!("must be between 1 and 250, got {n}"),
        }),
    }
}

impl WorkflowStore {
    /// A store over `db` (already migrated) with n8n's default saving and pruning settings.
    pub fn new(db: Db) -> Self {
        Self::with_settings(db, ExecutionPolicy::default())
    }

    /// A store over `db` that saves and prunes executions as `settings` say.
    pub fn with_settings(db: Db, settings: ExecutionPolicy) -> Self {
        Self {
            db,
            shared: Arc::new(Shared {
                settings,
                process_id: uuid::Uuid::new_v4().to_string(),
                ..Shared::default()
            }),
        }
    }

    /// The saving and pruning settings.
    pub fn settings(&self) -> &ExecutionPolicy {
        &self.shared.settings
    }

    /// Whether an execution of `workflow` started in `mode` that ended with `status` is kept,
    /// as n8n decides: manual runs follow `saveManualExecutions` whatever their outcome;
    /// other runs follow `saveDataSuccessExecution` on success and `saveDataErrorExecution`
    /// otherwise. A workflow's own setting wins over the environment's.
    pub fn should_save(&self, workflow: &Workflow, mode: &str, status: ExecutionStatus) -> bool {
        let env = &self.shared.settings;
        if status == ExecutionStatus::Waiting {
            // A waiting execution is resumed from its row: it is always kept.
            return true;
        }
        if mode == "manual" {
            return workflow_setting(workflow, "saveManualExecutions").unwrap_or(env.save_manual);
        }
        match status {
            ExecutionStatus::Success => workflow_setting(workflow, "saveDataSuccessExecution")
                .unwrap_or(env.save_on_success),
            ExecutionStatus::Error | ExecutionStatus::Canceled => {
                workflow_setting(workflow, "saveDataErrorExecution").unwrap_or(env.save_on_error)
            }
            ExecutionStatus::Waiting => true,
        }
    }

    fn to_workflow(row: &sqlx::any::AnyRow) -> Result<StoredWorkflow, StoreError> {
        let body: String = row.try_get("body")?;
        let workflow = Workflow::from_json(&body).map_err(|e| StoreError::InvalidInput {
            field: "body",
            reason: e.to_string(),
        })?;
        Ok(StoredWorkflow {
            id: row.try_get("id")?,
            active: row.try_get::<i64, _>("active")? != 0,
            workflow,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    /// Stores a new workflow, assigning an id when it has none. A client-chosen id must be
    /// 1 to 64 letters, digits, `-` or `_`; one already taken answers [`StoreError::Conflict`].
    pub async fn create(&self, mut workflow: Workflow) -> Result<StoredWorkflow, StoreError> {
        check_name(&workflow.name)?;
        let id = match workflow.id.clone().filter(|i| !i.is_empty()) {
            Some(id) => check_id(id)?,
            None => uuid::Uuid::new_v4().simple().to_string()[..16].to_string(),
        };
        workflow.id = Some(id.clone());
        let body = serde_json::to_string(&workflow).map_err(|e| StoreError::InvalidInput {
            field: "body",
            reason: e.to_string(),
        })?;
        let at = now();
        let _writing = self.shared.webhooks.writing().await;
        sqlx::query(
            "INSERT INTO workflows (id, name, active, body, created_at, updated_at) VALUES ($1, $2, 0, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&workflow.name)
        .bind(&body)
        .bind(&at)
        .bind(&at)
        .execute(self.db.pool())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("a workflow with id \"{id}\" already exists"))
            }
            _ => e.into(),
        })?;
        let stored = self.get(&id).await?;
        self.shared.webhooks.put(&stored);
        Ok(stored)
    }

    /// The workflow `id`.
    pub async fn get(&self, id: &str) -> Result<StoredWorkflow, StoreError> {
        let row = sqlx::query(
            "SELECT id, active, body, created_at, updated_at FROM workflows WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "workflow",
            id: id.to_string(),
        })?;
        Self::to_workflow(&row)
    }

    /// A page of workflows ordered by id, and the cursor of the next page if there is one.
    pub async fn list(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<(Vec<StoredWorkflow>, Option<String>), StoreError> {
        self.list_filtered(&WorkflowFilter {
            limit,
            cursor: cursor.map(str::to_owned),
            ..WorkflowFilter::default()
        })
        .await
    }

    /// A page of the workflows `filter` selects, ordered by id, and the cursor of the next
    /// page. Active and name are filtered in SQL; tags live in the workflow JSON, so rows are
    /// read in batches until the page is full.
    pub async fn list_filtered(
        &self,
        filter: &WorkflowFilter,
    ) -> Result<(Vec<StoredWorkflow>, Option<String>), StoreError> {
        let limit = limit_of(filter.limit)?;
        let mut after = match &filter.cursor {
            None => String::new(),
            Some(c) => decode_cursor(c)?,
        };
        let active = filter.active.map_or(-1, i64::from);
        let name = filter.name.clone().unwrap_or_default();
        // A LIKE pattern with its wildcards escaped: the text is matched as typed.
        let contains = filter
            .name_contains
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| {
                let escaped = t
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{escaped}%")
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        loop {
            let rows = sqlx::query(
                "SELECT id, active, body, created_at, updated_at FROM workflows \
                 WHERE id > $1 AND ($2 = -1 OR active = $3) AND ($4 = '' OR name = $5) \
                 AND ($6 = '' OR LOWER(name) LIKE $7 ESCAPE '\\') \
                 ORDER BY id LIMIT $8",
            )
            .bind(&after)
            .bind(active)
            .bind(active)
            .bind(&name)
            .bind(&name)
            .bind(&contains)
            .bind(&contains)
            .bind(limit + 1)
            .fetch_all(self.db.pool())
            .await?;
            let exhausted = (rows.len() as i64) <= limit;
            for row in &rows {
                let stored = Self::to_workflow(row)?;
                after = stored.id.clone();
                if filter.tags.is_empty() || has_tags(&stored.workflow, &filter.tags) {
                    out.push(stored);
                }
            }
            if exhausted || out.len() as i64 > limit {
                break;
            }
        }
        let next = if out.len() as i64 > limit {
            out.truncate(limit as usize);
            out.last().map(|w| encode_cursor(&w.id))
        } else {
            None
        };
        Ok((out, next))
    }

    /// Replaces workflow `id` (its id is kept whatever the JSON says). When it is active, its
    /// webhook routes are claimed anew in the same transaction: a route another active
    /// workflow owns answers [`StoreError::Conflict`] and nothing changes.
    pub async fn update(
        &self,
        id: &str,
        mut workflow: Workflow,
    ) -> Result<StoredWorkflow, StoreError> {
        check_name(&workflow.name)?;
        workflow.id = Some(id.to_string());
        let body = serde_json::to_string(&workflow).map_err(|e| StoreError::InvalidInput {
            field: "body",
            reason: e.to_string(),
        })?;
        let routes = claimed_routes(&workflow)?;
        let _writing = self.shared.webhooks.writing().await;
        let mut tx = self.db.pool().begin().await?;
        // The write comes first, so a SQLite transaction holds the write lock from its start.
        let done =
            sqlx::query("UPDATE workflows SET name = $1, body = $2, updated_at = $3 WHERE id = $4")
                .bind(&workflow.name)
                .bind(&body)
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "workflow",
                id: id.to_string(),
            });
        }
        let (active,): (i64,) = sqlx::query_as("SELECT active FROM workflows WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if active != 0 {
            if let Some(taken) = claim_routes(&mut tx, id, &routes).await? {
                drop(tx);
                return Err(self.route_taken(taken).await);
            }
        }
        tx.commit().await?;
        let stored = self.get(id).await?;
        self.shared.webhooks.put(&stored);
        Ok(stored)
    }

    /// Turns the workflow's triggers on or off (its production webhooks answer or not).
    /// Activation claims its webhook routes in the database, in the same transaction: a route
    /// another active workflow owns answers [`StoreError::Conflict`] naming that workflow, so
    /// two concurrent activations on one path cannot both win, in this process or another.
    pub async fn set_active(&self, id: &str, active: bool) -> Result<StoredWorkflow, StoreError> {
        let _writing = self.shared.webhooks.writing().await;
        let mut tx = self.db.pool().begin().await?;
        let done = sqlx::query("UPDATE workflows SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(active))
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "workflow",
                id: id.to_string(),
            });
        }
        sqlx::query("DELETE FROM webhook_paths WHERE workflow_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if active {
            let row = sqlx::query(
                "SELECT id, active, body, created_at, updated_at FROM workflows WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let routes = claimed_routes(&Self::to_workflow(&row)?.workflow)?;
            if let Some(taken) = claim_routes(&mut tx, id, &routes).await? {
                drop(tx);
                return Err(self.route_taken(taken).await);
            }
        }
        tx.commit().await?;
        let stored = self.get(id).await?;
        self.shared.webhooks.put(&stored);
        Ok(stored)
    }

    /// The conflict for a route another workflow owns, naming that workflow.
    async fn route_taken(&self, (method, path): (String, String)) -> StoreError {
        let owner: Result<Option<(String,)>, _> =
            sqlx::query_as("SELECT workflow_id FROM webhook_paths WHERE method = $1 AND path = $2")
                .bind(&method)
                .bind(&path)
                .fetch_optional(self.db.pool())
                .await;
        let owner = match owner {
            Ok(Some((owner,))) => owner,
            Ok(None) => {
                return StoreError::Conflict(format!(
                    "the webhook {method} {path} was being claimed by another workflow; try again"
                ))
            }
            Err(e) => return e.into(),
        };
        let name = match self.get(&owner).await {
            Ok(w) => w.workflow.name,
            Err(_) => String::new(),
        };
        StoreError::Conflict(format!(
            "the webhook {method} {path} is already used by active workflow \"{name}\" (id {owner}); \
             deactivate it or change the Webhook node's path or method"
        ))
    }

    /// Claims the webhook routes of every active workflow that does not hold them yet (rows
    /// saved before routes were claimed); a route already owned by another is logged and left
    /// to its owner. Call once at start-up.
    pub async fn claim_active_webhook_paths(&self) -> Result<(), StoreError> {
        let _writing = self.shared.webhooks.writing().await;
        for stored in self.active_workflows().await? {
            let routes = match claimed_routes(&stored.workflow) {
                Ok(routes) => routes,
                Err(e) => {
                    tracing::warn!(workflow_id = %stored.id, error = %e, "active workflow's webhooks collide");
                    continue;
                }
            };
            for (method, path, node) in routes {
                let done = sqlx::query(
                    "INSERT INTO webhook_paths (method, path, workflow_id, node_name) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (method, path) DO NOTHING",
                )
                .bind(&method)
                .bind(&path)
                .bind(&stored.id)
                .bind(&node)
                .execute(self.db.pool())
                .await?;
                if done.rows_affected() == 0 {
                    let (owner,): (String,) = sqlx::query_as(
                        "SELECT workflow_id FROM webhook_paths WHERE method = $1 AND path = $2",
                    )
                    .bind(&method)
                    .bind(&path)
                    .fetch_one(self.db.pool())
                    .await?;
                    if owner != stored.id {
                        tracing::warn!(
                            workflow_id = %stored.id, owner = %owner, method = %method, path = %path,
                            "two active workflows listen on one webhook; the owner keeps it, deactivate the other"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Deletes workflow `id` and every execution of it, in one transaction.
    pub async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let _writing = self.shared.webhooks.writing().await;
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM webhook_paths WHERE workflow_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM executions WHERE workflow_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM workflows WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "workflow",
                id: id.to_string(),
            });
        }
        tx.commit().await?;
        self.shared.webhooks.remove(id);
        Ok(())
    }

    /// Execution row writes waiting for the grouped writer.
    pub fn queued_writes(&self) -> usize {
        self.shared.writer.queued()
    }

    /// Brings the in-memory webhook index up to date with workflow `id` as the database holds
    /// it now (another process, such as `switchyard import workflow`, changed it).
    pub async fn reindex(&self, id: &str) -> Result<Option<StoredWorkflow>, StoreError> {
        let _writing = self.shared.webhooks.writing().await;
        match self.get(id).await {
            Ok(stored) => {
                self.shared.webhooks.put(&stored);
                Ok(Some(stored))
            }
            Err(StoreError::NotFound { .. }) => {
                self.shared.webhooks.remove(id);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// What tells that workflows changed: their count and latest `updated_at`, read in one
    /// cheap query each second by [`crate::sync`].
    pub async fn workflows_fingerprint(&self) -> Result<(i64, Option<String>), StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n, MAX(updated_at) AS latest FROM workflows")
            .fetch_one(self.db.pool())
            .await?;
        Ok((row.try_get("n")?, row.try_get("latest")?))
    }

    /// Every workflow's id, active flag and `updated_at`, without bodies.
    pub async fn workflow_versions(&self) -> Result<Vec<(String, bool, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, active, updated_at FROM workflows")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let active: i64 = r.try_get("active")?;
                Ok((r.try_get("id")?, active != 0, r.try_get("updated_at")?))
            })
            .collect()
    }

    /// The active workflow whose Webhook node listens on `method` `path`, from the in-memory
    /// index (filled from the database on first use).
    pub async fn webhook_target(
        &self,
        method: &str,
        path: &str,
    ) -> Result<Option<WebhookTarget>, StoreError> {
        let index = &self.shared.webhooks;
        if !index.is_loaded() {
            let _writing = index.writing().await;
            if !index.is_loaded() {
                index.fill(self.active_workflows().await?);
            }
        }
        Ok(index.lookup(method, path))
    }

    async fn active_workflows(&self) -> Result<Vec<StoredWorkflow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, active, body, created_at, updated_at FROM workflows WHERE active <> 0 ORDER BY id",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(Self::to_workflow).collect()
    }

    /// Records that execution `id` of `workflow_id` started (status `running`) and returns
    /// the handle that stops it; hand it to the executor. The database numbers executions
    /// (`seq`), so concurrent starts never share a place in the order.
    pub async fn start_execution(
        &self,
        id: &str,
        workflow_id: &str,
        mode: &str,
    ) -> Result<CancelHandle, StoreError> {
        self.shared
            .writer
            .apply(
                &self.db,
                Write::Start {
                    id: id.to_string(),
                    workflow_id: workflow_id.to_string(),
                    mode: mode.to_string(),
                    started_at: now(),
                    process_id: self.shared.process_id.clone(),
                },
            )
            .await?;
        Ok(self.register_running(id))
    }

    /// Like [`Self::start_execution`] but does not wait for the row: it is written with the
    /// next group of execution writes, before any later write to it (its end), while the
    /// workflow already runs. For webhook calls: the caller never sees the execution id, so
    /// only the answer must wait for the row ([`BegunExecution::stored`]), not the run.
    /// Waits only while the write queue is full (the database is behind).
    pub async fn begin_execution(&self, id: &str, workflow_id: &str, mode: &str) -> BegunExecution {
        let row = self
            .shared
            .writer
            .submit(
                &self.db,
                Write::Start {
                    id: id.to_string(),
                    workflow_id: workflow_id.to_string(),
                    mode: mode.to_string(),
                    started_at: now(),
                    process_id: self.shared.process_id.clone(),
                },
            )
            .await;
        BegunExecution {
            cancel: self.register_running(id),
            row,
        }
    }

    /// Waits until no execution runs in this process (every end stored), or `limit` passes.
    /// True when none is left.
    pub async fn wait_until_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.running_count() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    fn register_running(&self, id: &str) -> CancelHandle {
        let cancel = CancelHandle::new();
        if let Ok(mut running) = self.shared.running.lock() {
            running.insert(
                id.to_string(),
                Running {
                    cancel: cancel.clone(),
                    stored: tokio::sync::watch::channel(()).0,
                },
            );
        }
        cancel
    }

    /// How many executions run in this process right now (their end not yet stored).
    pub fn running_count(&self) -> usize {
        self.shared.running.lock().map_or(0, |r| r.len())
    }

    /// Cancels every execution running in this process; returns how many.
    pub fn cancel_running(&self) -> usize {
        self.shared.running.lock().map_or(0, |running| {
            for r in running.values() {
                r.cancel.cancel();
            }
            running.len()
        })
    }

    pub(crate) fn forget_running(&self, id: &str) {
        if let Ok(mut running) = self.shared.running.lock() {
            running.remove(id);
        }
    }

    /// Records how execution `id` of `workflow` (started in `mode`) ended, following the
    /// saving policy: kept with its run data, or deleted. Returns whether it was kept.
    /// `data`, when given, is the run data as [`data_text`] made it (the caller may have let
    /// the items go since); otherwise it is made from `result`.
    pub async fn finish_execution_by_policy(
        &self,
        id: &str,
        workflow: &Workflow,
        mode: &str,
        result: &ExecutionResult,
        data: Option<Arc<String>>,
    ) -> Result<bool, StoreError> {
        if self.should_save(workflow, mode, result.status) {
            let data = data.unwrap_or_else(|| Arc::new(data_text(result)));
            self.finish_execution_with(id, result, Some(data)).await?;
            return Ok(true);
        }
        let deleted = self
            .shared
            .writer
            .apply(&self.db, Write::Delete { id: id.to_string() })
            .await;
        // Still "running here" until its end is settled, so `stop` finds it meanwhile.
        deleted?;
        self.forget_running(id);
        Ok(false)
    }

    /// Stops execution `id` if it runs in this process and waits (up to `wait`) until its
    /// outcome is stored. Returns the stored execution, or `None` when the saving policy
    /// deleted it.
    pub async fn stop_execution(
        &self,
        id: &str,
        wait: Duration,
    ) -> Result<Option<StoredExecution>, StoreError> {
        let found = self.shared.running.lock().ok().and_then(|running| {
            running
                .get(id)
                .map(|r| (r.cancel.clone(), r.stored.subscribe()))
        });
        let Some((cancel, mut stored)) = found else {
            let e = self.get_execution(id, false).await?;
            return Err(StoreError::NotRunning {
                id: id.to_string(),
                status: e.status,
            });
        };
        cancel.cancel();
        // The sender is dropped once the outcome is stored, which ends this wait.
        let _ = tokio::time::timeout(wait, stored.changed()).await;
        match self.get_execution(id, false).await {
            Ok(e) if e.status == "running" || e.status == "canceled" => Ok(Some(e)),
            Ok(e) => Err(StoreError::NotRunning {
                id: id.to_string(),
                status: e.status,
            }),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records how execution `id` ended; `save_data` false keeps only status and times.
    pub async fn finish_execution(
        &self,
        id: &str,
        result: &ExecutionResult,
        save_data: bool,
    ) -> Result<(), StoreError> {
        let data = save_data.then(|| Arc::new(data_text(result)));
        self.finish_execution_with(id, result, data).await
    }

    /// [`Self::finish_execution`] with the run data given as text (or none kept). Shared, not
    /// copied: a retried write sends the same text again.
    async fn finish_execution_with(
        &self,
        id: &str,
        result: &ExecutionResult,
        data: Option<Arc<String>>,
    ) -> Result<(), StoreError> {
        let status = match result.status {
            ExecutionStatus::Success => "success",
            ExecutionStatus::Error => "error",
            ExecutionStatus::Canceled => "canceled",
            ExecutionStatus::Waiting => "waiting",
        };
        let error = result
            .error
            .as_ref()
            .and_then(|e| serde_json::to_string(e).ok());
        let done = self
            .shared
            .writer
            .apply(
                &self.db,
                Write::Finish {
                    id: id.to_string(),
                    status,
                    stopped_at: result
                        .stopped_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    data,
                    error,
                },
            )
            .await;
        let done = done?;
        if done > 0 {
            if let Some(state) = &result.resume {
                // The row exists (its end was just written through the same queue): where
                // and when to resume it.
                let state = serde_json::to_string(state).map_err(|e| StoreError::InvalidInput {
                    field: "resume_state",
                    reason: e.to_string(),
                })?;
                sqlx::query(
                    "UPDATE executions SET wait_till = $1, resume_state = $2 WHERE id = $3",
                )
                .bind(stamp(state_till(result)))
                .bind(state)
                .bind(id)
                .execute(self.db.pool())
                .await?;
            }
        }
        self.forget_running(id);
        if done == 0 {
            return Err(StoreError::NotFound {
                what: "execution",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Waiting executions due by `by`: `(id, workflow id, mode)`, soonest first.
    pub async fn due_waiting(
        &self,
        by: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, workflow_id, mode FROM executions WHERE status = 'waiting' AND wait_till <= $1 \
             ORDER BY wait_till LIMIT 100",
        )
        .bind(stamp(by))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("workflow_id")?,
                    r.try_get("mode")?,
                ))
            })
            .collect()
    }

    /// Waiting execution `id`: its workflow id, mode and resume state; `None` when there is
    /// no such execution, or it does not wait.
    pub async fn waiting_state(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT workflow_id, mode, resume_state FROM executions WHERE id = $1 AND status = 'waiting'",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let state: Option<String> = row.try_get("resume_state")?;
        Ok(state.map(|state| {
            (
                row.try_get("workflow_id").unwrap_or_default(),
                row.try_get("mode").unwrap_or_default(),
                state,
            )
        }))
    }

    /// Takes waiting execution `id` to resume it here: `running` again, registered as
    /// running in this process, its resume state returned. `None` when it is not waiting
    /// any more (another process or an earlier tick took it, or it was deleted).
    pub async fn claim_waiting(
        &self,
        id: &str,
    ) -> Result<Option<(String, CancelHandle)>, StoreError> {
        let row = sqlx::query(
            "UPDATE executions SET status = 'running', stopped_at = NULL, wait_till = NULL \
             WHERE id = $1 AND status = 'waiting' RETURNING resume_state",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let state: Option<String> = row.try_get("resume_state")?;
        Ok(state.map(|s| (s, self.register_running(id))))
    }

    fn to_execution(
        row: &sqlx::any::AnyRow,
        include_data: bool,
    ) -> Result<StoredExecution, StoreError> {
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        Ok(StoredExecution {
            id: row.try_get("id")?,
            workflow_id: row.try_get("workflow_id")?,
            mode: row.try_get("mode")?,
            status: row.try_get("status")?,
            started_at: row.try_get("started_at")?,
            stopped_at: row.try_get("stopped_at")?,
            data: if include_data {
                parse(row.try_get("data")?)
            } else {
                None
            },
            error: parse(row.try_get("error")?),
        })
    }

    /// Execution `id`, with its run data when `include_data`.
    pub async fn get_execution(
        &self,
        id: &str,
        include_data: bool,
    ) -> Result<StoredExecution, StoreError> {
        let row = sqlx::query(
            "SELECT id, workflow_id, mode, status, started_at, stopped_at, data, error FROM executions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "execution",
            id: id.to_string(),
        })?;
        Self::to_execution(&row, include_data)
    }

    /// A page of executions, newest first, and the cursor of the next page.
    pub async fn list_executions(
        &self,
        filter: &ExecutionFilter,
    ) -> Result<(Vec<StoredExecution>, Option<String>), StoreError> {
        let limit = limit_of(filter.limit)?;
        let before: i64 = match &filter.cursor {
            None => i64::MAX,
            Some(c) => c.parse().map_err(|_| StoreError::InvalidInput {
                field: "cursor",
                reason: "is not a cursor returned by this API".into(),
            })?,
        };
        // Empty strings mean "any": one fixed statement serves every filter combination.
        // Without `includeData` the data column is not read at all: a list of large
        // executions costs their metadata only.
        let data_column = if filter.include_data {
            "data"
        } else {
            "NULL AS data"
        };
        let sql = format!(
            "SELECT id, seq, workflow_id, mode, status, started_at, stopped_at, {data_column}, error \
             FROM executions \
             WHERE seq < $1 AND ($2 = '' OR workflow_id = $3) AND ($4 = '' OR status = $5) \
             ORDER BY seq DESC LIMIT $6"
        );
        let mut rows = sqlx::query(&sql)
            .bind(before)
            .bind(filter.workflow_id.clone().unwrap_or_default())
            .bind(filter.workflow_id.clone().unwrap_or_default())
            .bind(filter.status.clone().unwrap_or_default())
            .bind(filter.status.clone().unwrap_or_default())
            .bind(limit + 1)
            .fetch(self.db.pool());
        let mut seqs = Vec::new();
        let mut out = Vec::new();
        let mut data_bytes = 0usize;
        let mut more = false;
        while let Some(row) = futures::TryStreamExt::try_next(&mut rows).await? {
            if out.len() as i64 == limit || (!out.is_empty() && data_bytes > LIST_DATA_BUDGET) {
                more = true;
                break;
            }
            if filter.include_data {
                let text: Option<String> = row.try_get("data")?;
                data_bytes += text.as_ref().map_or(0, String::len);
            }
            seqs.push(row.try_get::<i64, _>("seq")?);
            out.push(Self::to_execution(&row, filter.include_data)?);
        }
        let next = if more {
            seqs.last().map(|s| s.to_string())
        } else {
            None
        };
        Ok((out, next))
    }

    /// Deletes execution `id`.
    pub async fn delete_execution(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM executions WHERE id = $1")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "execution",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Records that execution `id` failed before any node ran (no start node, ...).
    pub async fn mark_failed(&self, id: &str, message: &str) -> Result<(), StoreError> {
        // Through the writer, so that it lands after a start still queued there.
        let done = self
            .shared
            .writer
            .apply(
                &self.db,
                Write::Finish {
                    id: id.to_string(),
                    status: "error",
                    stopped_at: now(),
                    data: None,
                    error: Some(serde_json::json!({ "message": message }).to_string()),
                },
            )
            .await;
        done?;
        self.forget_running(id);
        Ok(())
    }

    /// Deletes finished executions that stopped more than `max_age` ago, then all but the
    /// newest `max_count` finished ones (0 = no limit). Running executions are never
    /// touched. Returns how many were deleted.
    pub async fn prune(&self, max_age: Duration, max_count: u64) -> Result<u64, StoreError> {
        let cutoff = chrono::Duration::from_std(max_age)
            .ok()
            .and_then(|age| chrono::Utc::now().checked_sub_signed(age));
        let mut deleted = 0;
        if let Some(cutoff) = cutoff {
            deleted += sqlx::query(
                "DELETE FROM executions WHERE status NOT IN ('running', 'waiting') AND stopped_at IS NOT NULL AND stopped_at < $1",
            )
            .bind(cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .execute(self.db.pool())
            .await?
            .rows_affected();
        }
        if max_count > 0 {
            // The seq of the newest finished execution beyond the limit; it and every older
            // finished one go.
            deleted += sqlx::query(
                "DELETE FROM executions WHERE status NOT IN ('running', 'waiting') AND seq <= \
                 (SELECT seq FROM executions WHERE status <> 'running' ORDER BY seq DESC LIMIT 1 OFFSET $1)",
            )
            .bind(i64::try_from(max_count).unwrap_or(i64::MAX))
            .execute(self.db.pool())
            .await?
            .rows_affected();
        }
        Ok(deleted)
    }

    /// Prunes now and then every `every`, as the settings say, until the task is aborted.
    /// Does nothing when pruning is off.
    pub fn spawn_pruning(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        let settings = self.shared.settings.clone();
        if !settings.prune {
            return None;
        }
        let store = self.clone();
        let max_age = Duration::from_secs(settings.max_age_hours.saturating_mul(3600));
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match store.prune(max_age, settings.prune_max_count).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "pruned old executions"),
                    Err(err) => tracing::warn!(error = %err, "pruning executions failed"),
                }
            }
        }))
    }
}

/// Polling trigger state (migration 0005): what each trigger node of a workflow has seen.
impl WorkflowStore {
    /// The state saved for `workflow_id`'s trigger node `node`, if any.
    pub async fn trigger_state(
        &self,
        workflow_id: &str,
        node: &str,
    ) -> Result<Option<Value>, StoreError> {
        let row = sqlx::query(
            "SELECT state FROM trigger_state WHERE workflow_id = $1 AND node_name = $2",
        )
        .bind(workflow_id)
        .bind(node)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get("state")?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::InvalidInput {
                field: "state",
                reason: e.to_string(),
            })
    }

    /// Saves (inserts or replaces) the state of `workflow_id`'s trigger node `node`.
    pub async fn save_trigger_state(
        &self,
        workflow_id: &str,
        node: &str,
        state: &Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO trigger_state (workflow_id, node_name, state, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workflow_id, node_name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(workflow_id)
        .bind(node)
        .bind(state.to_string())
        .bind(now())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Forgets every trigger state of `workflow_id` (the workflow is being deleted).
    pub async fn delete_trigger_states(&self, workflow_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM trigger_state WHERE workflow_id = $1")
            .bind(workflow_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
