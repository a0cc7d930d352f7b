//! Switchyard's engine: the product, as a library. It stores workflows, executions and
//! credentials, serves the HTTP API, runs workflows when their webhooks are called or their
//! triggers fire, hosts the plugins it is handed, and runs the `switchyard` commands ([`cli`]).
//! What a workflow means (model, expressions, executor) is the `workflow` crate's; the nodes,
//! the core nodes included, come from plugins. The `switchyard` package builds the binary and
//! names the built-in plugins, so the engine depends on no node implementation: changing a
//! node does not recompile it.
//!
//! # Layout
//! - [`config`]: settings from flags and the environment; the command line.
//! - [`app`]: opening the key ring, database and stores; the router; serving and shutdown.
//! - [`api`]: HTTP routes (`/healthz`, `/metrics`, `/api/v1/...`, webhooks, the OAuth2 connect
//!   routes) and API-key authentication.
//! - [`api_keys`]: creating and checking API keys.
//! - [`connect`]: connecting a credential through OAuth2 (generic over the plugins' types):
//!   the state, the PKCE verifier, the code exchange and storing the tokens.
//! - [`cli`]: the commands other than `start`.
//! - [`console`]: the web console at `/` (owner sign-in, workflows, executions,
//!   credentials, API keys), server-rendered HTML over the same services as the API.
//! - [`demo`]: `switchyard demo`, the server with the plugins' stand-in services in the
//!   process (each plugin's [`node_api::Demo`]), their credentials and workflows run once.
//! - [`error`]: how errors become HTTP answers.
//! - [`metrics`]: the engine's metrics (`prometheus-client`), encoded with the plugins' at
//!   `/metrics`.
//! - [`node_credentials`]: the credential store as nodes and the workflow validator see it.
//! - [`plugins`]: the plugins this server hosts (handed over by the binary, which names them)
//!   and the [`plugins::Registry`] the rest asks.
//! - [`runner`]: [`runner::Runner`], the one way an execution happens: its row, its run on
//!   its own task, its end stored by the saving policy, panics caught, cancel on shutdown.
//! - [`workflows`]: [`workflows::WorkflowService`], what every part that works with workflows
//!   shares.
//! - [`store`]: workflows, executions and trigger state in the database, with n8n's saving
//!   policy and pruning; execution rows are written in groups.
//! - [`triggers`]: schedules and polling triggers of active workflows.
//! - [`webhook_index`]: the production webhooks of active workflows, in memory.
//! - [`server`]: the accept loop and its limits (header timeout, body rate floor,
//!   connection cap).
//! - [`sync`]: workflow changes made by another process (the CLI, a second server) reach
//!   this server within a second.

pub mod api;
pub mod api_keys;
pub mod app;
pub mod cli;
pub mod config;
pub mod connect;
pub mod console;
pub mod demo;
pub mod error;
pub mod files;
pub mod metrics;
pub mod node_credentials;
pub mod plugins;
pub mod runner;
pub mod server;
pub mod store;
pub mod sync;
pub mod test_webhooks;
pub mod triggers;
pub mod webhook_auth;
pub mod webhook_index;
pub mod workflows;
