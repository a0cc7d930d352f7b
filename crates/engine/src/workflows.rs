//! [`WorkflowService`]: what the API, the CLI, webhooks and triggers share to work with
//! workflows: the store, the executor, the credential check and the trigger runtime.

use std::sync::Arc;

use serde_json::Value;
use workflow::{validate, CredentialLookup, Executor, Workflow, WorkflowError};

use crate::error::ApiError;
use crate::runner::Runner;
use crate::store::{StoredWorkflow, WorkflowStore};
use crate::test_webhooks::TestWebhooks;
use crate::triggers::TriggerRuntime;

/// Workflows and their executions: storage, running, triggers.
pub struct WorkflowService {
    /// Where workflows and executions live.
    pub store: WorkflowStore,
    /// Runs workflows (the runner uses it; validation and polls ask it too).
    pub executor: Executor,
    /// Starts and records every execution.
    pub runner: Runner,
    /// Checks credential references on save; `None` skips that check.
    pub credentials: Option<Arc<dyn CredentialLookup>>,
    /// The schedules and polling triggers of active workflows.
    pub triggers: TriggerRuntime,
    /// The armed `/webhook-test/` routes.
    pub test_webhooks: TestWebhooks,
    /// Runs the workflows Execute Workflow nodes call; the executor holds it weakly, so it
    /// lives here.
    pub sub_workflows: Arc<crate::runner::SubWorkflows>,
}

impl WorkflowService {
    /// The service over `store` and `executor`, checking credential references with
    /// `credentials` (none: no check), with schedules in `triggers`' time zone.
    pub fn new(
        store: WorkflowStore,
        executor: Executor,
        credentials: Option<Arc<dyn CredentialLookup>>,
        triggers: TriggerRuntime,
    ) -> Self {
        let runner = Runner::new(store.clone(), executor.clone());
        let sub_workflows = Arc::new(crate::runner::SubWorkflows::new(runner.clone()));
        let weak: std::sync::Weak<dyn node_api::WorkflowRunner> =
            Arc::downgrade(&sub_workflows) as _;
        executor.set_workflow_runner(weak);
        Self {
            runner,
            store,
            executor,
            credentials,
            triggers,
            test_webhooks: TestWebhooks::default(),
            sub_workflows,
        }
    }

    /// Parses n8n workflow JSON and validates it against the node types and credentials.
    pub async fn parse_and_validate(&self, json: Value) -> Result<Workflow, WorkflowError> {
        let wf = Workflow::from_value(json)?;
        validate(&wf, self.executor.registry(), self.credentials.as_deref()).await?;
        Ok(wf)
    }

    /// Starts workflow `id`'s triggers and marks it active; a trigger that cannot start
    /// (bad cron, unknown time zone) is refused naming the node, and nothing changes.
    pub async fn activate(self: &Arc<Self>, id: &str) -> Result<StoredWorkflow, ApiError> {
        let _changing = self.triggers.changing().await;
        let stored = self.store.get(id).await?;
        let plans = self
            .triggers
            .plan(&stored.workflow, self.executor.registry())?;
        let stored = self.store.set_active(id, true).await?;
        self.triggers.start(self, &stored, plans).await;
        Ok(stored)
    }

    /// Stops workflow `id`'s triggers: no execution starts from them once this returns.
    pub async fn deactivate(&self, id: &str) -> Result<StoredWorkflow, ApiError> {
        let _changing = self.triggers.changing().await;
        let stored = self.store.set_active(id, false).await?;
        self.triggers.stop(id).await;
        Ok(stored)
    }

    /// Deletes workflow `id` with its executions and trigger state; returns it as it was.
    pub async fn delete(&self, id: &str) -> Result<StoredWorkflow, ApiError> {
        let _changing = self.triggers.changing().await;
        let w = self.store.get(id).await?;
        self.triggers.stop(id).await;
        self.store.delete(id).await?;
        self.store.delete_trigger_states(id).await?;
        Ok(w)
    }
}
