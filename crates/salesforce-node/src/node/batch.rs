//! Record writes (create, upsert, update, delete, and the notes, case comments and campaign
//! members the add* operations create), gathered from all items and sent in as few calls as
//! Salesforce allows.
//!
//! Every item's write is built (and its parameters checked) before anything is sent, so
//! without continue-on-fail a bad item stops the node before any record changes. Then:
//! - one write: the single-record endpoint, the very call n8n makes;
//! - up to the bulk threshold: sObject Collections, 200 records a call, `allOrNone: false`,
//!   each result mapped back to its item; a refused record fails only its item;
//! - above the threshold: a Bulk API 2.0 ingest job (see `bulk`).
//!
//! Without continue-on-fail the first refused record fails the node (naming the item and
//! Salesforce's code) and no later batch is sent; records of the same batch that Salesforce
//! accepted stay written, as they would in n8n, which writes item by item.

use node_api::{Item, JsonObject, NodeError, Parameters};
use reqwest::Method;
use serde_json::{json, Value};

use super::api::{node_error, refusal, segment, status_for};
use super::catalog::{self, Resource};
use super::fields::{nearest, or_list, FieldUse};
use super::soql;
use super::{success, Outputs, Run};
use crate::error::{ApiError, Error};

/// The most records sObject Collections take in one call.
pub(crate) const COLLECTION_SIZE: usize = 200;

/// Whether `operation` on `resource` is a record write this module sends.
pub(crate) fn handles(resource: &str, operation: &str) -> bool {
    match operation {
        "addNote" | "addComment" | "addToCampaign" | "delete" => true,
        // Attachments carry their file in the record: sent one by one (see per_item).
        "create" | "update" => resource != "attachment",
        "upsert" => true,
        _ => false,
    }
}

/// What a write does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Create,
    Update,
    /// By the external id field named here.
    Upsert(String),
    Delete,
}

/// One item's write.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    /// The input item.
    pub item: usize,
    /// The object as n8n puts it in paths (`account`, `note`, `Invoice__c`).
    pub path_object: String,
    /// The object's type name for Collections' `attributes` (`Account`, `Note`).
    pub object: String,
    pub kind: Kind,
    /// The record id (update, delete) or external id value (upsert).
    pub key: Option<String>,
    pub fields: JsonObject,
    /// Field names the user typed, to check against the describe.
    pub checks: Vec<FieldUse>,
}

impl Write {
    /// Groups writes that can share a Collections call.
    fn group(&self) -> (String, Kind) {
        (self.object.to_ascii_lowercase(), self.kind.clone())
    }
}

/// The record resource of `run`, or `None` for custom objects.
fn record_resource(run: &Run<'_>) -> Option<&'static Resource> {
    catalog::resource(&run.resource)
}

/// The object a record write targets: (path object, type name).
fn target(run: &Run<'_>, p: &Parameters) -> Result<(String, String), NodeError> {
    match record_resource(run) {
        Some(r) => Ok((r.name.to_owned(), r.object.to_owned())),
        None => {
            let name = soql::object_name("customObject", p.string("customObject")?)?;
            Ok((name.to_owned(), name.to_owned()))
        }
    }
}

/// A parameter as text for a URL: strings as they are, numbers printed.
fn text(p: &Parameters, name: &str) -> Result<String, NodeError> {
    match p.get(name) {
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Ok(p.string(name)?.to_owned()),
    }
}

/// `customFieldsUi.customFieldsValues[{fieldId, value}]` at `path` into `fields`.
fn custom_fields(
    p: &Parameters,
    path: &str,
    label: &str,
    fields: &mut JsonObject,
    checks: &mut Vec<FieldUse>,
) -> Result<(), NodeError> {
    for entry in p.collection(path)? {
        let id = entry
            .get("fieldId")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                NodeError::parameter(format!(
                    "Parameter \"{label}\" has an entry without a field"
                ))
            })?;
        let id = soql::simple_field_name(label, id.trim())?;
        fields.insert(
            id.to_owned(),
            entry.get("value").cloned().unwrap_or(Value::Null),
        );
        checks.push(FieldUse {
            name: id.to_owned(),
            parameter: label.to_owned(),
        });
    }
    Ok(())
}

/// `additionalFields` / `updateFields` of a standard resource into `fields`.
fn extra_fields(
    r: &Resource,
    p: &Parameters,
    collection: &str,
    fields: &mut JsonObject,
    checks: &mut Vec<FieldUse>,
) -> Result<(), NodeError> {
    for (key, value) in p.object_or_empty(collection)? {
        if value.is_null() {
            continue;
        }
        if key == "customFieldsUi" {
            let inner = format!("{collection}.customFieldsUi.customFieldsValues");
            let label = format!("{collection}.customFieldsUi");
            custom_fields(p, &inner, &label, fields, checks)?;
            continue;
        }
        let field = catalog::field_for_key(r, &key).ok_or_else(|| {
            let near = nearest(&key, r.extra_keys.iter().copied());
            let hint = if near.is_empty() {
                String::new()
            } else {
                format!(": did you mean {}?", or_list(&near))
            };
            NodeError::parameter(format!(
                "Parameter \"{collection}.{key}\" is not a field this node sets on {}{hint}",
                r.object
            ))
        })?;
        fields.insert(field, value);
    }
    Ok(())
}

/// The write item `i` asks for.
fn build(run: &Run<'_>, i: usize, p: &Parameters) -> Result<Write, NodeError> {
    let mut fields = JsonObject::new();
    let mut checks = Vec::new();
    let write = |path_object: &str, object: &str, kind, key, fields, checks| Write {
        item: i,
        path_object: path_object.to_owned(),
        object: object.to_owned(),
        kind,
        key,
        fields,
        checks,
    };
    let id_of = |p: &Parameters| -> Result<String, NodeError> {
        match record_resource(run) {
            Some(r) => text(p, r.id_param),
            None => text(p, "recordId"),
        }
    };
    match run.operation.as_str() {
        "create" | "upsert" => {
            let (path_object, object) = target(run, p)?;
            match record_resource(run) {
                Some(r) => {
                    for (param, field) in r.main_fields {
                        fields.insert(
                            (*field).to_owned(),
                            p.get(param).cloned().unwrap_or(Value::Null),
                        );
                    }
                    extra_fields(r, p, "additionalFields", &mut fields, &mut checks)?;
                }
                None => {
                    custom_fields(
                        p,
                        "customFieldsUi.customFieldsValues",
                        "customFieldsUi",
                        &mut fields,
                        &mut checks,
                    )?;
                    custom_object_extras(p, "additionalFields", &mut fields)?;
                }
            }
            if run.operation == "create" {
                return Ok(write(
                    &path_object,
                    &object,
                    Kind::Create,
                    None,
                    fields,
                    checks,
                ));
            }
            let external =
                soql::simple_field_name("externalId", p.string("externalId")?)?.to_owned();
            let value = text(p, "externalIdValue")?;
            Ok(write(
                &path_object,
                &object,
                Kind::Upsert(external),
                Some(value),
                fields,
                checks,
            ))
        }
        "update" => {
            let (path_object, object) = target(run, p)?;
            match record_resource(run) {
                Some(r) => {
                    // As n8n: a lead update needs at least one field.
                    if r.name == "lead" && p.object_or_empty("updateFields")?.is_empty() {
                        return Err(NodeError::operation(
                            "You must add at least one update field",
                        ));
                    }
                    extra_fields(r, p, "updateFields", &mut fields, &mut checks)?;
                }
                None => {
                    custom_fields(
                        p,
                        "customFieldsUi.customFieldsValues",
                        "customFieldsUi",
                        &mut fields,
                        &mut checks,
                    )?;
                    custom_object_extras(p, "updateFields", &mut fields)?;
                }
            }
            let id = id_of(p)?;
            Ok(write(
                &path_object,
                &object,
                Kind::Update,
                Some(id),
                fields,
                checks,
            ))
        }
        "delete" => {
            let (path_object, object) = target(run, p)?;
            let id = id_of(p)?;
            Ok(write(
                &path_object,
                &object,
                Kind::Delete,
                Some(id),
                fields,
                checks,
            ))
        }
        "addNote" => {
            let parent = id_of(p)?;
            fields.insert(
                "Title".into(),
                p.get("title").cloned().unwrap_or(Value::Null),
            );
            fields.insert("ParentId".into(), Value::String(parent));
            let options = p.object_or_empty("options")?;
            for (key, field) in [
                ("body", "Body"),
                ("isPrivate", "IsPrivate"),
                ("owner", "OwnerId"),
                ("ownerId", "OwnerId"),
            ] {
                if let Some(v) = options.get(key).filter(|v| !v.is_null()) {
                    fields.insert(field.into(), v.clone());
                }
            }
            refuse_unknown(
                &options,
                &["body", "isPrivate", "owner", "ownerId"],
                "options",
            )?;
            Ok(write("note", "Note", Kind::Create, None, fields, checks))
        }
        "addComment" => {
            fields.insert("ParentId".into(), Value::String(id_of(p)?));
            let options = p.object_or_empty("options")?;
            for (key, field) in [
                ("commentBody", "CommentBody"),
                ("isPublished", "IsPublished"),
            ] {
                if let Some(v) = options.get(key).filter(|v| !v.is_null()) {
                    fields.insert(field.into(), v.clone());
                }
            }
            refuse_unknown(&options, &["commentBody", "isPublished"], "options")?;
            Ok(write(
                "casecomment",
                "CaseComment",
                Kind::Create,
                None,
                fields,
                checks,
            ))
        }
        "addToCampaign" => {
            let member = if run.resource == "lead" {
                "LeadId"
            } else {
                "ContactId"
            };
            fields.insert(member.into(), Value::String(id_of(p)?));
            fields.insert("CampaignId".into(), Value::String(text(p, "campaignId")?));
            let options = p.object_or_empty("options")?;
            if let Some(v) = options.get("status").filter(|v| !v.is_null()) {
                fields.insert("Status".into(), v.clone());
            }
            refuse_unknown(&options, &["status"], "options")?;
            Ok(write(
                "CampaignMember",
                "CampaignMember",
                Kind::Create,
                None,
                fields,
                checks,
            ))
        }
        other => Err(NodeError::operation(format!(
            "operation \"{other}\" is not a record write"
        ))),
    }
}

/// A custom object's `additionalFields` / `updateFields`: only `recordTypeId`.
fn custom_object_extras(
    p: &Parameters,
    collection: &str,
    fields: &mut JsonObject,
) -> Result<(), NodeError> {
    let extras = p.object_or_empty(collection)?;
    refuse_unknown(&extras, &["recordTypeId"], collection)?;
    if let Some(v) = extras.get("recordTypeId").filter(|v| !v.is_null()) {
        fields.insert("RecordTypeId".into(), v.clone());
    }
    Ok(())
}

/// Refuses keys of a collection parameter the node does not know (n8n ignores them).
fn refuse_unknown(collection: &JsonObject, known: &[&str], label: &str) -> Result<(), NodeError> {
    match collection.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(NodeError::parameter(format!(
            "Parameter \"{label}.{key}\" is not one this node knows (known: {})",
            known.join(", ")
        ))),
    }
}

/// Runs the writes of all items.
pub(crate) async fn run(run: &Run<'_>, input: &[Item]) -> Result<Vec<Item>, NodeError> {
    let mut out = Outputs::new(input.len(), run.ctx.continue_on_fail());
    let mut writes = Vec::with_capacity(input.len());
    for i in 0..input.len() {
        match run.params(i).and_then(|p| build(run, i, &p)) {
            Ok(w) => writes.push(w),
            Err(e) => out.fail(i, e)?,
        }
    }
    let writes = check_fields(run, writes, &mut out).await?;
    match writes.len() {
        0 => {}
        1 => {
            let w = &writes[0];
            match send_one(run, w).await {
                Ok(body) => out.push(w.item, body),
                Err(e) => {
                    run.node
                        .describes
                        .forget_on_invalid_field(run.api.credential(), &w.object, &e);
                    out.fail(w.item, node_error(&e))?
                }
            }
        }
        n if n > run.node.settings.bulk_threshold => {
            super::bulk::send(run, &writes, &mut out).await?
        }
        _ => send_collections(run, &writes, &mut out).await?,
    }
    Ok(out.into_items())
}

/// The describe check of every user-typed field name, per object; the writes that passed.
async fn check_fields(
    run: &Run<'_>,
    writes: Vec<Write>,
    out: &mut Outputs,
) -> Result<Vec<Write>, NodeError> {
    let mut objects: Vec<String> = Vec::new();
    for w in &writes {
        if !w.checks.is_empty() && !objects.iter().any(|o| o.eq_ignore_ascii_case(&w.object)) {
            objects.push(w.object.clone());
        }
    }
    if objects.is_empty() {
        return Ok(writes);
    }
    let mut failed: Vec<(usize, NodeError)> = Vec::new();
    for object in &objects {
        let mut uses: Vec<FieldUse> = Vec::new();
        for w in writes
            .iter()
            .filter(|w| w.object.eq_ignore_ascii_case(object))
        {
            for u in &w.checks {
                if !uses.iter().any(|x| x.name.eq_ignore_ascii_case(&u.name)) {
                    uses.push(u.clone());
                }
            }
        }
        let unknown = match run.node.describes.check(&run.api, object, &uses).await {
            Ok(unknown) => unknown,
            Err(e) => {
                // The describe itself failed: every write on this object fails with it.
                for w in writes
                    .iter()
                    .filter(|w| w.object.eq_ignore_ascii_case(object))
                {
                    failed.push((w.item, e.clone()));
                }
                continue;
            }
        };
        for (index, e) in unknown {
            let name = &uses[index].name;
            for w in writes
                .iter()
                .filter(|w| w.object.eq_ignore_ascii_case(object))
            {
                if w.checks.iter().any(|u| u.name.eq_ignore_ascii_case(name))
                    && !failed.iter().any(|(i, _)| *i == w.item)
                {
                    failed.push((w.item, e.clone()));
                }
            }
        }
    }
    failed.sort_by_key(|(i, _)| *i);
    let bad: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
    for (i, e) in failed {
        out.fail(i, e)?;
    }
    Ok(writes
        .into_iter()
        .filter(|w| !bad.contains(&w.item))
        .collect())
}

/// One write on the single-record endpoint, as n8n sends it.
async fn send_one(run: &Run<'_>, w: &Write) -> Result<Value, Error> {
    let object = segment(&w.path_object);
    let key = w.key.as_deref().map(segment).unwrap_or_default();
    let body = Value::Object(w.fields.clone());
    let res = match &w.kind {
        Kind::Create => {
            run.api
                .send_json(Method::POST, &format!("/sobjects/{object}"), &body)
                .await?
        }
        Kind::Update => {
            run.api
                .send_json(Method::PATCH, &format!("/sobjects/{object}/{key}"), &body)
                .await?
        }
        Kind::Upsert(field) => {
            // As n8n: the external id travels in the path, not in the body.
            let mut fields = w.fields.clone();
            fields.retain(|k, _| !k.eq_ignore_ascii_case(field));
            let path = format!("/sobjects/{object}/{}/{key}", segment(field));
            run.api
                .send_json(Method::PATCH, &path, &Value::Object(fields))
                .await?
        }
        Kind::Delete => run.api.delete(&format!("/sobjects/{object}/{key}")).await?,
    };
    Ok(match res.body {
        Value::Null => Value::Object(success()),
        other => other,
    })
}

/// One Collections record: `attributes`, the fields, and the id or external id.
fn record(w: &Write) -> Value {
    let mut rec = JsonObject::new();
    rec.insert("attributes".into(), json!({"type": w.object}));
    match (&w.kind, &w.key) {
        (Kind::Update, Some(id)) => {
            rec.insert("id".into(), Value::String(id.clone()));
        }
        (Kind::Upsert(field), Some(value)) => {
            rec.extend(
                w.fields
                    .iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case(field))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            rec.insert(field.clone(), Value::String(value.clone()));
            return Value::Object(rec);
        }
        _ => {}
    }
    rec.extend(w.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    Value::Object(rec)
}

/// One record's result in a Collections answer.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct RecordResult {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub created: Option<bool>,
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

/// What n8n outputs for a write Salesforce accepted.
pub(crate) fn accepted(kind: &Kind, id: Option<String>, created: Option<bool>) -> Value {
    let mut o = JsonObject::new();
    if matches!(kind, Kind::Create | Kind::Upsert(_)) {
        o.insert("id".into(), id.map(Value::String).unwrap_or(Value::Null));
    }
    o.insert("success".into(), Value::Bool(true));
    o.insert("errors".into(), Value::Array(Vec::new()));
    if let Kind::Upsert(_) = kind {
        o.insert(
            "created".into(),
            created.map(Value::Bool).unwrap_or(Value::Null),
        );
    }
    Value::Object(o)
}

/// The error of one refused record.
pub(crate) fn refused(errors: &[ApiError]) -> NodeError {
    let status = errors
        .first()
        .map(|e| status_for(&e.error_code))
        .unwrap_or(400);
    refusal(status, errors, "Salesforce refused the record")
}

/// Sends `writes` as sObject Collections calls, group by group, 200 records a call.
async fn send_collections(
    run: &Run<'_>,
    writes: &[Write],
    out: &mut Outputs,
) -> Result<(), NodeError> {
    let mut groups: Vec<((String, Kind), Vec<&Write>)> = Vec::new();
    for w in writes {
        let key = w.group();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(w),
            None => groups.push((key, vec![w])),
        }
    }
    let mut calls = 0usize;
    for ((_, kind), list) in &groups {
        for chunk in list.chunks(COLLECTION_SIZE) {
            calls += 1;
            let results = send_chunk(run, kind, chunk).await;
            match results {
                Ok(results) => {
                    for (w, r) in chunk.iter().zip(results) {
                        if r.success {
                            out.push(w.item, accepted(kind, r.id, r.created));
                        } else {
                            if r.errors.iter().any(|e| e.error_code == "INVALID_FIELD") {
                                run.node.describes.forget(run.api.credential(), &w.object);
                            }
                            out.fail(w.item, refused(&r.errors))?;
                        }
                    }
                }
                Err(e) => {
                    run.node.describes.forget_on_invalid_field(
                        run.api.credential(),
                        &chunk[0].object,
                        &e,
                    );
                    let err = node_error(&e);
                    for w in chunk {
                        out.fail(w.item, err.clone())?;
                    }
                }
            }
        }
    }
    tracing::info!(parent: run.ctx.span(), records = writes.len(), calls, "sent record writes as sObject Collections");
    Ok(())
}

/// One Collections call; its results in the order of `chunk`.
async fn send_chunk(
    run: &Run<'_>,
    kind: &Kind,
    chunk: &[&Write],
) -> Result<Vec<RecordResult>, Error> {
    let body = || {
        let records: Vec<Value> = chunk.iter().map(|w| record(w)).collect();
        json!({"allOrNone": false, "records": records})
    };
    let res = match kind {
        Kind::Delete => {
            let ids: Vec<&str> = chunk.iter().filter_map(|w| w.key.as_deref()).collect();
            let ids: String =
                url::form_urlencoded::byte_serialize(ids.join(",").as_bytes()).collect();
            run.api
                .delete(&format!("/composite/sobjects?ids={ids}&allOrNone=false"))
                .await?
        }
        Kind::Create => {
            run.api
                .send_json(Method::POST, "/composite/sobjects", &body())
                .await?
        }
        Kind::Update => {
            run.api
                .send_json(Method::PATCH, "/composite/sobjects", &body())
                .await?
        }
        Kind::Upsert(field) => {
            let path = format!(
                "/composite/sobjects/{}/{}",
                segment(&chunk[0].object),
                segment(field)
            );
            run.api.send_json(Method::PATCH, &path, &body()).await?
        }
    };
    let results: Vec<RecordResult> =
        serde_json::from_value(res.body).map_err(|e| Error::Unexpected {
            status: res.status,
            what: "an sObject Collections call",
            detail: format!("not a list of record results: {e}"),
        })?;
    if results.len() != chunk.len() {
        return Err(Error::Unexpected {
            status: res.status,
            what: "an sObject Collections call",
            detail: format!("{} results for {} records", results.len(), chunk.len()),
        });
    }
    Ok(results)
}
