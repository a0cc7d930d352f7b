//! Trigger nodes whose data comes from the engine: Manual Trigger and Webhook.

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
