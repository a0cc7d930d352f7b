//! Run data: what each node produced, in n8n's `runData` shape, and the read-only view of it
//! that expressions (`$('Node')`, `$input`, `$node`) resolve against.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use node_api::{Item, ItemRef, JsonObject, NodeError, PairedSource};
use serde::Serialize;

use super::model::NodeConnections;

/// Where one input of a node run came from (n8n's `ISourceData`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceRef {
    /// The node whose output fed this input.
    pub previous_node: String,
    /// Which of its outputs.
    pub previous_node_output: usize,
    /// Which of its runs.
    pub previous_node_run: usize,
}

/// A node run's items per output, shared by the recorded run data ([`TaskOutputs`]) and the
/// expression view ([`NodeRun`]) instead of held twice.
pub type Outputs = Arc<Vec<Vec<Item>>>;

/// One run of one node: its outputs and where each of its inputs came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeRun {
    /// Items per output.
    pub outputs: Outputs,
    /// Source per input (`None` for a trigger or an input that received nothing).
    pub source: Vec<Option<SourceRef>>,
}

/// Every finished run so far, by node name.
pub type Runs = HashMap<String, Vec<Arc<NodeRun>>>;

/// Each node's context for the execution (n8n's `getContext('node')`), by node name: what a
/// node keeps between its runs (Loop Over Items' remaining items), readable by expressions as
/// `$('Node').context`.
pub type NodeContexts = Mutex<HashMap<String, JsonObject>>;

impl From<&PairedSource> for SourceRef {
    fn from(s: &PairedSource) -> Self {
        Self {
            previous_node: s.previous_node.clone(),
            previous_node_output: s.previous_node_output,
            previous_node_run: s.previous_node_run,
        }
    }
}

impl From<&SourceRef> for PairedSource {
    fn from(s: &SourceRef) -> Self {
        Self {
            previous_node: s.previous_node.clone(),
            previous_node_output: s.previous_node_output,
            previous_node_run: s.previous_node_run,
        }
    }
}

/// `main` connections by destination node: per input index, the `(source node, source output)`
/// pairs feeding it, in the order n8n's `connectionsByDestinationNode` lists them (source nodes
/// in key order, then their outputs in ascending order, then each output's targets).
pub type Parents = HashMap<String, Vec<Vec<(String, usize)>>>;

/// Builds [`Parents`] from a workflow's connections (keyed by source node).
pub fn parents_of(connections: &BTreeMap<String, NodeConnections>) -> Parents {
    let mut parents = Parents::new();
    for (source, types) in connections {
        let Some(outputs) = types.get("main") else {
            continue;
        };
        for (output, targets) in outputs.iter().enumerate() {
            for target in targets.iter().flatten() {
                let inputs = parents.entry(target.node.clone()).or_default();
                if inputs.len() <= target.index {
                    inputs.resize(target.index + 1, Vec::new());
                }
                inputs[target.index].push((source.clone(), output));
            }
        }
    }
    parents
}

/// Where an item is recorded: node, run, output, index.
type ItemAt<'a> = (&'a str, usize, usize, usize);

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
    /// The workflow's `main` connections by destination, to find which output of a referenced
    /// node leads to this one.
    pub parents: Arc<Parents>,
    /// Every node's context (`$('Node').context`), live.
    pub contexts: Arc<NodeContexts>,
    /// The workflow's time zone (IANA name), the zone of `$now` and `$today`.
    pub timezone: String,
    /// Where a call resumes this execution at a Wait node (`$execution.resumeUrl`).
    pub resume_url: String,
}

impl ExprData {
    /// The input item `index` of input 0, if there is one.
    pub fn input_item(&self, index: usize) -> Option<&Item> {
        self.input.get(index)
    }

    /// Run `run` of `node` (its last run when `None`), as n8n's `getNodeExecutionData`.
    fn node_run(&self, node: &str, run: Option<usize>) -> Result<&NodeRun, String> {
        let runs = self.runs.get(node).ok_or_else(|| {
            format!("Referenced node \"{node}\" has not been executed (or does not exist)")
        })?;
        let index = run.unwrap_or(runs.len().saturating_sub(1));
        runs.get(index)
            .map(|r| r.as_ref())
            .ok_or_else(|| format!("Run {index} of node \"{node}\" not found"))
    }

    /// The output of `node` that leads to the current node: n8n's
    /// `Workflow.getNodeConnectionIndexes`, a breadth-first search back from the current node
    /// over `main` connections (inputs in order, each input's sources in order) that answers
    /// the source output of the first connection from `node` it meets. `None` when `node` is
    /// not upstream of the current node.
    pub fn connected_output(&self, node: &str) -> Option<usize> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([self.node_name.as_str()]);
        while let Some(current) = queue.pop_front() {
            if !seen.insert(current) {
                continue;
            }
            let Some(inputs) = self.parents.get(current) else {
                continue;
            };
            for (source, output) in inputs.iter().flatten() {
                if source == node {
                    return Some(*output);
                }
                if !seen.contains(source.as_str()) {
                    queue.push_back(source);
                }
            }
        }
        None
    }

    /// The items of one output of `node` (`$('Node').first()`, `.last()`, `.all()`).
    ///
    /// As n8n: `branch` defaults to the output of `node` that leads to the current node
    /// ([`Self::connected_output`]), or 0 when it leads nowhere here; `run` defaults to the
    /// last run. A branch the node does not have is an error naming it.
    pub fn node_items(
        &self,
        node: &str,
        branch: Option<usize>,
        run: Option<usize>,
    ) -> Result<&[Item], String> {
        let found = self.node_run(node, run)?;
        let branch = branch.or_else(|| self.connected_output(node)).unwrap_or(0);
        if found.outputs.is_empty() {
            return Ok(&[]);
        }
        found
            .outputs
            .get(branch)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("Node \"{node}\" has no branch with index {branch}."))
    }

    /// The item of `node` that the current input item `item_index` was derived from, found by
    /// walking `pairedItem` back along the sources (`$('Node').item`).
    ///
    /// As n8n's `getPairedItem`: an item paired with several items (a Merge combining by
    /// position) is followed along each of them; paths that do not reach `node` are dropped,
    /// and if the rest do not all end at the same item the answer is ambiguous, an error.
    pub fn paired_item(&self, node: &str, item_index: usize) -> Result<&Item, String> {
        let Some(Some(src)) = self.source.first() else {
            return Err(format!(
                "Can't get data for expression: node \"{}\" has no input to trace back to \"{node}\"",
                self.node_name
            ));
        };
        // Bounded: a path back visits each recorded run at most once.
        let depth: usize = self.runs.values().map(Vec::len).sum::<usize>() + 1;
        self.trace(node, src, item_index, depth)
            .map(|(_, item)| item)
    }

    /// Follows item `index` of the output `src` names back to `node`; the answer carries where
    /// the item found is recorded, so that several paths can be compared.
    fn trace<'a>(
        &'a self,
        node: &str,
        src: &SourceRef,
        index: usize,
        depth: usize,
    ) -> Result<(ItemAt<'a>, &'a Item), String> {
        let (name, runs) = self
            .runs
            .get_key_value(&src.previous_node)
            .ok_or_else(|| format!("no run data for node \"{}\"", src.previous_node))?;
        let run = runs
            .get(src.previous_node_run)
            .ok_or_else(|| format!("no run data for node \"{name}\""))?;
        let item = run
            .outputs
            .get(src.previous_node_output)
            .and_then(|o| o.get(index))
            .ok_or_else(|| {
                format!(
                    "Can't get data for expression: item {index} of node \"{name}\" does not exist"
                )
            })?;
        let no_path = || {
            format!(
                "Can't get data for expression: no path back from node \"{}\" to node \"{node}\"",
                self.node_name
            )
        };
        if name == node {
            let at = (
                name.as_str(),
                src.previous_node_run,
                src.previous_node_output,
                index,
            );
            return Ok((at, item));
        }
        if depth == 0 {
            return Err(no_path());
        }
        // n8n guesses the same index when a node did not record pairing and has one input.
        // An item a loop node hands out again names the run it first came from
        // (`sourceOverwrite`), which replaces the run's own source.
        let guess = [ItemRef::new(index, 0)];
        let refs: &[ItemRef] = if item.paired_item.is_empty() {
            &guess
        } else {
            &item.paired_item
        };
        let step = |r: &ItemRef| match (&r.source_overwrite, run.source.get(r.input)) {
            (Some(overwrite), _) => {
                self.trace(node, &SourceRef::from(overwrite), r.item, depth - 1)
            }
            (None, Some(Some(s))) => self.trace(node, s, r.item, depth - 1),
            _ => Err(no_path()),
        };
        if let [only] = refs {
            return step(only);
        }
        let found: Vec<_> = refs.iter().filter_map(|r| step(r).ok()).collect();
        match found.first() {
            None => Err(no_path()),
            Some(first) if found.iter().all(|f| f.0 == first.0) => Ok(*first),
            Some(_) => Err(format!(
                "Multiple matching items for expression [item {index}]: node \"{name}\" combined \
                 items that come from different items of node \"{node}\""
            )),
        }
    }

    /// Item `item_index` of `node`'s last run (`$node["Node"].json`), read from the output of
    /// `node` that leads to the current node.
    ///
    /// As n8n's `WorkflowDataProxy` (`nodeDataGetter` / `getNodeExecutionData`): a node that
    /// does not lead here is an error asking to connect them; no fallback to another item. A
    /// node whose output is empty counts as not executed, and an index past the end is an error
    /// naming the node, how many items it has and the index asked for.
    pub fn node_item_at(&self, node: &str, item_index: usize) -> Result<&Item, String> {
        let found = self.node_run(node, None)?;
        let Some(branch) = self.connected_output(node) else {
            return Err(format!("connect \"{}\" to \"{node}\"", self.node_name));
        };
        let items = match found.outputs.get(branch) {
            Some(items) => items.as_slice(),
            None if found.outputs.is_empty() => &[],
            None => {
                return Err(format!(
                    "Node \"{node}\" has no branch with index {branch}."
                ))
            }
        };
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
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskData {
    /// Start, milliseconds since the epoch.
    pub start_time: i64,
    /// Duration in milliseconds.
    pub execution_time: i64,
    /// `success` or `error`.
    pub execution_status: String,
    /// Where each input came from.
    pub source: Vec<Option<SourceRef>>,
    /// `{"main": [[items], ...]}`.
    pub data: TaskOutputs,
    /// The node's error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<NodeError>,
    /// Warnings the node raised (n8n's execution hints).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<Hint>,
}

/// A warning recorded with a node's run, in n8n's hint shape.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Hint {
    /// What happened.
    pub message: String,
    /// Always `warning` here.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Hint {
    /// A warning hint.
    pub fn warning(message: String) -> Self {
        Self {
            message,
            kind: "warning".to_owned(),
        }
    }
}

/// Outputs of a recorded run.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct TaskOutputs {
    /// Items per output (shared with the run's [`NodeRun`]).
    #[serde(serialize_with = "ser_outputs", deserialize_with = "de_outputs")]
    pub main: Outputs,
}

fn ser_outputs<S: serde::Serializer>(outputs: &Outputs, serializer: S) -> Result<S::Ok, S::Error> {
    outputs.as_slice().serialize(serializer)
}

fn de_outputs<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Outputs, D::Error> {
    <Vec<Vec<Item>> as serde::Deserialize>::deserialize(deserializer).map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Workflow;
    use serde_json::json;

    /// The view of `node` in a workflow whose connections are `(from, output, to, input)`.
    fn view(node: &str, connections: &[(&str, usize, &str, usize)]) -> ExprData {
        let mut conns = serde_json::Map::new();
        for (from, out, to, input) in connections {
            let main = conns
                .entry(from.to_string())
                .or_insert_with(|| json!({"main": []}))["main"]
                .as_array_mut()
                .unwrap();
            while main.len() <= *out {
                main.push(json!([]));
            }
            main[*out]
                .as_array_mut()
                .unwrap()
                .push(json!({"node": to, "type": "main", "index": input}));
        }
        let wf = Workflow::from_value(json!({"nodes": [], "connections": conns})).unwrap();
        ExprData {
            node_name: node.into(),
            parents: Arc::new(parents_of(&wf.connections)),
            ..ExprData::default()
        }
    }

    #[test]
    fn the_nearest_connection_back_gives_the_output() {
        // X reaches Use directly from output 1 and, one step further, from output 0.
        let d = view(
            "Use",
            &[("X", 0, "Mid", 0), ("Mid", 0, "Use", 0), ("X", 1, "Use", 1)],
        );
        assert_eq!(d.connected_output("X"), Some(1));
        assert_eq!(d.connected_output("Mid"), Some(0));
        assert_eq!(d.connected_output("Use"), None);
        assert_eq!(d.connected_output("Nowhere"), None);
        // Both outputs into the same input: the lower output is listed, so found, first.
        let d = view("Use", &[("X", 1, "Use", 0), ("X", 0, "Use", 0)]);
        assert_eq!(d.connected_output("X"), Some(0));
        // A loop back does not make the search go round for ever.
        let d = view("B", &[("A", 0, "B", 0), ("B", 0, "A", 0)]);
        assert_eq!(d.connected_output("Z"), None);
        assert_eq!(d.connected_output("A"), Some(0));
    }
}
