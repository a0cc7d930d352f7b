//! `n8n-nodes-base.switch` v3, v3.1, v3.2: routes each item to the output of the first rule
//! it matches (or of every rule, or a fallback), or to the output an expression names.
//!
//! The number of outputs follows the parameters, as n8n's `configuredOutputs`: one per rule,
//! plus one when the fallback is the extra output; `numberOutputs` in expression mode. The
//! executor asks [`Node::output_count`] so that an error output comes after them.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError, Parameters};
use serde_json::Value;

use super::{choice, conditions, describe, get_path, unknown_options};

/// The Switch node.
pub struct Switch(NodeDescription);

/// n8n's hint when a strict type check fails (`ENABLE_LESS_STRICT_TYPE_VALIDATION`).
const LESS_STRICT: &str = "Try changing the type of comparison. Alternatively you can enable 'Convert types where required'.";

const OPTIONS: &[&str] = &[
    "fallbackOutput",
    "ignoreCase",
    "looseTypeValidation",
    "renameFallbackOutput",
    "allMatchingOutputs",
];

impl Switch {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("switch", "Switch", &[3.0, 3.1, 3.2]);
        d.parameters
            .push(choice("mode", "rules", &["rules", "expression"]));
        Self(d)
    }
}

/// The saved rules (`rules.values`).
fn rules(parameters: &JsonObject) -> &[Value] {
    match get_path(parameters, "rules.values") {
        Some(Value::Array(rules)) => rules,
        _ => &[],
    }
}

#[async_trait]
impl Node for Switch {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn output_count(&self, parameters: &JsonObject) -> usize {
        match parameters.get("mode").and_then(Value::as_str) {
            Some("expression") => match parameters.get("numberOutputs") {
                None => 4,
                Some(v) => v.as_f64().map_or(4, |n| n.max(0.0) as usize),
            },
            _ => {
                let extra = get_path(parameters, "options.fallbackOutput").and_then(Value::as_str)
                    == Some("extra");
                rules(parameters).len() + usize::from(extra)
            }
        }
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        if parameters.get("mode").and_then(Value::as_str) == Some("expression") {
            if let Some(n) = parameters.get("numberOutputs") {
                let expression = n.as_str().is_some_and(|s| s.starts_with('='));
                if !expression && n.as_f64().is_none_or(|n| n < 0.0 || n.fract() != 0.0) {
                    problems.push(format!(
                        "Parameter \"numberOutputs\" must be a whole number of outputs, got {n}"
                    ));
                }
            }
            return problems;
        }
        problems.extend(unknown_options(parameters, "options", OPTIONS));
        let rules = rules(parameters);
        for (i, rule) in rules.iter().enumerate() {
            if let Some(filter) = rule.get("conditions") {
                problems.extend(conditions::filter_problems(
                    filter,
                    &format!("rules.values[{i}].conditions"),
                ));
            }
        }
        match get_path(parameters, "options.fallbackOutput") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if matches!(s.as_str(), "none" | "extra") => {}
            Some(Value::String(s)) if s.starts_with('=') => {}
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| (n as usize) < rules.len()) => {}
            Some(other) => problems.push(format!(
                "Parameter \"options.fallbackOutput\" has an unknown value {other} (accepted: \
                 none, extra, or the index of a rule's output, 0 to {})",
                rules.len().saturating_sub(1)
            )),
        }
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let version = ctx.node().type_version;
        let mut outputs: Vec<Vec<Item>> = Vec::new();
        for (i, item) in input.into_iter().enumerate() {
            let item = item.paired_with(i);
            let routed = ctx
                .parameters(i)
                .and_then(|p| route(&p, i, version, &mut outputs, &item));
            match routed {
                Ok(()) => {}
                Err(e) if ctx.continue_on_fail() => {
                    // n8n puts the error item on the first output, unpaired.
                    if outputs.is_empty() {
                        outputs.push(Vec::new());
                    }
                    let mut json = JsonObject::new();
                    json.insert("error".into(), Value::String(e.message));
                    outputs[0].push(Item::new(json));
                }
                Err(e) => return Err(e.at_item(i)),
            }
        }
        if outputs.is_empty() {
            outputs.push(Vec::new());
        }
        Ok(outputs)
    }
}

/// Sends `item` (input item `i`) where the parameters say; the outputs are sized on the first
/// item, as n8n sizes them.
fn route(
    p: &Parameters,
    i: usize,
    version: f64,
    outputs: &mut Vec<Vec<Item>>,
    item: &Item,
) -> Result<(), NodeError> {
    if p.string_or("mode", "rules")? == "expression" {
        let count = p.number_or("numberOutputs", 4.0)?.max(0.0) as usize;
        if i == 0 {
            *outputs = vec![Vec::new(); count];
        }
        let index = p
            .get("output")
            .ok_or_else(|| NodeError::parameter("Parameter \"output\" is required"))?;
        let index = index
            .as_f64()
            .or_else(|| index.as_str()?.trim().parse().ok())
            .ok_or_else(|| {
                NodeError::parameter(format!(
                    "Parameter \"output\" must be a number (the output index), got {index}"
                ))
            })?;
        let at = checked_index(index, outputs.len())?;
        outputs[at].push(item.clone());
        return Ok(());
    }
    let rules = p.collection("rules.values")?;
    if rules.is_empty() {
        return Ok(());
    }
    let options = p.object_or_empty("options")?;
    let fallback = options
        .get("fallbackOutput")
        .cloned()
        .unwrap_or(Value::Null);
    if i == 0 {
        *outputs = vec![Vec::new(); rules.len()];
        if fallback.as_str() == Some("extra") {
            outputs.push(Vec::new());
        }
    }
    // n8n's filter parameter takes these from the node, not from what the rule stored.
    let case_sensitive = !options
        .get("ignoreCase")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let loose = if version < 3.1 {
        options.get("looseTypeValidation").and_then(Value::as_bool) == Some(true)
    } else {
        p.bool_or("looseTypeValidation", false)?
    };
    let all_matching = options.get("allMatchingOutputs").and_then(Value::as_bool) == Some(true);
    let mut matched = false;
    for (r, rule) in rules.iter().enumerate() {
        let filter = rule
            .get("conditions")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let pass = conditions::evaluate_filter(&filter, case_sensitive, loose, i).map_err(|e| {
            if !loose && e.description.is_none() {
                e.with_description(LESS_STRICT)
            } else {
                e
            }
        })?;
        if pass {
            matched = true;
            outputs[r].push(item.clone());
            if !all_matching {
                return Ok(());
            }
        }
    }
    if matched {
        return Ok(());
    }
    match &fallback {
        Value::Null => {}
        Value::String(s) if s == "none" => {}
        Value::String(s) if s == "extra" => {
            if let Some(last) = outputs.last_mut() {
                last.push(item.clone());
            }
        }
        other => {
            let index = other
                .as_f64()
                .or_else(|| other.as_str()?.trim().parse().ok())
                .ok_or_else(|| {
                    NodeError::parameter(format!(
                        "Parameter \"options.fallbackOutput\" has an unknown value {other}"
                    ))
                })?;
            let at = checked_index(index, outputs.len())?;
            outputs[at].push(item.clone());
        }
    }
    Ok(())
}

/// n8n's `checkIndexRange`, with its wording ("ouput" included).
fn checked_index(index: f64, len: usize) -> Result<usize, NodeError> {
    let shown = workflow::expr::js_number_f64(index);
    if index == len as f64 {
        return Err(
            NodeError::operation(format!("The ouput {shown} is not allowed. ")).with_description(
                format!(
                    "Output indexes are zero based, if you want to use the extra output use {}",
                    workflow::expr::js_number_f64(index - 1.0)
                ),
            ),
        );
    }
    if index < 0.0 || index > len as f64 || index.fract() != 0.0 {
        return Err(
            NodeError::operation(format!("The ouput {shown} is not allowed"))
                .with_description(format!("It has to be between 0 and {}", len as i64 - 1)),
        );
    }
    Ok(index as usize)
}
