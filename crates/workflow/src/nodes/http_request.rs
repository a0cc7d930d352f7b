//! `n8n-nodes-base.httpRequest` v4.x: one request per item through the shared client.

use std::time::Duration;

use async_trait::async_trait;
use node_api::{
    ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError, NodeErrorKind,
    ParameterSpec, Parameters,
};
use serde_json::Value;

use super::describe;

/// The HTTP Request node.
pub struct HttpRequest(NodeDescription);

impl HttpRequest {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("httpRequest", "HTTP Request", &[4.0, 4.1, 4.2]);
        d.parameters.push(ParameterSpec::required("url"));
        Self(d)
    }
}

#[async_trait]
impl Node for HttpRequest {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let mut out = Vec::new();
        for i in 0..input.len().max(1) {
            match request(ctx, i).await {
                Ok(items) => out.extend(items.into_iter().map(|it| it.paired_with(i))),
                Err(e) if ctx.continue_on_fail() => {
                    let json = match e.to_item_json() {
                        Value::Object(o) => o,
                        _ => JsonObject::new(),
                    };
                    out.push(Item::new(json).paired_with(i));
                }
                Err(e) => return Err(e.at_item(i)),
            }
        }
        Ok(vec![out])
    }
}

/// Name/value pairs from a `keypair` list, or the object of a `json` parameter.
fn pairs(
    p: &Parameters,
    list: &str,
    json: &str,
    specify: &str,
) -> Result<Vec<(String, Value)>, NodeError> {
    if p.string_or(specify, "keypair")? == "json" {
        let v = match p.get(json).cloned().unwrap_or(Value::Null) {
            Value::String(s) if s.trim().is_empty() => Value::Object(JsonObject::new()),
            Value::String(s) => serde_json::from_str(&s).map_err(|e| {
                NodeError::parameter(format!("Parameter \"{json}\" is not valid JSON: {e}"))
            })?,
            other => other,
        };
        return match v {
            Value::Object(o) => Ok(o.into_iter().collect()),
            Value::Null => Ok(Vec::new()),
            _ => Err(NodeError::parameter(format!(
                "Parameter \"{json}\" must be a JSON object"
            ))),
        };
    }
    Ok(p.collection(list)?
        .into_iter()
        .filter_map(|e| {
            let name = e.get("name")?.as_str()?.to_string();
            (!name.is_empty()).then(|| (name, e.get("value").cloned().unwrap_or(Value::Null)))
        })
        .collect())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => crate::expr::js_number(n),
        other => other.to_string(),
    }
}

async fn request(ctx: &dyn ExecuteContext, i: usize) -> Result<Vec<Item>, NodeError> {
    let p = ctx.parameters(i)?;
    let method = p.string_or("method", "GET")?.to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
        NodeError::parameter(format!(
            "Parameter \"method\" value \"{method}\" is not an HTTP method"
        ))
    })?;
    let url_text = p.string("url")?;
    let predefined = predefined_credential_type(&p)?;
    let signed = match predefined {
        Some(t) => Some(ctx.sign_request(t, &sign_request(url_text, false)).await?),
        None => None,
    };
    let url = match &signed {
        Some(s) => s.url.clone(),
        None => url::Url::parse(url_text).map_err(|e| {
            NodeError::parameter(format!(
                "Parameter \"url\" is not a valid URL ({e}); expected e.g. https://example.com/path"
            ))
        })?,
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NodeError::parameter(
            "Parameter \"url\" must start with http:// or https://",
        ));
    }
    let mut req = ctx.http().request(method, url);
    if p.bool_or("sendQuery", false)? {
        let q: Vec<(String, String)> = pairs(
            &p,
            "queryParameters.parameters",
            "jsonQuery",
            "specifyQuery",
        )?
        .into_iter()
        .map(|(k, v)| (k, text(&v)))
        .collect();
        req = req.query(&q);
    }
    if p.bool_or("sendHeaders", false)? {
        for (k, v) in pairs(
            &p,
            "headerParameters.parameters",
            "jsonHeaders",
            "specifyHeaders",
        )? {
            req = req.header(k, text(&v));
        }
    }
    if p.bool_or("sendBody", false)? {
        match p.string_or("contentType", "json")? {
            "json" => {
                let body = if p.string_or("specifyBody", "keypair")? == "json" {
                    match p.get("jsonBody").cloned().unwrap_or(Value::Null) {
                        Value::String(s) => serde_json::from_str(&s).map_err(|e| {
                            NodeError::parameter(format!("Parameter \"jsonBody\" is not valid JSON: {e}"))
                        })?,
                        other => other,
                    }
                } else {
                    Value::Object(pairs(&p, "bodyParameters.parameters", "jsonBody", "specifyBody")?.into_iter().collect())
                };
                req = req.json(&body);
            }
            "form-urlencoded" => {
                let form: Vec<(String, String)> = pairs(&p, "bodyParameters.parameters", "jsonBody", "specifyBody")?
                    .into_iter()
                    .map(|(k, v)| (k, text(&v)))
                    .collect();
                req = req.form(&form);
            }
            "raw" => {
                let ct = p.string_or("rawContentType", "text/plain")?.to_string();
                req = req
                    .header(reqwest::header::CONTENT_TYPE, ct)
                    .body(p.string_or("body", "")?.to_string());
            }
            other => {
                return Err(NodeError::parameter(format!(
                    "Parameter \"contentType\" value \"{other}\" is not supported (expected json, form-urlencoded or raw)"
                )))
            }
        }
    }
    let timeout = p.number_or("options.timeout", 300_000.0)?;
    req = req.timeout(Duration::from_millis(timeout.max(1.0) as u64));
    let response_format = p
        .string_or("options.response.response.responseFormat", "autodetect")?
        .to_string();
    let full = p.bool_or("options.response.response.fullResponse", false)?;
    let never_error = p.bool_or("options.response.response.neverError", false)?;

    // Kept unsigned for the one resend a refused signature gets.
    let unsigned = signed.as_ref().and_then(|_| req.try_clone());
    if let Some(s) = &signed {
        req = s.apply(req).map_err(NodeError::credentials)?;
    }
    let mut resp = req.send().await.map_err(send_error)?;
    if let (Some(t), Some(unsigned), 401) = (predefined, unsigned, resp.status().as_u16()) {
        // The token may have expired or been revoked: one new sign-in, one resend.
        let again = ctx.sign_request(t, &sign_request(url_text, true)).await?;
        let req = again.apply(unsigned).map_err(NodeError::credentials)?;
        resp = req.send().await.map_err(send_error)?;
    }
    let status = resp.status();
    let headers: JsonObject = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                Value::String(v.to_str().unwrap_or_default().to_string()),
            )
        })
        .collect();
    let is_json = headers
        .get("content-type")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains("json"));
    let bytes = resp.bytes().await.map_err(|e| {
        NodeError::new(
            NodeErrorKind::Network,
            "The connection to the server failed while reading the response",
        )
        .with_description(node_api::error_with_causes(&e.without_url()))
    })?;
    let body_text = String::from_utf8_lossy(&bytes).to_string();
    if (status.is_client_error() || status.is_server_error()) && !never_error {
        let mut err = NodeError::api(status.as_u16(), status_message(status.as_u16()));
        let snippet: String = body_text.chars().take(1000).collect();
        if !snippet.is_empty() {
            err = err.with_description(snippet);
        }
        return Err(err);
    }
    let body = match response_format.as_str() {
        "text" => Value::String(body_text),
        "json" => serde_json::from_str(&body_text).map_err(|_| {
            NodeError::operation(
                "Response body is not valid JSON. Change \"Response Format\" to \"Text\"",
            )
        })?,
        _ if is_json => serde_json::from_str(&body_text).unwrap_or(Value::String(body_text)),
        _ => Value::String(body_text),
    };
    if full {
        let mut json = JsonObject::new();
        json.insert("body".into(), body);
        json.insert("headers".into(), Value::Object(headers));
        json.insert("statusCode".into(), Value::from(status.as_u16()));
        json.insert(
            "statusMessage".into(),
            Value::String(status.canonical_reason().unwrap_or_default().to_string()),
        );
        return Ok(vec![Item::new(json)]);
    }
    Ok(match body {
        Value::Object(o) => vec![Item::new(o)],
        Value::Array(a) => a
            .into_iter()
            .map(|v| match v {
                Value::Object(o) => Item::new(o),
                other => Item::new(JsonObject::from_iter([("data".to_string(), other)])),
            })
            .collect(),
        Value::String(s) if s.is_empty() => vec![Item::new(JsonObject::new())],
        other => vec![Item::new(JsonObject::from_iter([(
            "data".to_string(),
            other,
        )]))],
    })
}

/// The credential type of `authentication: predefinedCredentialType` (`nodeCredentialType`),
/// whose plugin signs the request; `None` for the other authentications.
fn predefined_credential_type(p: &Parameters) -> Result<Option<&str>, NodeError> {
    if p.string_or("authentication", "none")? != "predefinedCredentialType" {
        return Ok(None);
    }
    p.string("nodeCredentialType").map(Some)
}

fn sign_request(url: &str, after_unauthorized: bool) -> node_api::SignRequest {
    node_api::SignRequest {
        url: url.to_owned(),
        after_unauthorized,
    }
}

fn send_error(e: reqwest::Error) -> NodeError {
    let kind = if e.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    NodeError::new(
        NodeErrorKind::Network,
        format!("The connection to the server {kind}"),
    )
    .with_description(node_api::error_with_causes(&e.without_url()))
}

/// n8n's messages for common HTTP failures.
fn status_message(code: u16) -> String {
    match code {
        400 => "Bad request - please check your parameters".into(),
        401 => "Authorization failed - please check your credentials".into(),
        403 => "Forbidden - perhaps check your credentials?".into(),
        404 => "The resource you are requesting could not be found".into(),
        429 => "The service is receiving too many requests from you".into(),
        500 => "The service was not able to process your request".into(),
        502 => "Bad gateway - the service failed to handle your request".into(),
        503 => "Service unavailable - try again later or consider setting this node to retry automatically (in the node settings)".into(),
        504 => "Gateway timed out - perhaps try again later?".into(),
        other => format!("Request failed with status code {other}"),
    }
}
