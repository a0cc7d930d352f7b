//! n8n's filter conditions (If v2, Filter v2): typed operators, `and` / `or`, strict or loose
//! type validation.

use chrono::{DateTime, NaiveDate, Utc};
use node_api::{item::json_type_name, JsonObject, NodeError, Parameters};
use serde_json::Value;

/// Evaluates the `conditions` parameter (already resolved for one item).
pub(crate) fn evaluate(p: &Parameters, item_index: usize) -> Result<bool, NodeError> {
    let filter = p.object_or_empty("conditions")?;
    let options = filter
        .get("options")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let case_sensitive = options
        .get("caseSensitive")
        .and_then(Value::as_bool)
        .unwrap_or(true)
        && !p.bool_or("options.ignoreCase", false)?;
    let loose = options.get("typeValidation").and_then(Value::as_str) == Some("loose")
        || p.bool_or("looseTypeValidation", false)?;
    evaluate_filter(&filter, case_sensitive, loose, item_index)
}

/// Evaluates one filter value (`{options, conditions, combinator}`, already resolved for one
/// item) with the case sensitivity and type validation the node decides: the If's and the
/// Filter's conditions as well as a Switch rule's.
pub(crate) fn evaluate_filter(
    filter: &JsonObject,
    case_sensitive: bool,
    loose: bool,
    item_index: usize,
) -> Result<bool, NodeError> {
    let filter = Parameters::new(filter.clone());
    let combinator = filter.string_or("combinator", "and")?;
    let conditions = filter.collection("conditions")?;
    let mut results = Vec::with_capacity(conditions.len());
    for (n, c) in conditions.iter().enumerate() {
        let op = c.get("operator").and_then(Value::as_object);
        let ty = op
            .and_then(|o| o.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("string");
        let operation = op
            .and_then(|o| o.get("operation"))
            .and_then(Value::as_str)
            .unwrap_or("equals");
        let left = c.get("leftValue").cloned().unwrap_or(Value::Null);
        let right = c.get("rightValue").cloned().unwrap_or(Value::Null);
        let r = check(ty, operation, left, right, case_sensitive, loose).map_err(|m| {
            NodeError::parameter(format!(
                "Conditions: {m} [condition {n}, item {item_index}]"
            ))
            .at_item(item_index)
        })?;
        results.push(r);
    }
    Ok(if combinator == "or" {
        results.iter().any(|r| *r)
    } else {
        results.iter().all(|r| *r)
    })
}

/// The operations [`evaluate_filter`] implements, per operator type; `exists`, `notExists`,
/// `empty` and `notEmpty` work on every type.
const OPERATIONS: &[(&str, &[&str])] = &[
    (
        "string",
        &[
            "equals",
            "notEquals",
            "contains",
            "notContains",
            "startsWith",
            "notStartsWith",
            "endsWith",
            "notEndsWith",
            "regex",
            "notRegex",
        ],
    ),
    ("number", &["equals", "notEquals", "gt", "lt", "gte", "lte"]),
    ("boolean", &["true", "false", "equals", "notEquals"]),
    (
        "dateTime",
        &[
            "equals",
            "notEquals",
            "after",
            "before",
            "afterOrEquals",
            "beforeOrEquals",
        ],
    ),
    (
        "array",
        &[
            "contains",
            "notContains",
            "lengthEquals",
            "lengthNotEquals",
            "lengthGt",
            "lengthLt",
            "lengthGte",
            "lengthLte",
        ],
    ),
    ("object", &[]),
];

/// What is wrong with a saved filter value at `path`: operators this implementation does not
/// evaluate, named with the ones it does, so a workflow is refused at save rather than failing
/// on its first item.
pub(crate) fn filter_problems(filter: &Value, path: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(c) = filter.get("combinator").and_then(Value::as_str) {
        if !matches!(c, "and" | "or") && !c.starts_with('=') {
            problems.push(format!(
                "Parameter \"{path}.combinator\" has an unknown value \"{c}\" (accepted: and, or)"
            ));
        }
    }
    let conditions = filter
        .get("conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (n, c) in conditions.iter().enumerate() {
        let op = c.get("operator");
        let ty = op
            .and_then(|o| o.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("string");
        let operation = op
            .and_then(|o| o.get("operation"))
            .and_then(Value::as_str)
            .unwrap_or("equals");
        if matches!(operation, "exists" | "notExists" | "empty" | "notEmpty") {
            continue;
        }
        let Some((_, known)) = OPERATIONS.iter().find(|(t, _)| *t == ty) else {
            let types: Vec<&str> = OPERATIONS.iter().map(|(t, _)| *t).collect();
            problems.push(format!(
                "Parameter \"{path}.conditions[{n}].operator.type\" has an unknown value \"{ty}\" (accepted: {})",
                types.join(", ")
            ));
            continue;
        };
        if !known.contains(&operation) {
            let mut accepted: Vec<&str> = known.to_vec();
            accepted.extend(["exists", "notExists", "empty", "notEmpty"]);
            problems.push(format!(
                "Parameter \"{path}.conditions[{n}].operator.operation\" has an unknown value \"{operation}\" for type {ty} (accepted: {})",
                accepted.join(", ")
            ));
        }
    }
    problems
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn check(
    ty: &str,
    operation: &str,
    left: Value,
    right: Value,
    case_sensitive: bool,
    loose: bool,
) -> Result<bool, String> {
    match operation {
        "exists" => return Ok(!left.is_null()),
        "notExists" => return Ok(left.is_null()),
        "empty" => return Ok(is_empty_value(&left)),
        "notEmpty" => return Ok(!is_empty_value(&left)),
        _ => {}
    }
    match ty {
        "string" => {
            let (Some(l), Some(r)) = (as_string(&left, loose)?, as_string(&right, true)?) else {
                return Ok(operation.starts_with("not"));
            };
            let (l, r) = if case_sensitive {
                (l, r)
            } else {
                (l.to_lowercase(), r.to_lowercase())
            };
            Ok(match operation {
                "equals" => l == r,
                "notEquals" => l != r,
                "contains" => l.contains(&r),
                "notContains" => !l.contains(&r),
                "startsWith" => l.starts_with(&r),
                "notStartsWith" => !l.starts_with(&r),
                "endsWith" => l.ends_with(&r),
                "notEndsWith" => !l.ends_with(&r),
                "regex" | "notRegex" => {
                    // The pattern keeps its case; `caseSensitive: false` lowercased only `l`.
                    let pattern = as_string(&right, true)?.unwrap_or_default();
                    let hit = workflow::expr::regex_test(&pattern, &l)
                        .map_err(|e| format!("invalid regular expression: {}", e.message))?;
                    hit == (operation == "regex")
                }
                other => return Err(format!("unsupported string operation \"{other}\"")),
            })
        }
        "number" => {
            let (Some(l), Some(r)) = (as_number(&left, loose)?, as_number(&right, true)?) else {
                return Ok(operation == "notEquals");
            };
            Ok(match operation {
                "equals" => l == r,
                "notEquals" => l != r,
                "gt" => l > r,
                "lt" => l < r,
                "gte" => l >= r,
                "lte" => l <= r,
                other => return Err(format!("unsupported number operation \"{other}\"")),
            })
        }
        "boolean" => {
            let Some(l) = as_bool(&left, loose)? else {
                return Ok(operation == "false" || operation == "notEquals");
            };
            Ok(match operation {
                "true" => l,
                "false" => !l,
                "equals" => Some(l) == as_bool(&right, true)?,
                "notEquals" => Some(l) != as_bool(&right, true)?,
                other => return Err(format!("unsupported boolean operation \"{other}\"")),
            })
        }
        "dateTime" => {
            let (Some(l), Some(r)) = (as_date(&left)?, as_date(&right)?) else {
                return Ok(operation == "notEquals");
            };
            Ok(match operation {
                "equals" => l == r,
                "notEquals" => l != r,
                "after" => l > r,
                "before" => l < r,
                "afterOrEquals" => l >= r,
                "beforeOrEquals" => l <= r,
                other => return Err(format!("unsupported dateTime operation \"{other}\"")),
            })
        }
        "array" => {
            let l = match left {
                Value::Array(a) => a,
                Value::Null => Vec::new(),
                Value::String(s) if loose => match serde_json::from_str(&s) {
                    Ok(Value::Array(a)) => a,
                    _ => return Err(wrong_type(&Value::String(s), "array")),
                },
                other => return Err(wrong_type(&other, "array")),
            };
            let len = l.len() as f64;
            let n = || as_number(&right, true).map(|n| n.unwrap_or(0.0));
            Ok(match operation {
                "contains" => l.contains(&right),
                "notContains" => !l.contains(&right),
                "lengthEquals" => len == n()?,
                "lengthNotEquals" => len != n()?,
                "lengthGt" => len > n()?,
                "lengthLt" => len < n()?,
                "lengthGte" => len >= n()?,
                "lengthLte" => len <= n()?,
                other => return Err(format!("unsupported array operation \"{other}\"")),
            })
        }
        "object" => Err(format!("unsupported object operation \"{operation}\"")),
        other => Err(format!("unknown operator type \"{other}\"")),
    }
}

fn wrong_type(v: &Value, expected: &str) -> String {
    let shown = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!(
        "Wrong type: '{shown}' is a {} but was expecting a {expected}",
        json_type_name(v)
    )
}

fn as_string(v: &Value, loose: bool) -> Result<Option<String>, String> {
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if loose => Some(workflow::expr::js_number(n)),
        Value::Bool(b) if loose => Some(b.to_string()),
        other if loose => Some(other.to_string()),
        other => return Err(wrong_type(other, "string")),
    })
}

fn as_number(v: &Value, loose: bool) -> Result<Option<f64>, String> {
    Ok(match v {
        Value::Null => None,
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.is_empty() => None,
        Value::String(s) if loose => Some(s.trim().parse().map_err(|_| wrong_type(v, "number"))?),
        Value::Bool(b) if loose => Some(if *b { 1.0 } else { 0.0 }),
        other => return Err(wrong_type(other, "number")),
    })
}

fn as_bool(v: &Value, loose: bool) -> Result<Option<bool>, String> {
    Ok(match v {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::String(s) if loose || s == "true" || s == "false" => {
            match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" | "" => Some(false),
                _ => return Err(wrong_type(v, "boolean")),
            }
        }
        Value::Number(n) if loose => Some(n.as_f64() != Some(0.0)),
        other => return Err(wrong_type(other, "boolean")),
    })
}

fn as_date(v: &Value) -> Result<Option<DateTime<Utc>>, String> {
    Ok(match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .or_else(|_| {
                    NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                })
                .map_err(|_| wrong_type(v, "dateTime"))?,
        ),
        Value::Number(n) => DateTime::from_timestamp_millis(n.as_i64().unwrap_or(0)),
        other => return Err(wrong_type(other, "dateTime")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_validation_refuses_a_string_for_a_number() {
        assert_eq!(
            check("number", "gt", json!("5"), json!(3), true, false).unwrap_err(),
            "Wrong type: '5' is a string but was expecting a number"
        );
        assert!(check("number", "gt", json!("5"), json!(3), true, true).unwrap());
        assert!(check("string", "contains", json!("Ada"), json!("a"), false, false).unwrap());
        assert!(!check("string", "contains", json!("Bob"), json!("a"), true, false).unwrap());
        assert!(check(
            "dateTime",
            "after",
            json!("2024-02-01"),
            json!("2024-01-01T10:00:00Z"),
            true,
            false
        )
        .unwrap());
        assert!(check("array", "lengthGte", json!([1, 2]), json!(2), true, false).unwrap());
        assert!(check("boolean", "true", json!(true), json!(null), true, false).unwrap());
        assert!(check(
            "string",
            "regex",
            json!("ada-42"),
            json!("/\\d+$/"),
            true,
            false
        )
        .unwrap());
        assert!(check("string", "notRegex", json!("ada"), json!("^b"), true, false).unwrap());
    }
}
