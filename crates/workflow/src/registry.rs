//! [`NodeRegistry`]: the node types the engine can run, by n8n type name.

use std::collections::HashMap;
use std::sync::Arc;

use node_api::{Node, NodeDescription, PluginRuntime, PollingTrigger};

/// Node and polling-trigger implementations by type name, and the plugins that sign HTTP
/// requests by credential type.
#[derive(Clone, Default)]
pub struct NodeRegistry {
    nodes: HashMap<String, Arc<dyn Node>>,
    triggers: HashMap<String, Arc<dyn PollingTrigger>>,
    signers: HashMap<String, Arc<dyn PluginRuntime>>,
}

impl NodeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
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

    /// Makes `plugin` the signer of HTTP requests made with `credential_type` credentials
    /// (the HTTP Request node's `predefinedCredentialType`).
    pub fn register_signer(&mut self, credential_type: &str, plugin: Arc<dyn PluginRuntime>) {
        self.signers.insert(credential_type.to_owned(), plugin);
    }

    /// The plugin that signs requests made with `credential_type` credentials.
    pub fn signer(&self, credential_type: &str) -> Option<&Arc<dyn PluginRuntime>> {
        self.signers.get(credential_type)
    }

    /// Every credential type some plugin signs requests with, sorted.
    pub fn signed_credential_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = self.signers.keys().map(String::as_str).collect();
        types.sort_unstable();
        types
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
