//! Stop and Error: fails the execution with a message or an error object.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, Node, NodeDescription, NodeError};

use super::describe;

/// `n8n-nodes-base.stopAndError`: fails the execution with a message or an error object.
pub struct StopAndError(NodeDescription);

impl StopAndError {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("stopAndError", "Stop and Error", &[1.0]);
        d.outputs = 0;
        Self(d)
    }
}

#[async_trait]
impl Node for StopAndError {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        _input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let p = ctx.parameters(0)?;
        let error = match p.string_or("errorType", "errorMessage")? {
            "errorObject" => {
                let raw = p.get("errorObject").cloned().unwrap_or_default();
                let obj = match raw {
                    serde_json::Value::String(s) => serde_json::from_str(&s).map_err(|e| {
                        NodeError::parameter(format!(
                            "Parameter \"errorObject\" must be a JSON object: {e}"
                        ))
                    })?,
                    other => other,
                };
                let message = obj
                    .get("message")
                    .or_else(|| obj.get("description"))
                    .or_else(|| obj.get("error"))
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| obj.to_string());
                let mut e = NodeError::operation(message);
                if let Some(d) = obj.get("description").and_then(|d| d.as_str()) {
                    e = e.with_description(d);
                }
                e
            }
            _ => NodeError::operation(p.string("errorMessage")?),
        };
        Err(error)
    }
}
