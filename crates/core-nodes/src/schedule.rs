//! `n8n-nodes-base.scheduleTrigger` v1.x. The engine's trigger runtime fires it on its rules
//! (read with [`workflow::schedule::ScheduleRule`]) and hands it the fire's item.

use async_trait::async_trait;
use chrono::Utc;
use chrono_tz::Tz;
use node_api::{ExecuteContext, Item, Node, NodeDescription, NodeError};
use workflow::schedule::fired_item;

use super::describe;

/// The Schedule Trigger node.
pub struct ScheduleTrigger(NodeDescription);

impl ScheduleTrigger {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("scheduleTrigger", "Schedule Trigger", &[1.0, 1.1, 1.2, 1.3]);
        d.inputs = 0;
        d.trigger = true;
        Self(d)
    }
}

#[async_trait]
impl Node for ScheduleTrigger {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        // The trigger runtime hands over the item of the fire, and the executor makes the
        // item of a manual run in the workflow's zone; called any other way, one now in UTC.
        if !input.is_empty() {
            return Ok(vec![input]);
        }
        Ok(vec![vec![fired_item(Utc::now(), Tz::UTC)]])
    }
}
