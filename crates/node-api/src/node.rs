//! The [`Node`] and [`PollingTrigger`] traits plugins implement.

use async_trait::async_trait;
use serde_json::Value;

use crate::context::ExecuteContext;
use crate::description::NodeDescription;
use crate::error::NodeError;
use crate::item::{Item, JsonObject};

/// A node that turns input items into output items.
#[async_trait]
pub trait Node: Send + Sync {
    /// The node type's identity and shape.
    fn description(&self) -> &NodeDescription;

    /// Runs the node over all items of input 0 (other inputs via [`ExecuteContext::input`]).
    /// Returns one vector of items per output, in output order.
    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError>;

    /// How many `main` outputs the node has with these (saved, unresolved) parameters. Most
    /// nodes have a fixed number ([`NodeDescription::outputs`]); a Switch has one per rule,
    /// and the error output of `continueErrorOutput` comes after them.
    fn output_count(&self, _parameters: &JsonObject) -> usize {
        self.description().outputs
    }

    /// What is wrong with the saved parameters, checked when a workflow is saved. The
    /// declared rules ([`NodeDescription::parameter_problems`]) by default; a node adds the
    /// rules its declarations cannot say (one value that depends on another, a language it
    /// does not run).
    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        self.description().parameter_problems(parameters)
    }
}

/// Why a poll is happening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollMode {
    /// A user pressed "fetch test event": return a sample (n8n uses `LIMIT 1`), keep state.
    Manual,
    /// A scheduled poll of an active workflow.
    Trigger,
}

/// A trigger that the engine calls on its `pollTimes` schedule.
#[async_trait]
pub trait PollingTrigger: Send + Sync {
    /// The trigger type's identity and shape.
    fn description(&self) -> &NodeDescription;

    /// What is wrong with the saved parameters, checked when a workflow is saved: the
    /// declared rules by default; a trigger adds what its declarations cannot say (an option
    /// it does not implement, a number out of range).
    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        self.description().parameter_problems(parameters)
    }

    /// Looks for new data. `state` is persisted by the engine per workflow and node, and saved
    /// only after the execution that received the items is stored; a failed poll keeps the old
    /// state. Returns `None` when there is nothing new.
    async fn poll(
        &self,
        ctx: &dyn ExecuteContext,
        state: &mut Value,
        mode: PollMode,
    ) -> Result<Option<Vec<Item>>, NodeError>;
}
