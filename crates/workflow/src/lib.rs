//! The workflow core: n8n workflow JSON, validation, expressions, the executor and the core
//! nodes. It knows no HTTP server and no database: the engine stores workflows and
//! executions, serves the API and starts runs; this crate says what a workflow means.
//!
//! # Layout
//! - [`model`]: [`Workflow`] and its nodes, connections and settings (n8n's JSON, round-tripped).
//! - [`validate`]: checks before saving or running; every problem names its node.
//! - [`expr`]: `={{ ... }}` expressions, with a fast path and a sandboxed QuickJS engine.
//! - [`datetime`]: Luxon's dates (zones, calendar arithmetic, format tokens) for expressions,
//!   the Code node and the Date & Time node.
//! - [`executor`]: runs a workflow in n8n's v1 order and records run data; a node may run
//!   several times (loops), keeping its context between runs.
//! - [`run`]: run data shapes and the view expressions resolve `$('Node')` against.
//! - [`nodes`]: the core nodes (manual, webhook, schedule, set, if, filter, merge, code,
//!   switch, loop over items, aggregate, sort, limit, remove duplicates, summarize, date &
//!   time, rename keys, ...).
//! - [`webhook`]: a webhook call as the Webhook node's item, and the answer its response
//!   mode gives.
//! - [`registry`]: node types by name.
//! - [`plugin`] and [`credential_types`]: the core plugin and its credential types (HTTP
//!   Basic, Header, Query and Bearer auth, generic OAuth2), registered by the engine like
//!   any integration; `oauth2` fetches, caches and refreshes generic OAuth2 tokens.
//! - [`error`]: [`WorkflowError`] and [`ExpressionError`].

mod context;
pub mod credential_types;
pub mod datetime;
pub mod error;
pub mod executor;
pub mod expr;
pub mod model;
pub mod nodes;
mod oauth2;
pub mod plugin;
pub mod registry;
pub mod run;
pub mod validate;
pub mod webhook;

pub use context::NoCredentials;
pub use error::{ExpressionError, ExpressionErrorKind, Problem, WorkflowError};
pub use executor::{CancelHandle, ExecutionResult, ExecutionStatus, Executor, RunRequest};
pub use model::{OnError, Workflow, WorkflowNode};
pub use plugin::core_plugin;
pub use registry::NodeRegistry;
pub use validate::{validate, CredentialLookup};
