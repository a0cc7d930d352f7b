//! `n8n-nodes-base.splitOut` v1: turns a list inside each item into one item per element.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError, ParameterSpec};
use serde_json::Value;

use super::{describe, get_path, per_item, set_path};

/// The Split Out node.
pub struct SplitOut(NodeDescription);

impl SplitOut {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("splitOut", "Split Out", &[1.0]);
        d.parameters
            .push(ParameterSpec::required("fieldToSplitOut"));
        Self(d)
    }
}

#[async_trait]
impl Node for SplitOut {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let mut any_found = input.is_empty();
        let mut missing = String::new();
        let out = per_item(ctx.continue_on_fail(), &input, |i, item| {
            let p = ctx.parameters(i)?;
            let fields: Vec<String> = p
                .string("fieldToSplitOut")?
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let dot = !p.bool_or("options.disableDotNotation", false)?;
            let include = p.string_or("include", "noOtherFields")?;
            let destination = p
                .opt_string("options.destinationFieldName")?
                .map(str::to_string);
            let mut out = Vec::new();
            for field in &fields {
                let value = if dot {
                    get_path(&item.json, field)
                } else {
                    item.json.get(field)
                };
                let Some(value) = value else {
                    missing.clone_from(field);
                    continue;
                };
                any_found = true;
                // Element by element: a copy of the whole list first would double it.
                let elements: Box<dyn Iterator<Item = Value>> = match value {
                    Value::Array(a) => Box::new(a.iter().cloned()),
                    Value::Object(o) => Box::new(o.values().cloned()),
                    other => Box::new(std::iter::once(other.clone())),
                };
                let name = destination.clone().unwrap_or_else(|| field.clone());
                for element in elements {
                    let mut json = match include {
                        "allOtherFields" => {
                            let mut j = JsonObject::clone(&item.json);
                            j.remove(field.split('.').next().unwrap_or(field));
                            j
                        }
                        "selectedOtherFields" => {
                            let mut j = JsonObject::new();
                            for f in p
                                .string_or("fieldsToInclude", "")?
                                .split(',')
                                .map(str::trim)
                            {
                                if let Some(v) = get_path(&item.json, f) {
                                    set_path(&mut j, f, v.clone());
                                }
                            }
                            j
                        }
                        _ => JsonObject::new(),
                    };
                    match element {
                        Value::Object(o) if include == "noOtherFields" && destination.is_none() => {
                            json = o;
                        }
                        other => {
                            json.insert(name.clone(), other);
                        }
                    }
                    out.push(Item::new(json).paired_with(i));
                }
            }
            Ok(out)
        })?;
        if !any_found {
            return Err(NodeError::operation(format!(
                "The field '{missing}' wasn't found in any input item"
            )));
        }
        Ok(vec![out])
    }
}
