//! `n8n-nodes-base.merge` v3: append, combine by matching fields, by position, all
//! combinations, or choose a branch.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, ItemRef, JsonObject, Node, NodeDescription, NodeError};
use serde_json::Value;

use super::{describe, get_path};

/// The Merge node.
pub struct Merge(NodeDescription);

impl Merge {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("merge", "Merge", &[3.0, 3.1, 3.2]);
        d.inputs = 2;
        Self(d)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Clash {
    PreferInput1,
    PreferLast,
}

#[async_trait]
impl Node for Merge {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        _input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let p = ctx.parameters(0)?;
        let inputs = p.number_or("numberInputs", 2.0)?.clamp(2.0, 10.0) as usize;
        let input = |n: usize| ctx.input(n).unwrap_or(&[]);
        let clash = match p.string_or("options.clashHandling.values.resolveClash", "preferLast")? {
            "preferInput1" => Clash::PreferInput1,
            _ => Clash::PreferLast,
        };
        let deep =
            p.string_or("options.clashHandling.values.mergeMode", "deepMerge")? == "deepMerge";
        let out = match p.string_or("mode", "append")? {
            "append" => (0..inputs)
                .flat_map(|n| {
                    input(n)
                        .iter()
                        .enumerate()
                        .map(move |(i, item)| item.clone().paired_with_input(i, n))
                })
                .collect(),
            "combine" => match p.string_or("combineBy", "combineByFields")? {
                "combineByFields" => {
                    let pairs = match_fields(&p)?;
                    let fuzzy = p.bool_or("options.fuzzyCompare", false)?;
                    let first_only = p.string_or("options.multipleMatches", "all")? == "first";
                    combine_by_fields(
                        input(0),
                        input(1),
                        &pairs,
                        fuzzy,
                        first_only,
                        p.string_or("joinMode", "keepMatches")?,
                        p.string_or("outputDataFrom", "both")?,
                        clash,
                        deep,
                    )?
                }
                "combineByPosition" => {
                    let unpaired = p.bool_or("options.includeUnpaired", false)?;
                    let (a, b) = (input(0), input(1));
                    let n = if unpaired { a.len().max(b.len()) } else { a.len().min(b.len()) };
                    (0..n)
                        .map(|i| merge_pair(a.get(i).map(|x| (i, x)), b.get(i).map(|x| (i, x)), clash, deep))
                        .collect()
                }
                "combineAll" => {
                    let (a, b) = (input(0), input(1));
                    a.iter()
                        .enumerate()
                        .flat_map(|(i, x)| {
                            b.iter()
                                .enumerate()
                                .map(move |(j, y)| merge_pair(Some((i, x)), Some((j, y)), clash, deep))
                        })
                        .collect()
                }
                other => {
                    return Err(NodeError::parameter(format!(
                        "Parameter \"combineBy\" value \"{other}\" is not supported (expected combineByFields, combineByPosition or combineAll)"
                    )))
                }
            },
            "chooseBranch" => match p.string_or("output", "specifiedInput")? {
                "empty" => vec![Item::new(JsonObject::new())],
                _ => {
                    let n = p.number_or("useDataOfInput", 1.0)? as usize;
                    let n = n.clamp(1, inputs) - 1;
                    input(n)
                        .iter()
                        .enumerate()
                        .map(|(i, item)| item.clone().paired_with_input(i, n))
                        .collect()
                }
            },
            other => {
                return Err(NodeError::parameter(format!(
                    "Parameter \"mode\" value \"{other}\" is not supported (expected append, combine or chooseBranch)"
                )))
            }
        };
        Ok(vec![out])
    }
}

/// The `(input 1 field, input 2 field)` pairs to match on.
fn match_fields(p: &node_api::Parameters) -> Result<Vec<(String, String)>, NodeError> {
    let pairs: Vec<(String, String)> = if p.bool_or("advanced", false)? {
        p.collection("mergeByFields.values")?
            .into_iter()
            .filter_map(|v| {
                Some((
                    v.get("field1")?.as_str()?.trim().to_string(),
                    v.get("field2")?.as_str()?.trim().to_string(),
                ))
            })
            .collect()
    } else {
        p.string_or("fieldsToMatchString", "")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| (s.to_string(), s.to_string()))
            .collect()
    };
    if pairs.is_empty() {
        return Err(NodeError::parameter(
            "Parameter \"fieldsToMatchString\" is required",
        ));
    }
    Ok(pairs)
}

fn key_equal(a: Option<&Value>, b: Option<&Value>, fuzzy: bool) -> bool {
    match (a, b) {
        (Some(a), Some(b)) if a == b => true,
        (Some(a), Some(b)) if fuzzy => loose_string(a) == loose_string(b),
        _ => false,
    }
}

fn loose_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => workflow::expr::js_number(n),
        other => other.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn combine_by_fields(
    a: &[Item],
    b: &[Item],
    pairs: &[(String, String)],
    fuzzy: bool,
    first_only: bool,
    join: &str,
    output_from: &str,
    clash: Clash,
    deep: bool,
) -> Result<Vec<Item>, NodeError> {
    let matches = |x: &Item, y: &Item| {
        pairs
            .iter()
            .all(|(f1, f2)| key_equal(get_path(&x.json, f1), get_path(&y.json, f2), fuzzy))
    };
    let mut b_matched = vec![false; b.len()];
    let mut out = Vec::new();
    let mut a_unmatched = Vec::new();
    for (i, x) in a.iter().enumerate() {
        let mut found = false;
        for (j, y) in b.iter().enumerate() {
            if !matches(x, y) {
                continue;
            }
            found = true;
            b_matched[j] = true;
            match (join, output_from) {
                ("keepMatches", "input1") => out.push(x.clone().paired_with_input(i, 0)),
                ("keepMatches", "input2") => out.push(y.clone().paired_with_input(j, 1)),
                ("keepNonMatches", _) => {}
                ("enrichInput2", _) => {}
                _ => out.push(merge_pair(Some((i, x)), Some((j, y)), clash, deep)),
            }
            if first_only {
                break;
            }
        }
        if !found {
            a_unmatched.push((i, x));
        }
    }
    let b_unmatched = b
        .iter()
        .enumerate()
        .filter(|(j, _)| !b_matched[*j])
        .map(|(j, y)| y.clone().paired_with_input(j, 1));
    let a_unmatched = a_unmatched
        .into_iter()
        .map(|(i, x)| x.clone().paired_with_input(i, 0));
    // Every item of input `keep` (0 or 1), merged with its matches from the other input
    // when it has any, in that input's order.
    let enrich = |keep: usize| -> Vec<Item> {
        let (kept, other) = if keep == 0 { (a, b) } else { (b, a) };
        let mut result = Vec::new();
        for (k, item) in kept.iter().enumerate() {
            let mut any = false;
            for (o, candidate) in other.iter().enumerate() {
                let (x, y) = if keep == 0 {
                    ((k, item), (o, candidate))
                } else {
                    ((o, candidate), (k, item))
                };
                if matches(x.1, y.1) {
                    any = true;
                    result.push(merge_pair(Some(x), Some(y), clash, deep));
                    if first_only {
                        break;
                    }
                }
            }
            if !any {
                result.push(item.clone().paired_with_input(k, keep));
            }
        }
        result
    };
    Ok(match join {
        "keepMatches" => {
            if output_from == "input1" {
                dedupe_by_pair(out)
            } else {
                out
            }
        }
        "keepNonMatches" => match output_from {
            "input1" => a_unmatched.collect(),
            "input2" => b_unmatched.collect(),
            _ => a_unmatched.chain(b_unmatched).collect(),
        },
        "keepEverything" => out
            .into_iter()
            .chain(a_unmatched)
            .chain(b_unmatched)
            .collect(),
        "enrichInput1" => enrich(0),
        "enrichInput2" => enrich(1),
        other => {
            return Err(NodeError::parameter(format!(
                "Parameter \"joinMode\" value \"{other}\" is not supported"
            )))
        }
    })
}

fn dedupe_by_pair(items: Vec<Item>) -> Vec<Item> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.paired_item.first().map(|r| r.item)))
        .collect()
}

/// Merges an input-1 item and an input-2 item; on clashing keys the preferred side wins.
fn merge_pair(
    a: Option<(usize, &Item)>,
    b: Option<(usize, &Item)>,
    clash: Clash,
    deep: bool,
) -> Item {
    let (first, second) = match clash {
        Clash::PreferLast => (a, b),
        Clash::PreferInput1 => (b, a),
    };
    let mut json = first.map(|(_, x)| x.json.clone()).unwrap_or_default();
    if let Some((_, y)) = second {
        merge_into(&mut json, &y.json, deep);
    }
    let mut item = Item::new(json);
    item.paired_item = a
        .map(|(i, _)| ItemRef::new(i, 0))
        .into_iter()
        .chain(b.map(|(j, _)| ItemRef::new(j, 1)))
        .collect();
    let binary = [first, second]
        .into_iter()
        .flatten()
        .filter_map(|(_, x)| x.binary.clone())
        .reduce(|mut acc, more| {
            acc.extend(more);
            acc
        });
    item.binary = binary;
    item
}

fn merge_into(target: &mut JsonObject, source: &JsonObject, deep: bool) {
    for (k, v) in source {
        match (target.get_mut(k), v) {
            (Some(Value::Object(t)), Value::Object(s)) if deep => merge_into(t, s, deep),
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}
