//! Integration tests for the Salesforce node, in one binary so it links once: the fake org
//! over real HTTP, a real SQLite credential store, the real client, and the node run
//! through a minimal execution context.

mod client;
mod common;
mod node_batch;
mod node_bulk;
mod node_compat;
mod node_fields;
mod node_limits;
mod node_params;
mod node_records;
mod node_soql;
mod sign_in;
mod trigger;
