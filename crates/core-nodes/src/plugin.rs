//! The core plugin: what the core nodes bring to the engine, registered like any integration:
//! the nodes themselves, their credential types, the authorization code connect of generic
//! OAuth2 credentials, and forgetting cached OAuth2 tokens of a credential that changed.

use std::sync::Arc;

use node_api::{CredentialType, Host, Node, OAuth2Connect, Plugin, PluginRuntime};

use crate::credential_types::OAUTH2_API;
use crate::oauth2::GenericConnect;

/// The core plugin; it comes first among the built-in plugins.
#[derive(Debug, Default, Clone, Copy)]
pub struct CorePlugin;

/// The core plugin, ready to register.
pub fn plugin() -> Arc<dyn Plugin> {
    Arc::new(CorePlugin)
}

struct CoreRuntime {
    connect: GenericConnect,
}

impl PluginRuntime for CoreRuntime {
    fn nodes(&self) -> Vec<Arc<dyn Node>> {
        crate::nodes()
    }

    fn oauth2(&self, credential_type: &str) -> Option<&dyn OAuth2Connect> {
        (credential_type == OAUTH2_API).then_some(&self.connect as &dyn OAuth2Connect)
    }

    fn credential_changed(&self, id: &str) {
        crate::oauth2::forget(id);
    }
}

impl Plugin for CorePlugin {
    fn name(&self) -> &'static str {
        "core"
    }

    fn credential_types(&self) -> Vec<CredentialType> {
        crate::credential_types::credential_types()
    }

    fn start(&self, host: Host) -> Result<Arc<dyn PluginRuntime>, String> {
        Ok(Arc::new(CoreRuntime {
            connect: GenericConnect { http: host.http },
        }))
    }
}
