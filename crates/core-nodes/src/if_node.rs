//! `n8n-nodes-base.if` v2: items matching the conditions go to output 0 ("true"), the rest
//! to output 1 ("false").

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, Node, NodeDescription, NodeError};

use super::{conditions, describe};

/// The If node.
pub struct If(NodeDescription);

impl If {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("if", "If", &[2.0, 2.1, 2.2]);
        d.outputs = 2;
        Self(d)
    }
}

#[async_trait]
impl Node for If {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let mut yes = Vec::new();
        let mut no = Vec::new();
        for (i, item) in input.into_iter().enumerate() {
            let matched = ctx.parameters(i).and_then(|p| conditions::evaluate(&p, i));
            match matched {
                Ok(true) => yes.push(item.paired_with(i)),
                Ok(false) => no.push(item.paired_with(i)),
                // n8n sends a failing item down the false branch when continuing on failure.
                Err(_) if ctx.continue_on_fail() => no.push(item.paired_with(i)),
                Err(e) => return Err(e),
            }
        }
        Ok(vec![yes, no])
    }
}
