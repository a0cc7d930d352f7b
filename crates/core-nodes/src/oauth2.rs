//! Generic OAuth2 (`oAuth2Api`): the access token the HTTP Request node sends, and the
//! authorization code connect the core plugin offers the engine.
//!
//! Concurrency rule: one token request per credential at a time. Callers for the same
//! credential queue on its lock, and a caller that finds a token newer than the one the
//! service refused (`stale`) uses it instead of asking again, so N concurrent requests that
//! all got a 401 cause one refresh, not N.
//!
//! Client credentials tokens live in memory only (a restart asks again: cheap, and nothing
//! to keep encrypted). Authorization code tokens are the credential's token data, written
//! back through the credential store when refreshed; the refresh token is kept when the
//! service sends no new one.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use node_api::{
    AuthorizeRequest, CodeExchange, ConnectError, CredentialProvider, NodeError, OAuth2Connect,
    SecretData, StoredCredential,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

/// A token is renewed this long before the expiry the service announced, so that it does
/// not expire on its way.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Cached {
    access_token: SecretString,
    expires_at: Option<Instant>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Client credentials tokens (and the per-credential lock) by credential.
static TOKENS: LazyLock<Mutex<HashMap<String, Slot>>> = LazyLock::new(Default::default);

/// The cache entry of `cred`: by id, and by where and as whom its tokens are asked for, so
/// that two stores in one process (tests, embedders) with the same credential id never
/// share a token.
fn slot(cred: &StoredCredential) -> Slot {
    let key = format!(
        "{}\u{0}{}\u{0}{}",
        cred.id,
        field(&cred.data, "accessTokenUrl").unwrap_or_default(),
        field(&cred.data, "clientId").unwrap_or_default()
    );
    let mut map = TOKENS.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(key).or_default().clone()
}

/// Drops what is cached for credential `id` (it changed, or was deleted).
pub(crate) fn forget(id: &str) {
    let prefix = format!("{id}\u{0}");
    TOKENS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|key, _| !key.starts_with(&prefix));
}

fn field<'a>(data: &'a SecretData, name: &str) -> Option<&'a str> {
    data.get_str(name).map(str::trim).filter(|s| !s.is_empty())
}

fn required<'a>(cred: &'a StoredCredential, name: &str) -> Result<&'a str, String> {
    field(&cred.data, name).ok_or_else(|| {
        format!(
            "credential \"{}\" (oAuth2Api) has no value for field \"{name}\"",
            cred.name
        )
    })
}

fn grant_type(cred: &StoredCredential) -> &str {
    field(&cred.data, "grantType").unwrap_or("authorizationCode")
}

/// The access token to send for `cred`. `stale` is a token the service just refused: a
/// different one is returned (refreshed or fetched anew), or an error.
pub(crate) async fn access_token(
    http: &reqwest::Client,
    provider: &dyn CredentialProvider,
    cred: &StoredCredential,
    stale: Option<&SecretString>,
) -> Result<SecretString, NodeError> {
    let slot = slot(cred);
    let mut cached = slot.lock().await;
    let is_stale = |t: &SecretString| stale.is_some_and(|s| s.expose_secret() == t.expose_secret());
    if grant_type(cred) == "clientCredentials" {
        if let Some(c) = cached.as_ref() {
            let fresh = c.expires_at.is_none_or(|at| Instant::now() < at);
            if fresh && !is_stale(&c.access_token) {
                return Ok(c.access_token.clone());
            }
        }
        let mut form = vec![("grant_type", "client_credentials".to_string())];
        if let Some(scope) = field(&cred.data, "scope") {
            form.push(("scope", scope.to_string()));
        }
        let answer = token_request(http, cred, form)
            .await
            .map_err(|e| NodeError::credentials(e.message))?;
        let token = access_token_of(&answer, cred).map_err(NodeError::credentials)?;
        *cached = Some(Cached {
            access_token: token.clone(),
            expires_at: expires_at(&answer),
        });
        return Ok(token);
    }
    // Authorization code: the credential's token data, as the last connect or refresh left it.
    // Another caller may have refreshed while this one waited: read it again under the lock.
    let current = provider
        .by_id(&cred.id)
        .await
        .map_err(|e| NodeError::credentials(e.to_string()))?;
    let not_connected = || {
        NodeError::credentials(format!(
            "credential \"{}\" (oAuth2Api) is not connected yet: connect it first \
             (GET /rest/oauth2-credential/auth?id={})",
            cred.name, cred.id
        ))
    };
    let tokens = current.token_data.as_ref().ok_or_else(not_connected)?;
    let token = tokens
        .get_str("access_token")
        .map(|t| SecretString::from(t.to_owned()))
        .ok_or_else(not_connected)?;
    if !is_stale(&token) {
        return Ok(token);
    }
    let refresh = tokens.get_str("refresh_token").ok_or_else(|| {
        NodeError::credentials(format!(
            "the service refused the access token of credential \"{}\" (oAuth2Api) and it has \
             no refresh token: connect it again",
            cred.name
        ))
    })?;
    let form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh.to_string()),
    ];
    let answer = token_request(http, &current, form)
        .await
        .map_err(|e| NodeError::credentials(e.message))?;
    let token = access_token_of(&answer, cred).map_err(NodeError::credentials)?;
    let mut stored: Map<String, Value> = tokens.expose().clone();
    for (k, v) in answer.expose() {
        stored.insert(k.clone(), v.clone());
    }
    provider
        .set_token_data(&cred.id, Some(Value::Object(stored)))
        .await
        .map_err(|e| NodeError::credentials(e.to_string()))?;
    Ok(token)
}

fn access_token_of(answer: &SecretData, cred: &StoredCredential) -> Result<SecretString, String> {
    answer
        .get_str("access_token")
        .filter(|t| !t.is_empty())
        .map(|t| SecretString::from(t.to_owned()))
        .ok_or_else(|| {
            format!(
                "the token URL of credential \"{}\" (oAuth2Api) answered without an access_token",
                cred.name
            )
        })
}

fn expires_at(answer: &SecretData) -> Option<Instant> {
    let secs = answer.expose().get("expires_in").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    })?;
    Some(Instant::now() + Duration::from_secs(secs).saturating_sub(EXPIRY_MARGIN))
}

/// `application/x-www-form-urlencoded`, as RFC 6749 asks for client credentials in a Basic
/// header.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// POSTs `form` to the credential's token URL with the client's identity (Basic header or
/// body, as its `authentication` field says) and returns the JSON answer.
async fn token_request(
    http: &reqwest::Client,
    cred: &StoredCredential,
    mut form: Vec<(&'static str, String)>,
) -> Result<SecretData, ConnectError> {
    let refused = |message: String| ConnectError {
        message,
        unreachable: false,
    };
    let url = required(cred, "accessTokenUrl").map_err(refused)?;
    let client_id = required(cred, "clientId").map_err(refused)?;
    let secret = field(&cred.data, "clientSecret").unwrap_or_default();
    let mut req = http
        .post(url)
        .header(reqwest::header::ACCEPT, "application/json");
    if field(&cred.data, "authentication") == Some("body") {
        form.push(("client_id", client_id.to_string()));
        if !secret.is_empty() {
            form.push(("client_secret", secret.to_string()));
        }
    } else {
        req = req.basic_auth(form_encode(client_id), Some(form_encode(secret)));
    }
    let resp = req.form(&form).send().await.map_err(|e| ConnectError {
        message: format!(
            "the token URL of credential \"{}\" could not be reached: {}",
            cred.name,
            node_api::error_with_causes(&e.without_url())
        ),
        unreachable: true,
    })?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        // The service's `error` and `error_description` say what to fix; nothing else of
        // the body is repeated (it could echo what was sent).
        let code = body.get("error").and_then(Value::as_str).unwrap_or("");
        let description = body
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(refused(format!(
            "the token URL of credential \"{}\" refused the request (HTTP {}){}{}",
            cred.name,
            status.as_u16(),
            if code.is_empty() {
                String::new()
            } else {
                format!(": {code}")
            },
            if description.is_empty() {
                String::new()
            } else {
                format!(" ({description})")
            },
        )));
    }
    match body {
        Value::Object(o) => Ok(SecretData::new(o)),
        _ => Err(ConnectError {
            message: format!(
                "the token URL of credential \"{}\" did not answer with a JSON object",
                cred.name
            ),
            unreachable: true,
        }),
    }
}

/// The authorization code connect of `oAuth2Api` credentials.
pub(crate) struct GenericConnect {
    pub(crate) http: reqwest::Client,
}

#[async_trait]
impl OAuth2Connect for GenericConnect {
    fn provider(&self) -> &str {
        "OAuth2"
    }

    fn authorize_url(
        &self,
        credential: &StoredCredential,
        request: &AuthorizeRequest<'_>,
    ) -> Result<String, String> {
        let grant = grant_type(credential);
        if grant == "clientCredentials" {
            return Err(format!(
                "credential \"{}\" uses the client credentials grant: it needs no connect, \
                 its token is fetched when a request is made",
                credential.name
            ));
        }
        let auth_url = required(credential, "authUrl")?;
        let mut url = url::Url::parse(auth_url)
            .map_err(|e| format!("authUrl of credential \"{}\": {e}", credential.name))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", required(credential, "clientId")?)
                .append_pair("redirect_uri", request.redirect_uri)
                .append_pair("response_type", "code")
                .append_pair("state", request.state);
            if let Some(scope) = field(&credential.data, "scope") {
                q.append_pair("scope", scope);
            }
            if grant == "pkce" {
                q.append_pair("code_challenge", request.code_challenge)
                    .append_pair("code_challenge_method", "S256");
            }
            if let Some(extra) = field(&credential.data, "authQueryParameters") {
                for (k, v) in url::form_urlencoded::parse(extra.trim_start_matches('?').as_bytes())
                {
                    q.append_pair(&k, &v);
                }
            }
        }
        Ok(url.to_string())
    }

    async fn exchange_code(
        &self,
        credential: &StoredCredential,
        exchange: &CodeExchange<'_>,
    ) -> Result<Value, ConnectError> {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", exchange.code.to_string()),
            ("redirect_uri", exchange.redirect_uri.to_string()),
        ];
        if grant_type(credential) == "pkce" {
            form.push((
                "code_verifier",
                exchange.code_verifier.expose_secret().to_string(),
            ));
        }
        let answer = token_request(&self.http, credential, form).await?;
        access_token_of(&answer, credential).map_err(|message| ConnectError {
            message,
            unreachable: true,
        })?;
        forget(&credential.id);
        Ok(Value::Object(answer.expose().clone()))
    }
}
