//! `n8n-nodes-base.splitInBatches` v3 ("Loop Over Items"): hands its input out in batches on
//! output 1 (`loop`), takes the loop body's results back on its input, and sends everything it
//! got back on output 0 (`done`) once no items are left.
//!
//! The node runs once per batch plus once more; between runs it keeps n8n's node context in
//! the execution (`items` still to hand out, `processedItems` received back,
//! `currentRunIndex`, `maxRunIndex`, `sourceData`, `noItemsLeft`, `done`), which expressions
//! read as `$('Loop Over Items').context`. Items handed out after the first run keep the
//! pairing they arrived with and name the first run's source (`sourceOverwrite`), so
//! `$('Node').item` inside the loop finds the item before the loop; items received back are
//! paired with the run that received them.

use async_trait::async_trait;
use node_api::{
    ExecuteContext, Item, ItemRef, JsonObject, Node, NodeDescription, NodeError, PairedSource,
};
use serde_json::Value;

use super::{describe, unknown_options};
use workflow::NodeContext;

/// The Loop Over Items node.
pub struct SplitInBatches(NodeDescription);

impl SplitInBatches {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe(
            "splitInBatches",
            "Loop Over Items (Split in Batches)",
            &[3.0],
        );
        d.outputs = 2;
        Self(d)
    }
}

#[async_trait]
impl Node for SplitInBatches {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        problems.extend(unknown_options(parameters, "options", &["reset"]));
        if let Some(size) = parameters.get("batchSize") {
            let expression = size.as_str().is_some_and(|s| s.starts_with('='));
            if !expression && size.as_f64().is_none_or(|n| n < 1.0) {
                problems.push(format!(
                    "Parameter \"batchSize\" must be a number of at least 1, got {size}"
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
        let engine = NodeContext::of(ctx, "Loop Over Items")?;
        let name = &ctx.node().name;
        let p = ctx.parameters(0)?;
        let batch = p.number_or("batchSize", 1.0)?;
        if batch < 1.0 || batch.is_nan() {
            return Err(NodeError::parameter(format!(
                "Parameter \"batchSize\" must be at least 1, got {batch}"
            )));
        }
        let batch = batch as usize;
        let reset = p.bool_or("options.reset", false)?;
        let source = engine.data().source.first().cloned().flatten();
        if let Some(s) = &source {
            // Its own done output back into it: every run would hand on everything again, and
            // more each time (n8n loops until it runs out of memory).
            if s.previous_node == *name && s.previous_node_output == 0 {
                return Err(NodeError::operation(format!(
                    "The \"done\" output of \"{name}\" is connected back to its own input: the loop \
                     would never end"
                ))
                .with_description(
                    "Connect the nodes that process each batch to the \"loop\" output, and only \
                     the last of them back to this node's input",
                ));
            }
        }
        let mut contexts = engine
            .data()
            .contexts
            .lock()
            .map_err(|_| NodeError::operation("the node contexts are unavailable"))?;
        let state = contexts.entry(name.clone()).or_default();
        let handed_out: Vec<Item>;
        if !state.contains_key("items") || reset {
            let source_json = source
                .as_ref()
                .map(|s| serde_json::to_value(s).unwrap_or_default())
                .unwrap_or(Value::Null);
            let rest = input.get(batch..).unwrap_or_default();
            state.insert("currentRunIndex".into(), 0.into());
            state.insert("maxRunIndex".into(), input.len().div_ceil(batch).into());
            state.insert("sourceData".into(), source_json);
            state.insert("items".into(), to_json(rest)?);
            state.insert("processedItems".into(), Value::Array(Vec::new()));
            // The first batch goes out as it came in, pairing included.
            handed_out = input.into_iter().take(batch).collect();
        } else {
            let run = state
                .get("currentRunIndex")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            state.insert("currentRunIndex".into(), (run + 1).into());
            let first_source: Option<PairedSource> = state
                .get("sourceData")
                .and_then(|s| serde_json::from_value(s.clone()).ok());
            let remaining = match state.get_mut("items") {
                Some(Value::Array(items)) => items,
                _ => return Err(NodeError::operation("the loop's remaining items were lost")),
            };
            let taken: Vec<Value> = remaining.drain(..batch.min(remaining.len())).collect();
            handed_out = taken
                .into_iter()
                .map(|v| from_json(v).map(|item| overwrite_source(item, first_source.as_ref())))
                .collect::<Result<_, _>>()?;
            let this_source: Option<PairedSource> = source.as_ref().map(PairedSource::from);
            let received: Vec<Value> = input
                .into_iter()
                .enumerate()
                .map(|(i, mut item)| {
                    item.paired_item = vec![ItemRef {
                        source_overwrite: this_source.clone(),
                        ..ItemRef::new(i, 0)
                    }];
                    serde_json::to_value(item).map_err(json_error)
                })
                .collect::<Result<_, _>>()?;
            if let Some(Value::Array(processed)) = state.get_mut("processedItems") {
                processed.extend(received);
            }
        }
        let left = state
            .get("items")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        state.insert("noItemsLeft".into(), Value::Bool(left == 0));
        if handed_out.is_empty() {
            state.insert("done".into(), Value::Bool(true));
            let processed = match state.get("processedItems") {
                Some(Value::Array(items)) => items
                    .iter()
                    .cloned()
                    .map(from_json)
                    .collect::<Result<Vec<_>, _>>()?,
                _ => Vec::new(),
            };
            return Ok(vec![processed, Vec::new()]);
        }
        state.insert("done".into(), Value::Bool(false));
        Ok(vec![Vec::new(), handed_out])
    }
}

/// An item handed out again names the run it first came from (n8n's `sourceOverwrite`);
/// one that had no pairing is taken as item 0 of it, as n8n does.
fn overwrite_source(mut item: Item, source: Option<&PairedSource>) -> Item {
    if item.paired_item.is_empty() {
        item.paired_item = vec![ItemRef::new(0, 0)];
    }
    for r in &mut item.paired_item {
        r.source_overwrite = source.cloned();
    }
    item
}

fn to_json(items: &[Item]) -> Result<Value, NodeError> {
    serde_json::to_value(items).map_err(json_error)
}

fn from_json(v: Value) -> Result<Item, NodeError> {
    serde_json::from_value(v).map_err(json_error)
}

fn json_error(e: serde_json::Error) -> NodeError {
    NodeError::operation(format!("the loop's items could not be kept: {e}"))
}
