//! The Salesforce Trigger, `n8n-nodes-base.salesforceTrigger` (typeVersion 1): every record
//! created or updated in an object, delivered once, across faults and restarts.
//!
//! The engine polls it on its `pollTimes` and saves the state it leaves only once the
//! execution holding the records is stored; a failed poll, an execution that could not be
//! stored, a crash or a restart all leave the old state, and the next poll reads the same
//! records again. What the state holds and how rows are picked is in `cursor`; how triggers
//! polling the same query in one tick share it is in `shared`.
//!
//! - The first poll of an active workflow starts from now: it records what exists (the
//!   newest record and every key in the overlap window below it) and delivers nothing.
//! - A manual run ("fetch test event") returns the latest matching record and leaves the
//!   state alone.
//! - A backlog is read to its end through query paging; `options.limit` caps the records
//!   of one execution and leaves the rest for the next poll.
//! - Each item is the record with n8n's default fields for the object plus `Id`,
//!   `CreatedDate` and `LastModifiedDate`; a custom object's items have all its fields.

mod cursor;
mod shared;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use node_api::{
    CredentialSpec, ExecuteContext, Item, JsonObject, NodeDescription, NodeError, ParameterSpec,
    Parameters, PollMode, PollingTrigger,
};
use serde_json::{json, Value};

use crate::client::{Client, QueryOptions};
use crate::node::api::{node_error, segment};
use crate::node::catalog::RESOURCES;
use crate::node::description::AUTHENTICATION;
use crate::node::soql::object_name;
use cursor::{parse_stamp, Cursor, Delivery, Event};
use shared::{Polls, QueryKey};

/// n8n's type name of the trigger.
pub const TYPE_NAME: &str = "n8n-nodes-base.salesforceTrigger";

/// The resources `triggerOn` names, each with `Created` and `Updated`.
const RESOURCE_EVENTS: &[&str] = &[
    "account",
    "attachment",
    "case",
    "contact",
    "customObject",
    "lead",
    "opportunity",
    "task",
    "user",
];

/// The keys of `options` this build implements.
const OPTIONS: &[&str] = &["limit"];

/// How the trigger reads; the defaults suit production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriggerSettings {
    /// How far below its cursor each poll reads again, for records that commit after their
    /// stamp (n8n's 15 minutes).
    pub window: Duration,
    /// How long a poll waits for others of the same query to join it (polls of one tick
    /// arrive within it).
    pub gather: Duration,
}

impl Default for TriggerSettings {
    fn default() -> Self {
        TriggerSettings {
            window: Duration::from_secs(15 * 60),
            gather: Duration::from_millis(200),
        }
    }
}

/// The Salesforce Trigger. One per process: it keeps the custom objects' field lists and
/// the batches of shared queries.
pub struct SalesforceTrigger {
    client: Client,
    window: chrono::Duration,
    description: NodeDescription,
    polls: Polls,
    /// `SELECT ... FROM Object` of custom objects (from their describe), by credential and
    /// object.
    selects: Mutex<HashMap<(String, String), String>>,
}

impl std::fmt::Debug for SalesforceTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceTrigger")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// What one trigger watches, from its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Watch {
    object: String,
    custom: bool,
    event: Event,
    limit: Option<usize>,
    credential_type: &'static str,
}

impl SalesforceTrigger {
    /// The trigger, calling Salesforce through `client`.
    pub fn new(client: Client) -> Self {
        Self::with_settings(client, TriggerSettings::default())
    }

    /// The trigger with other [`TriggerSettings`].
    pub fn with_settings(client: Client, settings: TriggerSettings) -> Self {
        SalesforceTrigger {
            client,
            window: chrono::Duration::from_std(settings.window)
                .unwrap_or(chrono::Duration::minutes(15)),
            description: description(),
            polls: Polls::new(settings.gather),
            selects: Mutex::default(),
        }
    }

    /// `SELECT <fields> FROM <Object>`: n8n's default fields plus the three the trigger
    /// reads, or every field of a custom object.
    async fn select(&self, credential: &str, watch: &Watch) -> Result<String, NodeError> {
        if !watch.custom {
            let resource = RESOURCES
                .iter()
                .find(|r| r.object == watch.object)
                .expect("standard objects come from the catalog");
            let mut fields = vec!["Id"];
            fields.extend(resource.default_query_fields.split(',').filter(|f| {
                !["id", "createddate", "lastmodifieddate"]
                    .contains(&f.to_ascii_lowercase().as_str())
            }));
            fields.extend(["CreatedDate", "LastModifiedDate"]);
            return Ok(format!("SELECT {} FROM {}", fields.join(","), watch.object));
        }
        let key = (credential.to_owned(), watch.object.to_ascii_lowercase());
        if let Some(select) = self.cached(&key) {
            return Ok(select);
        }
        let path = format!("/sobjects/{}/describe", segment(&watch.object));
        let res = self.client.get(credential, &path).await.map_err(|e| match &e {
            crate::Error::Api { status: 404, .. } => NodeError::parameter(format!(
                "Salesforce has no object \"{}\" (parameter \"customObject\"), or this user may not see it",
                watch.object
            )),
            other => node_error(other),
        })?;
        let fields: Vec<&str> = res.body["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["name"].as_str())
            .collect();
        for needed in ["Id", "CreatedDate", "LastModifiedDate"] {
            if !fields.iter().any(|f| f.eq_ignore_ascii_case(needed)) {
                return Err(NodeError::parameter(format!(
                    "Object \"{}\" has no field {needed}, so the trigger cannot follow it",
                    watch.object
                )));
            }
        }
        let object = res.body["name"].as_str().unwrap_or(&watch.object);
        let select = format!("SELECT {} FROM {object}", fields.join(","));
        self.selects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, select.clone());
        Ok(select)
    }

    fn cached(&self, key: &(String, String)) -> Option<String> {
        let selects = self.selects.lock().unwrap_or_else(|e| e.into_inner());
        selects.get(key).cloned()
    }

    /// A field may have gone: the next poll describes the object again.
    fn forget(&self, credential: &str, watch: &Watch, e: &NodeError) {
        if watch.custom && e.error_code.as_deref() == Some("INVALID_FIELD") {
            let key = (credential.to_owned(), watch.object.to_ascii_lowercase());
            self.selects
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
    }

    /// The first page of `soql`.
    async fn first_page(&self, credential: &str, soql: &str) -> Result<Vec<Value>, NodeError> {
        let pages = self
            .client
            .query_pages(credential, soql, QueryOptions::default());
        futures::pin_mut!(pages);
        let page = pages.try_next().await.map_err(|e| node_error(&e))?;
        Ok(page.map(|p| p.records).unwrap_or_default())
    }

    /// The first state: the newest record and every key inside the window below it.
    async fn baseline(
        &self,
        credential: &str,
        watch: &Watch,
        query: &str,
    ) -> Result<Cursor, NodeError> {
        let field = watch.event.field();
        let soql = format!(
            "SELECT Id,CreatedDate,LastModifiedDate FROM {} ORDER BY {field} DESC, Id DESC",
            watch.object
        );
        let pages = self
            .client
            .query_pages(credential, &soql, QueryOptions::default());
        futures::pin_mut!(pages);
        let mut rows: Vec<Value> = Vec::new();
        let mut oldest = None;
        let margin = chrono::Duration::from_std(self.client.retry_policy().timeout)
            .unwrap_or(chrono::Duration::MAX);
        let mut read_at = None;
        'pages: while let Some(page) = pages.try_next().await.map_err(|e| node_error(&e))? {
            read_at = read_at.or(page.server_time.map(|t| t - margin));
            for row in page.records {
                let Some(at) = row[field].as_str().and_then(parse_stamp) else {
                    return Err(NodeError::operation(format!(
                        "Salesforce answered a record without a readable {field}"
                    )));
                };
                let oldest = *oldest.get_or_insert(at - self.window);
                if at < oldest {
                    break 'pages;
                }
                rows.push(row);
            }
        }
        Cursor::baseline(query, watch.event, self.window, &rows, read_at)
            .map_err(NodeError::operation)
    }

    /// The latest record matching the event, for a manual run.
    async fn latest(
        &self,
        credential: &str,
        watch: &Watch,
        select: &str,
    ) -> Result<Option<Value>, NodeError> {
        let field = watch.event.field();
        // Updated skips creations, which SOQL cannot tell apart: look at a page of the latest.
        let limit = match watch.event {
            Event::Created => 1,
            Event::Updated => 200,
        };
        let soql = format!("{select} ORDER BY {field} DESC, Id DESC LIMIT {limit}");
        let rows = self.first_page(credential, &soql).await?;
        Ok(rows.into_iter().find(|row| match watch.event {
            Event::Created => true,
            Event::Updated => {
                let at = |f: &str| row[f].as_str().and_then(parse_stamp);
                matches!((at("LastModifiedDate"), at("CreatedDate")), (Some(m), Some(c)) if m > c)
            }
        }))
    }
}

fn item(row: Value) -> Item {
    match row {
        Value::Object(o) => Item::new(o),
        other => Item::new(JsonObject::from_iter([("data".to_string(), other)])),
    }
}

/// Reads what the trigger watches from its (resolved) parameters.
fn watch(p: &Parameters) -> Result<Watch, NodeError> {
    let trigger_on = p.string("triggerOn")?;
    let (resource, event) = parse_event(trigger_on).ok_or_else(|| {
        NodeError::parameter(format!(
            "Parameter \"triggerOn\" has an unknown value \"{trigger_on}\" (accepted: {})",
            event_names().join(", ")
        ))
    })?;
    let (object, custom) = if resource == "customObject" {
        let name = p.string("customObject")?;
        (object_name("customObject", name)?.to_owned(), true)
    } else {
        let r = RESOURCES
            .iter()
            .find(|r| r.name == resource)
            .expect("every trigger resource is in the catalog");
        (r.object.to_owned(), false)
    };
    let auth = p.string_or("authentication", "oAuth2")?;
    let credential_type = AUTHENTICATION
        .iter()
        .find(|(a, _)| *a == auth)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            NodeError::parameter(format!(
                "Parameter \"authentication\" has an unknown value \"{auth}\" (accepted: oAuth2, jwt, clientCredentials)"
            ))
        })?;
    let limit = match p.get("options.limit") {
        None | Some(Value::Null) => None,
        Some(v) => Some(limit_value(v).map_err(NodeError::parameter)?),
    };
    Ok(Watch {
        object,
        custom,
        event,
        limit,
        credential_type,
    })
}

fn limit_value(v: &Value) -> Result<usize, String> {
    v.as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= 1e9)
        .map(|n| n as usize)
        .ok_or_else(|| {
            format!("Parameter \"options.limit\" must be a whole number of at least 1, not {v}")
        })
}

fn parse_event(value: &str) -> Option<(&'static str, Event)> {
    let (resource, event) = if let Some(r) = value.strip_suffix("Created") {
        (r, Event::Created)
    } else {
        (value.strip_suffix("Updated")?, Event::Updated)
    };
    RESOURCE_EVENTS
        .iter()
        .find(|r| **r == resource)
        .map(|r| (*r, event))
}

fn event_names() -> Vec<String> {
    RESOURCE_EVENTS
        .iter()
        .flat_map(|r| [format!("{r}Created"), format!("{r}Updated")])
        .collect()
}

/// The trigger's description: its type, the three credential types, `authentication`,
/// `triggerOn` (the 18 events) and `customObject`.
fn description() -> NodeDescription {
    let mut d = NodeDescription::new(TYPE_NAME, "Salesforce Trigger", &[1.0]);
    d.inputs = 0;
    d.trigger = true;
    d.credentials = AUTHENTICATION
        .iter()
        .map(|(auth, type_name)| CredentialSpec {
            type_name: (*type_name).into(),
            required: true,
            show: [("authentication".to_string(), vec![json!(auth)])].into(),
        })
        .collect();
    let optional = |name: &str| ParameterSpec {
        required: false,
        ..ParameterSpec::required(name)
    };
    d.parameters.push(ParameterSpec {
        default: Some(json!("oAuth2")),
        options: Some(AUTHENTICATION.iter().map(|(a, _)| json!(a)).collect()),
        ..optional("authentication")
    });
    d.parameters.push(ParameterSpec {
        options: Some(event_names().into_iter().map(Value::String).collect()),
        ..ParameterSpec::required("triggerOn")
    });
    d.parameters.push(ParameterSpec {
        show: [(
            "triggerOn".to_string(),
            vec![json!("customObjectCreated"), json!("customObjectUpdated")],
        )]
        .into(),
        ..ParameterSpec::required("customObject")
    });
    d
}

/// What is wrong with the saved parameters: the declared rules, a custom object's name,
/// and `options` this build does not implement.
fn save_problems(d: &NodeDescription, parameters: &JsonObject) -> Vec<String> {
    let mut problems = d.parameter_problems(parameters);
    let is_expression = |v: &Value| v.as_str().is_some_and(|s| s.starts_with('='));
    let custom = parameters
        .get("triggerOn")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("customObject"));
    if let (true, Some(Value::String(name))) = (custom, parameters.get("customObject")) {
        if !name.is_empty() && !name.starts_with('=') {
            if let Err(e) = object_name("customObject", name) {
                problems.push(e.message);
            }
        }
    }
    match parameters.get("options") {
        None | Some(Value::Null) => {}
        Some(Value::Object(options)) => {
            for (key, value) in options {
                if !OPTIONS.contains(&key.as_str()) {
                    problems.push(format!(
                            "Parameter \"options.{key}\" is not implemented by this build (implemented: {})",
                            OPTIONS.join(", ")
                        ));
                } else if !is_expression(value) {
                    if let Err(e) = limit_value(value) {
                        problems.push(e);
                    }
                }
            }
        }
        Some(v) if is_expression(v) => {}
        Some(_) => problems.push("Parameter \"options\" must be an object".into()),
    }
    problems
}

#[async_trait]
impl PollingTrigger for SalesforceTrigger {
    fn description(&self) -> &NodeDescription {
        &self.description
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        save_problems(&self.description, parameters)
    }

    async fn poll(
        &self,
        ctx: &dyn ExecuteContext,
        state: &mut Value,
        mode: PollMode,
    ) -> Result<Option<Vec<Item>>, NodeError> {
        let p = ctx.parameters(0)?;
        let watch = watch(&p)?;
        let credential = ctx.credential_id(watch.credential_type).await?;
        let select = self.select(&credential, &watch).await?;
        let field = watch.event.field();
        if mode == PollMode::Manual {
            let latest = self.latest(&credential, &watch, &select).await;
            if let Err(e) = &latest {
                self.forget(&credential, &watch, e);
            }
            return Ok(latest?.map(|row| vec![item(row)]));
        }
        // Another credential may be another org: its cursor would mean nothing there.
        let query = format!("{credential}:{}.{field}", watch.object);
        let Some(cursor) = Cursor::load(state, &query) else {
            let cursor = self.baseline(&credential, &watch, &query).await?;
            tracing::info!(parent: ctx.span(), object = %watch.object, field, "Salesforce trigger starts from now");
            cursor.store(state);
            return Ok(None);
        };
        let delivery = Delivery::new(watch.event, self.window, cursor, watch.limit);
        let key = QueryKey {
            credential: credential.clone(),
            select,
            field,
        };
        let (cursor, rows) = self
            .polls
            .run(&self.client, key, delivery)
            .await
            .inspect_err(|e| self.forget(&credential, &watch, e))?;
        cursor.store(state);
        tracing::debug!(parent: ctx.span(), records = rows.len(), "Salesforce trigger polled");
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(rows.into_iter().map(item).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(params: Value) -> Vec<String> {
        save_problems(&description(), params.as_object().unwrap())
    }

    #[test]
    fn the_eighteen_events_and_what_is_refused_at_save() {
        assert_eq!(event_names().len(), 18);
        assert_eq!(
            parse_event("opportunityUpdated"),
            Some(("opportunity", Event::Updated))
        );
        assert_eq!(parse_event("noteCreated"), None);
        assert!(problems(json!({"triggerOn": "accountCreated"})).is_empty());
        assert!(
            problems(json!({"triggerOn": "leadUpdated", "authentication": "jwt",
                                 "options": {"limit": 50}}))
            .is_empty()
        );
        assert_eq!(problems(json!({})), ["Parameter \"triggerOn\" is required"]);
        assert_eq!(
            problems(json!({"triggerOn": "customObjectCreated"})),
            ["Parameter \"customObject\" is required"]
        );
        let p = problems(
            json!({"triggerOn": "customObjectUpdated", "customObject": "X__c FROM Account",
                                "options": {"limit": 0, "fields": "Name"}}),
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p[0].contains("\"customObject\" must be a Salesforce object name"),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m == "Parameter \"options.fields\" is not implemented by this build (implemented: limit)"));
        assert!(p
            .iter()
            .any(|m| m.contains("\"options.limit\" must be a whole number")));
        let p = problems(json!({"triggerOn": "noteCreated", "authentication": "password"}));
        assert_eq!(p.len(), 2, "{p:?}");
    }
}
