//! No Operation: passes its items through.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, Node, NodeDescription, NodeError};

use super::describe;

/// `n8n-nodes-base.noOp`: passes items through.
pub struct NoOp(NodeDescription);

impl NoOp {
    /// The node.
    pub fn new() -> Self {
        Self(describe("noOp", "No Operation, do nothing", &[1.0]))
    }
}

#[async_trait]
impl Node for NoOp {
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
