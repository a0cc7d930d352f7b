//! The plugins this server hosts. The engine names none: the `switchyard` binary hands them
//! over (`switchyard::builtin`, the one place that names them) and everything here asks the
//! [`Registry`]: which plugin owns a credential type, which node types there are (the core
//! nodes too come from a plugin), who signs HTTP requests for which credential type, who must
//! hear that a credential changed, what metrics there are.

use std::sync::Arc;

use node_api::{
    CredentialProvider, CredentialType, Host, MetricFamily, Plugin, PluginRuntime, Setting,
    SettingValues,
};
use workflow::NodeRegistry;

/// Every setting the plugins declare, in plugin order.
pub fn settings(plugins: &[Arc<dyn Plugin>]) -> Vec<Setting> {
    plugins.iter().flat_map(|p| p.settings()).collect()
}

/// Every credential type the plugins declare, in plugin order.
pub fn credential_types(plugins: &[Arc<dyn Plugin>]) -> Vec<CredentialType> {
    plugins.iter().flat_map(|p| p.credential_types()).collect()
}

struct Started {
    name: &'static str,
    credential_types: Vec<&'static str>,
    runtime: Arc<dyn PluginRuntime>,
}

/// The started plugins.
#[derive(Default)]
pub struct Registry {
    started: Vec<Started>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.started.iter().map(|s| s.name))
            .finish()
    }
}

/// What the engine hands every plugin it starts.
pub struct HostParts {
    /// The shared outbound HTTP client.
    pub http: reqwest::Client,
    /// The credential store.
    pub credentials: Arc<dyn CredentialProvider>,
    /// The plugins' setting values.
    pub settings: SettingValues,
    /// `SWITCHYARD_ALLOW_INSECURE_HOSTS`.
    pub allow_insecure_hosts: bool,
}

impl Registry {
    /// Starts `plugins`; the first that refuses stops the server, naming itself.
    pub fn start(plugins: &[Arc<dyn Plugin>], host: &HostParts) -> Result<Self, String> {
        let mut started = Vec::with_capacity(plugins.len());
        for plugin in plugins {
            let runtime = plugin
                .start(Host {
                    http: host.http.clone(),
                    credentials: host.credentials.clone(),
                    settings: host.settings.clone(),
                    allow_insecure_hosts: host.allow_insecure_hosts,
                })
                .map_err(|e| format!("plugin {}: {e}", plugin.name()))?;
            started.push(Started {
                name: plugin.name(),
                credential_types: plugin.credential_types().iter().map(|t| t.name).collect(),
                runtime,
            });
        }
        Ok(Self { started })
    }

    /// Adds every plugin's nodes, polling triggers and request signers to `nodes`, in plugin
    /// order (a later plugin's node type replaces an earlier one's of the same name).
    pub fn register_nodes(&self, nodes: &mut NodeRegistry) {
        for s in &self.started {
            for credential_type in s.runtime.signed_credential_types() {
                nodes.register_signer(credential_type, s.runtime.clone());
            }
            for node in s.runtime.nodes() {
                nodes.register(node);
            }
            for trigger in s.runtime.polling_triggers() {
                nodes.register_trigger(trigger);
            }
        }
    }

    /// The plugin that declared `credential_type`.
    pub fn owner_of(&self, credential_type: &str) -> Option<&Arc<dyn PluginRuntime>> {
        self.started
            .iter()
            .find(|s| s.credential_types.contains(&credential_type))
            .map(|s| &s.runtime)
    }

    /// Tells every plugin that credential `id` changed (or was deleted, or got new tokens):
    /// any token it cached for it is dropped.
    pub fn credential_changed(&self, id: &str) {
        for s in &self.started {
            s.runtime.credential_changed(id);
        }
    }

    /// Every plugin's metrics.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        self.started
            .iter()
            .flat_map(|s| s.runtime.metrics())
            .collect()
    }
}
