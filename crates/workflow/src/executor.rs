//! The executor: runs a workflow in n8n's v1 order.
//!
//! A stack holds nodes ready to run. After a node runs, the targets of its non-empty outputs
//! go to the front of the stack ordered by canvas position (top to bottom, then left to
//! right), so each branch finishes before the next starts, as n8n v1 does. A node with
//! several inputs (Merge) waits until every connected input has data; when nothing else can
//! run, waiting nodes run with what they have.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use node_api::{
    CredentialProvider, CredentialRef, ExecutionMode, Item, ItemRef, JsonObject, NodeError,
    NodeInfo, PollMode, PollingTrigger, WebhookResponse, WorkflowRunner,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::context::{CompiledParameters, NodeContext, ResponseSlot};
use super::error::WorkflowError;
use super::model::{OnError, Workflow, WorkflowNode};
use super::registry::NodeRegistry;
use super::run::Hint;
use super::run::{
    parents_of, ExprData, NodeContexts, NodeRun, Outputs, Parents, Runs, SourceRef, TaskData,
    TaskOutputs,
};
use super::schedule::{fired_item, workflow_timezone};

/// Runs workflows. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Executor {
    registry: Arc<NodeRegistry>,
    http: reqwest::Client,
    credentials: Arc<dyn CredentialProvider>,
    default_timezone: Tz,
    max_node_runs: usize,
    workflows: Arc<OnceLock<Weak<dyn WorkflowRunner>>>,
    max_workflow_depth: usize,
    wait_in_process: Duration,
    public_url: String,
}

/// How deep Execute Workflow calls may nest unless set otherwise
/// ([`Executor::with_max_workflow_depth`]).
pub const DEFAULT_MAX_WORKFLOW_DEPTH: usize = 10;

/// Runs one node may have in one execution unless set otherwise
/// ([`Executor::with_max_node_runs`]).
pub const DEFAULT_MAX_NODE_RUNS: usize = 100_000;

const SCHEDULE_TRIGGER: &str = "n8n-nodes-base.scheduleTrigger";
const WAIT: &str = "n8n-nodes-base.wait";

/// Waits shorter than this happen in the running execution, as n8n does (65 s); longer
/// ones store the execution as waiting ([`Executor::with_wait_in_process`]).
pub const DEFAULT_WAIT_IN_PROCESS: Duration = Duration::from_secs(65);

/// Cancels a running execution from another task.
#[derive(Clone, Debug)]
pub struct CancelHandle {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for CancelHandle {
    fn default() -> Self {
        Self {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl CancelHandle {
    /// A handle that has not been cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the execution to stop: the running node is abandoned and no further node starts.
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        *self.tx.borrow()
    }

    async fn cancelled(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// What to run.
pub struct RunRequest {
    /// The workflow.
    pub workflow: Arc<Workflow>,
    /// Execution id (`$execution.id`).
    pub execution_id: String,
    /// How it was started.
    pub mode: ExecutionMode,
    /// The node to start from; the first enabled trigger when `None`.
    pub start_node: Option<String>,
    /// Items handed to the start node (the webhook request, the poll result ...).
    pub items: Vec<Item>,
    /// Lets another task cancel the run.
    pub cancel: CancelHandle,
    /// Receives a Respond to Webhook answer the moment it is sent, before the run ends.
    pub respond_early: Option<tokio::sync::oneshot::Sender<WebhookResponse>>,
}

/// Final state of an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    /// Every node ran.
    Success,
    /// A node failed (or the time limit hit).
    Error,
    /// Cancelled by a user.
    Canceled,
    /// Stopped at a Wait node until a time; resumed from [`ExecutionResult::resume`].
    Waiting,
}

/// Why an execution failed.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionFailure {
    /// The node that failed, when one did.
    pub node: Option<String>,
    /// The message shown to users.
    pub message: String,
    /// The node's error in full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_error: Option<NodeError>,
}

/// The outcome of an execution: status, n8n-shaped run data, and the webhook response if a
/// node sent one.
#[derive(Clone, Debug)]
pub struct ExecutionResult {
    /// Final status.
    pub status: ExecutionStatus,
    /// Per-node recorded runs (n8n's `resultData.runData`).
    pub run_data: BTreeMap<String, Vec<TaskData>>,
    /// The node that ran last (`lastNodeExecuted`).
    pub last_node: Option<String>,
    /// The failure, when the status is not success.
    pub error: Option<ExecutionFailure>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it stopped.
    pub stopped_at: DateTime<Utc>,
    /// A response handed over by Respond to Webhook.
    pub response: Option<WebhookResponse>,
    /// Where a waiting execution stopped: store it, and hand it to [`Executor::resume`].
    pub resume: Option<ResumeState>,
    runs: Arc<Runs>,
}

/// Where a waiting execution stopped (n8n's `waitTill` and node execution stack): the
/// nodes still to run, with their inputs, and everything run so far. Resumed by a webhook
/// call, the Wait node passes the call's item on instead of its input
/// ([`ResumeState::resume_with`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeState {
    /// The Wait node that stopped the execution; it passes its input on when resumed.
    pub wait_node: String,
    /// When to resume.
    pub wait_till: DateTime<Utc>,
    /// When the execution first started.
    pub started_at: DateTime<Utc>,
    stack: Vec<Pending>,
    waiting: Vec<Pending>,
    run_data: BTreeMap<String, Vec<TaskData>>,
    contexts: HashMap<String, JsonObject>,
    last_node: Option<String>,
}

impl ExecutionResult {
    /// Lets go of the recorded run data and every node's outputs except the last run of the
    /// node that ran last: what is left answers [`Self::last_node_output`] (a webhook's
    /// `lastNode` answer, a parent workflow's result), the status, error and response. For
    /// callers that have stored the run data already: an execution over many items then
    /// writes its row without holding every node's items at the same time.
    pub fn keep_last_output_only(&mut self) {
        self.run_data = BTreeMap::new();
        let last = self.last_node.as_ref().and_then(|node| {
            let run = self.runs.get(node)?.last()?.clone();
            Some((node.clone(), vec![run]))
        });
        self.runs = Arc::new(last.into_iter().collect());
    }

    /// Output 0 of the last run of the node that ran last.
    pub fn last_node_output(&self) -> &[Item] {
        self.last_node
            .as_ref()
            .and_then(|n| self.output_of(n, 0))
            .unwrap_or(&[])
    }

    /// Output `output` of `node`'s last run.
    pub fn output_of(&self, node: &str, output: usize) -> Option<&[Item]> {
        self.runs
            .get(node)?
            .last()?
            .outputs
            .get(output)
            .map(Vec::as_slice)
    }

    /// `{"resultData": {"runData": ..., "lastNodeExecuted": ..., "error": ...}}`, n8n's
    /// execution data shape.
    pub fn data_json(&self) -> serde_json::Value {
        let mut result = serde_json::json!({ "runData": self.run_data });
        if let Some(n) = &self.last_node {
            result["lastNodeExecuted"] = n.clone().into();
        }
        if let Some(e) = &self.error {
            result["error"] = serde_json::to_value(e).unwrap_or_default();
        }
        serde_json::json!({ "resultData": result })
    }
}

impl ResumeState {
    /// The Wait node passes `items` on when resumed (a webhook call's item).
    pub fn resume_with(&mut self, items: Vec<Item>) {
        if let Some(wait) = self.stack.first_mut() {
            // The source stays: expressions after the Wait node still reach the nodes
            // before it through the Wait node's input.
            wait.inputs = vec![Some(items)];
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending {
    node: String,
    inputs: Vec<Option<Vec<Item>>>,
    source: Vec<Option<SourceRef>>,
}

/// What a node run produced: its outputs, or the items passed on after a whole-node failure
/// the node's settings say to continue past.
enum Produced {
    Outputs(Vec<Vec<Item>>),
    ContinuedAfter(NodeError, Vec<Vec<Item>>),
}

enum Stop {
    Failed(ExecutionFailure),
    Timeout(u64),
    Cancelled,
    /// A Wait node asked to stop until a time; the stack to resume with.
    Waiting {
        till: DateTime<Utc>,
        stack: Vec<Pending>,
        waiting: Vec<Pending>,
    },
}

impl Executor {
    /// An executor over `registry`, using `http` for outbound calls and `credentials` for
    /// node credentials.
    pub fn new(
        registry: Arc<NodeRegistry>,
        http: reqwest::Client,
        credentials: Arc<dyn CredentialProvider>,
    ) -> Self {
        Self {
            registry,
            http,
            credentials,
            default_timezone: Tz::UTC,
            max_node_runs: DEFAULT_MAX_NODE_RUNS,
            workflows: Arc::new(OnceLock::new()),
            max_workflow_depth: DEFAULT_MAX_WORKFLOW_DEPTH,
            wait_in_process: DEFAULT_WAIT_IN_PROCESS,
            public_url: "http://localhost:5678".into(),
        }
    }

    /// The server's public URL, the base of `$execution.resumeUrl`.
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = url.to_string();
        self
    }

    /// Wait nodes waiting less than `limit` sleep in the running execution; longer waits
    /// stop it as `waiting`, to be resumed by the engine (which survives a restart).
    pub fn with_wait_in_process(mut self, limit: Duration) -> Self {
        self.wait_in_process = limit;
        self
    }

    /// How deep Execute Workflow calls may nest: a workflow calling itself (or a ring of
    /// workflows calling each other) fails at this depth instead of running for ever.
    pub fn with_max_workflow_depth(mut self, depth: usize) -> Self {
        self.max_workflow_depth = depth.max(1);
        self
    }

    /// Where Execute Workflow nodes have stored workflows run: set once, by the engine, after
    /// its runner exists (this executor and its clones share the setting). Held weakly: the
    /// engine owns the runner, which owns an executor.
    pub fn set_workflow_runner(&self, runner: Weak<dyn WorkflowRunner>) {
        let _ = self.workflows.set(runner);
    }

    /// How many times one node may run in one execution before the execution fails. A
    /// workflow with a loop (Loop Over Items, or a connection back to an earlier node) runs
    /// nodes many times; one whose loop never ends stops here instead of running until its
    /// time limit, or for ever when it has none.
    pub fn with_max_node_runs(mut self, runs: usize) -> Self {
        self.max_node_runs = runs.max(1);
        self
    }

    /// The server's time zone (`GENERIC_TIMEZONE`), used where a workflow sets none: a
    /// manual run starting at a Schedule Trigger builds its item in it, as the active
    /// trigger does. UTC unless set.
    pub fn with_default_timezone(mut self, tz: Tz) -> Self {
        self.default_timezone = tz;
        self
    }

    /// The node types this executor runs.
    pub fn registry(&self) -> &NodeRegistry {
        &self.registry
    }

    /// Runs the workflow to the end (or failure, timeout, cancellation).
    pub async fn run(&self, request: RunRequest) -> Result<ExecutionResult, WorkflowError> {
        self.run_nested(request, 0).await
    }

    /// [`Executor::run`] for a workflow called by another at `depth` (0: not called).
    pub async fn run_nested(
        &self,
        request: RunRequest,
        depth: usize,
    ) -> Result<ExecutionResult, WorkflowError> {
        self.drive(request, depth, None).await
    }

    /// Resumes a waiting execution where `state` says it stopped: the Wait node passes its
    /// input on and the remaining nodes run. `request` gives the workflow, the execution id,
    /// the mode and the cancel handle; its start node and items are not used.
    pub async fn resume(
        &self,
        request: RunRequest,
        state: ResumeState,
        depth: usize,
    ) -> Result<ExecutionResult, WorkflowError> {
        self.drive(request, depth, Some(state)).await
    }

    async fn drive(
        &self,
        mut request: RunRequest,
        depth: usize,
        resumed: Option<ResumeState>,
    ) -> Result<ExecutionResult, WorkflowError> {
        let response = Arc::new(ResponseSlot {
            value: Mutex::new(None),
            early: Mutex::new(request.respond_early.take()),
        });
        let wf = request.workflow.clone();
        let start = match (&resumed, &request.start_node) {
            (Some(state), _) => wf.node(&state.wait_node).ok_or_else(|| {
                WorkflowError::NoStartNode(format!(
                    "the workflow changed while the execution waited: no node named \"{}\"",
                    state.wait_node
                ))
            })?,
            (None, Some(n)) => wf
                .node(n)
                .ok_or_else(|| WorkflowError::NoStartNode(format!("no node named \"{n}\"")))?,
            (None, None) => self.first_trigger(&wf).ok_or_else(|| {
                WorkflowError::NoStartNode("the workflow has no enabled trigger node".into())
            })?,
        };
        let span = tracing::info_span!(
            "execution",
            execution_id = %request.execution_id,
            workflow_id = wf.id.as_deref().unwrap_or(""),
        );
        let timezone = workflow_timezone(
            wf.settings.as_ref().and_then(|s| s.extra.get("timezone")),
            self.default_timezone,
        )
        .unwrap_or(self.default_timezone);
        let mut run = Run {
            executor: self,
            depth,
            wf: wf.clone(),
            request: &request,
            input_counts: input_counts(&wf),
            parents: Arc::new(parents_of(&wf.connections)),
            runs: Arc::new(HashMap::new()),
            contexts: Arc::new(NodeContexts::default()),
            timezone: timezone.name().to_string(),
            run_data: BTreeMap::new(),
            last_node: None,
            response,
            deadline: wf
                .execution_timeout()
                .map(|s| (s, Instant::now() + Duration::from_secs(s))),
            hints: Arc::default(),
            wait: Arc::new(Mutex::new(None)),
            resuming: None,
        };
        let mut started_at = Utc::now();
        let (stack, waiting) = match resumed {
            Some(state) => {
                started_at = state.started_at;
                let runs: Runs = state
                    .run_data
                    .iter()
                    .map(|(node, tasks)| {
                        let runs = tasks
                            .iter()
                            .map(|t| {
                                Arc::new(NodeRun {
                                    outputs: t.data.main.clone(),
                                    source: t.source.clone(),
                                })
                            })
                            .collect();
                        (node.clone(), runs)
                    })
                    .collect();
                run.runs = Arc::new(runs);
                run.run_data = state.run_data;
                run.last_node = state.last_node;
                if let Ok(mut contexts) = run.contexts.lock() {
                    *contexts = state.contexts;
                }
                run.resuming = Some(state.wait_node);
                (VecDeque::from(state.stack), state.waiting)
            }
            None => (
                VecDeque::from([Pending {
                    node: start.name.clone(),
                    inputs: vec![Some(request.items.clone())],
                    source: vec![None],
                }]),
                Vec::new(),
            ),
        };
        let outcome = run.execute(stack, waiting).instrument(span).await;
        let mut resume = None;
        let (status, error) = match outcome {
            Ok(()) => (ExecutionStatus::Success, None),
            Err(Stop::Failed(f)) => (ExecutionStatus::Error, Some(f)),
            Err(Stop::Timeout(s)) => (
                ExecutionStatus::Error,
                Some(ExecutionFailure {
                    node: run.last_node.clone(),
                    message: WorkflowError::Timeout(s).to_string(),
                    node_error: None,
                }),
            ),
            Err(Stop::Cancelled) => (
                ExecutionStatus::Canceled,
                Some(ExecutionFailure {
                    node: None,
                    message: WorkflowError::Cancelled.to_string(),
                    node_error: None,
                }),
            ),
            Err(Stop::Waiting {
                till,
                stack,
                waiting,
            }) => {
                resume = Some(ResumeState {
                    wait_node: stack.first().map(|p| p.node.clone()).unwrap_or_default(),
                    wait_till: till,
                    started_at,
                    stack,
                    waiting,
                    run_data: run.run_data.clone(),
                    contexts: run.contexts.lock().map(|c| c.clone()).unwrap_or_default(),
                    last_node: run.last_node.clone(),
                });
                (ExecutionStatus::Waiting, None)
            }
        };
        let response = run.response.value.lock().ok().and_then(|mut r| r.take());
        Ok(ExecutionResult {
            status,
            run_data: run.run_data,
            last_node: run.last_node,
            error,
            started_at,
            stopped_at: Utc::now(),
            response,
            resume,
            runs: run.runs,
        })
    }
}

/// Number of inputs each node has connections into.
fn input_counts(wf: &Workflow) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for outputs in wf.connections.values() {
        for target in outputs
            .get("main")
            .into_iter()
            .flatten()
            .flatten()
            .flatten()
        {
            let c = counts.entry(target.node.clone()).or_insert(0);
            *c = (*c).max(target.index + 1);
        }
    }
    counts
}

struct Run<'a> {
    executor: &'a Executor,
    /// How deep this execution was called (Execute Workflow); 0 at the top.
    depth: usize,
    wf: Arc<Workflow>,
    request: &'a RunRequest,
    input_counts: HashMap<String, usize>,
    /// `main` connections by destination, shared with every expression view.
    parents: Arc<Parents>,
    runs: Arc<Runs>,
    /// Node contexts (n8n's `getContext('node')`), kept for the whole execution.
    contexts: Arc<NodeContexts>,
    /// The workflow's time zone name, for `$now`.
    timezone: String,
    run_data: BTreeMap<String, Vec<TaskData>>,
    last_node: Option<String>,
    response: Arc<ResponseSlot>,
    deadline: Option<(u64, Instant)>,
    /// Warnings of the node running now (see `ExecuteContext::warn`).
    hints: Arc<Mutex<Vec<String>>>,
    /// Set by a Wait node that stops the execution until a time.
    wait: Arc<Mutex<Option<DateTime<Utc>>>>,
    /// The Wait node a resumed execution starts at; it passes its input on this once.
    resuming: Option<String>,
}

impl Run<'_> {
    async fn execute(
        &mut self,
        mut stack: VecDeque<Pending>,
        mut waiting: Vec<Pending>,
    ) -> Result<(), Stop> {
        loop {
            if self.request.cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            let pending = match stack.pop_front() {
                Some(p) => p,
                None if !waiting.is_empty() => waiting.remove(0),
                None => return Ok(()),
            };
            let node = self.wf.node(&pending.node).cloned().ok_or_else(|| {
                Stop::Failed(ExecutionFailure {
                    node: Some(pending.node.clone()),
                    message: format!("node \"{}\" does not exist", pending.node),
                    node_error: None,
                })
            })?;
            let run_index = self.runs.get(&node.name).map_or(0, Vec::len);
            if run_index >= self.executor.max_node_runs {
                return Err(Stop::Failed(ExecutionFailure {
                    node: Some(node.name.clone()),
                    message: format!(
                        "node \"{}\" ran {run_index} times in this execution, the most one node may: \
                         a loop that never ends? (Loop Over Items whose done output leads back into \
                         it, or a connection back to an earlier node that always has items)",
                        node.name
                    ),
                    node_error: None,
                }));
            }
            let again = (node.node_type == WAIT).then(|| pending.clone());
            let outputs = self.run_node(&node, pending, run_index).await?;
            if let Some(till) = self.wait.lock().ok().and_then(|mut w| w.take()) {
                let mut rest: Vec<Pending> = again.into_iter().collect();
                rest.extend(stack);
                return Err(Stop::Waiting {
                    till,
                    stack: rest,
                    waiting,
                });
            }
            self.last_node = Some(node.name.clone());

            let mut next = Vec::new();
            for (output, items) in outputs.iter().enumerate() {
                if items.is_empty() {
                    continue;
                }
                for target in self.wf.targets(&node.name, output) {
                    let pos = self
                        .wf
                        .node(&target.node)
                        .map_or((0.0, 0.0), WorkflowNode::position);
                    next.push((pos, target.clone(), output, items.clone()));
                }
            }
            // Top to bottom, then left to right; stable so connection order breaks ties.
            next.sort_by(|a, b| a.0 .1.total_cmp(&b.0 .1).then(a.0 .0.total_cmp(&b.0 .0)));
            for (_, target, output, items) in next.into_iter().rev() {
                let source = SourceRef {
                    previous_node: node.name.clone(),
                    previous_node_output: output,
                    previous_node_run: run_index,
                };
                let count = self.input_counts.get(&target.node).copied().unwrap_or(1);
                if count <= 1 {
                    let mut inputs = vec![None; target.index + 1];
                    let mut sources = vec![None; target.index + 1];
                    inputs[target.index] = Some(items);
                    sources[target.index] = Some(source);
                    stack.push_front(Pending {
                        node: target.node.clone(),
                        inputs,
                        source: sources,
                    });
                    continue;
                }
                let slot = waiting
                    .iter()
                    .position(|p| p.node == target.node && p.inputs[target.index].is_none());
                let idx = match slot {
                    Some(i) => i,
                    None => {
                        waiting.push(Pending {
                            node: target.node.clone(),
                            inputs: vec![None; count],
                            source: vec![None; count],
                        });
                        waiting.len() - 1
                    }
                };
                waiting[idx].inputs[target.index] = Some(items);
                waiting[idx].source[target.index] = Some(source);
                if waiting[idx].inputs.iter().all(Option::is_some) {
                    stack.push_front(waiting.remove(idx));
                }
            }
        }
    }

    async fn run_node(
        &mut self,
        node: &WorkflowNode,
        pending: Pending,
        run_index: usize,
    ) -> Result<Outputs, Stop> {
        let started = Utc::now();
        let clock = std::time::Instant::now();
        let source = pending.source.clone();
        let result = self.produce(node, pending, run_index).await;
        if self.resuming.as_deref() == Some(node.name.as_str()) {
            self.resuming = None;
        }
        if self.wait.lock().is_ok_and(|w| w.is_some()) {
            // Stopped to wait: the Wait node runs (and is recorded) when resumed.
            return Ok(Outputs::default());
        }
        let (outputs, error, continued) = match result {
            Ok(Produced::Outputs(outputs)) => (outputs, None, None),
            Ok(Produced::ContinuedAfter(error, outputs)) => (outputs, None, Some(error)),
            Err(Stop::Failed(f)) => (Vec::new(), Some(f), None),
            Err(other) => return Err(other),
        };
        let failed = error.is_some() || continued.is_some();
        // One copy of the items, shared by the run data, the expression view and the next nodes.
        let outputs = Arc::new(outputs);
        let hints = self
            .hints
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default();
        let task = TaskData {
            hints: hints.into_iter().map(Hint::warning).collect(),
            start_time: started.timestamp_millis(),
            execution_time: clock.elapsed().as_millis() as i64,
            execution_status: if failed { "error" } else { "success" }.to_string(),
            source: source.clone(),
            data: TaskOutputs {
                main: outputs.clone(),
            },
            error: continued.or_else(|| error.as_ref().and_then(|f| f.node_error.clone())),
        };
        self.run_data
            .entry(node.name.clone())
            .or_default()
            .push(task);
        if let Some(f) = error {
            self.last_node = Some(node.name.clone());
            return Err(Stop::Failed(f));
        }
        Arc::make_mut(&mut self.runs)
            .entry(node.name.clone())
            .or_default()
            .push(Arc::new(NodeRun {
                outputs: outputs.clone(),
                source,
            }));
        Ok(outputs)
    }

    /// The outputs of one node run, applying the node settings around `Node::execute`.
    async fn produce(
        &self,
        node: &WorkflowNode,
        pending: Pending,
        run_index: usize,
    ) -> Result<Produced, Stop> {
        let Pending {
            inputs: pending_inputs,
            source,
            ..
        } = pending;
        let fail = |error: NodeError| {
            Stop::Failed(ExecutionFailure {
                node: Some(node.name.clone()),
                message: error.message.clone(),
                node_error: Some(error),
            })
        };
        if node.is_disabled() {
            let passed = pending_inputs
                .into_iter()
                .next()
                .flatten()
                .unwrap_or_default();
            return Ok(Produced::Outputs(vec![passed]));
        }
        if self.request.mode == ExecutionMode::Manual {
            if let Some(pinned) = self.wf.pin_data.as_ref().and_then(|p| p.get(&node.name)) {
                return Ok(Produced::Outputs(vec![pinned.clone()]));
            }
        }
        if node.node_type == SCHEDULE_TRIGGER && pending_inputs.iter().flatten().all(Vec::is_empty)
        {
            // Started by hand (the trigger runtime hands over the item of a fire): the item
            // of a fire now, in the zone the active trigger would use.
            let setting = self
                .wf
                .settings
                .as_ref()
                .and_then(|s| s.extra.get("timezone"));
            let tz = workflow_timezone(setting, self.executor.default_timezone).map_err(|m| {
                fail(NodeError::operation(format!(
                    "Parameter \"settings.timezone\": {m}"
                )))
            })?;
            return Ok(Produced::Outputs(vec![vec![fired_item(Utc::now(), tz)]]));
        }
        if self.executor.registry.node(&node.node_type).is_none()
            && self.executor.registry.trigger(&node.node_type).is_some()
        {
            // A polling trigger was polled before the run; its items are the run's input.
            let polled = pending_inputs
                .into_iter()
                .next()
                .flatten()
                .unwrap_or_default();
            return Ok(Produced::Outputs(vec![polled]));
        }
        let implementation = self
            .executor
            .registry
            .node(&node.node_type)
            .cloned()
            .ok_or_else(|| {
                fail(NodeError::operation(format!(
                    "unknown node type \"{}\"",
                    node.node_type
                )))
            })?;
        let outputs_count = implementation.output_count(&node.parameters);
        // The inputs are moved, not copied, into what the node sees (its context and the
        // expression view share them); the node gets its own copy of input 0 to consume.
        let input_counts: Vec<usize> = pending_inputs
            .iter()
            .map(|i| i.as_ref().map_or(0, Vec::len))
            .collect();
        let full_inputs: Vec<Option<Arc<Vec<Item>>>> = pending_inputs
            .into_iter()
            .map(|i| i.map(Arc::new))
            .collect();
        let inputs = if node.execute_once == Some(true) {
            full_inputs
                .iter()
                .map(|i| {
                    i.as_ref()
                        .map(|i| Arc::new(i.iter().take(1).cloned().collect()))
                })
                .collect()
        } else {
            full_inputs.clone()
        };
        let input0 = inputs.first().cloned().flatten().unwrap_or_default();
        let on_error = node.on_error();
        let data = Arc::new(ExprData {
            workflow_id: self.wf.id.clone().unwrap_or_default(),
            workflow_name: self.wf.name.clone(),
            workflow_active: self
                .wf
                .extra
                .get("active")
                .and_then(|a| a.as_bool())
                .unwrap_or(false),
            execution_id: self.request.execution_id.clone(),
            execution_mode: self.request.mode.as_str().to_string(),
            node_name: node.name.clone(),
            run_index,
            input: input0.clone(),
            source,
            runs: self.runs.clone(),
            parents: self.parents.clone(),
            contexts: self.contexts.clone(),
            timezone: self.timezone.clone(),
            resume_url: format!(
                "{}/webhook-waiting/{}",
                self.executor.public_url.trim_end_matches('/'),
                self.request.execution_id
            ),
        });
        let span = tracing::info_span!("node", node = %node.name, node_type = %node.node_type);
        let ctx = NodeContext {
            info: NodeInfo {
                name: node.name.clone(),
                type_name: node.node_type.clone(),
                type_version: node.version(),
            },
            params: CompiledParameters::compile(&node.parameters),
            data,
            inputs,
            credential_refs: node
                .credentials
                .iter()
                .flatten()
                .map(|(t, r)| (t.clone(), CredentialRef::from(r)))
                .collect(),
            credentials: self.executor.credentials.clone(),
            registry: self.executor.registry.clone(),
            http: self.executor.http.clone(),
            span: span.clone(),
            workflow_id: self.wf.id.clone().unwrap_or_default(),
            execution_id: self.request.execution_id.clone(),
            mode: self.request.mode,
            continue_on_fail: on_error != OnError::StopWorkflow,
            response: self.response.clone(),
            cancel: self.request.cancel.clone(),
            hints: self.hints.clone(),
            workflows: self.executor.workflows.get().cloned(),
            depth: self.depth,
            max_depth: self.executor.max_workflow_depth,
            wait: Some(self.wait.clone()),
            resuming: self.resuming.as_deref() == Some(node.name.as_str()),
            wait_in_process: self.executor.wait_in_process,
        };

        let attempts = node.attempts();
        let mut attempt = 1;
        let result = loop {
            let fut = implementation
                .execute(&ctx, input0.as_ref().clone())
                .instrument(span.clone());
            let r = self.guarded(fut).await?;
            // A node working through items stops at its next item once cancelled (its
            // context refuses to resolve parameters): what it returns then is not an outcome.
            if self.request.cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            match r {
                Ok(outputs) => break Ok(outputs),
                Err(e) if attempt < attempts => {
                    tracing::debug!(parent: &span, attempt, error = %e.message, "node failed; retrying");
                    attempt += 1;
                    let wait =
                        tokio::time::sleep(Duration::from_millis(node.wait_between_tries_ms()));
                    self.guarded(wait).await?;
                }
                Err(e) => break Err(e),
            }
        };
        let mut outputs = match (result, on_error) {
            (Ok(outputs), _) => outputs,
            (Err(e), OnError::StopWorkflow) => return Err(fail(e)),
            (Err(e), OnError::ContinueRegularOutput | OnError::ContinueErrorOutput) => {
                // n8n's workflow-execute (`handleNodeExecutionError`): when the node as a
                // whole throws and continues on error, its input 0 passes through unchanged
                // on output 0, for either setting (error-output routing applies only to items
                // a node returns), all of it even under `executeOnce`, and the run is
                // recorded as failed with the error. Per-item errors are the node's own
                // business (`continue_on_fail`).
                drop(ctx);
                let passed = full_inputs
                    .into_iter()
                    .next()
                    .flatten()
                    .map(|i| Arc::try_unwrap(i).unwrap_or_else(|shared| shared.as_ref().clone()))
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| item.paired_with(i))
                    .collect();
                return Ok(Produced::ContinuedAfter(e, vec![passed]));
            }
        };
        if outputs.len() < outputs_count {
            outputs.resize(outputs_count, Vec::new());
        }
        assign_missing_pairing(&mut outputs, &input_counts);
        if on_error == OnError::ContinueErrorOutput {
            route_error_items(&mut outputs, outputs_count);
        }
        if node.always_output_data == Some(true) && outputs.iter().all(Vec::is_empty) {
            if outputs.is_empty() {
                outputs.push(Vec::new());
            }
            outputs[0].push(Item::new(JsonObject::new()).paired_with(0));
        }
        Ok(Produced::Outputs(outputs))
    }

    /// Runs `fut` unless the execution is cancelled or its time limit passes first.
    async fn guarded<T>(&self, fut: impl std::future::Future<Output = T>) -> Result<T, Stop> {
        let cancel = self.request.cancel.cancelled();
        match self.deadline {
            Some((secs, deadline)) => tokio::select! {
                r = fut => Ok(r),
                _ = cancel => Err(Stop::Cancelled),
                _ = tokio::time::sleep_until(deadline) => Err(Stop::Timeout(secs)),
            },
            None => tokio::select! {
                r = fut => Ok(r),
                _ = cancel => Err(Stop::Cancelled),
            },
        }
    }
}

/// Gives items a node returned without `pairedItem` the pairing n8n's executor assumes
/// (`assignPairedItems`): all from the one input item when there was one, else item `i` from
/// input item `i` when one input and one output have the same number of items. Otherwise
/// they stay unpaired, as in n8n.
fn assign_missing_pairing(outputs: &mut [Vec<Item>], inputs: &[usize]) {
    let single_input_item = inputs == [1];
    let same_count = inputs.len() == 1 && outputs.len() == 1 && inputs[0] == outputs[0].len();
    'outputs: for output in outputs.iter_mut() {
        for (index, item) in output.iter_mut().enumerate() {
            if !item.paired_item.is_empty() {
                continue;
            }
            if single_input_item {
                item.paired_item = vec![ItemRef::new(0, 0)];
            } else if same_count {
                item.paired_item = vec![ItemRef::new(index, 0)];
            } else {
                break 'outputs;
            }
        }
    }
}

/// Moves items a node emitted for failed inputs (only error keys in their JSON) from the
/// regular outputs to the error output, as n8n does for `continueErrorOutput`.
fn route_error_items(outputs: &mut Vec<Vec<Item>>, regular: usize) {
    if outputs.len() <= regular {
        outputs.resize(regular + 1, Vec::new());
    }
    let mut moved = Vec::new();
    for out in outputs.iter_mut().take(regular) {
        let (errors, ok): (Vec<Item>, Vec<Item>) =
            std::mem::take(out).into_iter().partition(is_error_item);
        *out = ok;
        moved.extend(errors);
    }
    outputs[regular].extend(moved);
}

fn is_error_item(item: &Item) -> bool {
    item.json.contains_key("error")
        && item.json.keys().all(|k| {
            matches!(
                k.as_str(),
                "error" | "description" | "httpCode" | "errorCode" | "fields"
            )
        })
}

/// What the trigger runtime needs to call a polling trigger outside an execution.
impl Executor {
    /// The node a run without a named start node starts from: the first enabled trigger.
    pub fn first_trigger<'w>(&self, wf: &'w Workflow) -> Option<&'w WorkflowNode> {
        wf.nodes.iter().find(|n| {
            !n.is_disabled()
                && self
                    .registry
                    .description(&n.node_type)
                    .is_some_and(|d| d.trigger)
        })
    }

    /// The polling trigger implementing `node`, when it is one.
    pub fn polling_trigger(&self, node: &WorkflowNode) -> Option<Arc<dyn PollingTrigger>> {
        if self.registry.node(&node.node_type).is_some() {
            return None;
        }
        self.registry.trigger(&node.node_type).cloned()
    }

    /// Polls `trigger` for `node` of `wf` (see [`PollingTrigger::poll`]), with the node's
    /// parameters (expressions resolved with no input item), its credentials and the shared
    /// HTTP client.
    pub async fn poll(
        &self,
        wf: &Workflow,
        node: &WorkflowNode,
        trigger: &dyn PollingTrigger,
        state: &mut serde_json::Value,
        mode: PollMode,
    ) -> Result<Option<Vec<Item>>, NodeError> {
        let ctx = self.poll_context(wf, node);
        trigger.poll(&ctx, state, mode).await
    }

    fn poll_context(&self, wf: &Workflow, node: &WorkflowNode) -> NodeContext {
        let data = Arc::new(ExprData {
            workflow_id: wf.id.clone().unwrap_or_default(),
            workflow_name: wf.name.clone(),
            workflow_active: true,
            execution_mode: ExecutionMode::Trigger.as_str().to_string(),
            node_name: node.name.clone(),
            ..ExprData::default()
        });
        NodeContext {
            info: NodeInfo {
                name: node.name.clone(),
                type_name: node.node_type.clone(),
                type_version: node.version(),
            },
            params: CompiledParameters::compile(&node.parameters),
            data,
            inputs: Vec::new(),
            credential_refs: node
                .credentials
                .iter()
                .flatten()
                .map(|(t, r)| (t.clone(), CredentialRef::from(r)))
                .collect(),
            credentials: self.credentials.clone(),
            registry: self.registry.clone(),
            http: self.http.clone(),
            span: tracing::info_span!("poll", node = %node.name, node_type = %node.node_type),
            workflow_id: wf.id.clone().unwrap_or_default(),
            execution_id: String::new(),
            mode: ExecutionMode::Trigger,
            continue_on_fail: false,
            response: Arc::new(ResponseSlot::default()),
            cancel: CancelHandle::new(),
            hints: Arc::default(),
            workflows: None,
            depth: 0,
            max_depth: self.max_workflow_depth,
            wait: None,
            resuming: false,
            wait_in_process: self.wait_in_process,
        }
    }
}
