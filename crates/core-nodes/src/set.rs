//! `n8n-nodes-base.set` ("Edit Fields"), typeVersion 3.x: assignments with types, or raw JSON.

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError};
use serde_json::{Number, Value};

use super::{describe, per_item, set_path};
use workflow::expr::js_number;

/// The Set node.
pub struct Set(NodeDescription);

impl Set {
    /// The node.
    pub fn new() -> Self {
        Self(describe(
            "set",
            "Edit Fields (Set)",
            &[3.0, 3.1, 3.2, 3.3, 3.4],
        ))
    }
}

#[async_trait]
impl Node for Set {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let out = per_item(ctx.continue_on_fail(), &input, |i, item| {
            let p = ctx.parameters(i)?;
            let include_other = p.bool_or("includeOtherFields", false)?;
            let dot_notation = p.bool_or("options.dotNotation", true)?;
            let ignore_conversion = p.bool_or("options.ignoreConversionErrors", false)?;
            let mut json = if include_other {
                match p.string_or("include", "all")? {
                    "selected" => pick(&item.json, p.string_or("includeFields", "")?, true),
                    "except" => pick(&item.json, p.string_or("excludeFields", "")?, false),
                    _ => JsonObject::clone(&item.json),
                }
            } else {
                JsonObject::new()
            };
            match p.string_or("mode", "manual")? {
                "raw" => {
                    let raw = p.get("jsonOutput").cloned().unwrap_or(Value::Null);
                    let obj = match raw {
                        Value::String(s) => serde_json::from_str::<Value>(&s).map_err(|e| {
                            NodeError::parameter(format!(
                                "Parameter \"jsonOutput\" must be a JSON object: {e}"
                            ))
                        })?,
                        other => other,
                    };
                    let Value::Object(obj) = obj else {
                        return Err(NodeError::parameter(
                            "Parameter \"jsonOutput\" must be a JSON object",
                        ));
                    };
                    for (k, v) in obj {
                        json.insert(k, v);
                    }
                }
                _ => {
                    for a in p.collection("assignments.assignments")? {
                        let name = a.get("name").and_then(Value::as_str).unwrap_or_default();
                        if name.is_empty() {
                            return Err(NodeError::parameter(
                                "an assignment has an empty field name",
                            ));
                        }
                        let ty = a.get("type").and_then(Value::as_str).unwrap_or("string");
                        let raw = a.get("value").cloned().unwrap_or(Value::Null);
                        let value = match convert(name, ty, raw.clone()) {
                            Ok(v) => v,
                            Err(_) if ignore_conversion => raw,
                            Err(e) => return Err(e),
                        };
                        if dot_notation {
                            set_path(&mut json, name, value);
                        } else {
                            json.insert(name.to_string(), value);
                        }
                    }
                }
            }
            let mut out = Item::new(json).paired_with(i);
            if include_other {
                out.binary = item.binary.clone();
            }
            Ok(vec![out])
        })?;
        Ok(vec![out])
    }
}

fn pick(json: &JsonObject, fields: &str, keep: bool) -> JsonObject {
    let names: Vec<&str> = fields
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    json.iter()
        .filter(|(k, _)| names.contains(&k.as_str()) == keep)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Converts an assignment's value to its declared type as n8n 3.x does, refusing values that
/// do not fit with a message naming the field.
fn convert(name: &str, ty: &str, value: Value) -> Result<Value, NodeError> {
    let wrong = |expected: &str, got: &Value| {
        let shown = match got {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        NodeError::parameter(format!(
            "'{name}' expects a {expected} but we got '{shown}'"
        ))
    };
    Ok(match (ty, value) {
        (_, Value::Null) => Value::Null,
        ("string", Value::String(s)) => Value::String(s),
        ("string", Value::Number(n)) => Value::String(js_number(&n)),
        ("string", Value::Bool(b)) => Value::String(b.to_string()),
        ("string", other) => Value::String(other.to_string()),
        ("number", Value::Number(n)) => Value::Number(n),
        ("number", Value::String(s)) => {
            let f: f64 = s
                .trim()
                .parse()
                .map_err(|_| wrong("number", &Value::String(s.clone())))?;
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Value::from(f as i64)
            } else {
                Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
        }
        ("boolean", Value::Bool(b)) => Value::Bool(b),
        ("boolean", Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" | "" => Value::Bool(false),
            _ => return Err(wrong("boolean", &Value::String(s))),
        },
        ("boolean", Value::Number(n)) => Value::Bool(n.as_f64() != Some(0.0)),
        ("array", Value::Array(a)) => Value::Array(a),
        ("array", Value::String(s)) => match serde_json::from_str(&s) {
            Ok(Value::Array(a)) => Value::Array(a),
            _ => return Err(wrong("array", &Value::String(s))),
        },
        ("object", Value::Object(o)) => Value::Object(o),
        ("object", Value::String(s)) => match serde_json::from_str(&s) {
            Ok(Value::Object(o)) => Value::Object(o),
            _ => return Err(wrong("object", &Value::String(s))),
        },
        ("number" | "boolean" | "array" | "object", other) => return Err(wrong(ty, &other)),
        // Unknown types (binary, ...) are kept as given.
        (_, other) => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conversions_follow_n8n() {
        assert_eq!(convert("n", "number", json!("42")).unwrap(), json!(42));
        assert_eq!(convert("s", "string", json!(3)).unwrap(), json!("3"));
        assert_eq!(convert("b", "boolean", json!("true")).unwrap(), json!(true));
        assert_eq!(
            convert("a", "array", json!("[1,2]")).unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            convert("n", "number", json!("abc")).unwrap_err().message,
            "'n' expects a number but we got 'abc'"
        );
    }
}
