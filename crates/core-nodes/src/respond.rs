//! `n8n-nodes-base.respondToWebhook` v1.x: answers the webhook that started the execution.

use async_trait::async_trait;
use node_api::{
    ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError, WebhookResponse,
};
use serde_json::Value;

use super::describe;
use workflow::webhook::{is_framing_header, ANSWER_STATUS};

/// The Respond to Webhook node.
pub struct RespondToWebhook(NodeDescription);

impl RespondToWebhook {
    /// The node.
    pub fn new() -> Self {
        Self(describe(
            "respondToWebhook",
            "Respond to Webhook",
            &[1.0, 1.1, 1.2, 1.3],
        ))
    }
}

const JSON_TYPE: &str = "application/json; charset=utf-8";

#[async_trait]
impl Node for RespondToWebhook {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        problems.extend(status_problem(parameters));
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let p = ctx.parameters(0)?;
        let status = p.number_or("options.responseCode", 200.0)?;
        if !(200.0..=599.0).contains(&status) {
            return Err(NodeError::parameter(format!(
                "Parameter \"options.responseCode\" must be an HTTP status between 200 and 599, got {status}"
            )));
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        for entry in p.collection("options.responseHeaders.entries")? {
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.is_empty() {
                continue;
            }
            if is_framing_header(name) {
                ctx.warn(&format!(
                    "response header \"{name}\" was not sent: the server sets the answer's framing \
                     and connection headers itself"
                ));
                continue;
            }
            let value = match entry.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            headers.push((name.to_ascii_lowercase(), value));
        }
        let wrap = |v: Value| -> Value {
            match p.opt_string("options.responseKey") {
                Ok(Some(key)) if !key.is_empty() => serde_json::json!({ key: v }),
                _ => v,
            }
        };
        let mut content_type = Some(JSON_TYPE);
        let body: Option<Vec<u8>> = match p.string_or("respondWith", "firstIncomingItem")? {
            "allIncomingItems" => {
                let all: Vec<Value> = input.iter().map(|i| i.json.clone().into_value()).collect();
                Some(wrap(Value::Array(all)).to_string().into_bytes())
            }
            "firstIncomingItem" => {
                let first = input
                    .first()
                    .map(|i| i.json.clone().into_value())
                    .unwrap_or_default();
                Some(wrap(first).to_string().into_bytes())
            }
            "json" => {
                let body = match p.get("responseBody").cloned().unwrap_or(Value::Null) {
                    Value::String(s) => serde_json::from_str(&s).map_err(|e| {
                        NodeError::parameter(format!(
                            "Parameter \"responseBody\" is not valid JSON: {e}"
                        ))
                    })?,
                    other => other,
                };
                Some(wrap(body).to_string().into_bytes())
            }
            "text" => {
                content_type = Some("text/html; charset=utf-8");
                Some(p.string_or("responseBody", "")?.as_bytes().to_vec())
            }
            "noData" => {
                content_type = None;
                None
            }
            "redirect" => {
                headers.push(("location".into(), p.string("redirectURL")?.to_string()));
                let code = if p.get("options.responseCode").is_some() {
                    status
                } else {
                    307.0
                };
                return respond(ctx, code as u16, headers, None, input);
            }
            other => {
                return Err(NodeError::parameter(format!(
                    "Parameter \"respondWith\" value \"{other}\" is not supported"
                )))
            }
        };
        if let Some(ct) = content_type {
            if !headers.iter().any(|(n, _)| n == "content-type") {
                headers.push(("content-type".into(), ct.into()));
            }
        }
        respond(ctx, status as u16, headers, body, input)
    }
}

fn respond(
    ctx: &dyn ExecuteContext,
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    input: Vec<Item>,
) -> Result<Vec<Vec<Item>>, NodeError> {
    ctx.send_response(WebhookResponse {
        status,
        headers,
        body,
    })?;
    let out = input
        .into_iter()
        .enumerate()
        .map(|(i, item)| item.paired_with(i))
        .collect();
    Ok(vec![out])
}

/// A fixed `options.responseCode` outside 200-599, refused at save (an expression is checked
/// when it runs).
pub(crate) fn status_problem(parameters: &JsonObject) -> Option<String> {
    let code = parameters.get("options")?.get("responseCode")?;
    let code = code
        .as_f64()
        .or_else(|| code.get("values")?.get("responseCode")?.as_f64())?;
    let fits =
        code.fract() == 0.0 && u16::try_from(code as i64).is_ok_and(|c| ANSWER_STATUS.contains(&c));
    (!fits).then(|| {
        format!("options.responseCode must be an HTTP status between 200 and 599, got {code}")
    })
}
