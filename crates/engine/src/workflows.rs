//! [`WorkflowService`]: what the API, the CLI, webhooks and triggers share to work with
//! workflows: the store, the executor, the credential check and the trigger runtime.

use std::sync::Arc;

use serde_json::Value;
use workflow::{validate, CredentialLookup, Executor, Workflow, WorkflowError};

use crate::runner::Runner;
use crate::store::WorkflowStore;
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
}
