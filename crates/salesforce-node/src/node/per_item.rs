//! Operations that run once per item, as n8n runs them: get, getSummary, getAll (SOQL built
//! from parameters), search (the user's SOQL, every page), flow getAll and invoke, document
//! upload (a multipart ContentVersion) and attachment create and update (the file rides in
//! the record, so they are not batched).

use base64::Engine;
use node_api::{BinaryData, Item, JsonObject, NodeError, Parameters};
use reqwest::Method;
use serde_json::{json, Value};

use super::api::{node_error, segment};
use super::catalog::{self, CUSTOM_OBJECT_QUERY_FIELDS};
use super::fields::FieldUse;
use super::soql::{self, Condition};
use super::{success, Outputs, Run};
use crate::client::Call;

/// Runs the operation for every item.
pub(crate) async fn run(run: &Run<'_>, input: &[Item]) -> Result<Vec<Item>, NodeError> {
    let mut out = Outputs::new(input.len(), run.ctx.continue_on_fail());
    for (i, item) in input.iter().enumerate() {
        if let Err(e) = one(run, i, item, &mut out).await {
            out.fail(i, e)?;
        }
    }
    Ok(out.into_items())
}

/// The object of a record operation: (path object as n8n writes it, SOQL type name).
fn object(run: &Run<'_>, p: &Parameters) -> Result<(String, String), NodeError> {
    match catalog::resource(&run.resource) {
        Some(r) => Ok((r.name.to_owned(), r.object.to_owned())),
        None => {
            let name = soql::object_name("customObject", p.string("customObject")?)?;
            Ok((name.to_owned(), name.to_owned()))
        }
    }
}

fn record_id(run: &Run<'_>, p: &Parameters) -> Result<String, NodeError> {
    let param = catalog::resource(&run.resource).map_or("recordId", |r| r.id_param);
    match p.get(param) {
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Ok(p.string(param)?.to_owned()),
    }
}

async fn one(run: &Run<'_>, i: usize, item: &Item, out: &mut Outputs) -> Result<(), NodeError> {
    let p = run.params(i)?;
    let api = &run.api;
    match (run.resource.as_str(), run.operation.as_str()) {
        ("search", "query") => {
            let soql = p.string("query")?;
            api.query(soql, |record| out.push(i, record))
                .await
                .map_err(|e| node_error(&e))
        }
        ("flow", "getAll") => {
            let res = api
                .get("/actions/custom/flow")
                .await
                .map_err(|e| node_error(&e))?;
            let actions = match res.body.get("actions") {
                Some(Value::Array(list)) => list.clone(),
                _ => Vec::new(),
            };
            let take = if p.bool_or("returnAll", false)? {
                actions.len()
            } else {
                limit(&p)? as usize
            };
            actions
                .into_iter()
                .take(take)
                .for_each(|a| out.push(i, a));
            Ok(())
        }
        ("flow", "invoke") => invoke_flow(run, i, &p, out).await,
        ("document", "upload") => upload(run, i, item, &p, out).await,
        ("attachment", "create" | "update") => attachment(run, i, item, &p, out).await,
        (_, "get") => {
            let (path_object, _) = object(run, &p)?;
            let path = format!(
                "/sobjects/{}/{}",
                segment(&path_object),
                segment(&record_id(run, &p)?)
            );
            let res = api.get(&path).await.map_err(|e| node_error(&e))?;
            out.push(i, res.body);
            Ok(())
        }
        (_, "getSummary") => {
            let (path_object, _) = object(run, &p)?;
            let res = api
                .get(&format!("/sobjects/{}", segment(&path_object)))
                .await
                .map_err(|e| node_error(&e))?;
            out.push(i, res.body);
            Ok(())
        }
        (_, "getAll") => get_all(run, i, &p, out).await,
        (resource, operation) => Err(NodeError::operation(format!(
            "operation \"{operation}\" of resource \"{resource}\" is not one this node runs per item"
        ))),
    }
}

/// `limit`: a whole number of at least 1 (n8n's default 50).
fn limit(p: &Parameters) -> Result<u64, NodeError> {
    let n = p.number_or("limit", 50.0)?;
    if n >= 1.0 && n.fract() == 0.0 && n <= u32::MAX as f64 {
        Ok(n as u64)
    } else {
        Err(NodeError::parameter(format!(
            "Parameter \"limit\" must be a whole number of at least 1, got {n}"
        )))
    }
}

/// getAll: SOQL from `options.fields`, `options.conditionsUi` and `limit`, every page.
async fn get_all(
    run: &Run<'_>,
    i: usize,
    p: &Parameters,
    out: &mut Outputs,
) -> Result<(), NodeError> {
    let (_, object) = object(run, p)?;
    let options = p.object_or_empty("options")?;
    let mut checks: Vec<FieldUse> = Vec::new();
    let typed: Vec<String> = match options.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.trim().is_empty() => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(|f| f.trim().to_owned()).collect(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    NodeError::parameter("Parameter \"options.fields\" must list field names")
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(NodeError::parameter(
                "Parameter \"options.fields\" must be a comma-separated list of field names",
            ))
        }
    };
    let fields: Vec<String> = if typed.is_empty() {
        let defaults = catalog::resource(&run.resource)
            .map_or(CUSTOM_OBJECT_QUERY_FIELDS, |r| r.default_query_fields);
        defaults.split(',').map(str::to_owned).collect()
    } else {
        for f in &typed {
            soql::field_name("options.fields", f)?;
            checks.push(FieldUse {
                name: f.clone(),
                parameter: "options.fields".into(),
            });
        }
        typed
    };
    let label = "options.conditionsUi";
    let mut conditions = Vec::new();
    for c in p.collection("options.conditionsUi.conditionValues")? {
        let field = c.get("field").and_then(Value::as_str).unwrap_or_default();
        let field = soql::field_name(&format!("{label}.field"), field.trim())?.to_owned();
        let op = c
            .get("operation")
            .and_then(Value::as_str)
            .unwrap_or("equal");
        let operator = soql::operator(&format!("{label}.operation"), op)?;
        let value = c.get("value").cloned().unwrap_or(json!(""));
        let literal = soql::literal(&format!("{label}.value"), &value, run.version)?;
        checks.push(FieldUse {
            name: field.clone(),
            parameter: format!("{label}.field"),
        });
        conditions.push(Condition {
            field,
            operator,
            literal,
        });
    }
    let limit = if p.bool_or("returnAll", false)? {
        None
    } else {
        Some(limit(p)?)
    };
    let describes = &run.node.describes;
    if let Some((_, e)) = describes
        .check(&run.api, &object, &checks)
        .await?
        .into_iter()
        .next()
    {
        return Err(e);
    }
    let query = soql::select(&object, &fields, &conditions, limit);
    run.api
        .query(&query, |record| out.push(i, record))
        .await
        .map_err(|e| {
            describes.forget_on_invalid_field(run.api.credential(), &object, &e);
            node_error(&e)
        })
}

/// flow invoke: `{inputs: [variables]}`; one item per result.
async fn invoke_flow(
    run: &Run<'_>,
    i: usize,
    p: &Parameters,
    out: &mut Outputs,
) -> Result<(), NodeError> {
    let api_name = p.string("apiName")?;
    let variables = if p.bool_or("jsonParameters", false)? {
        match p.get("variablesJson") {
            None => JsonObject::new(),
            Some(Value::Object(o)) => o.clone(),
            Some(Value::String(s)) if s.trim().is_empty() => JsonObject::new(),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(o)) => o,
                _ => {
                    return Err(NodeError::parameter(
                        "Parameter \"variablesJson\" must be a JSON object of input variables",
                    ))
                }
            },
            Some(_) => {
                return Err(NodeError::parameter(
                    "Parameter \"variablesJson\" must be a JSON object of input variables",
                ))
            }
        }
    } else {
        let mut vars = JsonObject::new();
        for v in p.collection("variablesUi.variablesValues")? {
            let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() {
                return Err(NodeError::parameter(
                    "Parameter \"variablesUi\" has a variable without a name",
                ));
            }
            vars.insert(
                name.to_owned(),
                v.get("value").cloned().unwrap_or(Value::Null),
            );
        }
        vars
    };
    let body = json!({"inputs": [variables]});
    let path = format!("/actions/custom/flow/{}", segment(api_name));
    let res = run
        .api
        .send_json(Method::POST, &path, &body)
        .await
        .map_err(|e| node_error(&e))?;
    match res.body {
        Value::Array(results) => results.into_iter().for_each(|r| out.push(i, r)),
        other => out.push(i, other),
    }
    Ok(())
}

/// The binary property `name` of `item`.
fn binary<'a>(item: &'a Item, name: &str) -> Result<&'a BinaryData, NodeError> {
    item.binary
        .as_ref()
        .and_then(|b| b.get(name))
        .ok_or_else(|| {
            NodeError::operation(format!(
                "This item has no binary property \"{name}\" (parameter \"binaryPropertyName\")"
            ))
        })
}

/// attachment create / update: the file goes base64 in `Body`, its type in `ContentType`.
async fn attachment(
    run: &Run<'_>,
    i: usize,
    item: &Item,
    p: &Parameters,
    out: &mut Outputs,
) -> Result<(), NodeError> {
    let r = catalog::resource("attachment").expect("attachment is a resource");
    let mut body = JsonObject::new();
    let collection = if run.operation == "create" {
        body.insert("Name".into(), Value::String(p.string("name")?.to_owned()));
        body.insert(
            "ParentId".into(),
            Value::String(p.string("parentId")?.to_owned()),
        );
        let file = binary(item, p.string_or("binaryPropertyName", "data")?)?;
        body.insert("Body".into(), Value::String(file.data.clone()));
        body.insert("ContentType".into(), Value::String(file.mime_type.clone()));
        "additionalFields"
    } else {
        "updateFields"
    };
    for (key, value) in p.object_or_empty(collection)? {
        if value.is_null() {
            continue;
        }
        if key == "binaryPropertyName" && collection == "updateFields" {
            let name = value.as_str().ok_or_else(|| {
                NodeError::parameter(
                    "Parameter \"updateFields.binaryPropertyName\" must be a string",
                )
            })?;
            let file = binary(item, name)?;
            body.insert("Body".into(), Value::String(file.data.clone()));
            body.insert("ContentType".into(), Value::String(file.mime_type.clone()));
            continue;
        }
        let field = catalog::field_for_key(r, &key).ok_or_else(|| {
            NodeError::parameter(format!(
                "Parameter \"{collection}.{key}\" is not a field this node sets on Attachment"
            ))
        })?;
        body.insert(field, value);
    }
    let body = Value::Object(body);
    let res = if run.operation == "create" {
        run.api
            .send_json(Method::POST, "/sobjects/attachment", &body)
            .await
    } else {
        let path = format!("/sobjects/attachment/{}", segment(&record_id(run, p)?));
        run.api.send_json(Method::PATCH, &path, &body).await
    }
    .map_err(|e| node_error(&e))?;
    out.push(
        i,
        match res.body {
            Value::Null => Value::Object(success()),
            other => other,
        },
    );
    Ok(())
}

/// document upload: a multipart ContentVersion, `entity_content` JSON and `VersionData`.
async fn upload(
    run: &Run<'_>,
    i: usize,
    item: &Item,
    p: &Parameters,
    out: &mut Outputs,
) -> Result<(), NodeError> {
    let title = p.string("title")?;
    let file = binary(item, p.string_or("binaryPropertyName", "data")?)?;
    let extras = p.object_or_empty("additionalFields")?;
    let extension = extras
        .get("fileExtension")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or(file.file_extension.as_deref());
    let path_on_client = match extension {
        Some(ext) => format!("{title}.{ext}"),
        None => title.to_owned(),
    };
    let mut entity = JsonObject::new();
    entity.insert("Title".into(), json!(title));
    entity.insert("ContentLocation".into(), json!("S"));
    entity.insert("PathOnClient".into(), json!(path_on_client));
    for (key, field) in [
        ("linkToObjectId", "FirstPublishLocationId"),
        ("ownerId", "OwnerId"),
    ] {
        if let Some(v) = extras.get(key).filter(|v| !v.is_null()) {
            entity.insert(field.into(), v.clone());
        }
    }
    if let Some(key) = extras
        .keys()
        .find(|k| !["fileExtension", "linkToObjectId", "ownerId"].contains(&k.as_str()))
    {
        return Err(NodeError::parameter(format!(
            "Parameter \"additionalFields.{key}\" is not one this node knows (known: fileExtension, linkToObjectId, ownerId)"
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(file.data.as_bytes())
        .map_err(|e| {
            NodeError::operation(format!(
                "The binary property's data is not valid base64: {e}"
            ))
        })?;
    let (content_type, body) = multipart(
        &Value::Object(entity).to_string(),
        &path_on_client,
        &file.mime_type,
        &bytes,
    );
    let call = Call::new(Method::POST, "/sobjects/ContentVersion").raw(&content_type, &body);
    let res = run.api.call(&call).await.map_err(|e| node_error(&e))?;
    out.push(i, res.body);
    Ok(())
}

/// A `multipart/form-data` body: the JSON part `entity_content` and the file part
/// `VersionData`. Returns the content type (with its boundary) and the bytes.
fn multipart(entity: &str, file_name: &str, mime: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!(
        "switchyard-{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    );
    // A quote or line break in the file name would end the header early.
    let safe_name: String = file_name
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\r' | '\n' => ' ',
            c => c,
        })
        .collect();
    let mime = if mime.trim().is_empty() || mime.contains(['\r', '\n']) {
        "application/octet-stream"
    } else {
        mime
    };
    let mut body = Vec::with_capacity(data.len() + entity.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"entity_content\"\r\nContent-Type: application/json\r\n\r\n{entity}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"VersionData\"; filename=\"{safe_name}\"\r\nContent-Type: {mime}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_has_both_parts_and_a_safe_file_name() {
        let (ct, body) = multipart("{\"Title\":\"t\"}", "a\"b\r\n.txt", "text/plain", b"hello");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"entity_content\"\r\nContent-Type: application/json\r\n\r\n{\"Title\":\"t\"}\r\n"));
        assert!(
            text.contains("filename=\"a'b  .txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n")
        );
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
