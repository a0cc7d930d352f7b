//! [`NodeDescription`]: what the engine needs to know about a node type before running it.
//!
//! The parameter rules ([`NodeDescription::parameter_problems`]) live here, beside the
//! declarations, so that the engine (when a workflow is saved) and a node (on the parameters
//! resolved for an item) judge a workflow the same way and say the same words.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::item::JsonObject;

/// How deep `show` conditions may refer to other parameters' defaults (a guard against a
/// description whose conditions refer to each other in a loop).
const MAX_SHOW_DEPTH: usize = 8;

/// A node type's identity and shape, used to validate workflows and wire outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeDescription {
    /// n8n's type name, e.g. `n8n-nodes-base.set`.
    pub type_name: String,
    /// Name shown to users, e.g. `Edit Fields (Set)`.
    pub display_name: String,
    /// Every `typeVersion` this implementation accepts.
    pub versions: Vec<f64>,
    /// Credential types the node can use.
    pub credentials: Vec<CredentialSpec>,
    /// Number of `main` inputs (0 for triggers).
    pub inputs: usize,
    /// Number of `main` outputs (2 for If). The error output, when enabled, comes after these.
    pub outputs: usize,
    /// Parameters checked when a workflow is saved.
    pub parameters: Vec<ParameterSpec>,
    /// True for nodes that start executions (manual, webhook, schedule, polling triggers).
    pub trigger: bool,
}

impl NodeDescription {
    /// A description with one input, one output, no credentials and no checked parameters.
    pub fn new(type_name: &str, display_name: &str, versions: &[f64]) -> Self {
        Self {
            type_name: type_name.to_string(),
            display_name: display_name.to_string(),
            versions: versions.to_vec(),
            credentials: Vec::new(),
            inputs: 1,
            outputs: 1,
            parameters: Vec::new(),
            trigger: false,
        }
    }

    /// Whether `version` is one this node implements.
    pub fn supports_version(&self, version: f64) -> bool {
        self.versions.iter().any(|v| (v - version).abs() < 1e-9)
    }

    /// What is wrong with `parameters` (as saved, or as resolved for one item): every
    /// parameter shown and required but missing or empty (n8n's `Parameter "X" is required`),
    /// and every value of a fixed-list parameter that is not in its list. Expressions (`=...`)
    /// are not judged: their value is only known at run time.
    pub fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = Vec::new();
        for spec in &self.parameters {
            if !self.shown_at(&spec.show, parameters, 0) {
                continue;
            }
            let values = values_at(parameters, &spec.name);
            if spec.required && is_empty(values.first().copied().or(spec.default.as_ref())) {
                problems.push(format!("Parameter \"{}\" is required", spec.name));
            }
            let Some(allowed) = &spec.options else {
                continue;
            };
            for value in values {
                let expression = value.as_str().is_some_and(|s| s.starts_with('='));
                if value.is_null() || expression || allowed.contains(value) {
                    continue;
                }
                let accepted: Vec<String> = allowed.iter().map(display).collect();
                problems.push(format!(
                    "Parameter \"{}\" has an unknown value {} (accepted: {})",
                    spec.name,
                    display_quoted(value),
                    accepted.join(", ")
                ));
            }
        }
        problems
    }

    /// Whether every `show` condition holds for `parameters`. An absent parameter counts at
    /// the default of its declaration that is itself shown (n8n declares `operation` once per
    /// resource, each with its own default).
    pub fn shows(&self, show: &BTreeMap<String, Vec<Value>>, parameters: &JsonObject) -> bool {
        self.shown_at(show, parameters, 0)
    }

    fn shown_at(
        &self,
        show: &BTreeMap<String, Vec<Value>>,
        parameters: &JsonObject,
        depth: usize,
    ) -> bool {
        show.iter().all(|(name, allowed)| {
            let value = values_at(parameters, name)
                .first()
                .copied()
                .cloned()
                .or_else(|| {
                    (depth < MAX_SHOW_DEPTH)
                        .then(|| {
                            self.parameters
                                .iter()
                                .filter(|p| &p.name == name && p.default.is_some())
                                .find(|p| self.shown_at(&p.show, parameters, depth + 1))
                                .and_then(|p| p.default.clone())
                        })
                        .flatten()
                });
            value.is_some_and(|v| allowed.contains(&v))
        })
    }
}

/// The values at a dotted `path`; a list on the way (a `fixedCollection` with multiple
/// values) contributes each of its entries.
fn values_at<'a>(parameters: &'a JsonObject, path: &str) -> Vec<&'a Value> {
    let mut parts = path.split('.');
    let Some(first) = parts.next().and_then(|p| parameters.get(p)) else {
        return Vec::new();
    };
    let mut current = vec![first];
    for part in parts {
        current = current
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(list) => list.iter().collect(),
                other => vec![other],
            })
            .filter_map(|v| v.as_object()?.get(part))
            .collect();
    }
    current
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty() || s.trim() == "=",
        _ => false,
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn display_quoted(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// A credential type a node accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialSpec {
    /// Credential type name, e.g. `salesforceOAuth2Api`.
    pub type_name: String,
    /// Whether the node needs it whenever it is shown (see `show`).
    pub required: bool,
    /// Only needed when every listed parameter has one of the listed values
    /// (n8n's `displayOptions.show`, e.g. `authentication: ["jwt"]`).
    pub show: BTreeMap<String, Vec<Value>>,
}

/// A parameter the engine checks when a workflow is saved.
#[derive(Clone, Debug, PartialEq)]
pub struct ParameterSpec {
    /// Parameter name (may be a dotted path).
    pub name: String,
    /// Must be present (and non-empty) when shown.
    pub required: bool,
    /// Value assumed when absent; used to evaluate other parameters' `show` conditions.
    pub default: Option<Value>,
    /// Only shown when every listed parameter has one of the listed values.
    pub show: BTreeMap<String, Vec<Value>>,
    /// The only values accepted, for a parameter with a fixed list (n8n's `options` type);
    /// `None` accepts any value. A dotted name reaches into collections, lists included
    /// (`options.conditionsUi.conditionValues.operation`).
    pub options: Option<Vec<Value>>,
}

impl ParameterSpec {
    /// A parameter that must always be present.
    pub fn required(name: &str) -> Self {
        Self {
            name: name.to_string(),
            required: true,
            default: None,
            show: BTreeMap::new(),
            options: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str, show: &[(&str, &[&str])]) -> ParameterSpec {
        ParameterSpec {
            name: name.into(),
            required: false,
            default: None,
            show: show
                .iter()
                .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| json!(v)).collect()))
                .collect(),
            options: None,
        }
    }

    /// Two resources whose `operation` has different defaults, as n8n declares them.
    fn desc() -> NodeDescription {
        let mut d = NodeDescription::new("test.sf", "SF", &[1.0]);
        let mut resource = spec("resource", &[]);
        resource.default = Some(json!("lead"));
        resource.options = Some(vec![json!("lead"), json!("user")]);
        let mut lead_op = spec("operation", &[("resource", &["lead"])]);
        lead_op.default = Some(json!("create"));
        lead_op.options = Some(vec![json!("create"), json!("get")]);
        let mut user_op = spec("operation", &[("resource", &["user"])]);
        user_op.default = Some(json!("get"));
        user_op.options = Some(vec![json!("get")]);
        let mut company = spec(
            "company",
            &[("resource", &["lead"]), ("operation", &["create"])],
        );
        company.required = true;
        let mut user_id = spec(
            "userId",
            &[("resource", &["user"]), ("operation", &["get"])],
        );
        user_id.required = true;
        let mut binary = spec("binaryPropertyName", &[("resource", &["lead"])]);
        binary.required = true;
        binary.default = Some(json!("data"));
        let mut op = spec(
            "options.conditionsUi.conditionValues.operation",
            &[("resource", &["lead"])],
        );
        op.options = Some(vec![json!("equal"), json!("<")]);
        d.parameters = vec![resource, lead_op, user_op, company, user_id, binary, op];
        d
    }

    fn problems(params: serde_json::Value) -> Vec<String> {
        desc().parameter_problems(params.as_object().unwrap())
    }

    #[test]
    fn required_parameters_follow_the_default_of_the_declaration_shown() {
        // No resource, no operation: lead / create by default, so company is required.
        assert_eq!(problems(json!({})), ["Parameter \"company\" is required"]);
        // A user with no operation runs `get` (the user's own default), which needs userId.
        assert_eq!(
            problems(json!({"resource": "user"})),
            ["Parameter \"userId\" is required"]
        );
        assert!(problems(json!({"resource": "user", "userId": "005x"})).is_empty());
        // Empty strings and a bare "=" are missing; an expression is a value.
        assert_eq!(
            problems(json!({"company": " "})),
            ["Parameter \"company\" is required"]
        );
        assert!(problems(json!({"company": "={{ $json.c }}"})).is_empty());
        // A required parameter with a default may be left out, not emptied.
        assert_eq!(
            problems(json!({"company": "Acme", "binaryPropertyName": ""})),
            ["Parameter \"binaryPropertyName\" is required"]
        );
    }

    #[test]
    fn a_value_outside_a_fixed_list_is_named_with_the_accepted_ones() {
        assert_eq!(
            problems(json!({"resource": "acount"})),
            ["Parameter \"resource\" has an unknown value \"acount\" (accepted: lead, user)"]
        );
        assert_eq!(
            problems(json!({"resource": "user", "operation": "create", "userId": "x"})),
            ["Parameter \"operation\" has an unknown value \"create\" (accepted: get)"]
        );
        // Inside a list of conditions, each entry is judged; expressions are not.
        assert_eq!(
            problems(json!({"company": "A", "options": {"conditionsUi": {"conditionValues": [
                {"operation": "equal"}, {"operation": "={{ 1 }}"}, {"operation": "LIKE"}
            ]}}})),
            ["Parameter \"options.conditionsUi.conditionValues.operation\" has an unknown value \"LIKE\" (accepted: equal, <)"]
        );
    }
}
