//! [`WebhookIndex`]: the production webhooks of the active workflows, in memory, so that a
//! webhook call reads no workflow row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use node_api::JsonObject;
use serde_json::Value;
use workflow::webhook::{is_dynamic, path_params, route_pattern, webhook_routes};
use workflow::Workflow;

use crate::store::StoredWorkflow;

/// Where a production webhook call goes: the active workflow and its Webhook node.
#[derive(Clone, Debug)]
pub struct WebhookTarget {
    /// The workflow's id.
    pub workflow_id: String,
    /// The Webhook node's name.
    pub node: String,
    /// The workflow as last saved, shared with running executions.
    pub workflow: Arc<Workflow>,
    /// The path as the node declares it (`user/:id`), without surrounding slashes.
    pub path: String,
}

impl WebhookTarget {
    /// The values of the dynamic segments for a call on `path` (empty for a static path).
    pub fn params(&self, path: &str) -> JsonObject {
        path_params(&self.path, path).unwrap_or_default()
    }
}

/// Method and route pattern ([`route_pattern`]: dynamic segments as `:`).
type RouteKey = (String, String);

/// Production webhooks of the active workflows, by method and path.
///
/// The workflow store keeps it current on every create, update, activation, deactivation
/// and delete; it is filled from the database on first use. Writers hold [`Self::writing`]
/// across their database write and the index update, so a concurrent first fill or a
/// second writer cannot leave it behind the database.
#[derive(Debug, Default)]
pub struct WebhookIndex {
    routes: RwLock<HashMap<RouteKey, Vec<WebhookTarget>>>,
    loaded: AtomicBool,
    writing: tokio::sync::Mutex<()>,
}

fn route_key(method: &str, path: &str) -> RouteKey {
    (
        method.to_ascii_uppercase(),
        path.trim_matches('/').to_string(),
    )
}

impl WebhookIndex {
    /// Whether the index has been filled from the database.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Serialises writers (and the first fill) with each other; hold it across the database
    /// write and the matching [`Self::put`] or [`Self::remove`].
    pub async fn writing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writing.lock().await
    }

    /// Replaces the whole index with the webhooks of the active workflows among `workflows`.
    pub fn fill(&self, workflows: Vec<StoredWorkflow>) {
        let mut routes: HashMap<RouteKey, Vec<WebhookTarget>> = HashMap::new();
        for stored in workflows.into_iter().filter(|w| w.active) {
            Self::add(&mut routes, stored);
        }
        if let Ok(mut r) = self.routes.write() {
            *r = routes;
        }
        self.loaded.store(true, Ordering::Release);
    }

    fn add(routes: &mut HashMap<RouteKey, Vec<WebhookTarget>>, stored: StoredWorkflow) {
        let workflow = Arc::new(stored.workflow);
        for (method, path, node) in webhook_routes(&workflow) {
            let mut paths = vec![path.clone()];
            // n8n serves a dynamic path under the node's webhookId too
            // (`/webhook/{webhookId}/user/:id`); imported callers may use that form.
            if is_dynamic(&path) {
                if let Some(id) = node.extra.get("webhookId").and_then(Value::as_str) {
                    paths.push(format!("{id}/{path}"));
                }
            }
            for path in paths {
                let key = (method.clone(), route_pattern(&path));
                let targets = routes.entry(key).or_default();
                targets.push(WebhookTarget {
                    workflow_id: stored.id.clone(),
                    node: node.name.clone(),
                    workflow: workflow.clone(),
                    path,
                });
                // The database lets one active workflow own a route; rows saved before it
                // did may still share one: the lowest id answers, as before.
                targets.sort_by(|a, b| a.workflow_id.cmp(&b.workflow_id));
            }
        }
    }

    /// Records `stored` as saved: its webhooks are listed when it is active, dropped when not.
    pub fn put(&self, stored: &StoredWorkflow) {
        if !self.is_loaded() {
            return;
        }
        self.remove(&stored.id);
        if stored.active {
            if let Ok(mut r) = self.routes.write() {
                Self::add(&mut r, stored.clone());
            }
        }
    }

    /// Drops every webhook of workflow `id`.
    pub fn remove(&self, id: &str) {
        if let Ok(mut r) = self.routes.write() {
            r.retain(|_, targets| {
                targets.retain(|t| t.workflow_id != id);
                !targets.is_empty()
            });
        }
    }

    /// The active workflow listening on `method` `path`: a static path first, as n8n
    /// looks up, then the dynamic path with the most literal segments that matches.
    pub fn lookup(&self, method: &str, path: &str) -> Option<WebhookTarget> {
        let routes = self.routes.read().ok()?;
        let key = route_key(method, path);
        if let Some(target) = routes.get(&key).and_then(|t| t.first()) {
            if !is_dynamic(&target.path) {
                return Some(target.clone());
            }
        }
        routes
            .iter()
            .filter(|((m, pattern), _)| *m == key.0 && pattern.contains(':'))
            .filter_map(|((_, pattern), targets)| {
                let target = targets.first()?;
                path_params(&target.path, &key.1)?;
                let literal = pattern.split('/').filter(|s| *s != ":").count();
                Some((literal, target))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, target)| target.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn stored(id: &str, active: bool, hooks: &[(&str, &str, bool)]) -> StoredWorkflow {
        let nodes: Vec<Value> = hooks
            .iter()
            .enumerate()
            .map(|(i, (method, path, disabled))| {
                json!({"name": format!("Hook {i}"), "type": "n8n-nodes-base.webhook", "typeVersion": 2,
                       "disabled": disabled, "parameters": {"httpMethod": method, "path": path}})
            })
            .collect();
        let workflow =
            Workflow::from_value(json!({"id": id, "name": id, "nodes": nodes, "connections": {}}))
                .expect("workflow");
        StoredWorkflow {
            id: id.into(),
            active,
            workflow,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn answering(index: &WebhookIndex, method: &str, path: &str) -> Option<(String, String)> {
        index.lookup(method, path).map(|t| (t.workflow_id, t.node))
    }

    #[test]
    fn index_lists_enabled_hooks_of_active_workflows() {
        let index = WebhookIndex::default();
        index.fill(vec![
            stored(
                "b",
                true,
                &[("POST", "/orders/", false), ("GET", "off", true)],
            ),
            stored("a", true, &[("post", "orders", false)]),
            stored("c", false, &[("GET", "idle", false)]),
        ]);
        // Method case and surrounding slashes do not matter; the lowest id wins a shared path.
        assert_eq!(
            answering(&index, "POST", "orders"),
            Some(("a".into(), "Hook 0".into()))
        );
        assert_eq!(answering(&index, "GET", "orders"), None);
        assert_eq!(answering(&index, "GET", "off"), None, "disabled node");
        assert_eq!(answering(&index, "GET", "idle"), None, "inactive workflow");

        index.remove("a");
        assert_eq!(
            answering(&index, "POST", "/orders"),
            Some(("b".into(), "Hook 0".into()))
        );
        index.put(&stored("c", true, &[("GET", "idle", false)]));
        assert_eq!(
            answering(&index, "get", "idle"),
            Some(("c".into(), "Hook 0".into()))
        );
        index.put(&stored("b", false, &[("POST", "orders", false)]));
        assert_eq!(answering(&index, "POST", "orders"), None);
    }

    #[test]
    fn dynamic_paths_match_after_static_ones() {
        let index = WebhookIndex::default();
        index.fill(vec![
            stored("a", true, &[("GET", "user/:id", false)]),
            stored("b", true, &[("GET", "user/me", false)]),
            stored("c", true, &[("GET", "user/:id/orders/:order", false)]),
        ]);
        assert_eq!(
            answering(&index, "GET", "user/me"),
            Some(("b".into(), "Hook 0".into()))
        );
        let target = index.lookup("GET", "/user/42/").expect("dynamic match");
        assert_eq!(target.workflow_id, "a");
        assert_eq!(
            Value::Object(target.params("user/42")),
            serde_json::json!({"id": "42"})
        );
        assert_eq!(answering(&index, "GET", "user/42/orders/7").unwrap().0, "c");
        assert_eq!(answering(&index, "GET", "user/42/orders"), None);
        assert_eq!(answering(&index, "POST", "user/42"), None);
    }

    #[test]
    fn writes_before_the_first_fill_are_left_to_it() {
        let index = WebhookIndex::default();
        index.put(&stored("a", true, &[("GET", "x", false)]));
        assert!(!index.is_loaded());
        assert_eq!(answering(&index, "GET", "x"), None);
    }
}
