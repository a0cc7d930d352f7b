//! The workflow engine core: n8n workflow JSON, validation, expressions, the executor and
//! the core nodes.
//!
//! # Layout
//! - [`model`]: [`Workflow`] and its nodes, connections and settings (n8n's JSON, round-tripped).
//! - [`validate`]: checks before saving or running; every problem names its node.
//! - [`expr`]: `={{ ... }}` expressions, with a fast path and a sandboxed QuickJS engine.
//! - [`executor`]: runs a workflow in n8n's v1 order and records run data.
//! - [`run`]: run data shapes and the view expressions resolve `$('Node')` against.
//! - [`nodes`]: the core nodes (manual, webhook, schedule, set, if, filter, merge, ...).
//! - [`webhook`]: turning a webhook call into an execution and its HTTP answer.
//! - [`registry`]: node types by name.
//! - [`api`]: the `/api/v1/workflows` and `/api/v1/executions` routes.
//! - [`store`]: workflows and executions in the database (SQLite or Postgres); execution
//!   rows are written in groups by `writes`.
//! - [`triggers`]: the trigger runtime: schedules and polling triggers of active workflows.

pub mod api;
mod context;
pub mod error;
pub mod executor;
pub mod expr;
pub mod model;
pub mod nodes;
pub mod registry;
pub mod run;
pub mod store;
pub mod triggers;
pub mod validate;
pub mod webhook;
mod writes;

pub use context::NoCredentials;
pub use error::{ExpressionError, ExpressionErrorKind, Problem, WorkflowError};
pub use executor::{CancelHandle, ExecutionResult, ExecutionStatus, Executor, RunRequest};
pub use model::{OnError, Workflow, WorkflowNode};
pub use registry::NodeRegistry;
pub use validate::{validate, CredentialLookup};
