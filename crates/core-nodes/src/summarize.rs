//! `n8n-nodes-base.summarize` v1, v1.1: counts, sums, averages, min/max, lists and joined
//! text of fields across items, optionally split by the values of other fields.
//!
//! Results are named as n8n names them (`sum_amount`, `unique_count_user_id`), in the order
//! JavaScript gives object keys, and each result item is paired with the items it summarizes.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, ItemRef, JsonObject, Node, NodeDescription, NodeError};
use serde_json::Value;

use super::values::{self, field};
use super::{choice, describe, unknown_options};

/// The Summarize node.
pub struct Summarize(NodeDescription);

const AGGREGATIONS: &[&str] = &[
    "append",
    "average",
    "concatenate",
    "count",
    "countUnique",
    "max",
    "min",
    "sum",
];

impl Summarize {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("summarize", "Summarize", &[1.0, 1.1]);
        d.parameters.push(choice(
            "fieldsToSummarize.values.aggregation",
            "count",
            AGGREGATIONS,
        ));
        d.parameters.push(choice(
            "fieldsToSummarize.values.separateBy",
            ",",
            &[",", ", ", "\n", "", " ", "other"],
        ));
        d.parameters.push(choice(
            "options.outputFormat",
            "separateItems",
            &["separateItems", "singleItem"],
        ));
        Self(d)
    }
}

/// One aggregation asked for.
struct Aggregation {
    kind: String,
    field: String,
    include_empty: bool,
    separator: Option<String>,
}

/// A group of items, or a split of them by a field's value (n8n's `aggregateAndSplitData`).
enum Summary {
    Leaf {
        result: JsonObject,
        items: Vec<usize>,
    },
    Split {
        field: String,
        groups: Vec<(Option<Value>, Summary)>,
    },
}

#[async_trait]
impl Node for Summarize {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        problems.extend(unknown_options(
            parameters,
            "options",
            &[
                "continueIfFieldNotFound",
                "disableDotNotation",
                "outputFormat",
                "skipEmptySplitFields",
            ],
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
        let dot = !p.bool_or("options.disableDotNotation", false)?;
        let single = p.string_or("options.outputFormat", "separateItems")? == "singleItem";
        let skip_empty = p.bool_or("options.skipEmptySplitFields", false)?;
        let split_by: Vec<String> = p
            .string_or("fieldsToSplitBy", "")?
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        let aggregations: Vec<Aggregation> = p
            .collection("fieldsToSummarize.values")?
            .iter()
            .map(|a| {
                let text = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
                let separate_by = text("separateBy").unwrap_or_else(|| ",".into());
                Aggregation {
                    kind: text("aggregation").unwrap_or_else(|| "count".into()),
                    field: text("field").unwrap_or_default(),
                    include_empty: a.get("includeEmpty").and_then(Value::as_bool) == Some(true),
                    separator: if separate_by == "other" {
                        text("customSeparator")
                    } else {
                        Some(separate_by)
                    },
                }
            })
            .collect();
        if aggregations.iter().all(|a| a.field.is_empty()) {
            return Err(NodeError::operation(
                "You need to add at least one aggregation to 'Fields to Summarize' with non empty 'Field'",
            ));
        }
        let context = Context {
            items: &input,
            dot,
            skip_empty,
            keys_as_text: version < 1.1,
            aggregations: &aggregations,
        };
        let all: Vec<usize> = (0..input.len()).collect();
        let summary = context.split(&split_by, all.clone());
        for a in aggregations.iter().filter(|a| !a.field.is_empty()) {
            let exists = input
                .iter()
                .any(|i| field(&i.json, &a.field, dot).is_some());
            // Since 1.1 a missing field is a hint in n8n's editor, not an error.
            if !exists && version < 1.1 && !p.bool_or("options.continueIfFieldNotFound", false)? {
                return Err(NodeError::operation(format!(
                    "The field '{}' does not exist in any items",
                    a.field
                )));
            }
        }
        let paired = |items: &[usize]| items.iter().map(|i| ItemRef::new(*i, 0)).collect();
        if single {
            let mut item = Item::new(to_object(&summary));
            item.paired_item = paired(&all);
            return Ok(vec![vec![item]]);
        }
        let items = flatten(summary)
            .into_iter()
            .map(|(json, items)| {
                let mut item = Item::new(json);
                item.paired_item = paired(&items);
                item
            })
            .collect();
        Ok(vec![items])
    }
}

struct Context<'a> {
    items: &'a [Item],
    dot: bool,
    skip_empty: bool,
    keys_as_text: bool,
    aggregations: &'a [Aggregation],
}

impl Context<'_> {
    fn value(&self, item: usize, name: &str) -> Option<&Value> {
        field(&self.items[item].json, name, self.dot)
    }

    fn split(&self, keys: &[String], items: Vec<usize>) -> Summary {
        let Some((first, rest)) = keys.split_first() else {
            return Summary::Leaf {
                result: self.summarize(&items),
                items,
            };
        };
        let mut groups: Vec<(Option<Value>, Vec<usize>)> = Vec::new();
        for i in items {
            let mut key = self.value(i, first).cloned();
            if let Some(v @ (Value::Object(_) | Value::Array(_))) = &key {
                key = Some(Value::String(v.to_string()));
            }
            // v1 made every key text (`undefined`, `null`, `1`), before the emptiness test.
            if self.keys_as_text {
                key = Some(Value::String(values::to_text(key.as_ref())));
            }
            let empty = match &key {
                None | Some(Value::Null) | Some(Value::Bool(false)) => true,
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            if self.skip_empty && empty {
                continue;
            }
            match groups
                .iter_mut()
                .find(|(k, _)| same_value_zero(k.as_ref(), key.as_ref()))
            {
                Some(group) => group.1.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        Summary::Split {
            field: first.clone(),
            groups: groups
                .into_iter()
                .map(|(k, items)| (k, self.split(rest, items)))
                .collect(),
        }
    }

    fn summarize(&self, items: &[usize]) -> JsonObject {
        let entries = self
            .aggregations
            .iter()
            .map(|a| {
                let prefix = match a.kind.as_str() {
                    "append" => "appended_",
                    "average" => "average_",
                    "concatenate" => "concatenated_",
                    "countUnique" => "unique_count_",
                    "max" => "max_",
                    "min" => "min_",
                    "sum" => "sum_",
                    _ => "count_",
                };
                (
                    normalize_name(&format!("{prefix}{}", a.field)),
                    self.aggregate(items, a),
                )
            })
            .collect();
        values::js_object(entries)
    }

    fn aggregate(&self, items: &[usize], a: &Aggregation) -> Value {
        let is_empty = |v: Option<&Value>| match v {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        let values: Vec<Option<&Value>> = items.iter().map(|i| self.value(*i, &a.field)).collect();
        let numbers = || values.iter().filter_map(|v| v.and_then(Value::as_f64));
        let kept = || {
            values
                .iter()
                .copied()
                .filter(|v| a.include_empty || !is_empty(*v))
        };
        match a.kind.as_str() {
            "append" => Value::Array(kept().map(|v| v.cloned().unwrap_or(Value::Null)).collect()),
            "concatenate" => {
                let parts: Vec<String> = kept()
                    .map(|v| match v {
                        None => "undefined".into(),
                        Some(v @ (Value::Object(_) | Value::Array(_) | Value::Null)) => {
                            v.to_string()
                        }
                        Some(other) => values::to_text(Some(other)),
                    })
                    .collect();
                // `join(undefined)` joins with commas, as an unset custom separator does.
                Value::String(parts.join(a.separator.as_deref().unwrap_or(",")))
            }
            "average" => {
                let list: Vec<f64> = numbers().collect();
                values::number(list.iter().sum::<f64>() / list.len() as f64)
            }
            "sum" => values::number(numbers().sum()),
            "min" | "max" => {
                let mut best: Option<&Value> = None;
                for v in values.iter().copied().filter(|v| !is_empty(*v)) {
                    let better = match best {
                        None => true,
                        Some(b) if a.kind == "min" => values::js_lt(v, Some(b)),
                        Some(b) => values::js_lt(Some(b), v),
                    };
                    if better {
                        best = v;
                    }
                }
                best.cloned().unwrap_or(Value::Null)
            }
            "countUnique" => {
                let mut unique: Vec<Option<&Value>> = Vec::new();
                for v in kept() {
                    // Objects are all different to a JavaScript Set.
                    let object = matches!(v, Some(Value::Object(_) | Value::Array(_)));
                    if object || !unique.iter().any(|u| same_value_zero(*u, v)) {
                        unique.push(v);
                    }
                }
                Value::from(unique.len())
            }
            _ => Value::from(kept().count()),
        }
    }
}

/// JavaScript's SameValueZero for primitives (a `Map` key, a `Set` member).
fn same_value_zero(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x.is_nan() && y.is_nan())
        }
        (Some(Value::Object(_) | Value::Array(_)), _)
        | (_, Some(Value::Object(_) | Value::Array(_))) => false,
        (a, b) => a == b,
    }
}

/// n8n's `normalizeFieldName`: no brackets or quotes, spaces and dots as underscores.
fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '[' | ']' | '"'))
        .map(|c| if c == ' ' || c == '.' { '_' } else { c })
        .collect()
}

/// `All Splits in a Single Item`: split values become keys, nested per split field.
fn to_object(summary: &Summary) -> JsonObject {
    match summary {
        Summary::Leaf { result, .. } => result.clone(),
        Summary::Split { groups, .. } => values::js_object(
            groups
                .iter()
                .map(|(k, s)| (values::to_text(k.as_ref()), Value::Object(to_object(s))))
                .collect(),
        ),
    }
}

/// `Each Split in a Separate Item`: one item per group, the split values after the results
/// (innermost split first, as n8n adds them on the way out).
fn flatten(summary: Summary) -> Vec<(JsonObject, Vec<usize>)> {
    match summary {
        Summary::Leaf { result, items } => vec![(result, items)],
        Summary::Split { field, groups } => {
            let name = normalize_name(&field);
            groups
                .into_iter()
                .flat_map(|(key, s)| {
                    let name = name.clone();
                    flatten(s).into_iter().map(move |(mut json, items)| {
                        // An `undefined` split value is not written, as JSON drops it.
                        match &key {
                            Some(k) => {
                                json.insert(name.clone(), k.clone());
                            }
                            None => {
                                json.shift_remove(&name);
                            }
                        }
                        (json, items)
                    })
                })
                .collect()
        }
    }
}
