//! [`WorkflowService`]: what the API, the CLI, webhooks and triggers share to work with
//! workflows: the store, the executor, the credential check and the trigger runtime.

use std::sync::Arc;

use serde_json::Value;
use workflow::{validate, CredentialLookup, Executor, Workflow, WorkflowError};

use crate::store::WorkflowStore;
use crate::triggers::TriggerRuntime;

/// Workflows and their executions: storage, running, triggers.
pub struct WorkflowService {
    /// Where workflows and executions live.
    pub store: WorkflowStore,
    /// Runs workflows.
    pub executor: Executor,
    /// Checks credential references on save; `None` skips that check.
    pub credentials: Option<Arc<dyn CredentialLookup>>,
    /// The schedules and polling triggers of active workflows.
    pub triggers: TriggerRuntime,
}

impl WorkflowService {
    /// Parses n8n workflow JSON and validates it against the node types and credentials.
    pub async fn parse_and_validate(&self, json: Value) -> Result<Workflow, WorkflowError> {
        let wf = Workflow::from_value(json)?;
        validate(&wf, self.executor.registry(), self.credentials.as_deref()).await?;
        Ok(wf)
    }
}
