//! [`TestWebhooks`]: `/webhook-test/` answers only while armed, as in n8n. Arming
//! (`POST /api/v1/workflows/{id}/test-webhook`, with an API key) lists the workflow's Webhook
//! nodes for 120 seconds and one call; the first call disarms them all. Calls find their
//! workflow by route, never by reading workflows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use workflow::webhook::{is_dynamic, path_params, route_pattern, webhook_routes};
use workflow::Workflow;

use crate::webhook_index::WebhookTarget;

/// How long an armed test webhook waits for its call (n8n's 120 s).
pub const TEST_WEBHOOK_TTL: Duration = Duration::from_secs(120);

/// Method and route pattern.
type RouteKey = (String, String);

/// The armed test webhooks of this process.
#[derive(Debug, Default)]
pub struct TestWebhooks {
    inner: Mutex<Armed>,
}

#[derive(Debug, Default)]
struct Armed {
    routes: HashMap<RouteKey, WebhookTarget>,
    /// Each armed workflow's routes and when they lapse.
    workflows: HashMap<String, (Vec<RouteKey>, Instant)>,
}

impl Armed {
    fn disarm(&mut self, workflow_id: &str) {
        if let Some((keys, _)) = self.workflows.remove(workflow_id) {
            for key in keys {
                self.routes.remove(&key);
            }
        }
    }

    fn drop_lapsed(&mut self, now: Instant) {
        let lapsed: Vec<String> = self
            .workflows
            .iter()
            .filter(|(_, (_, until))| *until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in lapsed {
            self.disarm(&id);
        }
    }
}

/// Why a workflow's test webhooks cannot be armed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmError {
    /// It has no enabled Webhook node.
    NoWebhook,
    /// Another workflow's armed test webhook listens on this method and path.
    Taken {
        /// `METHOD path`.
        route: String,
        /// The other workflow.
        workflow_id: String,
    },
}

impl TestWebhooks {
    /// Arms every enabled Webhook node of `workflow` (as saved now) for `ttl` and one call,
    /// replacing an earlier arming of the same workflow. Returns the armed (method, path).
    pub fn arm(
        &self,
        workflow_id: &str,
        workflow: Arc<Workflow>,
        ttl: Duration,
    ) -> Result<Vec<(String, String)>, ArmError> {
        let routes: Vec<(String, String, String)> = webhook_routes(&workflow)
            .map(|(method, path, node)| (method, path, node.name.clone()))
            .collect();
        if routes.is_empty() {
            return Err(ArmError::NoWebhook);
        }
        let Ok(mut armed) = self.inner.lock() else {
            return Err(ArmError::NoWebhook);
        };
        let now = Instant::now();
        armed.drop_lapsed(now);
        for (method, path, _) in &routes {
            let key = (method.clone(), route_pattern(path));
            if let Some(other) = armed.routes.get(&key) {
                if other.workflow_id != workflow_id {
                    return Err(ArmError::Taken {
                        route: format!("{method} {path}"),
                        workflow_id: other.workflow_id.clone(),
                    });
                }
            }
        }
        armed.disarm(workflow_id);
        let mut keys = Vec::new();
        for (method, path, node) in &routes {
            let key = (method.clone(), route_pattern(path));
            armed.routes.insert(
                key.clone(),
                WebhookTarget {
                    workflow_id: workflow_id.to_owned(),
                    node: node.clone(),
                    workflow: workflow.clone(),
                    path: path.clone(),
                },
            );
            keys.push(key);
        }
        armed
            .workflows
            .insert(workflow_id.to_owned(), (keys, now + ttl));
        Ok(routes.into_iter().map(|(m, p, _)| (m, p)).collect())
    }

    /// The armed test webhook for `method` `path`, disarming its workflow (one call); `None`
    /// when nothing armed matches or its time is up.
    pub fn take(&self, method: &str, path: &str) -> Option<WebhookTarget> {
        let mut armed = self.inner.lock().ok()?;
        armed.drop_lapsed(Instant::now());
        let key = (
            method.to_ascii_uppercase(),
            path.trim_matches('/').to_owned(),
        );
        let target = match armed.routes.get(&key) {
            Some(t) if !is_dynamic(&t.path) => Some(t.clone()),
            _ => armed
                .routes
                .iter()
                .filter(|((m, pattern), _)| *m == key.0 && pattern.contains(':'))
                .find(|(_, t)| path_params(&t.path, &key.1).is_some())
                .map(|(_, t)| t.clone()),
        }?;
        armed.disarm(&target.workflow_id);
        Some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workflow(path: &str) -> Arc<Workflow> {
        Arc::new(
            Workflow::from_value(json!({"name": "w", "connections": {}, "nodes": [
                {"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                 "parameters": {"httpMethod": "POST", "path": path}}]}))
            .unwrap(),
        )
    }

    #[test]
    fn one_call_within_the_time() {
        let hooks = TestWebhooks::default();
        assert!(hooks.take("POST", "a").is_none());
        hooks.arm("w1", workflow("a"), TEST_WEBHOOK_TTL).unwrap();
        assert!(matches!(
            hooks.arm("w2", workflow("/a/"), TEST_WEBHOOK_TTL),
            Err(ArmError::Taken { .. })
        ));
        assert_eq!(hooks.take("POST", "a").unwrap().workflow_id, "w1");
        assert!(hooks.take("POST", "a").is_none(), "one call only");

        hooks.arm("w1", workflow("u/:id"), Duration::ZERO).unwrap();
        assert!(hooks.take("POST", "u/1").is_none(), "lapsed");
        hooks
            .arm("w1", workflow("u/:id"), TEST_WEBHOOK_TTL)
            .unwrap();
        assert_eq!(hooks.take("post", "u/1").unwrap().path, "u/:id");
    }
}
