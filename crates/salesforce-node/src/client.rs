//! The REST client: authenticated calls to the credential's instance, with one new sign-in
//! and one retry when Salesforce says the session is invalid.

use std::sync::Arc;

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::Method as HttpMethod;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::error::{ApiError, Error, Result};
use crate::provider::TokenProvider;

/// The REST API version used unless configured otherwise (Summer '25).
pub const DEFAULT_API_VERSION: &str = "v64.0";

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (`Null` when empty).
    pub body: Value,
    /// `Sforce-Limit-Info` `api-usage=USED/MAX`, when sent.
    pub api_usage: Option<(u64, u64)>,
}

/// REST calls for any credential the provider knows. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    provider: Arc<TokenProvider>,
    api_version: String,
}

/// Parses `Sforce-Limit-Info: api-usage=10018/100000`.
pub fn parse_limit_info(value: &str) -> Option<(u64, u64)> {
    let usage = value
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("api-usage="))?;
    let (used, max) = usage.split_once('/')?;
    Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
}

impl Client {
    /// A client over `provider` using API version `api_version` (e.g. `v64.0`).
    pub fn new(provider: Arc<TokenProvider>, api_version: &str) -> Client {
        Client {
            provider,
            api_version: api_version.to_owned(),
        }
    }

    /// The token provider.
    pub fn provider(&self) -> &Arc<TokenProvider> {
        &self.provider
    }

    /// Calls `path` for credential `id`. A path starting with `/services/` is used as is
    /// (e.g. a `nextRecordsUrl`); others go below `/services/data/{version}`.
    pub async fn request(
        &self,
        id: &str,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response> {
        let mut retried = false;
        loop {
            let token = self.provider.token(id).await?;
            let url = if path.starts_with("/services/") {
                format!("{}{path}", token.instance_url)
            } else {
                format!(
                    "{}/services/data/{}{path}",
                    token.instance_url, self.api_version
                )
            };
            let mut bearer =
                HeaderValue::from_str(&format!("Bearer {}", token.access_token.expose_secret()))
                    .map_err(|_| Error::Unexpected {
                        status: 0,
                        what: "the token endpoint",
                        detail: "an access token that is not a valid header".into(),
                    })?;
            bearer.set_sensitive(true);
            let mut req = self
                .provider
                .http()
                .request(method.clone(), url)
                .header(AUTHORIZATION, bearer);
            if let Some(b) = body {
                req = req.json(b);
            }
            let res = req.send().await.map_err(Error::transport)?;
            let status = res.status().as_u16();
            let api_usage = res
                .headers()
                .get("sforce-limit-info")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_limit_info);
            let text = res.text().await.map_err(Error::transport)?;
            let body: Value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            if (200..300).contains(&status) {
                return Ok(Response {
                    status,
                    body,
                    api_usage,
                });
            }
            let errors: Vec<ApiError> = serde_json::from_value(body.clone()).unwrap_or_default();
            let has = |code: &str| errors.iter().any(|e| e.error_code == code);
            // userinfo answers a dead token with 403 and a bare `Bad_OAuth_Token`.
            let bad_oauth = status == 403 && body.as_str() == Some("Bad_OAuth_Token");
            if (status == 401 && has("INVALID_SESSION_ID")) || bad_oauth {
                if retried {
                    return Err(Error::SessionRejected);
                }
                tracing::info!(credential_id = %id, "session expired; signing in again once");
                self.provider.rejected(id, &token).await;
                retried = true;
                continue;
            }
            if has("REQUEST_LIMIT_EXCEEDED") {
                return Err(Error::RequestLimitExceeded);
            }
            return Err(Error::Api { status, errors });
        }
    }

    /// `GET` below the API version.
    pub async fn get(&self, id: &str, path: &str) -> Result<Response> {
        self.request(id, HttpMethod::GET, path, None).await
    }

    /// The signed-in user (`/services/oauth2/userinfo`): what the credential test calls.
    pub async fn userinfo(&self, id: &str) -> Result<Value> {
        Ok(self.get(id, "/services/oauth2/userinfo").await?.body)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limit_info_is_parsed() {
        assert_eq!(
            super::parse_limit_info("api-usage=10018/100000"),
            Some((10018, 100000))
        );
        assert_eq!(
            super::parse_limit_info("per-app-api-usage=1/5, api-usage=7/15000"),
            Some((7, 15000))
        );
        assert_eq!(super::parse_limit_info("nonsense"), None);
    }
}
