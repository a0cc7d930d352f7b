//! Switchyard's engine: the product. Configuration, the HTTP server and its API, the
//! `switchyard` command, and (as they land) workflows, the executor and triggers.
//!
//! # Layout
//! - [`config`]: settings from flags and the environment; the command line.
//! - [`app`]: opening the key ring, database and stores; the router; serving and shutdown.
//! - [`api`]: HTTP routes (`/healthz`, `/api/v1/...`, webhooks, the OAuth2 connect routes) and
//!   API-key authentication.
//! - [`api_keys`]: creating and checking API keys.
//! - [`cli`]: the commands other than `start`.
//! - [`error`]: how errors become HTTP answers.
//! - [`node_credentials`]: the credential store as nodes and the workflow validator see it.
//! - [`workflow`]: n8n workflows: model, expressions, executor, core nodes, storage and API.

pub mod api;
pub mod api_keys;
pub mod app;
pub mod cli;
pub mod config;
pub mod error;
pub mod node_credentials;
pub mod workflow;
