//! `n8n-nodes-base.renameKeys` v1: renames fields (dotted paths reach nested ones), then,
//! optionally, every key matching a regular expression.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError};
use serde_json::Value;

use super::values;
use super::{describe, per_item, unknown_options};
use workflow::expr::regex_rename_keys;

/// The Rename Keys node.
pub struct RenameKeys(NodeDescription);

impl RenameKeys {
    /// The node.
    pub fn new() -> Self {
        Self(describe("renameKeys", "Rename Keys", &[1.0]))
    }
}

#[async_trait]
impl Node for RenameKeys {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        problems.extend(unknown_options(
            parameters,
            "additionalOptions",
            &["regexReplacement"],
        ));
        if let Some(Value::Array(list)) = super::get_path(
            parameters,
            "additionalOptions.regexReplacement.replacements",
        ) {
            for (i, r) in list.iter().enumerate() {
                let Some(Value::Object(options)) = r.get("options") else {
                    continue;
                };
                for key in options.keys() {
                    if !matches!(key.as_str(), "caseInsensitive" | "depth") {
                        problems.push(format!(
                            "Parameter \"additionalOptions.regexReplacement.replacements[{i}].options.{key}\" \
                             is not supported (supported options: caseInsensitive, depth)"
                        ));
                    }
                }
            }
        }
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let out = per_item(ctx.continue_on_fail(), &input, |i, item| {
            let p = ctx.parameters(i)?;
            let mut json = JsonObject::clone(&item.json);
            for key in p.collection("keys.key")? {
                let text = |k: &str| key.get(k).and_then(Value::as_str).unwrap_or_default();
                let (current, new) = (text("currentKey"), text("newKey"));
                if current.is_empty() || new.is_empty() || current == new {
                    continue;
                }
                // Read from the item as it came, write to the copy: renames do not chain.
                let Some(value) = values::get(&item.json, current).cloned() else {
                    continue;
                };
                values::set(&mut json, new, value);
                values::unset(&mut json, current);
            }
            for r in p.collection("additionalOptions.regexReplacement.replacements")? {
                let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
                let options = r.get("options").and_then(Value::as_object);
                let flag = |k: &str| options.and_then(|o| o.get(k));
                let insensitive = flag("caseInsensitive").and_then(Value::as_bool) == Some(true);
                let depth = flag("depth").and_then(Value::as_f64).unwrap_or(-1.0) as i64;
                json = regex_rename_keys(
                    &json,
                    text("searchRegex"),
                    text("replaceRegex"),
                    insensitive,
                    depth,
                )
                .map_err(|e| NodeError::parameter(format!("Regular expression: {}", e.message)))?;
            }
            let mut out = Item::new(json).paired_with(i);
            out.binary = item.binary.clone();
            Ok(vec![out])
        })?;
        Ok(vec![out])
    }
}
