//! [`Runner`]: the one way an execution happens. Webhook calls, manual runs, schedules and
//! polling triggers all start executions here, so each execution's life is written once:
//!
//! 1. its `running` row is written (grouped with other writes) while the workflow already
//!    starts; [`Runner::start`] returns once the row is committed, so a caller is never told
//!    of an execution that a crash could erase;
//! 2. it runs on its own task, so a caller that goes away (a webhook client hanging up) does
//!    not stop it, and a panic in a node is caught and recorded as a failure;
//! 3. its end is stored as the saving policy says (kept with its data, or deleted), or as
//!    failed when it could not start; a failed write is retried until it lands;
//! 4. shutdown cancels what is still running after the drain time, and waits for those ends;
//! 5. a failed production execution starts its error workflow (n8n's `errorWorkflow`
//!    setting, or the workflow itself when it holds an Error Trigger) with n8n's error item.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures::FutureExt;
use node_api::{
    ExecutionMode, Item, JsonObject, NodeError, SubWorkflowCall, WebhookResponse, WorkflowRunner,
};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use workflow::executor::ResumeState;
use workflow::{ExecutionResult, ExecutionStatus, Executor, RunRequest, Workflow, WorkflowError};

use crate::store::{StoreError, WorkflowStore};

/// What to run.
pub struct ExecutionRequest {
    /// The stored workflow's id.
    pub workflow_id: String,
    /// The workflow as it was saved.
    pub workflow: Arc<Workflow>,
    /// How it was started; stored with the execution.
    pub mode: ExecutionMode,
    /// The node to start from; the first enabled trigger when `None`.
    pub start_node: Option<String>,
    /// Items handed to the start node (the webhook request, a poll's records ...).
    pub items: Vec<Item>,
    /// Receives a Respond to Webhook answer the moment that node runs.
    pub respond: Option<tokio::sync::oneshot::Sender<WebhookResponse>>,
}

/// Why an execution has no result.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The workflow could not start (no start node, ...).
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// A node panicked: a bug, recorded as a failure; the detail goes to the log only.
    #[error("the execution failed unexpectedly")]
    Panicked,
}

/// How an execution ended, once its end is stored.
#[derive(Debug)]
pub struct Ended {
    /// The run's result, or why there is none.
    pub outcome: Result<ExecutionResult, RunError>,
    /// Whether the saving policy kept the execution (`true`) or deleted it; an error when
    /// its end could not be stored.
    pub stored: Result<bool, StoreError>,
}

/// An execution under way.
#[derive(Debug)]
pub struct Execution {
    /// Its id (`$execution.id`).
    pub id: String,
    ended: JoinHandle<Ended>,
}

impl Execution {
    /// Waits until the execution ended and its end is stored.
    pub async fn wait(self) -> Ended {
        match self.ended.await {
            Ok(ended) => ended,
            // The recording task itself never panics (the run's panics are caught inside);
            // if it was aborted, the end may not be stored.
            Err(e) => {
                tracing::error!(execution_id = %self.id, error = %e, "the execution task ended early");
                Ended {
                    outcome: Err(RunError::Panicked),
                    stored: Err(StoreError::Interrupted),
                }
            }
        }
    }
}

/// Starts executions and records them; cheap to clone.
#[derive(Clone)]
pub struct Runner {
    store: WorkflowStore,
    executor: Executor,
}

impl Runner {
    /// A runner storing in `store` and running with `executor`.
    pub fn new(store: WorkflowStore, executor: Executor) -> Self {
        Self { store, executor }
    }

    /// Starts `request` and returns once its `running` row is committed; the run goes on
    /// in its own task, see the module docs. When the row cannot be written the run is
    /// stopped and the database's error returned.
    ///
    /// Boxed because an execution may start another (its error workflow), so the future
    /// refers to itself.
    pub fn start(
        &self,
        request: ExecutionRequest,
    ) -> Pin<Box<dyn Future<Output = Result<Execution, StoreError>> + Send + '_>> {
        Box::pin(self.start_inner(request, 0))
    }

    /// [`Runner::start`] for a workflow called `depth` deep by Execute Workflow nodes.
    pub fn start_nested(
        &self,
        request: ExecutionRequest,
        depth: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Execution, StoreError>> + Send + '_>> {
        Box::pin(self.start_inner(request, depth))
    }

    async fn start_inner(
        &self,
        request: ExecutionRequest,
        depth: usize,
    ) -> Result<Execution, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let mode = request.mode;
        let begun = self
            .store
            .begin_execution(&id, &request.workflow_id, mode.as_str())
            .await;
        let run = RunRequest {
            workflow: request.workflow.clone(),
            execution_id: id.clone(),
            mode,
            start_node: request.start_node,
            items: request.items,
            cancel: begun.cancel.clone(),
            respond_early: request.respond,
        };
        let ended = tokio::spawn(record(
            self.clone(),
            request.workflow_id,
            run,
            request.workflow,
            depth,
            None,
        ));
        match begun.stored().await {
            Ok(()) => {
                crate::metrics::engine()
                    .started
                    .get_or_create(&crate::metrics::ModeLabels {
                        mode: mode.as_str().to_owned(),
                    })
                    .inc();
                Ok(Execution { id, ended })
            }
            Err(e) => {
                ended.abort();
                self.store.forget_running(&id);
                Err(e)
            }
        }
    }

    /// Resumes every waiting execution that is due, then again every `every`, until the
    /// task is aborted (shutdown). Each is claimed in the database first, so one resumes
    /// once even when two ticks (or processes) see it.
    pub fn spawn_wait_tracker(&self, every: Duration) -> JoinHandle<()> {
        let runner = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let due = match runner.store.due_waiting(chrono::Utc::now()).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(error = %e, "waiting executions could not be read");
                        continue;
                    }
                };
                for (id, workflow_id, mode) in due {
                    if let Err(e) = runner.resume(&id, &workflow_id, &mode, None).await {
                        tracing::warn!(execution_id = %id, error = %e, "a waiting execution could not resume");
                    }
                }
            }
        })
    }

    /// Claims waiting execution `id` and runs the rest of it on its own task; with `items`
    /// (a webhook call's), its Wait node passes those on. `None` when it was not waiting
    /// any more (taken by another call or tick), or could not resume (stored as failed).
    pub async fn resume(
        &self,
        id: &str,
        workflow_id: &str,
        mode: &str,
        items: Option<Vec<Item>>,
    ) -> Result<Option<Execution>, StoreError> {
        let Some((state, cancel)) = self.store.claim_waiting(id).await? else {
            return Ok(None);
        };
        let fail = |message: String| async move {
            self.store.mark_failed(id, &message).await.map(|()| None)
        };
        let mut state: ResumeState = match serde_json::from_str(&state) {
            Ok(state) => state,
            Err(e) => {
                return fail(format!(
                    "the execution could not resume: its stored state is unreadable ({e})"
                ))
                .await
            }
        };
        let workflow = match self.store.get(workflow_id).await {
            Ok(stored) => stored.workflow,
            Err(StoreError::NotFound { .. }) => {
                return fail("the execution could not resume: its workflow was deleted".into())
                    .await
            }
            Err(e) => {
                self.store.forget_running(id);
                return Err(e);
            }
        };
        if let Some(items) = items {
            state.resume_with(items);
        }
        let workflow = Arc::new(workflow);
        let run = RunRequest {
            workflow: workflow.clone(),
            execution_id: id.to_string(),
            mode: mode_named(mode),
            start_node: None,
            items: Vec::new(),
            cancel,
            respond_early: None,
        };
        tracing::info!(execution_id = %id, "resuming a waiting execution");
        let ended = tokio::spawn(record(
            self.clone(),
            workflow_id.to_string(),
            run,
            workflow,
            0,
            Some(state),
        ));
        Ok(Some(Execution {
            id: id.to_string(),
            ended,
        }))
    }

    /// Stores a failed execution of workflow `workflow_id` that never ran, saying why (a
    /// polling trigger whose poll failed): users find it where they look for failures.
    pub async fn record_failure(
        &self,
        workflow_id: &str,
        mode: ExecutionMode,
        message: &str,
    ) -> Result<(), StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.store
            .start_execution(&id, workflow_id, mode.as_str())
            .await?;
        self.store.mark_failed(&id, message).await
    }

    /// Cancels every execution still running in this process (shutdown, after the drain
    /// time); their ends are stored as `canceled` by their own tasks.
    pub fn cancel_all(&self) -> usize {
        self.store.cancel_running()
    }
}

/// Runs one execution and stores its end.
async fn record(
    runner: Runner,
    workflow_id: String,
    run: RunRequest,
    workflow: Arc<Workflow>,
    depth: usize,
    resume: Option<ResumeState>,
) -> Ended {
    let Runner { store, executor } = runner.clone();
    let id = run.execution_id.clone();
    let mode = run.mode;
    let began = std::time::Instant::now();
    let running = async {
        match resume {
            Some(state) => executor.resume(run, state, depth).await,
            None => executor.run_nested(run, depth).await,
        }
    };
    let mut outcome = match AssertUnwindSafe(running).catch_unwind().await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(e)) => {
            tracing::warn!(execution_id = %id, error = %e, "execution could not start");
            Err(RunError::Workflow(e))
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(execution_id = %id, panic = %what, "a node panicked; the execution is recorded as failed");
            Err(RunError::Panicked)
        }
    };
    // The run data of an execution that is kept becomes text once; then its items go, all
    // but the last node's output (what a webhook's answer or a parent workflow reads), so
    // writing the row does not hold every node's items beside their text. A waiting
    // execution keeps everything (it is resumed); one not kept may be answered from memory.
    let data = match &mut outcome {
        Ok(result) if store.should_save(&workflow, mode.as_str(), result.status) => {
            let data = Arc::new(crate::store::data_text(result));
            if result.status != ExecutionStatus::Waiting {
                result.keep_last_output_only();
            }
            Some(data)
        }
        _ => None,
    };
    // A database that is down (restarting, failing over) must not leave the execution
    // `running` for good: the end is retried until it lands or the process stops (then the
    // next start marks it crashed).
    let store_end = || async {
        match &outcome {
            Ok(result) => {
                store
                    .finish_execution_by_policy(&id, &workflow, mode.as_str(), result, data.clone())
                    .await
            }
            Err(e) => store.mark_failed(&id, &e.to_string()).await.map(|()| true),
        }
    };
    let stored = store_end
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(5))
                .with_jitter()
                .without_max_times(),
        )
        .when(|e| matches!(e, StoreError::Database(_)))
        .notify(|e, wait| {
            tracing::warn!(execution_id = %id, error = %e, retry_in_ms = wait.as_millis() as u64,
                "the end of an execution could not be stored; retrying");
        })
        .await;
    if let Err(e) = &stored {
        tracing::error!(execution_id = %id, error = %e, "the end of an execution was not stored");
    }
    let metrics = crate::metrics::engine();
    let status = match &outcome {
        Ok(result) => match result.status {
            workflow::ExecutionStatus::Success => "success",
            workflow::ExecutionStatus::Error => "error",
            workflow::ExecutionStatus::Canceled => "canceled",
            workflow::ExecutionStatus::Waiting => "waiting",
        },
        Err(_) => "error",
    };
    metrics
        .finished
        .get_or_create(&crate::metrics::EndLabels {
            mode: mode.as_str().to_owned(),
            status: status.to_owned(),
        })
        .inc();
    metrics
        .duration
        .get_or_create(&crate::metrics::ModeLabels {
            mode: mode.as_str().to_owned(),
        })
        .observe(began.elapsed().as_secs_f64());
    if mode != ExecutionMode::Manual {
        if let Some(error) = failure_of(&outcome) {
            let failed = Failed {
                execution_id: id.clone(),
                workflow_id,
                workflow: workflow.clone(),
                mode,
                error,
                last_node: outcome.as_ref().ok().and_then(|r| r.last_node.clone()),
            };
            // On its own task: whoever waits for this execution (a webhook caller) is not
            // kept waiting for another one to start.
            tokio::spawn(async move { start_error_workflow(&runner, failed).await });
        }
    }
    Ended { outcome, stored }
}

/// The error of a failed outcome as n8n's error item shows it (`execution.error`); `None`
/// when the execution succeeded or was cancelled.
fn failure_of(outcome: &Result<ExecutionResult, RunError>) -> Option<Value> {
    match outcome {
        Ok(result) if result.status == ExecutionStatus::Error => {
            let failure = result.error.as_ref()?;
            let mut error = JsonObject::new();
            if let Some(Value::Object(node_error)) = failure
                .node_error
                .as_ref()
                .and_then(|e| serde_json::to_value(e).ok())
            {
                error.extend(node_error);
            }
            error.insert("message".into(), json!(failure.message));
            error.insert("stack".into(), json!(""));
            if let Some(node) = &failure.node {
                error.insert("node".into(), json!({"name": node}));
            }
            Some(Value::Object(error))
        }
        Ok(_) => None,
        Err(e) => Some(json!({"message": e.to_string(), "stack": ""})),
    }
}

/// A failed execution, as its error workflow hears of it.
struct Failed {
    execution_id: String,
    workflow_id: String,
    workflow: Arc<Workflow>,
    mode: ExecutionMode,
    error: Value,
    last_node: Option<String>,
}

/// n8n's `executeErrorWorkflow`: the workflow named by the `errorWorkflow` setting, or the
/// failed workflow itself when it holds an Error Trigger, starts at its Error Trigger with
/// the error item. An error workflow failing does not start itself again. Problems are
/// logged: the failed execution is stored already and nobody waits for this.
async fn start_error_workflow(runner: &Runner, failed: Failed) {
    let setting = failed
        .workflow
        .settings
        .as_ref()
        .and_then(|s| s.extra.get("errorWorkflow"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let has_error_trigger = |wf: &Workflow| {
        wf.nodes
            .iter()
            .find(|n| n.node_type == ERROR_TRIGGER && !n.is_disabled())
            .map(|n| n.name.clone())
    };
    let target = match setting {
        Some(id) if failed.mode == ExecutionMode::Error && id == failed.workflow_id.as_str() => {
            return
        }
        Some(id) => id.to_string(),
        None if failed.mode != ExecutionMode::Error
            && has_error_trigger(&failed.workflow).is_some() =>
        {
            failed.workflow_id.clone()
        }
        None => return,
    };
    let span = tracing::info_span!("error_workflow", execution_id = %failed.execution_id, error_workflow = %target);
    let stored = match runner.store.get(&target).await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(parent: &span, error = %e, "the error workflow could not be read; not started");
            return;
        }
    };
    let Some(start) = has_error_trigger(&stored.workflow) else {
        tracing::warn!(parent: &span, "the error workflow has no enabled Error Trigger; not started");
        return;
    };
    let mut execution = json!({
        "id": failed.execution_id,
        "error": failed.error,
        "mode": failed.mode.as_str(),
    });
    if let Some(last) = failed.last_node {
        execution["lastNodeExecuted"] = json!(last);
    }
    let item = json!({
        "execution": execution,
        "workflow": {"id": failed.workflow_id, "name": failed.workflow.name},
    });
    let items = match Item::from_value(item) {
        Ok(item) => vec![item],
        Err(e) => {
            tracing::warn!(parent: &span, error = %e.message, "the error item could not be built");
            return;
        }
    };
    let request = ExecutionRequest {
        workflow_id: stored.id.clone(),
        workflow: Arc::new(stored.workflow),
        mode: ExecutionMode::Error,
        start_node: Some(start),
        items,
        respond: None,
    };
    match runner.start(request).await {
        Ok(execution) => {
            tracing::info!(parent: &span, error_execution_id = %execution.id, "error workflow started");
        }
        Err(e) => {
            tracing::warn!(parent: &span, error = %e, "the error workflow could not start");
        }
    }
}

const ERROR_TRIGGER: &str = "n8n-nodes-base.errorTrigger";

/// The mode a stored execution was started in, by n8n's name.
fn mode_named(mode: &str) -> ExecutionMode {
    match mode {
        "manual" => ExecutionMode::Manual,
        "webhook" => ExecutionMode::Webhook,
        "retry" => ExecutionMode::Retry,
        "error" => ExecutionMode::Error,
        "integrated" => ExecutionMode::Integrated,
        _ => ExecutionMode::Trigger,
    }
}
const EXECUTE_WORKFLOW_TRIGGER: &str = "n8n-nodes-base.executeWorkflowTrigger";

/// Runs the stored workflows Execute Workflow nodes call, each as an execution of its own
/// (mode `integrated`, stored by the saving policy like any other).
pub struct SubWorkflows {
    runner: Runner,
}

impl SubWorkflows {
    /// Sub-workflows run by `runner`.
    pub fn new(runner: Runner) -> Self {
        Self { runner }
    }
}

#[async_trait::async_trait]
impl WorkflowRunner for SubWorkflows {
    async fn run_workflow(&self, call: SubWorkflowCall) -> Result<Option<Vec<Item>>, NodeError> {
        let stored = match self.runner.store.get(&call.workflow_id).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound { .. }) => {
                return Err(NodeError::operation(format!(
                    "Workflow \"{}\" does not exist",
                    call.workflow_id
                )))
            }
            Err(e) => {
                tracing::warn!(workflow_id = %call.workflow_id, error = %e, "a called workflow could not be read");
                return Err(NodeError::operation(format!(
                    "Workflow \"{}\" could not be read",
                    call.workflow_id
                )));
            }
        };
        let start = stored
            .workflow
            .nodes
            .iter()
            .find(|n| n.node_type == EXECUTE_WORKFLOW_TRIGGER && !n.is_disabled())
            .map(|n| n.name.clone())
            .ok_or_else(|| {
                NodeError::operation(format!(
                    "Workflow \"{}\" has no enabled Execute Workflow Trigger node to start from",
                    call.workflow_id
                ))
            })?;
        let request = ExecutionRequest {
            workflow_id: stored.id.clone(),
            workflow: Arc::new(stored.workflow),
            mode: ExecutionMode::Integrated,
            start_node: Some(start),
            items: call.items,
            respond: None,
        };
        let execution = self
            .runner
            .start_nested(request, call.depth)
            .await
            .map_err(|e| {
                tracing::warn!(workflow_id = %call.workflow_id, error = %e, "a called workflow could not start");
                NodeError::operation(format!(
                    "Workflow \"{}\" could not start: its execution could not be stored",
                    call.workflow_id
                ))
            })?;
        tracing::debug!(parent_execution_id = %call.parent_execution_id, execution_id = %execution.id, "sub-workflow started");
        if !call.wait {
            return Ok(None);
        }
        match execution.wait().await.outcome {
            Ok(result) if result.status == ExecutionStatus::Success => {
                Ok(Some(result.last_node_output().to_vec()))
            }
            // The child goes on when its wait ends; this parent cannot wait for it.
            Ok(result) if result.status == ExecutionStatus::Waiting => {
                Err(NodeError::operation(format!(
                    "Workflow \"{}\" stopped at its Wait node \"{}\": a called workflow that waits \
                     cannot return its output; set waitForSubWorkflow to false",
                    call.workflow_id,
                    result
                        .resume
                        .as_ref()
                        .map_or("", |s| s.wait_node.as_str())
                )))
            }
            Ok(result) => {
                let failure = result.error.as_ref();
                let mut error = failure
                    .and_then(|f| f.node_error.clone())
                    .unwrap_or_else(|| {
                        NodeError::operation(
                            failure.map_or("the called workflow failed", |f| f.message.as_str()),
                        )
                    });
                error.item_index = None;
                Err(error)
            }
            Err(e) => Err(NodeError::operation(e.to_string())),
        }
    }
}
