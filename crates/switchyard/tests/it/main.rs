//! Switchyard's end-to-end tests, in one binary so the workspace links it once: the engine
//! hosting the built-in plugins ([`switchyard::builtin`]), the real server on a free port over
//! a real SQLite file or Postgres server, the real `switchyard` binary for the commands, and the
//! fake Salesforce org over real HTTP. They live in the package that owns the binary, the only
//! one `env!("CARGO_BIN_EXE_switchyard")` reaches it from.
//!
//! # Layout
//! - `common`: the test harness (databases, the server, the binary, the typed client);
//!   `flows`: building workflows and running them through the executor; `tls`: throwaway
//!   certificates.
//! - `app_*`, `api_*`, `wf_api`: the HTTP surface (webhooks, workflows, credentials, limits).
//! - `wf_*`: workflow semantics: the executor, n8n fidelity and compatibility, expressions'
//!   sandbox, stores, executions and their saving policy, triggers, plugins, pinned data.
//! - `sf_*`: the Salesforce plugin hosted by the engine against the fake org.
//! - `console`: the web console over HTTP (pages, sessions, CSRF); `console_browser`: in
//!   chromium through chromedriver.
//! - `cli`, `cli_settings`, `demo`: the `switchyard` binary and its documented settings;
//!   `oauth2_connect`: the generic connect flow;
//!   `outbound_tls`, `postgres_tls`: TLS to the outside and to the database.

mod common;
mod flows;
mod tls;

mod api_credentials;
mod app_body_limits;
mod app_webhooks;
mod app_workflows;
mod cli;
mod cli_settings;
mod console;
mod console_browser;
mod demo;
mod oauth2_connect;
mod outbound_tls;
mod postgres_tls;
mod sf_compat;
mod sf_credential_test;
mod sf_http_request;
mod sf_limit_warning;
mod sf_metrics;
mod sf_refresh_race;
mod sf_trigger;
mod wf_api;
mod wf_compat;
mod wf_executions;
mod wf_executor;
mod wf_fidelity;
mod wf_http_credentials;
mod wf_paired;
mod wf_pin_data;
mod wf_plugins;
mod wf_sandbox;
mod wf_store;
mod wf_triggers;
