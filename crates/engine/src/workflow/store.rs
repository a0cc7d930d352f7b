//! [`WorkflowStore`]: workflows and executions in the database (SQLite or Postgres through
//! `credentials::Db`), with portable SQL only.

use credentials::Db;
use serde_json::Value;
use sqlx::Row;

use super::executor::{ExecutionResult, ExecutionStatus};
use super::model::Workflow;

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
}

/// Workflows and executions over the shared database handle.
#[derive(Clone, Debug)]
pub struct WorkflowStore {
    db: Db,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
    /// A store over `db` (already migrated).
    pub fn new(db: Db) -> Self {
        Self { db }
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

    /// Stores a new workflow, assigning an id when it has none.
    pub async fn create(&self, mut workflow: Workflow) -> Result<StoredWorkflow, StoreError> {
        if workflow.name.trim().is_empty() {
            return Err(StoreError::InvalidInput {
                field: "name",
                reason: "is required".into(),
            });
        }
        let id = workflow
            .id
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..16].to_string());
        workflow.id = Some(id.clone());
        let body = serde_json::to_string(&workflow).map_err(|e| StoreError::InvalidInput {
            field: "body",
            reason: e.to_string(),
        })?;
        let at = now();
        sqlx::query(
            "INSERT INTO workflows (id, name, active, body, created_at, updated_at) VALUES ($1, $2, 0, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&workflow.name)
        .bind(&body)
        .bind(&at)
        .bind(&at)
        .execute(self.db.pool())
        .await?;
        self.get(&id).await
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
        let limit = limit_of(limit)?;
        let rows = sqlx::query(
            "SELECT id, active, body, created_at, updated_at FROM workflows WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(cursor.unwrap_or(""))
        .bind(limit + 1)
        .fetch_all(self.db.pool())
        .await?;
        let mut out = rows
            .iter()
            .map(Self::to_workflow)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if out.len() as i64 > limit {
            out.truncate(limit as usize);
            out.last().map(|w| w.id.clone())
        } else {
            None
        };
        Ok((out, next))
    }

    /// Replaces workflow `id` (its id is kept whatever the JSON says).
    pub async fn update(
        &self,
        id: &str,
        mut workflow: Workflow,
    ) -> Result<StoredWorkflow, StoreError> {
        workflow.id = Some(id.to_string());
        let body = serde_json::to_string(&workflow).map_err(|e| StoreError::InvalidInput {
            field: "body",
            reason: e.to_string(),
        })?;
        let done =
            sqlx::query("UPDATE workflows SET name = $1, body = $2, updated_at = $3 WHERE id = $4")
                .bind(&workflow.name)
                .bind(&body)
                .bind(now())
                .bind(id)
                .execute(self.db.pool())
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "workflow",
                id: id.to_string(),
            });
        }
        self.get(id).await
    }

    /// Turns the workflow's triggers on or off.
    pub async fn set_active(&self, id: &str, active: bool) -> Result<StoredWorkflow, StoreError> {
        let done = sqlx::query("UPDATE workflows SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(active))
            .bind(now())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "workflow",
                id: id.to_string(),
            });
        }
        self.get(id).await
    }

    /// Deletes workflow `id`.
    pub async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM workflows WHERE id = $1")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "workflow",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Records that execution `id` of `workflow_id` started (status `running`).
    pub async fn start_execution(
        &self,
        id: &str,
        workflow_id: &str,
        mode: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO executions (id, seq, workflow_id, mode, status, started_at) \
             VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM executions), $2, $3, 'running', $4)",
        )
        .bind(id)
        .bind(workflow_id)
        .bind(mode)
        .bind(now())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Records how execution `id` ended; `save_data` false keeps only status and times.
    pub async fn finish_execution(
        &self,
        id: &str,
        result: &ExecutionResult,
        save_data: bool,
    ) -> Result<(), StoreError> {
        let status = match result.status {
            ExecutionStatus::Success => "success",
            ExecutionStatus::Error => "error",
            ExecutionStatus::Canceled => "canceled",
        };
        let data = save_data.then(|| result.data_json().to_string());
        let error = result
            .error
            .as_ref()
            .and_then(|e| serde_json::to_string(e).ok());
        let done = sqlx::query(
            "UPDATE executions SET status = $1, stopped_at = $2, data = $3, error = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(result.stopped_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .bind(data)
        .bind(error)
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
        let rows = sqlx::query(
            "SELECT id, seq, workflow_id, mode, status, started_at, stopped_at, data, error FROM executions \
             WHERE seq < $1 AND ($2 = '' OR workflow_id = $3) AND ($4 = '' OR status = $5) \
             ORDER BY seq DESC LIMIT $6",
        )
        .bind(before)
        .bind(filter.workflow_id.clone().unwrap_or_default())
        .bind(filter.workflow_id.clone().unwrap_or_default())
        .bind(filter.status.clone().unwrap_or_default())
        .bind(filter.status.clone().unwrap_or_default())
        .bind(limit + 1)
        .fetch_all(self.db.pool())
        .await?;
        let mut seqs = Vec::with_capacity(rows.len());
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            seqs.push(row.try_get::<i64, _>("seq")?);
            out.push(Self::to_execution(row, false)?);
        }
        let next = if out.len() as i64 > limit {
            out.truncate(limit as usize);
            seqs.get(limit as usize - 1).map(|s| s.to_string())
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
        sqlx::query(
            "UPDATE executions SET status = 'error', stopped_at = $1, error = $2 WHERE id = $3",
        )
        .bind(now())
        .bind(serde_json::json!({ "message": message }).to_string())
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Marks executions left `running` by a crash as `crashed`; call once at start-up.
    pub async fn mark_crashed(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE executions SET status = 'crashed', stopped_at = $1 WHERE status = 'running'",
        )
        .bind(now())
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
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
