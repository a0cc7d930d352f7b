//! `n8n-nodes-base.removeDuplicates` v1, v1.1 and v2 (`removeDuplicateInputItems`): keeps the
//! first of the items whose compared fields are equal.
//!
//! v2's operations that remember items across executions (a deduplication store) are not
//! implemented and are refused at save. Kept items keep the pairing they came with, as n8n
//! passes its input items on unchanged.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError};
use serde_json::Value;

use super::values::{self, field, field_list};
use super::{choice, describe, shown_when, unknown_options};

/// The Remove Duplicates node.
pub struct RemoveDuplicates(NodeDescription);

impl RemoveDuplicates {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("removeDuplicates", "Remove Duplicates", &[1.0, 1.1, 2.0]);
        d.parameters.push(choice(
            "operation",
            "removeDuplicateInputItems",
            &["removeDuplicateInputItems"],
        ));
        d.parameters.push(shown_when(
            choice(
                "compare",
                "allFields",
                &["allFields", "allFieldsExcept", "selectedFields"],
            ),
            "operation",
            &["removeDuplicateInputItems"],
        ));
        Self(d)
    }
}

#[async_trait]
impl Node for RemoveDuplicates {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        problems.extend(unknown_options(
            parameters,
            "options",
            &["disableDotNotation", "removeOtherFields"],
        ));
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let version = ctx.node().type_version;
        let p = ctx.parameters(0)?;
        if version >= 2.0 {
            let operation = p.string_or("operation", "removeDuplicateInputItems")?;
            if operation != "removeDuplicateInputItems" {
                return Err(NodeError::parameter(format!(
                    "Parameter \"operation\" has an unknown value \"{operation}\" (accepted: removeDuplicateInputItems)"
                )));
            }
        }
        if input.is_empty() {
            return Ok(vec![input]);
        }
        let dot = !p.bool_or("options.disableDotNotation", false)?;
        let remove_other = p.bool_or("options.removeOtherFields", false)?;
        let keys_of = |item: &Item| -> Vec<String> {
            if dot {
                let mut keys = Vec::new();
                flatten_keys(&item.json.clone().into_value(), "", &mut keys);
                keys
            } else {
                item.json.keys().cloned().collect()
            }
        };
        let mut keys: Vec<String> = Vec::new();
        for item in &input {
            for k in keys_of(item) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        match p.string_or("compare", "allFields")? {
            "allFieldsExcept" => {
                let exclude = field_list(p.get("fieldsToExclude"), "Fields To Exclude")
                    .map_err(NodeError::parameter)?;
                if exclude.is_empty() {
                    return Err(NodeError::operation(
                        "No fields specified. Please add a field to exclude from comparison",
                    ));
                }
                // With dot notation n8n takes the first item's fields only.
                if dot {
                    keys = keys_of(&input[0]);
                }
                keys.retain(|k| !exclude.contains(k));
            }
            "selectedFields" => {
                let compare = field_list(p.get("fieldsToCompare"), "Fields To Compare")
                    .map_err(NodeError::parameter)?;
                if compare.is_empty() {
                    return Err(NodeError::operation(
                        "No fields specified. Please add a field to compare on",
                    ));
                }
                keys = compare;
            }
            _ => {}
        }
        check_input(&input, &keys, dot, version)?;
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<Item> = Vec::new();
        for item in input {
            let signature: Vec<String> = keys
                .iter()
                .map(|key| values::canonical(field(&item.json, key, dot)))
                .collect();
            if seen.insert(signature) {
                kept.push(item);
            }
        }
        if remove_other {
            // lodash's pick keeps the compared fields, nested ones in their place. n8n pairs
            // these items by their position in the output (not in the input), and so do we.
            kept = kept
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut json = JsonObject::new();
                    for key in &keys {
                        if let Some(v) = field(&item.json, key, dot) {
                            if dot {
                                values::set(&mut json, key, v.clone());
                            } else {
                                json.insert(key.clone(), v.clone());
                            }
                        }
                    }
                    Item::new(json).paired_with(i)
                })
                .collect();
        }
        Ok(vec![kept])
    }
}

/// lodash-style flattening: nested objects and arrays become dotted leaf paths (`a.b`,
/// `list.0`); an empty object or array has no leaf, so it is not compared.
fn flatten_keys(v: &Value, prefix: &str, out: &mut Vec<String>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                flatten_keys(x, &join(k), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten_keys(x, &join(&i.to_string()), out);
            }
        }
        _ => {
            if !out.iter().any(|k| k == prefix) {
                out.push(prefix.to_string());
            }
        }
    }
}

/// n8n's `validateInputData`: every compared field present in every item, of one type.
fn check_input(input: &[Item], keys: &[String], dot: bool, version: f64) -> Result<(), NodeError> {
    for key in keys {
        if key.is_empty() {
            return Err(NodeError::operation("Name of field to compare is blank"));
        }
        let mut seen: Option<(&'static str, usize)> = None;
        for (i, item) in input.iter().enumerate() {
            let value = field(&item.json, key, dot);
            if value == Some(&Value::Null) && version > 1.0 {
                continue;
            }
            if value.is_none() {
                let mut e =
                    NodeError::operation(format!("'{key}' field is missing from some input items"));
                if !dot && key.contains('.') {
                    e = e.with_description(
                        "If you're trying to use a nested field, make sure you turn off 'disable dot notation' in the node options",
                    );
                }
                return Err(e);
            }
            let ty = values::type_of(value);
            match seen {
                Some((t, at)) if t != ty => {
                    let mut description = "The type of this field varies between items".to_string();
                    if version > 1.0 {
                        description +=
                            &format!(", in item [{at}] it's a {t} and in item [{i}] it's a {ty} ");
                    }
                    return Err(NodeError::operation(format!(
                        "'{key}' isn't always the same type"
                    ))
                    .with_description(description));
                }
                _ => seen = Some((ty, i)),
            }
        }
    }
    Ok(())
}
