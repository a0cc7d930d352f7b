//! `n8n-nodes-base.aggregate` v1: combines fields of all items into lists in one item, or all
//! the items' data into one list.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, ItemRef, JsonObject, Node, NodeDescription, NodeError};
use serde_json::Value;

use super::values::{self, field, field_list};
use super::{choice, describe, shown_when, unknown_options, unsupported};

/// The Aggregate node.
pub struct Aggregate(NodeDescription);

impl Aggregate {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("aggregate", "Aggregate", &[1.0]);
        d.parameters.push(choice(
            "aggregate",
            "aggregateIndividualFields",
            &["aggregateIndividualFields", "aggregateAllItemData"],
        ));
        d.parameters.push(shown_when(
            choice(
                "include",
                "allFields",
                &["allFields", "specifiedFields", "allFieldsExcept"],
            ),
            "aggregate",
            &["aggregateAllItemData"],
        ));
        // Binaries are not aggregated yet: refused rather than dropped.
        d.parameters
            .push(unsupported("options.includeBinaries", Value::Bool(false)));
        Self(d)
    }
}

#[async_trait]
impl Node for Aggregate {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        problems.extend(unknown_options(
            parameters,
            "options",
            &[
                "disableDotNotation",
                "mergeLists",
                "includeBinaries",
                "keepOnlyUnique",
                "keepMissing",
            ],
        ));
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let p = ctx.parameters(0)?;
        let item = if p.string_or("aggregate", "aggregateIndividualFields")?
            == "aggregateIndividualFields"
        {
            individual_fields(&p, &input)?
        } else {
            all_item_data(&p, &input)?
        };
        Ok(vec![vec![item]])
    }
}

/// One list per field, paired with every input item.
fn individual_fields(p: &node_api::Parameters, input: &[Item]) -> Result<Item, NodeError> {
    let dot = !p.bool_or("options.disableDotNotation", false)?;
    let merge_lists = p.bool_or("options.mergeLists", false)?;
    let keep_missing = p.bool_or("options.keepMissing", false)?;
    let fields = p.collection("fieldsToAggregate.fieldToAggregate")?;
    if fields.is_empty() {
        return Err(NodeError::operation("No fields specified")
            .with_description("Please add a field to aggregate"));
    }
    let text = |f: &JsonObject, k: &str| {
        f.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut used: Vec<String> = Vec::new();
    let mut lists: Vec<(String, Vec<Value>)> = Vec::new();
    for f in fields {
        let input_field = text(f, "fieldToAggregate");
        let rename = f.get("renameField").and_then(Value::as_bool) == Some(true);
        let output_name = text(f, "outputFieldName");
        let name = if rename {
            output_name.clone()
        } else {
            input_field.clone()
        };
        if used.contains(&name) {
            return Err(NodeError::operation(format!(
                "The '{name}' output field is used more than once"
            ))
            .with_description("Please make sure each output field name is unique"));
        }
        used.push(name);
        if input_field.is_empty() {
            continue;
        }
        // n8n names the list after the output name when one is set, else after the last
        // segment of a dotted input name.
        let key = if !output_name.is_empty() {
            output_name
        } else if dot && input_field.contains('.') {
            input_field
                .rsplit('.')
                .next()
                .unwrap_or(&input_field)
                .to_string()
        } else {
            input_field.clone()
        };
        let mut list = Vec::new();
        for item in input {
            let value = field(&item.json, &input_field, dot).cloned();
            let value = match value {
                Some(Value::Array(a)) if !keep_missing => Some(Value::Array(
                    a.into_iter().filter(|v| !v.is_null()).collect(),
                )),
                None | Some(Value::Null) if !keep_missing => continue,
                other => other,
            };
            match value {
                Some(Value::Array(a)) if merge_lists => list.extend(a),
                Some(v) => list.push(v),
                // A missing value kept is `undefined` in the list, which JSON shows as null.
                None => list.push(Value::Null),
            }
        }
        match lists.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = list,
            None => lists.push((key, list)),
        }
    }
    let mut json = JsonObject::new();
    for (key, list) in values::js_object(
        lists
            .into_iter()
            .map(|(k, l)| (k, Value::Array(l)))
            .collect(),
    ) {
        if dot {
            values::set(&mut json, &key, list);
        } else {
            json.insert(key, list);
        }
    }
    let mut item = Item::new(json);
    item.paired_item = (0..input.len()).map(|i| ItemRef::new(i, 0)).collect();
    Ok(item)
}

/// Every item's data (or the fields chosen) in one list.
fn all_item_data(p: &node_api::Parameters, input: &[Item]) -> Result<Item, NodeError> {
    let destination = p.string_or("destinationFieldName", "data")?.to_string();
    let exclude =
        field_list(p.get("fieldsToExclude"), "Fields To Exclude").map_err(NodeError::parameter)?;
    let include =
        field_list(p.get("fieldsToInclude"), "Fields To Include").map_err(NodeError::parameter)?;
    let mut list = Vec::new();
    let mut paired = Vec::new();
    for (i, item) in input.iter().enumerate() {
        if exclude.is_empty() && include.is_empty() {
            list.push(item.json.clone().into_value());
            paired.push(ItemRef::new(i, 0));
            continue;
        }
        // n8n reads both lists whatever `include` says.
        let kept: JsonObject = item
            .json
            .iter()
            .filter(|(k, _)| !exclude.contains(k))
            .filter(|(k, _)| include.is_empty() || include.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if kept.is_empty() {
            continue;
        }
        list.push(Value::Object(kept));
        paired.push(ItemRef::new(i, 0));
    }
    let mut json = JsonObject::new();
    json.insert(destination, Value::Array(list));
    let mut item = Item::new(json);
    item.paired_item = paired;
    Ok(item)
}
