//! [`ExecuteContext`]: what a running node may ask of the engine.

use async_trait::async_trait;

use crate::credential::DecryptedCredential;
use crate::error::NodeError;
use crate::item::Item;
use crate::params::Parameters;
use crate::plugin::{SignRequest, SignedRequest};

/// How the execution was started (n8n's `WorkflowExecuteMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionMode {
    /// Started by a user (editor, API `run`).
    Manual,
    /// Started by a trigger (schedule, poll).
    Trigger,
    /// Started by a production webhook call.
    Webhook,
    /// A retry of an earlier execution.
    Retry,
    /// An error workflow started because another execution failed (Error Trigger).
    Error,
    /// A sub-workflow started by an Execute Workflow node.
    Integrated,
}

impl ExecutionMode {
    /// n8n's name for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Trigger => "trigger",
            Self::Webhook => "webhook",
            Self::Retry => "retry",
            Self::Error => "error",
            Self::Integrated => "integrated",
        }
    }
}

/// The node being run, as the workflow declares it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    /// The node's unique name within the workflow.
    pub name: String,
    /// n8n type name.
    pub type_name: String,
    /// `typeVersion`.
    pub type_version: f64,
}

/// A response a node (Respond to Webhook) hands to the webhook that started the execution.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers to send, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes; `None` sends an empty body.
    pub body: Option<Vec<u8>>,
}

/// A stored workflow a node asks the engine to run (the Execute Workflow node).
#[derive(Clone, Debug)]
pub struct SubWorkflowCall {
    /// The stored workflow's id.
    pub workflow_id: String,
    /// The items its Execute Workflow Trigger receives.
    pub items: Vec<Item>,
    /// Wait for it to end and return its output (`false`: start it and return at once).
    pub wait: bool,
    /// How deep the call is: 1 for a workflow called by a top-level execution.
    pub depth: usize,
    /// The calling execution's id.
    pub parent_execution_id: String,
}

/// Runs stored workflows for nodes that call them; the engine implements it over its store
/// and its execution runner.
#[async_trait]
pub trait WorkflowRunner: Send + Sync {
    /// Runs `call` as its own execution (mode `integrated`) from the workflow's Execute
    /// Workflow Trigger. With `wait`, the output of the node that ran last, or the child's
    /// failure as an error; without, `None` once it started.
    async fn run_workflow(&self, call: SubWorkflowCall) -> Result<Option<Vec<Item>>, NodeError>;
}

/// The engine's side of a node execution. Implemented by the engine; plugins only call it.
#[async_trait]
pub trait ExecuteContext: Send + Sync {
    /// The node being run.
    fn node(&self) -> &NodeInfo;

    /// The node's parameters with expressions resolved for input item `item_index` (of input 0).
    fn parameters(&self, item_index: usize) -> Result<Parameters, NodeError>;

    /// The items arriving on input `index` (input 0 is also passed to `execute`);
    /// `None` when nothing arrived there. Multi-input nodes (Merge) read their other inputs here.
    fn input(&self, index: usize) -> Option<&[Item]>;

    /// The credential of `credential_type` that the node references, decrypted.
    async fn credentials(&self, credential_type: &str) -> Result<DecryptedCredential, NodeError>;

    /// The id of the credential of `credential_type` that the node references, without
    /// decrypting it: what a plugin's token provider is asked for. Tokens are the provider's
    /// to write; a node never writes token data itself.
    async fn credential_id(&self, credential_type: &str) -> Result<String, NodeError>;

    /// Signs an outbound HTTP request with the node's credential of `credential_type`,
    /// through the plugin that declared that type (the HTTP Request node's
    /// `predefinedCredentialType`).
    async fn sign_request(
        &self,
        credential_type: &str,
        request: &SignRequest,
    ) -> Result<SignedRequest, NodeError> {
        let _ = request;
        Err(NodeError::credentials(format!(
            "HTTP requests cannot be signed with \"{credential_type}\" credentials here"
        )))
    }

    /// The shared HTTP client (rustls, timeouts); reuse it, do not build your own.
    fn http(&self) -> &reqwest::Client;

    /// The tracing span of this node run; enter it or use it as a parent.
    fn span(&self) -> &tracing::Span;

    /// The execution's id.
    fn execution_id(&self) -> &str;

    /// The workflow's id.
    fn workflow_id(&self) -> &str;

    /// How the execution was started.
    fn mode(&self) -> ExecutionMode;

    /// Whether the execution was cancelled (`stop`): a node working through many items or
    /// batches should stop at the next one. [`ExecuteContext::parameters`] refuses once
    /// cancelled, so nodes that resolve parameters per item stop on their own.
    fn is_cancelled(&self) -> bool {
        false
    }

    /// Whether a failed item should become an `{error: ...}` item instead of failing the node.
    fn continue_on_fail(&self) -> bool;

    /// Runs the stored workflow `workflow_id` with `items` (Execute Workflow): its output
    /// when `wait`, `None` once started otherwise. Refused past the engine's depth limit, and
    /// where the engine cannot run workflows (a plugin's test harness).
    async fn execute_workflow(
        &self,
        workflow_id: &str,
        items: Vec<Item>,
        wait: bool,
    ) -> Result<Option<Vec<Item>>, NodeError> {
        let _ = (workflow_id, items, wait);
        Err(NodeError::operation(
            "this engine cannot run other workflows from a node",
        ))
    }

    /// Hands a response to the webhook that started the execution (Respond to Webhook).
    fn send_response(&self, response: WebhookResponse) -> Result<(), NodeError>;

    /// Records a warning about this node's run (something it set that was not applied);
    /// the engine keeps it in the execution's run data as an n8n hint.
    fn warn(&self, message: &str) {
        tracing::warn!(node = %self.node().name, "{message}");
    }

    /// The executor's own context (`workflow::NodeContext`), for the core nodes that need more
    /// than this trait gives (the Code node runs JavaScript against the whole execution, Loop
    /// Over Items keeps state between its runs). `None` outside the executor; other plugins have
    /// no use for it.
    fn engine_context(&self) -> Option<&dyn std::any::Any> {
        None
    }
}
