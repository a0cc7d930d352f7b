//! The HTTP Request node (v4.2) against a real local HTTP server (axum on a free port) that
//! checks the credentials it receives: every generic authentication, generic OAuth2 (client
//! credentials and a refreshed authorization code token), pagination and batching, and what
//! is refused at save.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use node_api::{
    CredentialError, CredentialProvider, CredentialRef, DecryptedCredential, NodeError, SecretData,
    StoredCredential,
};
use secrecy::SecretString;
use serde_json::{json, Map, Value};
use workflow::{validate, Executor};

use super::node_flows::{assert_ok, failure, node, output, run_on, trigger, workflow};

/// What the server saw.
#[derive(Default)]
struct Seen {
    /// `(path, query, authorization header)` of every request, in order.
    requests: Vec<(String, BTreeMap<String, String>, Option<String>)>,
    /// When each request to `/slow` arrived.
    slow_at: Vec<Instant>,
    /// The forms posted to `/token`.
    token_forms: Vec<(BTreeMap<String, String>, Option<String>)>,
}

type Shared = Arc<Mutex<Seen>>;

fn record(seen: &Shared, path: &str, q: &BTreeMap<String, String>, h: &HeaderMap) {
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    seen.lock()
        .unwrap()
        .requests
        .push((path.into(), q.clone(), auth));
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn refuse() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "who are you?"})),
    )
        .into_response()
}

async fn serve() -> (String, Shared) {
    let seen: Shared = Arc::default();
    type Q = Query<BTreeMap<String, String>>;
    let app = Router::new()
        .route(
            "/basic",
            get(|State(s): State<Shared>, Query(q): Q, h: HeaderMap| async move {
                record(&s, "/basic", &q, &h);
                // "alice:pa ss" in Basic form.
                if header(&h, "authorization") == Some("Basic YWxpY2U6cGEgc3M=") {
                    Json(json!({"who": "alice"})).into_response()
                } else {
                    refuse()
                }
            }),
        )
        .route(
            "/header",
            get(|State(s): State<Shared>, Query(q): Q, h: HeaderMap| async move {
                record(&s, "/header", &q, &h);
                if header(&h, "x-api-key") == Some("k-123") {
                    Json(json!({"who": "header"})).into_response()
                } else {
                    refuse()
                }
            }),
        )
        .route(
            "/query",
            get(|State(s): State<Shared>, Query(q): Q, h: HeaderMap| async move {
                record(&s, "/query", &q, &h);
                if q.get("api_key").map(String::as_str) == Some("q-456") {
                    Json(json!({"who": "query", "page": q.get("page")})).into_response()
                } else {
                    refuse()
                }
            }),
        )
        .route(
            "/bearer",
            get(|State(s): State<Shared>, Query(q): Q, h: HeaderMap| async move {
                record(&s, "/bearer", &q, &h);
                if header(&h, "authorization") == Some("Bearer b-789") {
                    Json(json!({"who": "bearer"})).into_response()
                } else {
                    refuse()
                }
            }),
        )
        .route(
            "/token",
            post(
                |State(s): State<Shared>, h: HeaderMap, Form(f): Form<BTreeMap<String, String>>| async move {
                    let auth = header(&h, "authorization").map(str::to_owned);
                    s.lock().unwrap().token_forms.push((f.clone(), auth.clone()));
                    // "cid:csecret" in Basic form, or the same in the body.
                    let client_ok = auth.as_deref() == Some("Basic Y2lkOmNzZWNyZXQ=")
                        || (f.get("client_id").map(String::as_str) == Some("cid")
                            && f.get("client_secret").map(String::as_str) == Some("csecret"));
                    if !client_ok {
                        return (
                            StatusCode::UNAUTHORIZED,
                            Json(json!({"error": "invalid_client", "error_description": "bad client"})),
                        )
                            .into_response();
                    }
                    match f.get("grant_type").map(String::as_str) {
                        Some("client_credentials") => {
                            Json(json!({"access_token": "cc-token", "expires_in": 3600, "token_type": "bearer"}))
                                .into_response()
                        }
                        Some("refresh_token") if f.get("refresh_token").map(String::as_str) == Some("r-1") => {
                            Json(json!({"access_token": "fresh", "token_type": "bearer"})).into_response()
                        }
                        _ => (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response(),
                    }
                },
            ),
        )
        .route(
            "/oauth",
            get(|State(s): State<Shared>, Query(q): Q, h: HeaderMap| async move {
                record(&s, "/oauth", &q, &h);
                match header(&h, "authorization") {
                    Some("Bearer cc-token") | Some("Bearer fresh") => {
                        Json(json!({"who": "oauth"})).into_response()
                    }
                    _ => refuse(),
                }
            }),
        )
        .route(
            "/pages",
            get(|State(s): State<Shared>, Query(q): Q, h: HeaderMap| async move {
                record(&s, "/pages", &q, &h);
                let page: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
                if (1..=3).contains(&page) {
                    Json(json!([{"page": page, "n": 1}, {"page": page, "n": 2}])).into_response()
                } else if page > 3 && q.contains_key("gone") {
                    (StatusCode::NOT_FOUND, "no more").into_response()
                } else {
                    Json(json!([])).into_response()
                }
            }),
        )
        .route(
            "/cursor",
            get(|State(s): State<Shared>, Query(q): Q, h: HeaderMap| async move {
                record(&s, "/cursor", &q, &h);
                let port = header(&h, "host").unwrap_or_default().to_string();
                match q.get("cursor").map(String::as_str) {
                    None => Json(json!({"data": [1, 2], "next": format!("http://{port}/cursor?cursor=b")})),
                    Some("b") => Json(json!({"data": [3], "next": null})),
                    Some(_) => Json(json!({"data": [], "next": null})),
                }
                .into_response()
            }),
        )
        .route(
            "/slow",
            get(|State(s): State<Shared>, Query(q): Q, h: HeaderMap| async move {
                record(&s, "/slow", &q, &h);
                s.lock().unwrap().slow_at.push(Instant::now());
                Json(json!({"i": q.get("i")})).into_response()
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// A stored credential: its type, its fields, its token data.
type Row = (String, Map<String, Value>, Option<Map<String, Value>>);

/// The credential store's contract over a map: fields, the secret ones, token data.
#[derive(Default)]
struct Credentials {
    rows: Mutex<BTreeMap<String, Row>>,
}

impl Credentials {
    fn with(self, id: &str, type_name: &str, data: Value) -> Self {
        self.rows.lock().unwrap().insert(
            id.into(),
            (type_name.into(), data.as_object().unwrap().clone(), None),
        );
        self
    }

    fn with_tokens(self, id: &str, tokens: Value) -> Self {
        self.rows.lock().unwrap().get_mut(id).unwrap().2 = tokens.as_object().cloned();
        self
    }

    fn tokens(&self, id: &str) -> Option<Map<String, Value>> {
        self.rows.lock().unwrap().get(id).unwrap().2.clone()
    }
}

const SECRET_FIELDS: &[&str] = &["password", "value", "token", "clientSecret"];

#[async_trait]
impl CredentialProvider for Credentials {
    async fn get(
        &self,
        reference: &CredentialRef,
        credential_type: &str,
    ) -> Result<DecryptedCredential, NodeError> {
        let id = reference.id.clone().unwrap_or_default();
        let rows = self.rows.lock().unwrap();
        let (t, data, _) = rows
            .get(&id)
            .ok_or_else(|| NodeError::credentials(format!("credential {id} not found")))?;
        assert_eq!(t, credential_type);
        let mut c = DecryptedCredential::new(&id, &reference.name, t);
        for (k, v) in data {
            c = if SECRET_FIELDS.contains(&k.as_str()) {
                c.with_secret(k, SecretString::from(v.as_str().unwrap().to_owned()))
            } else {
                c.with_field(k, v.clone())
            };
        }
        Ok(c)
    }

    async fn by_id(&self, id: &str) -> Result<StoredCredential, CredentialError> {
        let rows = self.rows.lock().unwrap();
        let (t, data, tokens) = rows
            .get(id)
            .ok_or_else(|| CredentialError::NotFound { id: id.into() })?;
        Ok(StoredCredential {
            id: id.into(),
            name: format!("cred {id}"),
            type_name: t.clone(),
            data: SecretData::new(data.clone()),
            token_data: tokens.clone().map(SecretData::new),
        })
    }

    async fn set_token_data(
        &self,
        id: &str,
        token_data: Option<Value>,
    ) -> Result<(), CredentialError> {
        self.rows.lock().unwrap().get_mut(id).unwrap().2 =
            token_data.and_then(|t| t.as_object().cloned());
        Ok(())
    }
}

fn executor(credentials: Arc<Credentials>) -> Executor {
    Executor::new(
        Arc::new(core_nodes::registry()),
        reqwest::Client::new(),
        credentials,
    )
}

/// A workflow: Trigger -> `HTTP` with `params`, and the credential `cred` of `type_name`.
fn http_wf(params: Value, cred: Option<(&str, &str)>) -> Arc<workflow::Workflow> {
    let mut http = node("HTTP", "httpRequest", 4.2, params, 0);
    if let Some((type_name, id)) = cred {
        http["credentials"] = json!({type_name: {"id": id, "name": format!("cred {id}")}});
    }
    workflow(json!([trigger(), http]), &[("Trigger", 0, "HTTP", 0)])
}

fn generic(url: &str, auth_type: &str) -> Value {
    json!({"url": url, "authentication": "genericCredentialType", "genericAuthType": auth_type, "options": {}})
}

#[tokio::test]
async fn each_generic_authentication_signs_the_request_the_server_checks() {
    let (base, seen) = serve().await;
    let creds = Arc::new(
        Credentials::default()
            .with(
                "b1",
                "httpBasicAuth",
                json!({"user": "alice", "password": "pa ss"}),
            )
            .with(
                "h1",
                "httpHeaderAuth",
                json!({"name": "X-API-Key", "value": "k-123"}),
            )
            .with(
                "q1",
                "httpQueryAuth",
                json!({"name": "api_key", "value": "q-456"}),
            )
            .with("t1", "httpBearerAuth", json!({"token": "b-789"}))
            .with(
                "h2",
                "httpHeaderAuth",
                json!({"name": "X-API-Key", "value": "wrong"}),
            ),
    );
    let ex = executor(creds);
    for (path, type_name, id, who) in [
        ("basic", "httpBasicAuth", "b1", "alice"),
        ("header", "httpHeaderAuth", "h1", "header"),
        ("query", "httpQueryAuth", "q1", "query"),
        ("bearer", "httpBearerAuth", "t1", "bearer"),
    ] {
        let wf = http_wf(
            generic(&format!("{base}/{path}"), type_name),
            Some((type_name, id)),
        );
        let r = run_on(&ex, wf, json!([{}])).await;
        assert_ok(&r);
        assert_eq!(output(&r, "HTTP", 0)[0]["who"], json!(who), "{type_name}");
    }
    // The same node with no authentication reaches the server unsigned and is refused.
    let r = run_on(
        &ex,
        http_wf(json!({"url": format!("{base}/header")}), None),
        json!([{}]),
    )
    .await;
    assert_eq!(
        failure(&r),
        "Authorization failed - please check your credentials"
    );
    // A wrong value is sent as it is, and refused as well.
    let r = run_on(
        &ex,
        http_wf(
            generic(&format!("{base}/header"), "httpHeaderAuth"),
            Some(("httpHeaderAuth", "h2")),
        ),
        json!([{}]),
    )
    .await;
    assert_eq!(
        failure(&r),
        "Authorization failed - please check your credentials"
    );
    let requests = seen.lock().unwrap().requests.len();
    assert_eq!(requests, 6);
}

#[tokio::test]
async fn oauth2_client_credentials_fetches_one_token_and_reuses_it() {
    let (base, seen) = serve().await;
    let creds = Arc::new(Credentials::default().with(
        "o-cc",
        "oAuth2Api",
        json!({"grantType": "clientCredentials", "accessTokenUrl": format!("{base}/token"),
               "clientId": "cid", "clientSecret": "csecret", "scope": "read write",
               "authentication": "header"}),
    ));
    let wf = http_wf(
        generic(&format!("{base}/oauth"), "oAuth2Api"),
        Some(("oAuth2Api", "o-cc")),
    );
    let r = run_on(&executor(creds), wf, json!([{}, {}, {}])).await;
    assert_ok(&r);
    assert_eq!(output(&r, "HTTP", 0).as_array().unwrap().len(), 3);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.token_forms.len(), 1, "one token for three requests");
    let (form, auth) = &seen.token_forms[0];
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "read write");
    assert_eq!(auth.as_deref(), Some("Basic Y2lkOmNzZWNyZXQ="));
    assert!(seen
        .requests
        .iter()
        .all(|(_, _, a)| a.as_deref() == Some("Bearer cc-token")));
}

#[tokio::test]
async fn oauth2_client_credentials_in_the_body_and_a_refused_client_is_named() {
    let (base, seen) = serve().await;
    let creds = Arc::new(
        Credentials::default()
            .with(
                "o-body",
                "oAuth2Api",
                json!({"grantType": "clientCredentials", "accessTokenUrl": format!("{base}/token"),
                       "clientId": "cid", "clientSecret": "csecret", "authentication": "body"}),
            )
            .with(
                "o-bad",
                "oAuth2Api",
                json!({"grantType": "clientCredentials", "accessTokenUrl": format!("{base}/token"),
                       "clientId": "cid", "clientSecret": "not-it"}),
            ),
    );
    let ex = executor(creds);
    let r = run_on(
        &ex,
        http_wf(
            generic(&format!("{base}/oauth"), "oAuth2Api"),
            Some(("oAuth2Api", "o-body")),
        ),
        json!([{}]),
    )
    .await;
    assert_ok(&r);
    assert_eq!(
        seen.lock().unwrap().token_forms[0].0["client_id"],
        "cid".to_string()
    );
    let r = run_on(
        &ex,
        http_wf(
            generic(&format!("{base}/oauth"), "oAuth2Api"),
            Some(("oAuth2Api", "o-bad")),
        ),
        json!([{}]),
    )
    .await;
    let message = failure(&r);
    assert_eq!(
        message,
        "the token URL of credential \"cred o-bad\" refused the request (HTTP 401): invalid_client (bad client)"
    );
    assert!(!message.contains("not-it"));
    // The service was never called without a token.
    assert!(seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .all(|(_, _, a)| a.is_some()));
}

#[tokio::test]
async fn an_authorization_code_token_the_service_refuses_is_refreshed_once_and_stored() {
    let (base, seen) = serve().await;
    let creds = Arc::new(
        Credentials::default()
            .with(
                "o-ac",
                "oAuth2Api",
                json!({"grantType": "authorizationCode", "authUrl": format!("{base}/authorize"),
                       "accessTokenUrl": format!("{base}/token"), "clientId": "cid",
                       "clientSecret": "csecret"}),
            )
            .with_tokens(
                "o-ac",
                json!({"access_token": "expired", "refresh_token": "r-1"}),
            ),
    );
    let wf = http_wf(
        generic(&format!("{base}/oauth"), "oAuth2Api"),
        Some(("oAuth2Api", "o-ac")),
    );
    let r = run_on(&executor(creds.clone()), wf, json!([{}, {}])).await;
    assert_ok(&r);
    let auths: Vec<Option<String>> = seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .map(|r| r.2.clone())
        .collect();
    assert_eq!(
        auths,
        [
            Some("Bearer expired".to_string()),
            Some("Bearer fresh".to_string()),
            Some("Bearer fresh".to_string())
        ]
    );
    assert_eq!(seen.lock().unwrap().token_forms.len(), 1);
    let tokens = creds.tokens("o-ac").unwrap();
    assert_eq!(tokens["access_token"], "fresh");
    assert_eq!(
        tokens["refresh_token"], "r-1",
        "kept: the service sent none"
    );
}

#[tokio::test]
async fn an_authorization_code_credential_never_connected_fails_without_calling() {
    let (base, seen) = serve().await;
    let creds = Arc::new(Credentials::default().with(
        "o-new",
        "oAuth2Api",
        json!({"authUrl": format!("{base}/authorize"), "accessTokenUrl": format!("{base}/token"),
               "clientId": "cid", "clientSecret": "csecret"}),
    ));
    let wf = http_wf(
        generic(&format!("{base}/oauth"), "oAuth2Api"),
        Some(("oAuth2Api", "o-new")),
    );
    let r = run_on(&executor(creds), wf, json!([{}])).await;
    assert!(
        failure(&r).starts_with("credential \"cred o-new\" (oAuth2Api) is not connected yet"),
        "{}",
        failure(&r)
    );
    assert!(seen.lock().unwrap().requests.is_empty());
}

fn paginated(url: &str, pagination: Value) -> Value {
    json!({"url": url, "options": {"pagination": {"pagination": pagination}}})
}

#[tokio::test]
async fn pagination_updates_a_parameter_until_the_response_is_empty() {
    let (base, seen) = serve().await;
    let wf = http_wf(
        paginated(
            &format!("{base}/pages"),
            json!({"parameters": {"parameters": [
                {"type": "qs", "name": "page", "value": "={{ $pageCount + 1 }}"}
            ]}}),
        ),
        None,
    );
    let r = run_on(&core_nodes::executor(), wf, json!([{}])).await;
    assert_ok(&r);
    let out = output(&r, "HTTP", 0);
    assert_eq!(
        out,
        json!([{"page": 1, "n": 1}, {"page": 1, "n": 2}, {"page": 2, "n": 1},
               {"page": 2, "n": 2}, {"page": 3, "n": 1}, {"page": 3, "n": 2}])
    );
    let pages: Vec<String> = seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .map(|r| r.1["page"].clone())
        .collect();
    assert_eq!(pages, ["1", "2", "3", "4"]);
}

#[tokio::test]
async fn pagination_follows_the_next_url_until_the_complete_expression_holds() {
    let (base, seen) = serve().await;
    let wf = http_wf(
        json!({"url": format!("{base}/cursor"), "options": {"pagination": {"pagination": {
            "paginationMode": "responseContainsNextURL",
            "nextURL": "={{ $response.body.next }}",
            "paginationCompleteWhen": "other",
            "completeExpression": "={{ $response.body.next === null }}"
        }}}}),
        None,
    );
    let r = run_on(&core_nodes::executor(), wf, json!([{}])).await;
    assert_ok(&r);
    assert_eq!(
        output(&r, "HTTP", 0),
        json!([{"data": [1, 2], "next": format!("{}/cursor?cursor=b", base)}, {"data": [3], "next": null}])
    );
    let cursors: Vec<Option<String>> = seen
        .lock()
        .unwrap()
        .requests
        .iter()
        .map(|r| r.1.get("cursor").cloned())
        .collect();
    assert_eq!(cursors, [None, Some("b".to_string())]);
}

#[tokio::test]
async fn pagination_stops_at_a_status_code_or_at_the_page_limit() {
    let (base, seen) = serve().await;
    let ex = core_nodes::executor();
    let by_status = http_wf(
        json!({"url": format!("{base}/pages"), "sendQuery": true,
               "queryParameters": {"parameters": [{"name": "gone", "value": "1"}]},
               "options": {"pagination": {"pagination": {
                   "parameters": {"parameters": [{"type": "qs", "name": "page", "value": "={{ $pageCount + 1 }}"}]},
                   "paginationCompleteWhen": "receiveSpecificStatusCodes",
                   "statusCodesWhenComplete": "404"
        }}}}),
        None,
    );
    let r = run_on(&ex, by_status, json!([{}])).await;
    assert_ok(&r);
    assert_eq!(output(&r, "HTTP", 0).as_array().unwrap().len(), 6);
    assert_eq!(seen.lock().unwrap().requests.len(), 4);

    let limited = http_wf(
        paginated(
            &format!("{base}/pages"),
            json!({"parameters": {"parameters": [
                    {"type": "qs", "name": "page", "value": "={{ $pageCount + 1 }}"}]},
                   "limitPagesFetched": true, "maxRequests": 2}),
        ),
        None,
    );
    let r = run_on(&ex, limited, json!([{}])).await;
    assert_ok(&r);
    assert_eq!(output(&r, "HTTP", 0).as_array().unwrap().len(), 4);
    assert_eq!(seen.lock().unwrap().requests.len(), 6);
}

#[tokio::test]
async fn a_page_answered_with_an_error_fails_the_node() {
    let (base, _seen) = serve().await;
    let wf = http_wf(
        json!({"url": format!("{base}/pages"), "sendQuery": true,
               "queryParameters": {"parameters": [{"name": "gone", "value": "1"}]},
               "options": {"pagination": {"pagination": {
                   "parameters": {"parameters": [{"type": "qs", "name": "page", "value": "={{ $pageCount + 1 }}"}]},
                   "paginationCompleteWhen": "other",
                   "completeExpression": "={{ $pageCount > 10 }}"
        }}}}),
        None,
    );
    let r = run_on(&core_nodes::executor(), wf, json!([{}])).await;
    assert_eq!(
        failure(&r),
        "The resource you are requesting could not be found"
    );
}

#[tokio::test]
async fn batching_waits_between_batches_of_items() {
    let (base, seen) = serve().await;
    let wf = http_wf(
        json!({"url": format!("{base}/slow"), "sendQuery": true,
               "queryParameters": {"parameters": [{"name": "i", "value": "={{ $json.i }}"}]},
               "options": {"batching": {"batch": {"batchSize": 2, "batchInterval": 300}}}}),
        None,
    );
    let r = run_on(
        &core_nodes::executor(),
        wf,
        json!([{"i": 0}, {"i": 1}, {"i": 2}, {"i": 3}, {"i": 4}]),
    )
    .await;
    assert_ok(&r);
    let at = seen.lock().unwrap().slow_at.clone();
    assert_eq!(at.len(), 5);
    // A pause after items 0-1 and after 2-3.
    assert!(at[2] - at[1] >= Duration::from_millis(300));
    assert!(at[4] - at[3] >= Duration::from_millis(300));
    assert!(at[4] - at[0] >= Duration::from_millis(600));
}

async fn problems(params: Value, cred: Option<(&str, &str)>) -> Vec<String> {
    let wf = http_wf(params, cred);
    match validate(&wf, &core_nodes::registry(), None).await {
        Ok(()) => Vec::new(),
        Err(workflow::WorkflowError::Invalid(p)) => p.into_iter().map(|p| p.message).collect(),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn authentication_without_its_credential_or_not_implemented_is_refused_at_save() {
    assert_eq!(
        problems(generic("http://x", "httpHeaderAuth"), None).await,
        ["needs a credential of type \"httpHeaderAuth\""]
    );
    assert_eq!(
        problems(generic("http://x", "oAuth2Api"), None).await,
        ["needs a credential of type \"oAuth2Api\""]
    );
    assert!(problems(
        generic("http://x", "httpHeaderAuth"),
        Some(("httpHeaderAuth", "h1"))
    )
    .await
    .is_empty());
    assert_eq!(
        problems(
            json!({"url": "http://x", "authentication": "genericCredentialType"}),
            None
        )
        .await,
        ["Parameter \"genericAuthType\" is required"]
    );
    assert_eq!(
        problems(generic("http://x", "httpDigestAuth"), None).await,
        ["Parameter \"genericAuthType\" has an unknown value \"httpDigestAuth\" (accepted: httpBasicAuth, httpHeaderAuth, httpQueryAuth, httpBearerAuth, oAuth2Api)"]
    );
    assert_eq!(
        problems(
            json!({"url": "http://x", "authentication": "predefinedCredentialType",
                   "nodeCredentialType": "salesforceOAuth2Api"}),
            None
        )
        .await,
        // Without a plugin that signs with it (none is registered here), the type is refused.
        ["parameter \"nodeCredentialType\" value \"salesforceOAuth2Api\" is not supported: no plugin signs HTTP requests with it (supported: none)"]
    );
    assert_eq!(
        problems(
            json!({"url": "http://x", "options": {"proxy": "http://p:3128"}}),
            None
        )
        .await,
        ["Parameter \"options.proxy\" is not supported (supported options: timeout, response, pagination, batching)"]
    );
    assert_eq!(
        problems(
            json!({"url": "http://x", "options": {"response": {"response": {"responseFormat": "file"}}}}),
            None
        )
        .await,
        ["Parameter \"options.response.response.responseFormat\" has an unknown value \"file\" (accepted: autodetect, json, text)"]
    );
}
