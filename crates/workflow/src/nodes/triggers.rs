//! Trigger nodes whose data comes from the engine: Manual Trigger, Webhook, Error Trigger
//! and Execute Workflow Trigger.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError, ParameterSpec};

use super::describe;

/// `n8n-nodes-base.manualTrigger`: starts an execution by hand.
pub struct ManualTrigger(NodeDescription);

impl ManualTrigger {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("manualTrigger", "Manual Trigger", &[1.0]);
        d.inputs = 0;
        d.trigger = true;
        Self(d)
    }
}

#[async_trait]
impl Node for ManualTrigger {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        // n8n's manual trigger emits one empty item unless the run was given items.
        if input.is_empty() {
            return Ok(vec![vec![Item::new(JsonObject::new())]]);
        }
        Ok(vec![input])
    }
}

/// `n8n-nodes-base.errorTrigger`: starts a workflow named as another workflow's
/// `errorWorkflow` setting when a production execution of that one fails; the engine hands
/// it n8n's error item (`execution` and `workflow`).
pub struct ErrorTrigger(NodeDescription);

impl ErrorTrigger {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("errorTrigger", "Error Trigger", &[1.0]);
        d.inputs = 0;
        d.trigger = true;
        Self(d)
    }
}

#[async_trait]
impl Node for ErrorTrigger {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        if !input.is_empty() {
            return Ok(vec![input]);
        }
        // Run by hand there is no failed execution: n8n shows this example item.
        let example = serde_json::json!({
            "execution": {
                "id": "231",
                "url": "https://n8n.example.com/execution/231",
                "retryOf": "34",
                "error": {"message": "Example Error Message", "stack": "Stacktrace"},
                "lastNodeExecuted": "Node With Error",
                "mode": "manual"
            },
            "workflow": {"id": "1", "name": "Example Workflow"}
        });
        Ok(vec![vec![Item::from_value(example)?]])
    }
}

/// `n8n-nodes-base.webhook`: the engine turns the HTTP request into its one item
/// (`headers`, `params`, `query`, `body`, `webhookUrl`, `executionMode`).
pub struct Webhook(NodeDescription);

impl Webhook {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("webhook", "Webhook", &[1.0, 1.1, 2.0, 2.1]);
        d.inputs = 0;
        d.trigger = true;
        d.parameters.push(ParameterSpec::required("path"));
        Self(d)
    }
}

#[async_trait]
impl Node for Webhook {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        Ok(vec![input])
    }
}
