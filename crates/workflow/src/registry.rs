//! [`NodeRegistry`]: the node types the engine can run, by n8n type name.

use std::collections::HashMap;
use std::sync::Arc;

use node_api::{Node, NodeDescription, PollingTrigger};

use super::nodes;

/// Node and polling-trigger implementations by type name.
#[derive(Clone, Default)]
pub struct NodeRegistry {
    nodes: HashMap<String, Arc<dyn Node>>,
    triggers: HashMap<String, Arc<dyn PollingTrigger>>,
}

impl NodeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding every core node.
    pub fn with_core_nodes() -> Self {
        let mut r = Self::new();
        for node in nodes::core_nodes() {
            r.register(node);
        }
        r
    }

    /// Adds (or replaces) a node type.
    pub fn register(&mut self, node: Arc<dyn Node>) {
        self.nodes
            .insert(node.description().type_name.clone(), node);
    }

    /// Adds (or replaces) a polling trigger type.
    pub fn register_trigger(&mut self, trigger: Arc<dyn PollingTrigger>) {
        self.triggers
            .insert(trigger.description().type_name.clone(), trigger);
    }

    /// The node implementation for `type_name`.
    pub fn node(&self, type_name: &str) -> Option<&Arc<dyn Node>> {
        self.nodes.get(type_name)
    }

    /// The polling trigger for `type_name`.
    pub fn trigger(&self, type_name: &str) -> Option<&Arc<dyn PollingTrigger>> {
        self.triggers.get(type_name)
    }

    /// The description of `type_name`, node or trigger.
    pub fn description(&self, type_name: &str) -> Option<&NodeDescription> {
        self.nodes
            .get(type_name)
            .map(|n| n.description())
            .or_else(|| self.triggers.get(type_name).map(|t| t.description()))
    }
}

impl std::fmt::Debug for NodeRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.nodes.keys().chain(self.triggers.keys()).collect();
        names.sort();
        f.debug_struct("NodeRegistry")
            .field("types", &names)
            .finish()
    }
}
