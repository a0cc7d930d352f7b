//! `n8n-nodes-base.filter` v2: keeps the items matching the conditions.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, Node, NodeDescription, NodeError};

use super::{conditions, describe};

/// The Filter node.
pub struct Filter(NodeDescription);

impl Filter {
    /// The node.
    pub fn new() -> Self {
        Self(describe("filter", "Filter", &[2.0, 2.1, 2.2]))
    }
}

#[async_trait]
impl Node for Filter {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let mut kept = Vec::new();
        for (i, item) in input.into_iter().enumerate() {
            match ctx.parameters(i).and_then(|p| conditions::evaluate(&p, i)) {
                Ok(true) => kept.push(item.paired_with(i)),
                Ok(false) => {}
                // With continue-on-fail an item whose conditions fail to evaluate is dropped.
                Err(_) if ctx.continue_on_fail() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(vec![kept])
    }
}
