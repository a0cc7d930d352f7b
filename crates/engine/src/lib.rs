//! Switchyard's engine: the product. Configuration, the HTTP server and its API, the
//! `switchyard` command, and (as they land) workflows, the executor and triggers.
pub mod workflow;
