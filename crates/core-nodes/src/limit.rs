//! `n8n-nodes-base.limit` v1: keeps the first or the last `maxItems` items.
//!
//! Items keep the pairing they came with, as n8n passes its input items on unchanged.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError};

use super::{choice, describe};

/// The Limit node.
pub struct Limit(NodeDescription);

impl Limit {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("limit", "Limit", &[1.0]);
        d.parameters
            .push(choice("keep", "firstItems", &["firstItems", "lastItems"]));
        Self(d)
    }
}

#[async_trait]
impl Node for Limit {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        if let Some(max) = parameters.get("maxItems") {
            let expression = max.as_str().is_some_and(|s| s.starts_with('='));
            if !expression && max.as_f64().is_none_or(|n| n < 1.0) {
                problems.push(format!(
                    "Parameter \"maxItems\" must be a number of at least 1, got {max}"
                ));
            }
        }
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let p = ctx.parameters(0)?;
        let max = p.number_or("maxItems", 1.0)?;
        let keep_last = p.string_or("keep", "firstItems")? == "lastItems";
        if max.is_nan() || max >= input.len() as f64 {
            return Ok(vec![input]);
        }
        // JavaScript's slice: a negative or fractional count behaves as n8n's does.
        let max = max.max(0.0).trunc() as usize;
        let mut items = input;
        if keep_last {
            let from = items.len() - max;
            items.drain(..from);
        } else {
            items.truncate(max);
        }
        Ok(vec![items])
    }
}
