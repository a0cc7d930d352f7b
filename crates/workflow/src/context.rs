//! [`NodeContext`]: the engine's implementation of [`ExecuteContext`] for one node run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use node_api::{
    CredentialError, CredentialProvider, CredentialRef, DecryptedCredential, ExecuteContext,
    ExecutionMode, Item, JsonObject, NodeError, NodeInfo, Parameters, StoredCredential,
    WebhookResponse,
};
use serde_json::Value;

use super::error::ExpressionError;
use super::expr::{Scope, Template};
use super::run::ExprData;

/// One step of a path into a parameter tree.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// A node's parameters with their expressions parsed once per node run.
#[derive(Debug)]
pub(crate) struct CompiledParameters {
    raw: JsonObject,
    templates: Vec<(Vec<Step>, String, Result<Template, ExpressionError>)>,
}

impl CompiledParameters {
    pub(crate) fn compile(raw: &JsonObject) -> Self {
        let mut templates = Vec::new();
        let mut path = Vec::new();
        for (k, v) in raw {
            path.push(Step::Key(k.clone()));
            collect(v, &mut path, &mut templates);
            path.pop();
        }
        Self {
            raw: raw.clone(),
            templates,
        }
    }

    /// Parameters resolved for input item `item_index`.
    pub(crate) fn resolve(
        &self,
        node: &str,
        data: &Arc<ExprData>,
        item_index: usize,
    ) -> Result<Parameters, ExpressionError> {
        self.resolve_except(node, data, item_index, None)
    }

    /// Parameters resolved for input item `item_index`, leaving the expressions under the
    /// dotted path `raw` as written: a node evaluates those itself, later, with variables of
    /// its own (n8n's `rawExpressions`, e.g. the HTTP Request node's pagination).
    pub(crate) fn resolve_except(
        &self,
        node: &str,
        data: &Arc<ExprData>,
        item_index: usize,
        raw: Option<&str>,
    ) -> Result<Parameters, ExpressionError> {
        let mut values = self.raw.clone();
        let scope = Scope { data, item_index };
        for (path, name, template) in &self.templates {
            if raw.is_some_and(|r| name == r || name.starts_with(&format!("{r}."))) {
                continue;
            }
            let template = template
                .as_ref()
                .map_err(|e| e.clone().in_parameter(node, name))?;
            let value = template
                .evaluate(&scope)
                .map_err(|e| e.in_parameter(node, name))?;
            set_at(&mut values, path, value);
        }
        Ok(Parameters::new(values))
    }
}

fn collect(
    v: &Value,
    path: &mut Vec<Step>,
    out: &mut Vec<(Vec<Step>, String, Result<Template, ExpressionError>)>,
) {
    match v {
        Value::String(s) if s.starts_with('=') => {
            out.push((path.clone(), display(path), Template::parse(s)));
        }
        Value::Object(o) => {
            for (k, x) in o {
                path.push(Step::Key(k.clone()));
                collect(x, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(Step::Index(i));
                collect(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn display(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) if s.is_empty() => s.push_str(k),
            Step::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn set_at(root: &mut JsonObject, path: &[Step], value: Value) {
    let Some((Step::Key(first), rest)) = path.split_first() else {
        return;
    };
    let Some(mut current) = root.get_mut(first) else {
        return;
    };
    for step in rest {
        let next = match (step, current) {
            (Step::Key(k), Value::Object(o)) => o.get_mut(k),
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        let Some(next) = next else { return };
        current = next;
    }
    *current = value;
}

/// Where Respond to Webhook puts its answer: kept for the result, and handed at once to a
/// waiting webhook caller when there is one.
#[derive(Default)]
pub(crate) struct ResponseSlot {
    pub(crate) value: Mutex<Option<WebhookResponse>>,
    pub(crate) early: Mutex<Option<tokio::sync::oneshot::Sender<WebhookResponse>>>,
}

/// Everything a node run can ask the engine for. The core nodes reach it with
/// [`NodeContext::of`] for what [`ExecuteContext`] does not offer; its fields are the
/// executor's.
pub struct NodeContext {
    pub(crate) info: NodeInfo,
    pub(crate) params: CompiledParameters,
    pub(crate) data: Arc<ExprData>,
    pub(crate) inputs: Vec<Option<Arc<Vec<Item>>>>,
    pub(crate) credential_refs: BTreeMap<String, CredentialRef>,
    pub(crate) credentials: Arc<dyn CredentialProvider>,
    pub(crate) registry: Arc<crate::registry::NodeRegistry>,
    pub(crate) http: reqwest::Client,
    pub(crate) span: tracing::Span,
    pub(crate) workflow_id: String,
    pub(crate) execution_id: String,
    pub(crate) mode: ExecutionMode,
    pub(crate) continue_on_fail: bool,
    pub(crate) response: Arc<ResponseSlot>,
    pub(crate) cancel: crate::executor::CancelHandle,
    /// Warnings of the node running now; the executor moves them into its task data.
    pub(crate) hints: Arc<std::sync::Mutex<Vec<String>>>,
    /// Runs stored workflows (Execute Workflow); `None` where the engine gave none.
    pub(crate) workflows: Option<std::sync::Weak<dyn node_api::WorkflowRunner>>,
    /// How deep this execution was called; 0 at the top.
    pub(crate) depth: usize,
    /// The deepest call allowed.
    pub(crate) max_depth: usize,
    /// Where a Wait node asks the executor to stop the execution until a time; `None`
    /// outside an execution.
    pub(crate) wait: Option<Arc<Mutex<Option<chrono::DateTime<chrono::Utc>>>>>,
    /// This is the Wait node a resumed execution starts at: it passes its input on.
    pub(crate) resuming: bool,
    /// Waits shorter than this sleep in the execution.
    pub(crate) wait_in_process: std::time::Duration,
}

impl NodeContext {
    /// The executor's context behind `ctx`, for the core nodes; an error naming `node_type`
    /// when `ctx` is some other implementation (a plugin's test harness).
    pub fn of<'a>(
        ctx: &'a dyn ExecuteContext,
        node_type: &str,
    ) -> Result<&'a NodeContext, NodeError> {
        ctx.engine_context()
            .and_then(|c| c.downcast_ref::<NodeContext>())
            .ok_or_else(|| {
                NodeError::operation(format!(
                    "the {node_type} node runs only inside the Switchyard executor"
                ))
            })
    }

    /// [`ExecuteContext::parameters`], leaving expressions under the dotted path `raw` as
    /// written: the node evaluates those itself, later, with variables of its own
    /// ([`NodeContext::evaluate_with`]; n8n's `rawExpressions`, e.g. the HTTP Request node's
    /// pagination).
    pub fn parameters_keeping(
        &self,
        item_index: usize,
        raw: &str,
    ) -> Result<Parameters, NodeError> {
        if self.cancel.is_cancelled() {
            return Err(NodeError::new(
                node_api::NodeErrorKind::Cancelled,
                "the execution was cancelled",
            ));
        }
        self.params
            .resolve_except(&self.info.name, &self.data, item_index, Some(raw))
            .map_err(|e| NodeError::from(e).at_item(item_index))
    }

    /// Evaluates `expression` (a raw `=...` parameter value) for input item `item_index`
    /// with the extra variables `bindings`; a value that is no expression is returned as is.
    pub fn evaluate_with(
        &self,
        parameter: &str,
        expression: &Value,
        item_index: usize,
        bindings: &JsonObject,
    ) -> Result<Value, NodeError> {
        let Value::String(text) = expression else {
            return Ok(expression.clone());
        };
        if !text.starts_with('=') {
            return Ok(expression.clone());
        }
        let scope = Scope {
            data: &self.data,
            item_index,
        };
        Template::parse(text)
            .and_then(|t| t.evaluate_with(&scope, bindings))
            .map_err(|e| {
                NodeError::from(e.in_parameter(&self.info.name, parameter)).at_item(item_index)
            })
    }

    /// Asks the executor to store the execution as waiting until `till` once this node
    /// returns; false where that cannot happen (outside an execution).
    pub fn put_to_wait(&self, till: chrono::DateTime<chrono::Utc>) -> bool {
        match &self.wait {
            Some(slot) => {
                if let Ok(mut w) = slot.lock() {
                    *w = Some(till);
                }
                true
            }
            None => false,
        }
    }

    /// The execution view expressions read: run data, node contexts, the workflow's zone.
    pub fn data(&self) -> &Arc<ExprData> {
        &self.data
    }

    /// The credential store (for a credential's stored record, by id).
    pub fn credential_store(&self) -> &Arc<dyn CredentialProvider> {
        &self.credentials
    }

    /// Whether this is the Wait node a resumed execution starts at: it passes its input on.
    pub fn resuming(&self) -> bool {
        self.resuming
    }

    /// Waits shorter than this sleep in the execution instead of storing it as waiting.
    pub fn wait_in_process(&self) -> std::time::Duration {
        self.wait_in_process
    }

    fn reference(&self, credential_type: &str) -> Result<&CredentialRef, NodeError> {
        self.credential_refs.get(credential_type).ok_or_else(|| {
            NodeError::credentials(format!(
                "node \"{}\" has no credential of type \"{credential_type}\" selected",
                self.info.name
            ))
        })
    }
}

#[async_trait]
impl ExecuteContext for NodeContext {
    fn node(&self) -> &NodeInfo {
        &self.info
    }

    fn warn(&self, message: &str) {
        tracing::warn!(parent: &self.span, "{message}");
        if let Ok(mut hints) = self.hints.lock() {
            hints.push(message.to_owned());
        }
    }

    fn parameters(&self, item_index: usize) -> Result<Parameters, NodeError> {
        // Nodes resolve parameters item by item: the point where a cancelled execution stops.
        if self.cancel.is_cancelled() {
            return Err(NodeError::new(
                node_api::NodeErrorKind::Cancelled,
                "the execution was cancelled",
            ));
        }
        self.params
            .resolve(&self.info.name, &self.data, item_index)
            .map_err(|e| NodeError::from(e).at_item(item_index))
    }

    fn input(&self, index: usize) -> Option<&[Item]> {
        self.inputs
            .get(index)
            .and_then(|i| i.as_deref())
            .map(Vec::as_slice)
    }

    async fn credentials(&self, credential_type: &str) -> Result<DecryptedCredential, NodeError> {
        let reference = self.reference(credential_type)?;
        self.credentials.get(reference, credential_type).await
    }

    async fn credential_id(&self, credential_type: &str) -> Result<String, NodeError> {
        let reference = self.reference(credential_type)?;
        self.credentials.resolve(reference, credential_type).await
    }

    async fn sign_request(
        &self,
        credential_type: &str,
        request: &node_api::SignRequest,
    ) -> Result<node_api::SignedRequest, NodeError> {
        let signer = self.registry.signer(credential_type).ok_or_else(|| {
            NodeError::credentials(format!(
                "no plugin signs HTTP requests with \"{credential_type}\" credentials"
            ))
        })?;
        let id = self.credential_id(credential_type).await?;
        signer
            .sign_request(credential_type, &id, request)
            .await
            .map_err(NodeError::credentials)
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn span(&self) -> &tracing::Span {
        &self.span
    }

    fn execution_id(&self) -> &str {
        &self.execution_id
    }

    fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    fn mode(&self) -> ExecutionMode {
        self.mode
    }

    fn continue_on_fail(&self) -> bool {
        self.continue_on_fail
    }

    async fn execute_workflow(
        &self,
        workflow_id: &str,
        items: Vec<Item>,
        wait: bool,
    ) -> Result<Option<Vec<Item>>, NodeError> {
        let depth = self.depth + 1;
        if depth > self.max_depth {
            return Err(NodeError::operation(format!(
                "workflow \"{workflow_id}\" would run {depth} calls deep, more than the {} allowed \
                 (SWITCHYARD_MAX_WORKFLOW_DEPTH): does a workflow call itself?",
                self.max_depth
            )));
        }
        let runner = self
            .workflows
            .as_ref()
            .and_then(std::sync::Weak::upgrade)
            .ok_or_else(|| {
                NodeError::operation("this engine cannot run other workflows from a node")
            })?;
        runner
            .run_workflow(node_api::SubWorkflowCall {
                workflow_id: workflow_id.to_string(),
                items,
                wait,
                depth,
                parent_execution_id: self.execution_id.clone(),
            })
            .await
    }

    fn send_response(&self, response: WebhookResponse) -> Result<(), NodeError> {
        let mut slot = self
            .response
            .value
            .lock()
            .map_err(|_| NodeError::operation("response slot is unavailable"))?;
        if slot.is_some() {
            // n8n answers the webhook once; later Respond nodes are ignored the same way.
            return Ok(());
        }
        if let Some(tx) = self.response.early.lock().ok().and_then(|mut t| t.take()) {
            // The caller may have gone away; the execution goes on regardless.
            let _ = tx.send(response.clone());
        }
        *slot = Some(response);
        Ok(())
    }

    fn engine_context(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// A credential provider for workflows that use no credentials; every lookup fails clearly.
pub struct NoCredentials;

#[async_trait]
impl CredentialProvider for NoCredentials {
    async fn get(
        &self,
        reference: &CredentialRef,
        credential_type: &str,
    ) -> Result<DecryptedCredential, NodeError> {
        Err(NodeError::credentials(format!(
            "credential \"{}\" of type \"{credential_type}\" is not available",
            reference.name
        )))
    }

    async fn by_id(&self, id: &str) -> Result<StoredCredential, CredentialError> {
        Err(CredentialError::NotFound { id: id.to_owned() })
    }

    async fn set_token_data(
        &self,
        id: &str,
        _token_data: Option<Value>,
    ) -> Result<(), CredentialError> {
        Err(CredentialError::NotFound { id: id.to_owned() })
    }
}
