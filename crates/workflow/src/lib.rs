//! The workflow core: n8n workflow JSON, validation, expressions and the executor. It knows
//! no HTTP server and no database: the engine stores workflows and executions, serves the
//! API and starts runs; this crate says what a workflow means. It knows no node either: the
//! nodes come from plugins (the core nodes from `core-nodes`) through the [`NodeRegistry`].
//!
//! # Layout
//! - [`model`]: [`Workflow`] and its nodes, connections and settings (n8n's JSON, round-tripped).
//! - [`validate`]: checks before saving or running; every problem names its node.
//! - [`expr`]: `={{ ... }}` expressions, with a fast path and a sandboxed QuickJS engine; it
//!   also runs the Code node's JavaScript.
//! - [`datetime`]: Luxon's dates (zones, calendar arithmetic, format tokens) for expressions,
//!   the Code node and the Date & Time node.
//! - [`executor`]: runs a workflow in n8n's v1 order and records run data; a node may run
//!   several times (loops), keeping its context between runs.
//! - `context`: what a node run asks the executor for; [`NodeContext`] gives the core nodes
//!   what [`node_api::ExecuteContext`] does not (the execution view, expressions evaluated
//!   with extra variables, the wait slot).
//! - [`run`]: run data shapes and the view expressions resolve `$('Node')` against.
//! - [`schedule`]: schedule rules (the Schedule Trigger's and polling triggers' `pollTimes`),
//!   their next fire in a time zone, and the item a fire emits.
//! - [`webhook`]: who may call a webhook (authentication modes, IP allow list), a webhook call
//!   as the Webhook node's item, and the answer its response mode gives.
//! - [`registry`]: node types by name.
//! - [`error`]: [`WorkflowError`] and [`ExpressionError`].

mod context;
pub mod datetime;
pub mod error;
pub mod executor;
pub mod expr;
pub mod model;
pub mod registry;
pub mod run;
pub mod schedule;
pub mod validate;
pub mod webhook;

pub use context::{NoCredentials, NodeContext};
pub use error::{ExpressionError, ExpressionErrorKind, Problem, WorkflowError};
pub use executor::{CancelHandle, ExecutionResult, ExecutionStatus, Executor, RunRequest};
pub use model::{OnError, Workflow, WorkflowNode};
pub use registry::NodeRegistry;
pub use validate::{validate, CredentialLookup};
