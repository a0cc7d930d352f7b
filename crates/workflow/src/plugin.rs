//! The core plugin: what the workflow core itself brings to the engine besides its nodes, so
//! the engine registers it like any integration (its credential types, for now).

use std::sync::Arc;

use node_api::{CredentialType, Host, Plugin, PluginRuntime};

/// The core plugin; the engine registers it first.
#[derive(Debug, Default, Clone, Copy)]
pub struct CorePlugin;

/// The core plugin, ready to register.
pub fn core_plugin() -> Arc<dyn Plugin> {
    Arc::new(CorePlugin)
}

struct CoreRuntime;

impl PluginRuntime for CoreRuntime {}

impl Plugin for CorePlugin {
    fn name(&self) -> &'static str {
        "core"
    }

    fn credential_types(&self) -> Vec<CredentialType> {
        crate::credential_types::credential_types()
    }

    fn start(&self, _host: Host) -> Result<Arc<dyn PluginRuntime>, String> {
        Ok(Arc::new(CoreRuntime))
    }
}
