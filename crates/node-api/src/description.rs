//! [`NodeDescription`]: what the engine needs to know about a node type before running it.

use std::collections::BTreeMap;

use serde_json::Value;

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
}

impl ParameterSpec {
    /// A parameter that must always be present.
    pub fn required(name: &str) -> Self {
        Self {
            name: name.to_string(),
            required: true,
            default: None,
            show: BTreeMap::new(),
        }
    }
}
