//! Trigger nodes whose data comes from the engine: Manual Trigger, Webhook, Error Trigger
//! and Execute Workflow Trigger.

use std::collections::BTreeMap;

use async_trait::async_trait;
use node_api::{
    CredentialSpec, ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError,
    ParameterSpec,
};
use serde_json::{json, Value};

use workflow::webhook::{parse_ip_allow_list, WEBHOOK_AUTHENTICATION};

use super::describe;

/// `n8n-nodes-base.manualTrigger`: starts an execution by hand.
pub struct ManualTrigger(NodeDescription);

impl ManualTrigger {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("manualTrigger", "Manual Trigger", &[1.0]);
        d.inputs = 0;
        d.trigger = true;
        Self(d)
    }
}

#[async_trait]
impl Node for ManualTrigger {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        // n8n's manual trigger emits one empty item unless the run was given items.
        if input.is_empty() {
            return Ok(vec![vec![Item::new(JsonObject::new())]]);
        }
        Ok(vec![input])
    }
}

/// `n8n-nodes-base.errorTrigger`: starts a workflow named as another workflow's
/// `errorWorkflow` setting when a production execution of that one fails; the engine hands
/// it n8n's error item (`execution` and `workflow`).
pub struct ErrorTrigger(NodeDescription);

impl ErrorTrigger {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("errorTrigger", "Error Trigger", &[1.0]);
        d.inputs = 0;
        d.trigger = true;
        Self(d)
    }
}

#[async_trait]
impl Node for ErrorTrigger {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        if !input.is_empty() {
            return Ok(vec![input]);
        }
        // Run by hand there is no failed execution: n8n shows this example item.
        let example = serde_json::json!({
            "execution": {
                "id": "231",
                "url": "https://n8n.example.com/execution/231",
                "retryOf": "34",
                "error": {"message": "Example Error Message", "stack": "Stacktrace"},
                "lastNodeExecuted": "Node With Error",
                "mode": "manual"
            },
            "workflow": {"id": "1", "name": "Example Workflow"}
        });
        Ok(vec![vec![Item::from_value(example)?]])
    }
}

/// `n8n-nodes-base.webhook`: the engine turns the HTTP request into its one item
/// (`headers`, `params`, `query`, `body`, `webhookUrl`, `executionMode`).
pub struct Webhook(NodeDescription);

impl Webhook {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("webhook", "Webhook", &[1.0, 1.1, 2.0, 2.1]);
        d.inputs = 0;
        d.trigger = true;
        d.parameters.push(ParameterSpec::required("path"));
        // Every mode n8n offers that this build checks; any other is refused at save, never
        // served open.
        d.parameters.push(ParameterSpec {
            name: "authentication".into(),
            required: false,
            default: Some(json!("none")),
            show: BTreeMap::new(),
            options: Some(
                WEBHOOK_AUTHENTICATION
                    .iter()
                    .map(|(mode, _)| json!(mode))
                    .collect(),
            ),
        });
        for (mode, credential_type) in WEBHOOK_AUTHENTICATION {
            if let Some(type_name) = credential_type {
                d.credentials.push(CredentialSpec {
                    type_name: (*type_name).into(),
                    required: true,
                    show: BTreeMap::from([("authentication".to_string(), vec![json!(mode)])]),
                });
            }
        }
        Self(d)
    }
}

#[async_trait]
impl Node for Webhook {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        let options = parameters.get("options");
        match options.and_then(|o| o.get("ipWhitelist")) {
            None | Some(Value::Null) => {}
            Some(Value::String(list)) if list.trim_start().starts_with('=') => problems.push(
                "options.ipWhitelist: an expression is not supported; list the addresses".into(),
            ),
            Some(Value::String(list)) => problems.extend(parse_ip_allow_list(list).err()),
            Some(_) => problems.push(
                "options.ipWhitelist: expected a comma-separated list of addresses and CIDR ranges"
                    .into(),
            ),
        }
        if let Some(Value::String(auth)) = parameters.get("authentication") {
            if auth.trim_start().starts_with('=') {
                problems.push("authentication: an expression is not supported".into());
            }
        }
        problems.extend(super::respond::status_problem(parameters));
        problems
    }

    async fn execute(
        &self,
        _ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        Ok(vec![input])
    }
}
