//! [`Parameters`]: typed access to a node's parameters after expressions are resolved.
//!
//! Names may be dotted paths into nested collections (`options.responseCode`). A missing
//! required parameter answers `Parameter "X" is required`, as n8n does; a value of the wrong
//! type names the parameter, what was expected and what was found.

use serde_json::Value;

use crate::error::NodeError;
use crate::item::{json_type_name, JsonObject};

/// A node's parameters for one item, expressions already evaluated by the engine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parameters {
    values: JsonObject,
}

impl Parameters {
    /// Wraps resolved parameter values.
    pub fn new(values: JsonObject) -> Self {
        Self { values }
    }

    /// All parameter values.
    pub fn as_object(&self) -> &JsonObject {
        &self.values
    }

    /// The value at `path` (dotted), or `None` when absent. `null` counts as absent.
    pub fn get(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let mut current = self.values.get(parts.next()?)?;
        for part in parts {
            current = current.as_object()?.get(part)?;
        }
        (!current.is_null()).then_some(current)
    }

    fn required(&self, path: &str) -> Result<&Value, NodeError> {
        self.get(path)
            .ok_or_else(|| NodeError::parameter(format!("Parameter \"{path}\" is required")))
    }

    /// A required string; numbers and booleans are refused rather than silently converted.
    pub fn string(&self, path: &str) -> Result<&str, NodeError> {
        let v = self.required(path)?;
        v.as_str().ok_or_else(|| wrong_type(path, "a string", v))
    }

    /// An optional string: `None` when absent.
    pub fn opt_string(&self, path: &str) -> Result<Option<&str>, NodeError> {
        match self.get(path) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| wrong_type(path, "a string", v)),
        }
    }

    /// A string with a default for when it is absent.
    pub fn string_or<'a>(&'a self, path: &str, default: &'a str) -> Result<&'a str, NodeError> {
        Ok(self.opt_string(path)?.unwrap_or(default))
    }

    /// A required boolean; the strings `"true"` / `"false"` are accepted (expressions yield them).
    pub fn bool(&self, path: &str) -> Result<bool, NodeError> {
        let v = self.required(path)?;
        as_bool(v).ok_or_else(|| wrong_type(path, "a boolean", v))
    }

    /// A boolean with a default for when it is absent.
    pub fn bool_or(&self, path: &str, default: bool) -> Result<bool, NodeError> {
        match self.get(path) {
            None => Ok(default),
            Some(v) => as_bool(v).ok_or_else(|| wrong_type(path, "a boolean", v)),
        }
    }

    /// A required number; numeric strings are accepted (expressions yield them).
    pub fn number(&self, path: &str) -> Result<f64, NodeError> {
        let v = self.required(path)?;
        as_number(v).ok_or_else(|| wrong_type(path, "a number", v))
    }

    /// A number with a default for when it is absent.
    pub fn number_or(&self, path: &str, default: f64) -> Result<f64, NodeError> {
        match self.get(path) {
            None => Ok(default),
            Some(v) => as_number(v).ok_or_else(|| wrong_type(path, "a number", v)),
        }
    }

    /// A required JSON object (n8n's `collection` / `json` parameters).
    pub fn object(&self, path: &str) -> Result<&JsonObject, NodeError> {
        let v = self.required(path)?;
        v.as_object()
            .ok_or_else(|| wrong_type(path, "an object", v))
    }

    /// An object, or an empty one when absent (n8n's `options` collections default to `{}`).
    pub fn object_or_empty(&self, path: &str) -> Result<JsonObject, NodeError> {
        match self.get(path) {
            None => Ok(JsonObject::new()),
            Some(Value::Object(o)) => Ok(o.clone()),
            Some(v) => Err(wrong_type(path, "an object", v)),
        }
    }

    /// The entries of a `fixedCollection` list (e.g. `assignments.assignments`): every element
    /// must be an object; absent means empty. A single object is taken as a list of one, as n8n
    /// stores non-multiple fixed collections that way.
    pub fn collection(&self, path: &str) -> Result<Vec<&JsonObject>, NodeError> {
        match self.get(path) {
            None => Ok(Vec::new()),
            Some(Value::Object(o)) => Ok(vec![o]),
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_object()
                        .ok_or_else(|| wrong_type(&format!("{path}[{i}]"), "an object", v))
                })
                .collect(),
            Some(v) => Err(wrong_type(path, "a list of objects", v)),
        }
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn wrong_type(path: &str, expected: &str, got: &Value) -> NodeError {
    NodeError::parameter(format!(
        "Parameter \"{path}\" must be {expected}, got {}",
        json_type_name(got)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Parameters {
        Parameters::new(v.as_object().unwrap().clone())
    }

    #[test]
    fn typed_access_with_defaults_and_paths() {
        let p = params(json!({
            "resource": "account", "limit": "25", "returnAll": "false",
            "options": {"responseCode": 201, "fields": null},
            "list": {"entries": [{"name": "a"}, {"name": "b"}]}
        }));
        assert_eq!(p.string("resource").unwrap(), "account");
        assert_eq!(p.number("limit").unwrap(), 25.0);
        assert!(!p.bool("returnAll").unwrap());
        assert_eq!(p.number("options.responseCode").unwrap(), 201.0);
        assert_eq!(p.string_or("options.fields", "id").unwrap(), "id");
        assert!(p.bool_or("missing", true).unwrap());
        assert_eq!(p.collection("list.entries").unwrap().len(), 2);
        assert!(p.collection("absent.entries").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_parameter_and_the_expectation() {
        let p = params(json!({"limit": [1], "name": 3}));
        assert_eq!(
            p.string("operation").unwrap_err().message,
            "Parameter \"operation\" is required"
        );
        assert_eq!(
            p.number("limit").unwrap_err().message,
            "Parameter \"limit\" must be a number, got array"
        );
        assert_eq!(
            p.string("name").unwrap_err().message,
            "Parameter \"name\" must be a string, got number"
        );
    }
}
