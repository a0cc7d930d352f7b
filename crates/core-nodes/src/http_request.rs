//! `n8n-nodes-base.httpRequest` v4.x: one request per item through the shared client.
//!
//! Authentication is n8n's: `none`, or `genericCredentialType` with a credential of the
//! `genericAuthType` (Basic, Header, Query, Bearer, generic OAuth2). A node that names an
//! authentication is refused at save without its credential; it never runs unauthenticated.
//! `predefinedCredentialType`: a plugin's credential signs the request (validation refuses a
//! `nodeCredentialType` no plugin signs).
//! `options.batching` waits between batches of items; `options.pagination` follows pages,
//! its expressions evaluated per page with `$response`, `$pageCount` and `$request`.

use std::time::Duration;

use async_trait::async_trait;
use node_api::{
    CredentialSpec, ExecuteContext, Item, JsonObject, Node, NodeDescription, NodeError,
    NodeErrorKind, ParameterSpec, Parameters,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::{choice, describe, shown_when, unknown_options};
use crate::credential_types::{
    HTTP_BASIC_AUTH, HTTP_BEARER_AUTH, HTTP_HEADER_AUTH, HTTP_QUERY_AUTH, OAUTH2_API,
};
use workflow::NodeContext;

/// The generic credential types the node signs requests with (`genericAuthType`).
const GENERIC_AUTH_TYPES: &[&str] = &[
    HTTP_BASIC_AUTH,
    HTTP_HEADER_AUTH,
    HTTP_QUERY_AUTH,
    HTTP_BEARER_AUTH,
    OAUTH2_API,
];

/// Where the pagination settings are; their expressions are evaluated per page.
const PAGINATION: &str = "options.pagination";

/// The HTTP Request node.
pub struct HttpRequest(NodeDescription);

impl HttpRequest {
    /// The node.
    pub fn new() -> Self {
        let mut d = describe("httpRequest", "HTTP Request", &[4.0, 4.1, 4.2]);
        d.parameters.push(ParameterSpec::required("url"));
        d.parameters.push(choice(
            "method",
            "GET",
            &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"],
        ));
        // `predefinedCredentialType`: a plugin signs the request with one of its credential
        // types (`nodeCredentialType`); validation refuses a type no plugin signs.
        d.parameters.push(choice(
            "authentication",
            "none",
            &["none", "genericCredentialType", "predefinedCredentialType"],
        ));
        let mut generic = shown_when(
            choice("genericAuthType", "", GENERIC_AUTH_TYPES),
            "authentication",
            &["genericCredentialType"],
        );
        generic.default = None;
        generic.required = true;
        d.parameters.push(generic);
        d.parameters.push(choice(
            "contentType",
            "json",
            &["json", "form-urlencoded", "raw"],
        ));
        d.parameters.push(choice(
            "options.response.response.responseFormat",
            "autodetect",
            &["autodetect", "json", "text"],
        ));
        d.parameters.push(choice(
            "options.pagination.pagination.paginationMode",
            "updateAParameterInEachRequest",
            &[
                "off",
                "updateAParameterInEachRequest",
                "responseContainsNextURL",
            ],
        ));
        d.parameters.push(choice(
            "options.pagination.pagination.paginationCompleteWhen",
            "responseIsEmpty",
            &["responseIsEmpty", "receiveSpecificStatusCodes", "other"],
        ));
        d.parameters.push(choice(
            "options.pagination.pagination.parameters.parameters.type",
            "qs",
            &["qs", "body", "headers"],
        ));
        for t in GENERIC_AUTH_TYPES {
            d.credentials.push(CredentialSpec {
                type_name: (*t).to_string(),
                required: true,
                show: [
                    (
                        "authentication".to_string(),
                        vec![json!("genericCredentialType")],
                    ),
                    ("genericAuthType".to_string(), vec![json!(t)]),
                ]
                .into_iter()
                .collect(),
            });
        }
        Self(d)
    }
}

#[async_trait]
impl Node for HttpRequest {
    fn description(&self) -> &NodeDescription {
        &self.0
    }

    fn parameter_problems(&self, parameters: &JsonObject) -> Vec<String> {
        let mut problems = self.0.parameter_problems(parameters);
        problems.extend(unknown_options(
            parameters,
            "options",
            &["timeout", "response", "pagination", "batching"],
        ));
        problems
    }

    async fn execute(
        &self,
        ctx: &dyn ExecuteContext,
        input: Vec<Item>,
    ) -> Result<Vec<Vec<Item>>, NodeError> {
        let engine = NodeContext::of(ctx, "HTTP Request").ok();
        let mut auth_cache: Option<(String, Auth)> = None;
        let mut out = Vec::new();
        for i in 0..input.len().max(1) {
            let p = match engine {
                Some(e) => e.parameters_keeping(i, PAGINATION),
                None => ctx.parameters(i),
            };
            let result = match p {
                Ok(p) => {
                    batch_pause(&p, i).await?;
                    request(ctx, engine, &p, i, &mut auth_cache).await
                }
                Err(e) => Err(e),
            };
            match result {
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

/// `options.batching`: before item `i`, waits `batchInterval` ms when a batch of
/// `batchSize` items is done (n8n: `-1` turns batching off, `0` counts as 1).
async fn batch_pause(p: &Parameters, i: usize) -> Result<(), NodeError> {
    if p.get("options.batching").is_none() || i == 0 {
        return Ok(());
    }
    let size = p.number_or("options.batching.batch.batchSize", 50.0)?;
    let interval = p.number_or("options.batching.batch.batchInterval", 1000.0)?;
    if size < 0.0 || interval <= 0.0 {
        return Ok(());
    }
    let size = (size as usize).max(1);
    if i % size == 0 {
        tokio::time::sleep(Duration::from_millis(interval as u64)).await;
    }
    Ok(())
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
        Value::Number(n) => workflow::expr::js_number(n),
        other => other.to_string(),
    }
}

/// How a request is signed.
#[derive(Clone)]
enum Auth {
    None,
    Basic(String, SecretString),
    Header(String, SecretString),
    Query(String, SecretString),
    Bearer(SecretString),
    OAuth2(Box<node_api::StoredCredential>),
    /// A plugin's credential type signs the request (`nodeCredentialType`).
    Predefined(String),
}

/// The credential the parameters name, read once per node run (per item only when the
/// authentication changes from item to item).
async fn auth(
    ctx: &dyn ExecuteContext,
    engine: Option<&NodeContext>,
    p: &Parameters,
    cache: &mut Option<(String, Auth)>,
) -> Result<Auth, NodeError> {
    let key = match p.string_or("authentication", "none")? {
        "none" => return Ok(Auth::None),
        "genericCredentialType" => p.string("genericAuthType")?.to_string(),
        "predefinedCredentialType" => {
            return Ok(Auth::Predefined(p.string("nodeCredentialType")?.to_string()))
        }
        other => {
            return Err(NodeError::parameter(format!(
                "Parameter \"authentication\" value \"{other}\" is not supported (expected none, genericCredentialType or predefinedCredentialType)"
            )))
        }
    };
    if let Some((k, a)) = cache.as_ref() {
        if *k == key {
            return Ok(a.clone());
        }
    }
    let auth = match key.as_str() {
        HTTP_BASIC_AUTH => {
            let c = ctx.credentials(&key).await?;
            Auth::Basic(c.string("user")?.to_string(), c.secret("password")?)
        }
        HTTP_HEADER_AUTH => {
            let c = ctx.credentials(&key).await?;
            Auth::Header(c.string("name")?.to_string(), c.secret("value")?)
        }
        HTTP_QUERY_AUTH => {
            let c = ctx.credentials(&key).await?;
            Auth::Query(c.string("name")?.to_string(), c.secret("value")?)
        }
        HTTP_BEARER_AUTH => Auth::Bearer(ctx.credentials(&key).await?.secret("token")?),
        OAUTH2_API => {
            let engine = engine.ok_or_else(|| {
                NodeError::operation("OAuth2 requests run only inside the Switchyard executor")
            })?;
            let id = ctx.credential_id(&key).await?;
            let stored = engine
                .credential_store()
                .by_id(&id)
                .await
                .map_err(|e| NodeError::credentials(e.to_string()))?;
            Auth::OAuth2(Box::new(stored))
        }
        other => {
            return Err(NodeError::parameter(format!(
                "Parameter \"genericAuthType\" value \"{other}\" is not supported (expected {})",
                GENERIC_AUTH_TYPES.join(", ")
            )))
        }
    };
    *cache = Some((key, auth.clone()));
    Ok(auth)
}

#[derive(Clone, Debug)]
enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Raw(String, String),
}

/// One request, before it is signed: what pagination changes from page to page.
#[derive(Clone, Debug)]
struct Spec {
    method: reqwest::Method,
    url: url::Url,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Body,
    timeout: Duration,
}

impl Spec {
    /// The request the parameters describe; `url` replaces the `url` parameter (a plugin
    /// resolved a relative URL against its service).
    fn from_parameters(p: &Parameters, url: Option<url::Url>) -> Result<Self, NodeError> {
        let method = p.string_or("method", "GET")?.to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
            NodeError::parameter(format!(
                "Parameter \"method\" value \"{method}\" is not an HTTP method"
            ))
        })?;
        let url = match url {
            Some(url) => url,
            None => parse_url(p.string("url")?)?,
        };
        let mut query = Vec::new();
        if p.bool_or("sendQuery", false)? {
            query = pairs(p, "queryParameters.parameters", "jsonQuery", "specifyQuery")?
                .into_iter()
                .map(|(k, v)| (k, text(&v)))
                .collect();
        }
        let mut headers = Vec::new();
        if p.bool_or("sendHeaders", false)? {
            headers = pairs(
                p,
                "headerParameters.parameters",
                "jsonHeaders",
                "specifyHeaders",
            )?
            .into_iter()
            .map(|(k, v)| (k, text(&v)))
            .collect();
        }
        let mut body = Body::None;
        if p.bool_or("sendBody", false)? {
            body = match p.string_or("contentType", "json")? {
                "json" => Body::Json(if p.string_or("specifyBody", "keypair")? == "json" {
                    match p.get("jsonBody").cloned().unwrap_or(Value::Null) {
                        Value::String(s) => serde_json::from_str(&s).map_err(|e| {
                            NodeError::parameter(format!(
                                "Parameter \"jsonBody\" is not valid JSON: {e}"
                            ))
                        })?,
                        other => other,
                    }
                } else {
                    Value::Object(
                        pairs(p, "bodyParameters.parameters", "jsonBody", "specifyBody")?
                            .into_iter()
                            .collect(),
                    )
                }),
                "form-urlencoded" => Body::Form(
                    pairs(p, "bodyParameters.parameters", "jsonBody", "specifyBody")?
                        .into_iter()
                        .map(|(k, v)| (k, text(&v)))
                        .collect(),
                ),
                "raw" => Body::Raw(
                    p.string_or("rawContentType", "text/plain")?.to_string(),
                    p.string_or("body", "")?.to_string(),
                ),
                other => {
                    return Err(NodeError::parameter(format!(
                        "Parameter \"contentType\" value \"{other}\" is not supported (expected json, form-urlencoded or raw)"
                    )))
                }
            };
        }
        let timeout = p.number_or("options.timeout", 300_000.0)?;
        Ok(Self {
            method,
            url,
            query,
            headers,
            body,
            timeout: Duration::from_millis(timeout.max(1.0) as u64),
        })
    }

    fn set_query(&mut self, name: &str, value: String) {
        self.query.retain(|(k, _)| k != name);
        self.query.push((name.to_string(), value));
    }

    fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value));
    }

    fn set_body(&mut self, name: &str, value: Value) {
        match &mut self.body {
            Body::Form(form) => {
                form.retain(|(k, _)| k != name);
                form.push((name.to_string(), text(&value)));
            }
            Body::Json(Value::Object(o)) => super::set_path(o, name, value),
            body => {
                let mut o = JsonObject::new();
                super::set_path(&mut o, name, value);
                *body = Body::Json(Value::Object(o));
            }
        }
    }

    /// What `$request` shows while paginating.
    fn as_json(&self) -> Value {
        json!({
            "method": self.method.as_str(),
            "url": self.url.as_str(),
            "qs": self.query.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<JsonObject>(),
            "headers": self.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<JsonObject>(),
            "body": match &self.body {
                Body::None => Value::Null,
                Body::Json(v) => v.clone(),
                Body::Form(f) => Value::Object(f.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
                Body::Raw(_, b) => Value::String(b.clone()),
            },
        })
    }

    fn builder(
        &self,
        ctx: &dyn ExecuteContext,
        auth: &Auth,
        token: Option<&SecretString>,
    ) -> reqwest::RequestBuilder {
        let mut req = ctx.http().request(self.method.clone(), self.url.clone());
        let mut query = self.query.clone();
        if let Auth::Query(name, value) = auth {
            query.retain(|(k, _)| k != name);
            query.push((name.clone(), value.expose_secret().to_string()));
        }
        if !query.is_empty() {
            req = req.query(&query);
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        req = match auth {
            // Signed by its plugin in `send`.
            Auth::None | Auth::Query(..) | Auth::Predefined(_) => req,
            Auth::Basic(user, password) => req.basic_auth(user, Some(password.expose_secret())),
            Auth::Header(name, value) => req.header(name, value.expose_secret()),
            Auth::Bearer(token) => req.bearer_auth(token.expose_secret()),
            Auth::OAuth2(_) => match token {
                Some(t) => req.bearer_auth(t.expose_secret()),
                None => req,
            },
        };
        req = match &self.body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Form(f) => req.form(f),
            Body::Raw(ct, b) => req
                .header(reqwest::header::CONTENT_TYPE, ct)
                .body(b.clone()),
        };
        req.timeout(self.timeout)
    }
}

fn sign_request(url: &str, after_unauthorized: bool) -> node_api::SignRequest {
    node_api::SignRequest {
        url: url.to_owned(),
        after_unauthorized,
    }
}

fn parse_url(text: &str) -> Result<url::Url, NodeError> {
    let url = url::Url::parse(text).map_err(|e| {
        NodeError::parameter(format!(
            "Parameter \"url\" is not a valid URL ({e}); expected e.g. https://example.com/path"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NodeError::parameter(
            "Parameter \"url\" must start with http:// or https://",
        ));
    }
    Ok(url)
}

/// A response as the node reads it.
struct Answer {
    status: reqwest::StatusCode,
    headers: JsonObject,
    text: String,
}

impl Answer {
    fn is_json(&self) -> bool {
        self.headers
            .get("content-type")
            .and_then(Value::as_str)
            .is_some_and(|c| c.contains("json"))
    }

    /// The body as `$response.body` shows it: JSON when it is JSON.
    fn body_value(&self) -> Value {
        if self.is_json() {
            serde_json::from_str(&self.text).unwrap_or_else(|_| Value::String(self.text.clone()))
        } else {
            Value::String(self.text.clone())
        }
    }

    fn failure(&self) -> NodeError {
        let mut err = NodeError::api(self.status.as_u16(), status_message(self.status.as_u16()));
        let snippet: String = self.text.chars().take(1000).collect();
        if !snippet.is_empty() {
            err = err.with_description(snippet);
        }
        err
    }
}

/// Sends `spec` signed by `auth`; an OAuth2 token the service refuses (401) is renewed once
/// and the request sent again.
async fn send(
    ctx: &dyn ExecuteContext,
    engine: Option<&NodeContext>,
    spec: &Spec,
    auth: &Auth,
) -> Result<Answer, NodeError> {
    if let Auth::Predefined(t) = auth {
        let signed = ctx
            .sign_request(t, &sign_request(spec.url.as_str(), false))
            .await?;
        let req = signed
            .apply(spec.builder(ctx, auth, None))
            .map_err(NodeError::credentials)?;
        let answer = send_once(req).await?;
        if answer.status != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        // The token may have expired or been revoked: one new sign-in, one resend.
        let again = ctx
            .sign_request(t, &sign_request(spec.url.as_str(), true))
            .await?;
        let req = again
            .apply(spec.builder(ctx, auth, None))
            .map_err(NodeError::credentials)?;
        return send_once(req).await;
    }
    let token = match (auth, engine) {
        (Auth::OAuth2(cred), Some(e)) => Some(
            crate::oauth2::access_token(ctx.http(), e.credential_store().as_ref(), cred, None)
                .await?,
        ),
        _ => None,
    };
    let answer = send_once(spec.builder(ctx, auth, token.as_ref())).await?;
    if let (Auth::OAuth2(cred), Some(e), Some(stale)) = (auth, engine, token.as_ref()) {
        if answer.status == reqwest::StatusCode::UNAUTHORIZED {
            let fresh = crate::oauth2::access_token(
                ctx.http(),
                e.credential_store().as_ref(),
                cred,
                Some(stale),
            )
            .await?;
            return send_once(spec.builder(ctx, auth, Some(&fresh))).await;
        }
    }
    Ok(answer)
}

async fn send_once(req: reqwest::RequestBuilder) -> Result<Answer, NodeError> {
    let resp = req.send().await.map_err(|e| {
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
    })?;
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
    let bytes = resp.bytes().await.map_err(|e| {
        NodeError::new(
            NodeErrorKind::Network,
            "The connection to the server failed while reading the response",
        )
        .with_description(node_api::error_with_causes(&e.without_url()))
    })?;
    Ok(Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).to_string(),
    })
}

async fn request(
    ctx: &dyn ExecuteContext,
    engine: Option<&NodeContext>,
    p: &Parameters,
    i: usize,
    auth_cache: &mut Option<(String, Auth)>,
) -> Result<Vec<Item>, NodeError> {
    let auth = auth(ctx, engine, p, auth_cache).await?;
    // A plugin's credential may take a URL relative to its service (the Salesforce instance).
    let resolved = match &auth {
        Auth::Predefined(t) => Some(
            ctx.sign_request(t, &sign_request(p.string("url")?, false))
                .await?
                .url,
        ),
        _ => None,
    };
    let spec = Spec::from_parameters(p, resolved)?;
    let response_format = p
        .string_or("options.response.response.responseFormat", "autodetect")?
        .to_string();
    let full = p.bool_or("options.response.response.fullResponse", false)?;
    let never_error = p.bool_or("options.response.response.neverError", false)?;
    let pagination = p
        .get("options.pagination.pagination")
        .and_then(Value::as_object)
        .filter(|o| o.get("paginationMode").and_then(Value::as_str) != Some("off"));
    let answers = match pagination {
        None => {
            let answer = send(ctx, engine, &spec, &auth).await?;
            if (answer.status.is_client_error() || answer.status.is_server_error()) && !never_error
            {
                return Err(answer.failure());
            }
            vec![answer]
        }
        Some(settings) => {
            let engine = engine.ok_or_else(|| {
                NodeError::operation("pagination runs only inside the Switchyard executor")
            })?;
            paginate(ctx, engine, &spec, &auth, settings, i, never_error).await?
        }
    };
    let mut items = Vec::new();
    for answer in answers {
        items.extend(to_items(answer, &response_format, full)?);
    }
    Ok(items)
}

/// JavaScript truthiness, as n8n's continue expressions are judged.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `options.pagination` as n8n's `requestWithAuthenticationPaginated`: the first request
/// is the node's (pagination expressions that cannot be evaluated yet, `$response.body.next`
/// before any response, leave it unchanged), then one request per page until the complete
/// condition holds or `maxRequests` pages were fetched. A page answered with an error status
/// fails the node, except the one whose status code says the pages are complete.
async fn paginate(
    ctx: &dyn ExecuteContext,
    engine: &NodeContext,
    spec: &Spec,
    auth: &Auth,
    settings: &JsonObject,
    i: usize,
    never_error: bool,
) -> Result<Vec<Answer>, NodeError> {
    let raw = |name: &str| settings.get(name).cloned().unwrap_or(Value::Null);
    let mut bindings = JsonObject::new();
    bindings.insert("$response".into(), json!({}));
    bindings.insert("$pageCount".into(), json!(0));
    bindings.insert("$request".into(), spec.as_json());
    bindings.insert("$version".into(), json!(ctx.node().type_version));
    let path = |name: &str| format!("{PAGINATION}.pagination.{name}");
    let setting = |name: &str, b: &JsonObject| engine.evaluate_with(&path(name), &raw(name), i, b);
    let mode = match setting("paginationMode", &bindings)? {
        Value::Null => "updateAParameterInEachRequest".to_string(),
        v => text(&v),
    };
    let complete_when = match setting("paginationCompleteWhen", &bindings)? {
        Value::Null => "responseIsEmpty".to_string(),
        v => text(&v),
    };
    let limit = truthy(&setting("limitPagesFetched", &bindings)?);
    let max_requests = match setting("maxRequests", &bindings)? {
        Value::Null => 100,
        v => v.as_f64().unwrap_or(100.0).max(1.0) as usize,
    };
    let interval = setting("requestInterval", &bindings)?
        .as_f64()
        .unwrap_or(0.0);
    let status_codes: Vec<u16> = text(&setting("statusCodesWhenComplete", &bindings)?)
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    if complete_when == "receiveSpecificStatusCodes" && status_codes.is_empty() {
        return Err(NodeError::parameter(
            "Parameter \"options.pagination.pagination.statusCodesWhenComplete\" is required: \
             the status codes that say the pages are complete, e.g. 404",
        ));
    }
    let complete_expression = raw("completeExpression");
    if complete_when == "other"
        && !complete_expression
            .as_str()
            .is_some_and(|s| s.starts_with('='))
    {
        return Err(NodeError::parameter(
            "Parameter \"options.pagination.pagination.completeExpression\" must be an expression \
             (Invalid or empty Complete Expression)",
        ));
    }
    let parameters: Vec<JsonObject> = settings
        .get("parameters")
        .and_then(|p| p.get("parameters"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|e| e.as_object().cloned()).collect())
        .unwrap_or_default();
    let mut pages = Vec::new();
    loop {
        let first = pages.is_empty();
        // Before the first response, `$response` is empty: n8n's expressions yield nothing
        // there instead of failing, and the node's own request goes out unchanged.
        let eval = |name: &str, value: &Value| match engine.evaluate_with(name, value, i, &bindings)
        {
            Err(_) if first => Ok(Value::Null),
            other => other,
        };
        let mut page = spec.clone();
        match mode.as_str() {
            "responseContainsNextURL" => {
                if let Value::String(next) = eval(&path("nextURL"), &raw("nextURL"))? {
                    if !next.is_empty() {
                        page.url = url::Url::parse(&next)
                            .ok()
                            .filter(|u| matches!(u.scheme(), "http" | "https"))
                            .ok_or_else(|| {
                                NodeError::operation(format!("'{next}' is not a valid URL."))
                            })?;
                    }
                }
            }
            "updateAParameterInEachRequest" => {
                for entry in &parameters {
                    let name = entry.get("name").and_then(Value::as_str).unwrap_or_default();
                    if name.is_empty() {
                        continue;
                    }
                    let value = eval(
                        &path("parameters.parameters.value"),
                        entry.get("value").unwrap_or(&Value::Null),
                    )?;
                    if value.is_null() {
                        continue;
                    }
                    match entry.get("type").and_then(Value::as_str).unwrap_or("qs") {
                        "body" => page.set_body(name, value),
                        "headers" => page.set_header(name, text(&value)),
                        _ => page.set_query(name, text(&value)),
                    }
                }
            }
            other => {
                return Err(NodeError::parameter(format!(
                    "Parameter \"options.pagination.pagination.paginationMode\" value \"{other}\" is not supported"
                )))
            }
        }
        let answer = send(ctx, Some(engine), &page, auth).await?;
        let page_count = pages.len() + 1;
        bindings.insert(
            "$response".into(),
            json!({
                "body": answer.body_value(),
                "headers": answer.headers,
                "statusCode": answer.status.as_u16(),
            }),
        );
        bindings.insert("$pageCount".into(), json!(page_count));
        bindings.insert("$request".into(), page.as_json());
        let more = match complete_when.as_str() {
            "receiveSpecificStatusCodes" => !status_codes.contains(&answer.status.as_u16()),
            "other" => !truthy(&engine.evaluate_with(
                &path("completeExpression"),
                &complete_expression,
                i,
                &bindings,
            )?),
            _ => match answer.body_value() {
                Value::Array(a) => !a.is_empty(),
                v => truthy(&v),
            },
        };
        let failed = answer.status.is_client_error() || answer.status.is_server_error();
        if failed && !never_error {
            if complete_when == "receiveSpecificStatusCodes" && !more {
                break;
            }
            return Err(answer.failure());
        }
        pages.push(answer);
        if !more || (limit && page_count >= max_requests) {
            break;
        }
        if interval > 0.0 {
            tokio::time::sleep(Duration::from_millis(interval as u64)).await;
        }
    }
    Ok(pages)
}

fn to_items(answer: Answer, response_format: &str, full: bool) -> Result<Vec<Item>, NodeError> {
    let is_json = answer.is_json();
    let Answer {
        status,
        headers,
        text: body_text,
    } = answer;
    let body = match response_format {
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
