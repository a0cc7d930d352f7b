//! The trigger runtime: while a workflow is active, its Schedule Trigger nodes fire and its
//! polling trigger nodes are polled, each on its own task, each fire or poll with items
//! starting an execution in mode `trigger`.
//!
//! [`TriggerRuntime`] is owned by the [`WorkflowService`]: the API starts a workflow's triggers
//! on activation (and restarts them when an active workflow is replaced), stops them on
//! deactivation and deletion, and the server starts every active workflow's triggers at boot
//! and stops them all on shutdown, letting executions already under way finish.
//!
//! Polling triggers keep a JSON state per workflow and node in the database. It is handed to
//! `poll` and saved only once the execution that received the items is stored; a poll that
//! fails, or whose execution cannot be stored, leaves the old state, so the next poll sees the
//! same records again (nothing skipped, nothing repeated). A poll with nothing new saves the
//! state without an execution, as n8n does. A failed poll is stored as a failed `trigger`
//! execution naming the node and the error, so users find it where they look for failures
//! (the executions list), not only in the server log. One poll at a time per trigger: the next
//! poll time is computed after the previous poll and its execution are done.
//!
//! A schedule whose interval cron cannot express (every 3 days, every 2 weeks, every 18 hours)
//! fires on a finer cron and counts from its last fire, which it keeps in the same table so
//! the count survives restarts (n8n's `recurrenceRules`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use node_api::{ExecutionMode, Item, PollMode, PollingTrigger};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

use crate::runner::{Execution, ExecutionRequest};
use crate::store::{StoreError, StoredWorkflow};
use crate::workflows::WorkflowService;
use workflow::error::{Problem, WorkflowError};
use workflow::model::{Workflow, WorkflowNode};
use workflow::registry::NodeRegistry;
use workflow::schedule::{
    fired_item, next_counting_fire, record_fires, workflow_timezone, ScheduleRule,
};

const SCHEDULE_TRIGGER: &str = "n8n-nodes-base.scheduleTrigger";

/// The triggers of every active workflow, by workflow id.
pub struct TriggerRuntime {
    default_timezone: Tz,
    running: Mutex<Running>,
    changes: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Running {
    workflows: HashMap<String, ActiveTriggers>,
    /// Set once shutdown began: nothing starts any more.
    closed: bool,
    /// Tasks of stopped triggers, maybe still finishing their executions; shutdown waits
    /// for them.
    draining: Vec<JoinHandle<()>>,
}

struct ActiveTriggers {
    gate: Arc<Gate>,
    tasks: Vec<JoinHandle<()>>,
    /// The stored workflow's `updated_at` these triggers run.
    version: String,
}

/// Stops a workflow's trigger tasks. Recording an execution start happens under the lock, so
/// once [`Gate::close`] returns no new execution of these triggers can appear.
struct Gate {
    closed: tokio::sync::Mutex<bool>,
    signal: watch::Sender<bool>,
}

impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            closed: tokio::sync::Mutex::new(false),
            signal: watch::channel(false).0,
        })
    }

    async fn close(&self) {
        *self.closed.lock().await = true;
        self.signal.send_replace(true);
    }
}

/// One trigger node ready to run: what it is, when it fires, in which zone.
pub struct TriggerPlan {
    node: WorkflowNode,
    kind: TriggerKind,
    rules: Vec<ScheduleRule>,
    timezone: Tz,
}

enum TriggerKind {
    Schedule,
    Poll(Arc<dyn PollingTrigger>),
}

impl Default for TriggerRuntime {
    fn default() -> Self {
        Self::new(Tz::UTC)
    }
}

impl TriggerRuntime {
    /// A runtime whose schedules use `default_timezone` unless a workflow sets its own.
    pub fn new(default_timezone: Tz) -> Self {
        Self {
            default_timezone,
            running: Mutex::new(Running::default()),
            changes: tokio::sync::Mutex::new(()),
        }
    }

    /// Held while a workflow's active flag and its triggers change together (activate,
    /// deactivate, replace, delete), so two such requests cannot interleave and leave an
    /// inactive workflow firing.
    pub async fn changing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    /// The zone schedules use when a workflow sets none.
    pub fn default_timezone(&self) -> Tz {
        self.default_timezone
    }

    /// The triggers of `workflow` and their schedules. Refuses (naming the node and the
    /// parameter) a trigger that could not start: a bad cron expression or interval, an
    /// unknown time zone.
    pub fn plan(
        &self,
        workflow: &Workflow,
        registry: &NodeRegistry,
    ) -> Result<Vec<TriggerPlan>, WorkflowError> {
        let mut plans = Vec::new();
        let mut problems = Vec::new();
        for node in workflow.nodes.iter().filter(|n| !n.is_disabled()) {
            let kind = if node.node_type == SCHEDULE_TRIGGER {
                TriggerKind::Schedule
            } else if let (None, Some(t)) = (
                registry.node(&node.node_type),
                registry.trigger(&node.node_type),
            ) {
                TriggerKind::Poll(t.clone())
            } else {
                continue;
            };
            let problem = |message: String| Problem {
                node: Some(node.name.clone()),
                message,
            };
            let timezone = match self.timezone_of(workflow) {
                Ok(tz) => tz,
                Err(m) => {
                    problems.push(problem(format!("Parameter \"settings.timezone\": {m}")));
                    continue;
                }
            };
            let rules = match &kind {
                TriggerKind::Schedule => ScheduleRule::from_parameters(&node.parameters),
                TriggerKind::Poll(_) => ScheduleRule::from_poll_times(&node.parameters),
            };
            match rules {
                Ok(rules) => plans.push(TriggerPlan {
                    node: node.clone(),
                    kind,
                    rules,
                    timezone,
                }),
                Err(e) => problems.push(problem(e.message)),
            }
        }
        if problems.is_empty() {
            Ok(plans)
        } else {
            Err(WorkflowError::Invalid(problems))
        }
    }

    /// The workflow's `settings.timezone` (n8n's `DEFAULT` or nothing: the server's zone).
    fn timezone_of(&self, workflow: &Workflow) -> Result<Tz, String> {
        let setting = workflow
            .settings
            .as_ref()
            .and_then(|s| s.extra.get("timezone"));
        workflow_timezone(setting, self.default_timezone)
    }

    /// Starts `stored`'s triggers (stopping any it already had) with `plans` from
    /// [`TriggerRuntime::plan`].
    pub async fn start(
        &self,
        svc: &Arc<WorkflowService>,
        stored: &StoredWorkflow,
        plans: Vec<TriggerPlan>,
    ) {
        self.stop(&stored.id).await;
        if plans.is_empty() {
            return;
        }
        let mut workflow = stored.workflow.clone();
        workflow.id = Some(stored.id.clone());
        // Trigger executions run the workflow as active (`$workflow.active`).
        workflow.extra.insert("active".into(), Value::Bool(true));
        let workflow = Arc::new(workflow);
        let gate = Gate::new();
        let mut running = self.lock();
        if running.closed {
            return;
        }
        let tasks = plans
            .into_iter()
            .map(|plan| {
                tracing::info!(
                    workflow_id = %stored.id,
                    node = %plan.node.name,
                    timezone = %plan.timezone.name(),
                    "trigger started"
                );
                tokio::spawn(run_trigger(
                    svc.clone(),
                    workflow.clone(),
                    plan,
                    gate.clone(),
                ))
            })
            .collect();
        // Another start may have raced this one in; the newest definition wins.
        if let Some(old) = running.workflows.insert(
            stored.id.clone(),
            ActiveTriggers {
                gate,
                tasks,
                version: stored.updated_at.clone(),
            },
        ) {
            running.draining.extend(old.tasks);
            tokio::spawn(async move { old.gate.close().await });
        }
    }

    /// Stops workflow `id`'s triggers: once this returns no new execution starts. Executions
    /// under way finish on their own.
    pub async fn stop(&self, id: &str) {
        let active = self.lock().workflows.remove(id);
        if let Some(active) = active {
            active.gate.close().await;
            let mut running = self.lock();
            running.draining.retain(|t| !t.is_finished());
            running.draining.extend(active.tasks);
            tracing::info!(workflow_id = %id, "triggers stopped");
        }
    }

    /// The `updated_at` of the definition workflow `id`'s triggers run, if they run.
    pub fn running_version(&self, id: &str) -> Option<String> {
        self.lock().workflows.get(id).map(|a| a.version.clone())
    }

    /// Whether workflow `id` has triggers running.
    pub fn is_running(&self, id: &str) -> bool {
        self.lock().workflows.contains_key(id)
    }

    /// Stops every trigger (no new execution starts once this returns) and refuses to start
    /// any more; executions under way go on. [`TriggerRuntime::shutdown`] waits for them.
    pub async fn close(&self) {
        let all: Vec<ActiveTriggers> = {
            let mut running = self.lock();
            running.closed = true;
            running.workflows.drain().map(|(_, a)| a).collect()
        };
        for active in all {
            active.gate.close().await;
            self.lock().draining.extend(active.tasks);
        }
    }

    /// [`TriggerRuntime::close`], then waits until the executions the triggers started have
    /// finished.
    pub async fn shutdown(&self) {
        self.close().await;
        let tasks = std::mem::take(&mut self.lock().draining);
        for task in tasks {
            let _ = task.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        // A panic while holding this lock leaves the map consistent (single inserts/removes).
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts the triggers of every active workflow (at boot). A workflow whose triggers cannot
/// start is logged and skipped; the others start. Returns how many workflows started.
pub async fn start_active_workflows(svc: &Arc<WorkflowService>) -> Result<usize, StoreError> {
    let mut cursor: Option<String> = None;
    let mut started = 0;
    loop {
        let (page, next) = svc.store.list(Some(250), cursor.as_deref()).await?;
        for stored in page.iter().filter(|w| w.active) {
            match svc.triggers.plan(&stored.workflow, svc.executor.registry()) {
                Ok(plans) => {
                    svc.triggers.start(svc, stored, plans).await;
                    started += 1;
                }
                Err(e) => tracing::error!(
                    workflow_id = %stored.id,
                    error = %e,
                    "the active workflow's triggers cannot start; fix and activate it again"
                ),
            }
        }
        match next {
            Some(n) => cursor = Some(n),
            None => return Ok(started),
        }
    }
}

/// One trigger's loop: sleep until the next fire time, fire, repeat until the gate closes.
async fn run_trigger(
    svc: Arc<WorkflowService>,
    workflow: Arc<Workflow>,
    plan: TriggerPlan,
    gate: Arc<Gate>,
) {
    let workflow_id = workflow.id.clone().unwrap_or_default();
    let span = tracing::info_span!("trigger", workflow_id = %workflow_id, node = %plan.node.name);
    let mut stop = gate.signal.subscribe();
    // Schedule executions may overlap (as n8n's do); shutdown waits for them here.
    let mut executions = JoinSet::new();
    let mut last: DateTime<Utc> = Utc::now();
    async {
        let remembers = plan.rules.iter().any(ScheduleRule::has_recurrence);
        let mut fired_in = if remembers {
            load_recurrence(&svc, &workflow_id, &plan.node.name).await
        } else {
            Vec::new()
        };
        loop {
            while executions.try_join_next().is_some() {}
            let after = last.max(Utc::now());
            let Some((at, firing)) =
                next_counting_fire(&plan.rules, after, plan.timezone, &fired_in)
            else {
                tracing::warn!("the schedule has no future fire time; the trigger stops");
                break;
            };
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|closed| *closed) => break,
            }
            // The time came as the triggers were stopped (`select!` picks either): a stopped
            // trigger polls no more, and fires no more.
            if *stop.borrow() {
                break;
            }
            last = at;
            let go_on = match &plan.kind {
                TriggerKind::Schedule => {
                    if remembers {
                        record_fires(&plan.rules, &firing, at, plan.timezone, &mut fired_in);
                        let state = json!({ "recurrenceRules": fired_in });
                        save_state(&svc, &workflow_id, &plan.node.name, &state).await;
                    }
                    let items = vec![fired_item(Utc::now(), plan.timezone)];
                    match begin(&svc, &gate, &workflow, &plan.node.name, items).await {
                        Begin::Started(execution) => {
                            executions.spawn(
                                async move {
                                    execution.wait().await;
                                }
                                .in_current_span(),
                            );
                            true
                        }
                        Begin::Closed => false,
                        Begin::Failed => true,
                    }
                }
                TriggerKind::Poll(trigger) => {
                    poll_once(&svc, &workflow, &plan.node, trigger.as_ref(), &gate).await
                }
            };
            if !go_on {
                break;
            }
        }
        while executions.join_next().await.is_some() {}
    }
    .instrument(span)
    .await;
}

enum Begin {
    /// The execution's row exists (status running) and it runs.
    Started(Execution),
    /// The triggers were stopped: nothing was recorded.
    Closed,
    /// The database refused; logged.
    Failed,
}

/// Starts a `trigger` execution from `node` with `items`, unless the workflow's triggers
/// were stopped. The gate is held until the row is written, so once [`Gate::close`] returns
/// no new execution of these triggers can appear.
async fn begin(
    svc: &WorkflowService,
    gate: &Gate,
    workflow: &Arc<Workflow>,
    node: &str,
    items: Vec<Item>,
) -> Begin {
    let closed = gate.closed.lock().await;
    if *closed {
        return Begin::Closed;
    }
    let started = svc
        .runner
        .start(ExecutionRequest {
            workflow_id: workflow.id.clone().unwrap_or_default(),
            workflow: workflow.clone(),
            mode: ExecutionMode::Trigger,
            start_node: Some(node.to_owned()),
            items,
            respond: None,
        })
        .await;
    match started {
        Ok(execution) => Begin::Started(execution),
        Err(e) => {
            tracing::error!(error = %e, "could not record a trigger execution; skipping this fire");
            Begin::Failed
        }
    }
}

/// One poll: returns false when the triggers were stopped meanwhile.
async fn poll_once(
    svc: &Arc<WorkflowService>,
    workflow: &Arc<Workflow>,
    node: &WorkflowNode,
    trigger: &dyn PollingTrigger,
    gate: &Gate,
) -> bool {
    let workflow_id = workflow.id.clone().unwrap_or_default();
    let state = match svc.store.trigger_state(&workflow_id, &node.name).await {
        Ok(s) => s,
        Err(e) => {
            // Polling without the saved state would fetch records again: wait for the next time.
            tracing::error!(error = %e, "could not read the trigger's state; skipping this poll");
            return true;
        }
    };
    // n8n's static data starts as an empty object.
    let mut state = state.unwrap_or_else(|| json!({}));
    let polled = svc
        .executor
        .poll(workflow, node, trigger, &mut state, PollMode::Trigger)
        .await;
    match polled {
        Err(e) => {
            tracing::warn!(error = %e.message, "poll failed; the trigger's state is kept");
            let closed = gate.closed.lock().await;
            if *closed {
                return false;
            }
            let message = format!("polling trigger \"{}\" failed: {}", node.name, e.message);
            if let Err(e) = svc
                .runner
                .record_failure(&workflow_id, ExecutionMode::Trigger, &message)
                .await
            {
                tracing::error!(error = %e, "could not record the failed poll");
            }
            true
        }
        Ok(None) => {
            save_state(svc, &workflow_id, &node.name, &state).await;
            true
        }
        Ok(Some(items)) if items.is_empty() => {
            save_state(svc, &workflow_id, &node.name, &state).await;
            true
        }
        Ok(Some(items)) => match begin(svc, gate, workflow, &node.name, items).await {
            Begin::Started(execution) => {
                // Awaited, not spawned: the next poll must see the state this one leaves.
                // The state moves only when the items were delivered and that is stored.
                let ended = execution.wait().await;
                if ended.outcome.is_ok() && ended.stored.is_ok() {
                    save_state(svc, &workflow_id, &node.name, &state).await;
                }
                true
            }
            // Stopped between poll and execution: the items were not delivered, so the state
            // stays and the next activation sees them again.
            Begin::Closed => false,
            Begin::Failed => true,
        },
    }
}

/// What a schedule with intervals cron cannot express remembers: per rule, the hour, day,
/// week or month it last fired in (n8n's `recurrenceRules`).
async fn load_recurrence(svc: &WorkflowService, workflow_id: &str, node: &str) -> Vec<Option<i64>> {
    match svc.store.trigger_state(workflow_id, node).await {
        Ok(Some(state)) => state["recurrenceRules"]
            .as_array()
            .map(|rules| rules.iter().map(Value::as_i64).collect())
            .unwrap_or_default(),
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::error!(error = %e, "could not read when the schedule last fired; counting from now");
            Vec::new()
        }
    }
}

async fn save_state(svc: &WorkflowService, workflow_id: &str, node: &str, state: &Value) {
    if let Err(e) = svc.store.save_trigger_state(workflow_id, node, state).await {
        tracing::error!(error = %e, "could not save the trigger's state; the next poll repeats this one");
    }
}
