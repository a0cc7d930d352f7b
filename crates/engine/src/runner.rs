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
//! 4. shutdown cancels what is still running after the drain time, and waits for those ends.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures::FutureExt;
use node_api::{ExecutionMode, Item, WebhookResponse};
use tokio::task::JoinHandle;
use workflow::{ExecutionResult, Executor, RunRequest, Workflow, WorkflowError};

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
    pub async fn start(&self, request: ExecutionRequest) -> Result<Execution, StoreError> {
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
            self.store.clone(),
            self.executor.clone(),
            run,
            request.workflow,
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
    store: WorkflowStore,
    executor: Executor,
    run: RunRequest,
    workflow: Arc<Workflow>,
) -> Ended {
    let id = run.execution_id.clone();
    let mode = run.mode;
    let began = std::time::Instant::now();
    let outcome = match AssertUnwindSafe(executor.run(run)).catch_unwind().await {
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
    // A database that is down (restarting, failing over) must not leave the execution
    // `running` for good: the end is retried until it lands or the process stops (then the
    // next start marks it crashed).
    let store_end = || async {
        match &outcome {
            Ok(result) => {
                store
                    .finish_execution_by_policy(&id, &workflow, mode.as_str(), result)
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
    Ended { outcome, stored }
}
