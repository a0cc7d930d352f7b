//! `n8n-nodes-base.executeWorkflow` (v1 to 1.3) and `n8n-nodes-base.executeWorkflowTrigger`
//! (v1, 1.1): a workflow calls another stored workflow, which starts at its Execute Workflow
//! Trigger; the called workflow's last node output comes back as this node's output.
//!
//! Only `source: database` is implemented (the workflow by id, a string or n8n's resource
//! locator `{__rl, value, mode}`); the other sources are refused at save. The engine runs the
//! called workflow as its own execution ([`ExecuteContext::execute_workflow`]) and bounds
//! how deep calls nest.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError, Parameters};
use serde_json::Value;

use super::{choice, describe, shown_when, unknown_options};

/// The Execute Workflow node.
pub struct ExecuteWorkflow(NodeDescription);

impl ExecuteWorkflow {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("executeWorkflow", "Execute Workflow", &[1.0, 1.1, 1.2, 1.3]);
        d.parameters
            .push(choice("source", "database", &["database"]));
        d.parameters.push(choice("mode", "once", &["once", "each"]));
        d.parameters.push(shown_when(
            choice(
                "workflowInputs.mappingMode",
                "defineBelow",
                &["defineBelow", "autoMapInputData"],
            ),
            "source",
            &["database"],
        ));
        Self(d)
    }
}

/// The workflow id as n8n saves it: a string, a number, or a resource locator.
fn workflow_id(value: Option<&Value>) -> Option<String> {
    let v = match value? {
        Value::Object(rl) => rl.get("value")?,
        other => other,
    };
    match v {
        Value::String(s) if !s.trim().is_empty() && s.trim() != "=" => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The items the called workflow receives for input item `index` (or every item): as they
/// are, or built from `workflowInputs.value` when its fields are defined below.
fn inputs_for(p: &Parameters, item: &Item) -> Item {
    let mapped = p
        .get("workflowInputs")
        .filter(|w| w.get("mappingMode").and_then(Value::as_str) != Some("autoMapInputData"))
        .and_then(|w| w.get("value"))
        .and_then(Value::as_object)
        .filter(|v| !v.is_empty());
    match mapped {
        Some(values) => Item::new(values.clone()),
        None => Item::new(item.json.clone()),
    }
}

#[async_trait]
impl Node for ExecuteWorkflow {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        if workflow_id(parameters.get("workflowId")).is_none() {
            problems.push("Parameter \"workflowId\" is required".into());
        }
        problems.extend(unknown_options(
            parameters,
            "options",
            &["waitForSubWorkflow"],
        ));
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let p0 = ctx.parameters(0)?;
        let wait = p0.bool_or("options.waitForSubWorkflow", true)?;
        let id_of = |p: &Parameters| {
            workflow_id(p.get("workflowId"))
                .ok_or_else(|| NodeError::parameter("Parameter \"workflowId\" is required"))
        };
        // Items the child returns point at its own items; the executor pairs them with ours.
        let unpaired = |items: Vec<Item>| {
            items.into_iter().map(|mut i| {
                i.paired_item.clear();
                i
            })
        };
        if p0.string_or("mode", "once")? == "each" {
            let mut out = Vec::new();
            for (i, item) in input.iter().enumerate() {
                let p = ctx.parameters(i)?;
                let run = async {
                    let id = id_of(&p)?;
                    ctx.execute_workflow(&id, vec![inputs_for(&p, item)], wait)
                        .await
                };
                match run.await {
                    Ok(Some(items)) => out.extend(unpaired(items).map(|it| it.paired_with(i))),
                    Ok(None) => out.push(Item::new(item.json.clone()).paired_with(i)),
                    Err(e) if ctx.continue_on_fail() => {
                        let json = match e.to_item_json() {
                            Value::Object(o) => o,
                            _ => JsonObject::new(),
                        };
                        out.push(Item::new(json).paired_with(i));
                    }
                    Err(e) => return Err(e.at_item(i)),
                }
            }
            return Ok(vec![out]);
        }
        let id = id_of(&p0)?;
        let mut items = Vec::with_capacity(input.len());
        for (i, item) in input.iter().enumerate() {
            let p = if i == 0 {
                p0.clone()
            } else {
                ctx.parameters(i)?
            };
            items.push(inputs_for(&p, item));
        }
        match ctx.execute_workflow(&id, items, wait).await? {
            Some(out) => Ok(vec![unpaired(out).collect()]),
            // Not waiting: n8n passes the input items on.
            None => Ok(vec![input]),
        }
    }
}

/// The Execute Workflow Trigger: where a called workflow starts.
pub struct ExecuteWorkflowTrigger(NodeDescription);

impl ExecuteWorkflowTrigger {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe(
            "executeWorkflowTrigger",
            "Execute Workflow Trigger",
            &[1.0, 1.1],
        );
        d.inputs = 0;
        d.trigger = true;
        d.parameters.push(choice(
            "inputSource",
            "workflowInputs",
            &["workflowInputs", "jsonExample", "passthrough"],
        ));
        Self(d)
    }
}

#[async_trait]
impl Node for ExecuteWorkflowTrigger {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        if input.is_empty() {
            return Ok(vec![vec![Item::new(JsonObject::new())]]);
        }
        let p = ctx.parameters(0)?;
        // v1.1 with declared inputs: each item keeps only the declared fields (absent ones
        // as null), as n8n's trigger does.
        let declared: Option<Vec<String>> = (ctx.node().type_version >= 1.1
            && p.string_or("inputSource", "workflowInputs")? == "workflowInputs")
            .then(|| {
                p.collection("workflowInputs.values")
                    .map(|fields| {
                        fields
                            .iter()
                            .filter_map(|f| f.get("name")?.as_str().map(str::to_owned))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .filter(|names| !names.is_empty());
        let Some(names) = declared else {
            return Ok(vec![input]);
        };
        let out = input
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let json: JsonObject = names
                    .iter()
                    .map(|n| (n.clone(), item.json.get(n).cloned().unwrap_or(Value::Null)))
                    .collect();
                Item::new(json).paired_with(i)
            })
            .collect();
        Ok(vec![out])
    }
}
