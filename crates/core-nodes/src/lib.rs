//! n8n's core nodes (`n8n-nodes-base.*`) with n8n's type names, versions and parameters,
//! and the core plugin that hands them to the engine with their credential types. The
//! workflow core (`workflow`) runs them and knows none of them: the engine registers them
//! like any plugin's nodes, so that a change to a node recompiles this crate and the
//! `switchyard` binary, not the engine.
//!
//! # Layout
//! - One module per node (or family): triggers (manual, webhook, error, execute workflow
//!   trigger) in `triggers`, `schedule`, `set`, `if_node`, `filter`, `merge`, `code`,
//!   `switch`, `split_in_batches` (Loop Over Items), `aggregate`, `sort`, `limit`,
//!   `remove_duplicates`, `summarize`, `date_time`, `rename_keys`, `http_request`, `wait`,
//!   `respond` (Respond to Webhook), `execute_workflow`, ...; `conditions` and `values` are
//!   what several of them share.
//! - [`plugin`](mod@plugin) and [`credential_types`]: the core plugin and its credential
//!   types (HTTP Basic, Header, Query and Bearer auth, generic OAuth2), registered by the
//!   engine like any integration; `oauth2` fetches, caches and refreshes generic OAuth2
//!   tokens.
//! - [`nodes`], [`registry`], [`executor`]: every core node, and a registry or executor
//!   holding them (tests, benchmarks, workflows without credentials).

use std::sync::Arc;

use node_api::{Item, JsonObject, Node, NodeDescription, NodeError, ParameterSpec};
use serde_json::Value;
use workflow::{Executor, NoCredentials, NodeRegistry};

mod aggregate;
mod code;
mod conditions;
pub mod credential_types;
mod date_time;
mod execute_workflow;
mod filter;
mod http_request;
mod if_node;
mod limit;
mod merge;
mod no_op;
mod oauth2;
pub mod plugin;
mod remove_duplicates;
mod rename_keys;
mod respond;
mod schedule;
mod set;
mod sort;
mod split_in_batches;
mod split_out;
mod stop_and_error;
mod summarize;
mod switch;
mod triggers;
mod values;
mod wait;

pub use plugin::{plugin, CorePlugin};

/// A registry holding every core node.
pub fn registry() -> NodeRegistry {
    let mut r = NodeRegistry::new();
    for node in nodes() {
        r.register(node);
    }
    r
}

/// An executor with the core nodes, a default HTTP client and no credentials (tests,
/// benchmarks, workflows without credentials).
pub fn executor() -> Executor {
    Executor::new(
        Arc::new(registry()),
        reqwest::Client::new(),
        Arc::new(NoCredentials),
    )
}

/// Every core node, ready to register.
pub fn nodes() -> Vec<Arc<dyn Node>> {
    vec![
        Arc::new(triggers::ManualTrigger::new()),
        Arc::new(triggers::Webhook::new()),
        Arc::new(triggers::ErrorTrigger::new()),
        Arc::new(execute_workflow::ExecuteWorkflow::new()),
        Arc::new(execute_workflow::ExecuteWorkflowTrigger::new()),
        Arc::new(wait::Wait::new()),
        Arc::new(schedule::ScheduleTrigger::new()),
        Arc::new(set::Set::new()),
        Arc::new(if_node::If::new()),
        Arc::new(filter::Filter::new()),
        Arc::new(merge::Merge::new()),
        Arc::new(no_op::NoOp::new()),
        Arc::new(stop_and_error::StopAndError::new()),
        Arc::new(split_out::SplitOut::new()),
        Arc::new(http_request::HttpRequest::new()),
        Arc::new(respond::RespondToWebhook::new()),
        Arc::new(code::Code::new()),
        Arc::new(switch::Switch::new()),
        Arc::new(split_in_batches::SplitInBatches::new()),
        Arc::new(aggregate::Aggregate::new()),
        Arc::new(sort::Sort::new()),
        Arc::new(limit::Limit::new()),
        Arc::new(remove_duplicates::RemoveDuplicates::new()),
        Arc::new(summarize::Summarize::new()),
        Arc::new(date_time::DateTimeNode::new()),
        Arc::new(rename_keys::RenameKeys::new()),
    ]
}

/// A description for a base node: `n8n-nodes-base.{name}`.
fn describe(name: &str, display: &str, versions: &[f64]) -> NodeDescription {
    NodeDescription::new(&format!("n8n-nodes-base.{name}"), display, versions)
}

/// A parameter with a fixed list of values (n8n's `options` type) and its default.
fn choice(name: &str, default: &str, values: &[&str]) -> ParameterSpec {
    ParameterSpec {
        name: name.to_string(),
        required: false,
        default: Some(Value::String(default.to_string())),
        show: Default::default(),
        options: Some(
            values
                .iter()
                .map(|v| Value::String(v.to_string()))
                .collect(),
        ),
    }
}

/// `spec`, checked only when parameter `param` has one of `values` (n8n's `displayOptions`).
fn shown_when(mut spec: ParameterSpec, param: &str, values: &[&str]) -> ParameterSpec {
    spec.show.insert(
        param.to_string(),
        values
            .iter()
            .map(|v| Value::String(v.to_string()))
            .collect(),
    );
    spec
}

/// An n8n option this implementation does not have: refused at save unless it keeps n8n's
/// default, so that a workflow never runs with a setting silently ignored.
fn unsupported(name: &str, default: Value) -> ParameterSpec {
    ParameterSpec {
        name: name.to_string(),
        required: false,
        default: Some(default.clone()),
        show: Default::default(),
        options: Some(vec![default]),
    }
}

/// Problems with the keys of the collection parameter `collection` (an `options` object):
/// every key not in `known` is named, as n8n would have no such option either, or this
/// implementation does not have it.
fn unknown_options(parameters: &JsonObject, collection: &str, known: &[&str]) -> Vec<String> {
    let Some(Value::Object(options)) = get_path(parameters, collection) else {
        return Vec::new();
    };
    options
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            format!(
                "Parameter \"{collection}.{k}\" is not supported (supported options: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })
        .collect()
}

/// Sets `value` at a dotted `path` in `obj`, creating objects on the way (n8n's dot notation).
fn set_path(obj: &mut JsonObject, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut current = obj;
    for p in parts {
        let entry = current
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(JsonObject::new()));
        if !entry.is_object() {
            *entry = Value::Object(JsonObject::new());
        }
        current = match entry {
            Value::Object(o) => o,
            _ => unreachable!("replaced by an object just above"),
        };
    }
    current.insert(last.to_string(), value);
}

/// Reads a dotted `path` from `obj`.
fn get_path<'a>(obj: &'a JsonObject, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut current = obj.get(parts.next()?)?;
    for p in parts {
        current = current.as_object()?.get(p)?;
    }
    Some(current)
}

/// Per-item processing with n8n's continue-on-fail behaviour: a failing item becomes an
/// `{error}` item when the node continues on failure, otherwise the node fails.
fn per_item(
    continue_on_fail: bool,
    input: &[Item],
    mut f: impl FnMut(usize, &Item) -> Result<Vec<Item>, NodeError>,
) -> Result<Vec<Item>, NodeError> {
    let mut out = Vec::with_capacity(input.len());
    for (i, item) in input.iter().enumerate() {
        match f(i, item) {
            Ok(items) => out.extend(items),
            Err(e) if continue_on_fail => {
                let json = match e.to_item_json() {
                    Value::Object(o) => o,
                    _ => JsonObject::new(),
                };
                out.push(Item::new(json).paired_with(i));
            }
            Err(e) => return Err(e.at_item(i)),
        }
    }
    Ok(out)
}
