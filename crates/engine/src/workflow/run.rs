//! Run data: what each node produced, in n8n's `runData` shape, and the read-only view of it
//! that expressions (`$('Node')`, `$input`, `$node`) resolve against.

use std::collections::HashMap;
use std::sync::Arc;

use node_api::{Item, NodeError};
use serde::Serialize;

/// Where one input of a node run came from (n8n's `ISourceData`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceRef {
    /// The node whose output fed this input.
    pub previous_node: String,
    /// Which of its outputs.
    pub previous_node_output: usize,
    /// Which of its runs.
    pub previous_node_run: usize,
}

/// One run of one node: its outputs and where each of its inputs came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeRun {
    /// Items per output.
    pub outputs: Vec<Vec<Item>>,
    /// Source per input (`None` for a trigger or an input that received nothing).
    pub source: Vec<Option<SourceRef>>,
}

/// Every finished run so far, by node name.
pub type Runs = HashMap<String, Vec<Arc<NodeRun>>>;

/// The view of an execution that expressions of one node run evaluate against.
#[derive(Clone, Debug, Default)]
pub struct ExprData {
    /// Workflow id (`$workflow.id`).
    pub workflow_id: String,
    /// Workflow name (`$workflow.name`).
    pub workflow_name: String,
    /// Whether the workflow is active (`$workflow.active`).
    pub workflow_active: bool,
    /// Execution id (`$execution.id`).
    pub execution_id: String,
    /// Execution mode name (`$execution.mode`).
    pub execution_mode: String,
    /// The node whose parameters are being resolved.
    pub node_name: String,
    /// This node's run index (`$runIndex`).
    pub run_index: usize,
    /// Items of the node's input 0 (`$json`, `$input`).
    pub input: Arc<Vec<Item>>,
    /// Source of each input of this run.
    pub source: Vec<Option<SourceRef>>,
    /// Finished runs of every node.
    pub runs: Arc<Runs>,
}

impl ExprData {
    /// The input item `index` of input 0, if there is one.
    pub fn input_item(&self, index: usize) -> Option<&Item> {
        self.input.get(index)
    }

    fn last_run(&self, node: &str) -> Result<&NodeRun, String> {
        self.runs
            .get(node)
            .and_then(|r| r.last())
            .map(|r| r.as_ref())
            .ok_or_else(|| {
                format!("Referenced node \"{node}\" has not been executed (or does not exist)")
            })
    }

    /// Output 0 of `node`'s last run (`$('Node').all()`).
    pub fn node_items(&self, node: &str) -> Result<&[Item], String> {
        Ok(self
            .last_run(node)?
            .outputs
            .first()
            .map_or(&[][..], Vec::as_slice))
    }

    /// The item of `node` that the current input item `item_index` was derived from, found by
    /// walking `pairedItem` back along the sources (`$('Node').item`).
    pub fn paired_item(&self, node: &str, item_index: usize) -> Result<&Item, String> {
        let Some(Some(mut src)) = self.source.first().cloned() else {
            return Err(format!(
                "Can't get data for expression: node \"{}\" has no input to trace back to \"{node}\"",
                self.node_name
            ));
        };
        let mut index = item_index;
        // Bounded: a path back can visit each run at most once in an acyclic workflow, and
        // loops are bounded by the number of runs recorded.
        let limit: usize = self.runs.values().map(Vec::len).sum::<usize>() + 1;
        for _ in 0..limit {
            let run = self
                .runs
                .get(&src.previous_node)
                .and_then(|r| r.get(src.previous_node_run))
                .ok_or_else(|| format!("no run data for node \"{}\"", src.previous_node))?;
            let item = run
                .outputs
                .get(src.previous_node_output)
                .and_then(|o| o.get(index))
                .ok_or_else(|| {
                    format!(
                        "Can't get data for expression: item {index} of node \"{}\" does not exist",
                        src.previous_node
                    )
                })?;
            if src.previous_node == node {
                return Ok(item);
            }
            let (next_index, input) = match item.paired_item.first() {
                Some(r) => (r.item, r.input),
                // n8n guesses the same index when a node did not record pairing and has one input.
                None => (index, 0),
            };
            match run.source.get(input).cloned().flatten() {
                Some(s) => {
                    src = s;
                    index = next_index;
                }
                None => {
                    return Err(format!(
                        "Can't get data for expression: no path back from node \"{}\" to node \"{node}\"",
                        self.node_name
                    ))
                }
            }
        }
        Err(format!(
            "Can't get data for expression: no path back to node \"{node}\""
        ))
    }

    /// Item `item_index` of `node`'s last run (`$node["Node"].json`).
    ///
    /// As n8n's `WorkflowDataProxy` (`nodeDataGetter`): no fallback to another item. A node
    /// whose output is empty counts as not executed, and an index past the end is an error
    /// naming the node, how many items it has and the index asked for.
    pub fn node_item_at(&self, node: &str, item_index: usize) -> Result<&Item, String> {
        let items = self.node_items(node)?;
        if items.is_empty() {
            return Err(format!("Node '{node}' hasn't been executed"));
        }
        items.get(item_index).ok_or_else(|| {
            format!(
                "\"{node}\" node has {} item(s) but you're trying to access item {item_index}",
                items.len()
            )
        })
    }
}

/// A recorded node run in n8n's `runData` shape.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskData {
    /// Start, milliseconds since the epoch.
    pub start_time: i64,
    /// Duration in milliseconds.
    pub execution_time: i64,
    /// `success` or `error`.
    pub execution_status: &'static str,
    /// Where each input came from.
    pub source: Vec<Option<SourceRef>>,
    /// `{"main": [[items], ...]}`.
    pub data: TaskOutputs,
    /// The node's error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<NodeError>,
}

/// Outputs of a recorded run.
#[derive(Clone, Debug, Serialize)]
pub struct TaskOutputs {
    /// Items per output.
    pub main: Vec<Vec<Item>>,
}
