//! The workflow model: n8n's workflow JSON, read and written unchanged.
//!
//! Fields the engine uses are typed; everything else (UI metadata, fields a newer n8n adds) is
//! kept in `extra` maps so a workflow exported from n8n round-trips field for field.

use std::collections::BTreeMap;

use node_api::{CredentialRef, Item, JsonObject};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::error::WorkflowError;

/// A workflow in n8n's JSON format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// Workflow id (assigned by the store when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The nodes.
    pub nodes: Vec<WorkflowNode>,
    /// Connections keyed by source node name, then connection type (`main`).
    #[serde(default)]
    pub connections: BTreeMap<String, NodeConnections>,
    /// Workflow settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<WorkflowSettings>,
    /// Data nodes keep between executions (n8n's `staticData`).
    #[serde(
        rename = "staticData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub static_data: Option<Value>,
    /// Pinned output per node name, used instead of running the node in manual executions.
    #[serde(rename = "pinData", default, skip_serializing_if = "Option::is_none")]
    pub pin_data: Option<BTreeMap<String, Vec<Item>>>,
    /// Every other field, kept as it came.
    #[serde(flatten)]
    pub extra: JsonObject,
}

/// Outgoing connections of one node: connection type (`main`) -> output index -> targets.
pub type NodeConnections = BTreeMap<String, Vec<Option<Vec<ConnectionTarget>>>>;

/// One end of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionTarget {
    /// Target node name.
    pub node: String,
    /// Connection type (`main`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Target input index.
    pub index: usize,
}

/// Workflow settings the engine reads; the rest are kept in `extra`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSettings {
    /// `v1` (the only order we run; `v0` workflows run in v1 order too).
    #[serde(
        rename = "executionOrder",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_order: Option<String>,
    /// Seconds before the execution is stopped; `-1` or absent means no limit.
    #[serde(
        rename = "executionTimeout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_timeout: Option<i64>,
    /// Every other setting, kept as it came.
    #[serde(flatten)]
    pub extra: JsonObject,
}

/// What a node does when it fails (n8n's `onError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Fail the execution (default).
    StopWorkflow,
    /// Emit error items on the regular output and go on.
    ContinueRegularOutput,
    /// Emit error items on an extra error output and go on.
    ContinueErrorOutput,
}

/// One node of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowNode {
    /// Node id (a UUID in n8n).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Unique name within the workflow; connections and expressions refer to it.
    pub name: String,
    /// n8n type name, e.g. `n8n-nodes-base.set`.
    #[serde(rename = "type")]
    pub node_type: String,
    /// Type version; kept as a JSON number so `2` stays `2` and `3.4` stays `3.4`.
    pub type_version: Number,
    /// Canvas position `[x, y]`; decides branch order in v1 execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Value>,
    /// Parameters, possibly holding expressions.
    #[serde(default)]
    pub parameters: JsonObject,
    /// Credential references keyed by credential type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<BTreeMap<String, CredentialRefJson>>,
    /// A disabled node passes its first input through unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Retry the node when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on_fail: Option<bool>,
    /// Attempts when retrying (n8n's default 3, bounded 2..=5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tries: Option<Value>,
    /// Milliseconds between attempts (n8n's default 1000, bounded 0..=5000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_between_tries: Option<Value>,
    /// What to do on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
    /// Legacy form of `onError: continueRegularOutput`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_on_fail: Option<bool>,
    /// Emit one empty item when the node outputs nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_output_data: Option<bool>,
    /// Run only for the first input item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute_once: Option<bool>,
    /// Every other field (`webhookId`, `notes`, ...), kept as it came.
    #[serde(flatten)]
    pub extra: JsonObject,
}

/// A credential reference as n8n writes it: `{"id": "...", "name": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRefJson {
    /// Credential id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Credential name.
    #[serde(default)]
    pub name: String,
}

impl From<&CredentialRefJson> for CredentialRef {
    fn from(r: &CredentialRefJson) -> Self {
        CredentialRef {
            id: r.id.clone(),
            name: r.name.clone(),
        }
    }
}

impl Workflow {
    /// Parses n8n workflow JSON; the error names the field that did not fit.
    pub fn from_json(text: &str) -> Result<Self, WorkflowError> {
        serde_json::from_str(text).map_err(|e| WorkflowError::Parse(e.to_string()))
    }

    /// Parses from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, WorkflowError> {
        serde_json::from_value(value).map_err(|e| WorkflowError::Parse(e.to_string()))
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&WorkflowNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The `main` targets of `node`'s output `output`.
    pub fn targets(&self, node: &str, output: usize) -> &[ConnectionTarget] {
        self.connections
            .get(node)
            .and_then(|c| c.get("main"))
            .and_then(|outs| outs.get(output))
            .and_then(|o| o.as_deref())
            .unwrap_or(&[])
    }

    /// Number of `main` outputs `node` has connections on.
    pub fn connected_outputs(&self, node: &str) -> usize {
        self.connections
            .get(node)
            .and_then(|c| c.get("main"))
            .map_or(0, Vec::len)
    }

    /// The execution time limit in seconds, if any.
    pub fn execution_timeout(&self) -> Option<u64> {
        self.settings
            .as_ref()
            .and_then(|s| s.execution_timeout)
            .filter(|t| *t > 0)
            .map(|t| t as u64)
    }
}

impl WorkflowNode {
    /// `typeVersion` as a number.
    pub fn version(&self) -> f64 {
        self.type_version.as_f64().unwrap_or(1.0)
    }

    /// Canvas position, `(0, 0)` when absent.
    pub fn position(&self) -> (f64, f64) {
        let p = self.position.as_ref().and_then(Value::as_array);
        let coord = |i: usize| {
            p.and_then(|p| p.get(i))
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
        };
        (coord(0), coord(1))
    }

    /// Whether the node is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled == Some(true)
    }

    /// The node's failure policy (`continueOnFail: true` means continue on the regular output).
    pub fn on_error(&self) -> OnError {
        match self.on_error.as_deref() {
            Some("continueRegularOutput") => OnError::ContinueRegularOutput,
            Some("continueErrorOutput") => OnError::ContinueErrorOutput,
            _ if self.continue_on_fail == Some(true) => OnError::ContinueRegularOutput,
            _ => OnError::StopWorkflow,
        }
    }

    /// Attempts to make: 1 without retries, else `maxTries` bounded to 2..=5 as n8n does.
    pub fn attempts(&self) -> u32 {
        if self.retry_on_fail != Some(true) {
            return 1;
        }
        let n = self.max_tries.as_ref().and_then(number_of).unwrap_or(3.0);
        n.clamp(2.0, 5.0) as u32
    }

    /// Milliseconds to wait between attempts, bounded to 0..=5000 as n8n does.
    pub fn wait_between_tries_ms(&self) -> u64 {
        let n = self
            .wait_between_tries
            .as_ref()
            .and_then(number_of)
            .unwrap_or(1000.0);
        n.clamp(0.0, 5000.0) as u64
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_and_number_forms_round_trip_unchanged() {
        let original = json!({
            "id": "w1", "name": "round trip", "active": false, "versionId": "v-9",
            "nodes": [{
                "id": "n1", "name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4,
                "position": [220, -40], "parameters": {"a": "={{ 1 }}"},
                "webhookId": "hook", "notes": "kept", "retryOnFail": true, "maxTries": 4,
                "onError": "continueErrorOutput", "credentials": {"x": {"id": "c1", "name": "X"}}
            }, {
                "name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "parameters": {}
            }],
            "connections": {"Hook": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}},
            "settings": {"executionOrder": "v1", "timezone": "Europe/Paris"},
            "staticData": null,
            "tags": [{"name": "t"}],
            "meta": {"templateCredsSetupCompleted": true}
        });
        let wf = Workflow::from_value(original.clone()).unwrap();
        assert_eq!(wf.nodes[0].attempts(), 4);
        assert_eq!(wf.nodes[0].on_error(), OnError::ContinueErrorOutput);
        let mut back = serde_json::to_value(&wf).unwrap();
        // `staticData: null` is the one field n8n itself treats as absent.
        back.as_object_mut()
            .unwrap()
            .insert("staticData".into(), Value::Null);
        assert_eq!(back, original);
    }

    #[test]
    fn malformed_json_names_the_problem() {
        let err = Workflow::from_json(r#"{"nodes": [{"name": "A"}]}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `type`"), "{err}");
    }
}
