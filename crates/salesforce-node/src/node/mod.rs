//! The Salesforce node, `n8n-nodes-base.salesforce` (typeVersion 1 and 1.1): every resource
//! and operation of n8n's node, with n8n's parameter names and output shapes, so a workflow
//! exported from n8n runs unchanged.
//!
//! Where it does better than n8n (which makes one HTTP call per item): record writes over
//! many items go out as sObject Collections, 200 records a call, and a record Salesforce
//! refuses fails only its own item; above a threshold they go through Bulk API 2.0. Field
//! names a user typed are checked against the object's describe before the first call.
//! `REQUEST_LIMIT_EXCEEDED` is waited out within a budget.
//!
//! # Layout
//! - `catalog`: resources, operations, required parameters, the map from
//!   `additionalFields` keys to Salesforce fields.
//! - `description`: the [`NodeDescription`] the engine validates against.
//! - `soql`: getAll's SOQL, with names checked and values escaped.
//! - `fields`: the describe cache and the did-you-mean field check.
//! - `api`: calls for one credential, the limit backoff, errors in n8n's shape.
//! - `batch`: creates, updates, upserts and deletes, in batches.
//! - `bulk`: the same above the bulk threshold, as Bulk API 2.0 jobs.
//! - `per_item`: reads, searches, flows and uploads, one item at a time.
//!
//! Items are processed as n8n does: `resource`, `operation` and `authentication` are read
//! from the first item; everything else per item. With continue-on-fail a failing item
//! becomes n8n's error item (`{error, description, httpCode, errorCode, fields}`), paired
//! with its input; without it the node fails naming the item.

pub(crate) mod api;
mod batch;
mod bulk;
pub(crate) mod catalog;
pub(crate) mod description;
mod fields;
mod per_item;
pub(crate) mod soql;

use async_trait::async_trait;
use node_api::{ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError, Parameters};
use serde_json::Value;

pub use api::LimitBackoff;
pub use bulk::BulkPolling;
pub use description::TYPE_NAME;

use crate::client::Client;
use api::Api;
use fields::Describes;

/// Writes of more records than this go through Bulk API 2.0 unless configured otherwise.
pub const DEFAULT_BULK_THRESHOLD: usize = 10_000;

/// How the node behaves beyond its parameters; the defaults suit production.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSettings {
    /// Record writes of more items than this go through Bulk API 2.0 ingest jobs; up to it,
    /// sObject Collections (10,000 records: 50 calls).
    pub bulk_threshold: usize,
    /// How long `REQUEST_LIMIT_EXCEEDED` is waited out.
    pub limits: LimitBackoff,
    /// How Bulk API jobs are polled, and for how long.
    pub bulk: BulkPolling,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            bulk_threshold: DEFAULT_BULK_THRESHOLD,
            limits: LimitBackoff::default(),
            bulk: BulkPolling::default(),
        }
    }
}

/// The Salesforce node. One per process: it keeps the describe cache.
pub struct SalesforceNode {
    client: Client,
    settings: NodeSettings,
    description: NodeDescription,
    /// The description without its fixed lists, to judge resolved parameters at run: a
    /// value an expression produced is the node's to accept or refuse (SOQL takes `LIKE`
    /// from an expression, as n8n does), but a required one must be there.
    required_only: NodeDescription,
    describes: Describes,
}

impl std::fmt::Debug for SalesforceNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceNode")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SalesforceNode {
    /// The node, calling Salesforce through `client` (whose token provider signs in).
    pub fn new(client: Client) -> Self {
        Self::with_settings(client, NodeSettings::default())
    }

    /// The node with other [`NodeSettings`].
    pub fn with_settings(client: Client, settings: NodeSettings) -> Self {
        let description = description::description();
        let mut required_only = description.clone();
        for p in &mut required_only.parameters {
            p.options = None;
        }
        SalesforceNode {
            client,
            settings,
            description,
            required_only,
            describes: Describes::default(),
        }
    }
}

/// One execution of the node: what every operation needs.
pub(crate) struct Run<'a> {
    node: &'a SalesforceNode,
    ctx: &'a dyn ExecuteContext,
    api: Api<'a>,
    resource: String,
    operation: String,
    version: f64,
}

impl Run<'_> {
    /// The parameters of item `i`, with the engine's rule for required parameters: one
    /// missing says n8n's `Parameter "X" is required`.
    fn params(&self, i: usize) -> Result<Parameters, NodeError> {
        let p = self.ctx.parameters(i)?;
        let problems = self.node.required_only.parameter_problems(p.as_object());
        match problems.into_iter().next() {
            Some(first) => Err(NodeError::parameter(first)),
            None => Ok(p),
        }
    }
}

/// Output items in input order, with n8n's continue-on-fail rule.
pub(crate) struct Outputs {
    slots: Vec<Vec<Item>>,
    continue_on_fail: bool,
}

impl Outputs {
    fn new(items: usize, continue_on_fail: bool) -> Self {
        Outputs {
            slots: vec![Vec::new(); items],
            continue_on_fail,
        }
    }

    /// Item `i` produced `json`.
    fn push(&mut self, i: usize, json: Value) {
        let json = match json {
            Value::Object(o) => o,
            Value::Null => success(),
            other => JsonObject::from_iter([("data".to_string(), other)]),
        };
        self.slots[i].push(Item::new(json).paired_with(i));
    }

    /// Item `i` failed: an error item with continue-on-fail, else the node's error.
    fn fail(&mut self, i: usize, e: NodeError) -> Result<(), NodeError> {
        if self.continue_on_fail {
            let json = match e.to_item_json() {
                Value::Object(o) => o,
                _ => JsonObject::new(),
            };
            self.slots[i] = vec![Item::new(json).paired_with(i)];
            Ok(())
        } else {
            Err(for_node(e, i))
        }
    }

    fn into_items(self) -> Vec<Item> {
        self.slots.into_iter().flatten().collect()
    }
}

/// `{success: true, errors: []}`: what n8n outputs when Salesforce answers 204.
fn success() -> JsonObject {
    let mut o = JsonObject::new();
    o.insert("success".into(), Value::Bool(true));
    o.insert("errors".into(), Value::Array(Vec::new()));
    o
}

/// The error failing the whole node because of item `i`: a refusal from Salesforce names
/// the item and Salesforce's code in its message.
fn for_node(mut e: NodeError, i: usize) -> NodeError {
    if let (Some(code), Some(_)) = (e.error_code.clone(), e.http_code) {
        e.message = format!("Salesforce refused item {i} ({code}): {}", e.message);
    }
    e.at_item(i)
}

fn unknown_value(parameter: &str, value: &str, accepted: &[&str]) -> NodeError {
    NodeError::parameter(format!(
        "Parameter \"{parameter}\" has an unknown value \"{value}\" (accepted: {})",
        accepted.join(", ")
    ))
}

#[async_trait]
impl Node for SalesforceNode {
    fn description(&self) -> &NodeDescription {
        &self.description
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        if input.is_empty() {
            return Ok(vec![Vec::new()]);
        }
        let first = ctx.parameters(0)?;
        let resource = first.string_or("resource", "lead")?.to_owned();
        let (ops, default_op) = catalog::operations(&resource)
            .ok_or_else(|| unknown_value("resource", &resource, catalog::RESOURCE_NAMES))?;
        let operation = first.string_or("operation", default_op)?.to_owned();
        if !ops.contains(&operation.as_str()) {
            return Err(unknown_value("operation", &operation, ops));
        }
        let auth = first.string_or("authentication", "oAuth2")?;
        let credential_type = description::AUTHENTICATION
            .iter()
            .find(|(a, _)| *a == auth)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let accepted: Vec<&str> = description::AUTHENTICATION
                    .iter()
                    .map(|(a, _)| *a)
                    .collect();
                unknown_value("authentication", auth, &accepted)
            })?;
        let credential = ctx.credential_id(credential_type).await?;
        let run = Run {
            node: self,
            ctx,
            api: Api::new(&self.client, &credential, self.settings.limits),
            resource,
            operation,
            version: ctx.node().type_version,
        };
        tracing::debug!(parent: ctx.span(), resource = %run.resource, operation = %run.operation, items = input.len(), "running the Salesforce node");
        let out = if batch::handles(&run.resource, &run.operation) {
            batch::run(&run, &input).await?
        } else {
            per_item::run(&run, &input).await?
        };
        Ok(vec![out])
    }
}
