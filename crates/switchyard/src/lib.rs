//! Switchyard, the product: the `switchyard` command (`src/main.rs`) is the engine hosting the
//! built-in plugins. This crate is the one place that names them, so that the engine library
//! depends on no plugin and a change to a node recompiles the node's crate and this one only.
//!
//! # Layout
//! - [`builtin`]: the plugins built into the binary, the core plugin first.
//! - `src/main.rs`: the binary (logging set up, the allocator picked by feature), handing
//!   [`builtin`] to [`engine::cli::run`].
//! - `tests/it`: the end-to-end tests: the real server on a free port over a real database,
//!   the real binary for the commands, the fake Salesforce org over real HTTP.
//! - `benches/console.rs`: the web console's pages with many workflows and executions stored.

use std::sync::Arc;

use node_api::Plugin;

/// The plugins built into this binary: the core nodes first, then Salesforce.
pub fn builtin() -> Vec<Arc<dyn Plugin>> {
    vec![core_nodes::plugin(), salesforce_node::plugin()]
}
